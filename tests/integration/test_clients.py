#!/usr/bin/env python3
"""Integration tests for the client commands `avfuse watch`, `avfuse proxy` and
`avfuse ctl`.

Usage:
    AVFUSE_BIN=/path/to/avfuse python3 tests/integration/test_clients.py -v

The daemons and the control socket are played by pyzmq sockets (Debian's
python3-zmq) on 127.0.0.1, on ports the kernel picks. A fake daemon publishes
through an XPUB socket and waits for the subscriptions of the client under test
before it sends, so no message is lost to ZeroMQ's slow-joiner window. Without
pyzmq the script exits 77 (skipped).
"""

import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

try:
    import zmq
except ImportError:
    print("pyzmq is missing (Debian: python3-zmq): skipped", file=sys.stderr)
    sys.exit(77)

AVFUSE = None
WAIT = 10.0          # seconds any single expected thing may take before the test fails
CTX = None


def setUpModule():
    global AVFUSE, CTX
    AVFUSE = os.environ.get("AVFUSE_BIN")
    if not AVFUSE:
        raise RuntimeError("AVFUSE_BIN is not set: point it at the avfuse binary, e.g. "
                           "AVFUSE_BIN=build/tools/avfuse python3 tests/integration/test_clients.py")
    if not (os.path.isfile(AVFUSE) and os.access(AVFUSE, os.X_OK)):
        raise RuntimeError("AVFUSE_BIN=%r is not an executable file" % AVFUSE)
    CTX = zmq.Context()
    unittest.addModuleCleanup(lambda: CTX.destroy(linger=0))


# ---------------------------------------------------------------------------
# Messages, as a daemon publishes them (docs/schema/, docs/control.md)
# ---------------------------------------------------------------------------

def segment(source, seq, t0, labels=None, tags=(), sentiment=None, partial=False, length=1.0):
    msg = {
        "schema": "avfuse.segment.v1",
        "source": source, "epoch": 0, "seq": seq,
        "t0": t0, "t1": t0 + length, "partial": partial,
        "wallclock": "2026-11-27T12:00:%06.3fZ" % (t0 % 60),
        "video": {"present": True, "frames": 10,
                  "features": {"luma": 0.42, "motion": 0.03, "colorfulness": 0.21, "cuts": 0}},
        "audio": {"present": True, "samples": 16000,
                  "features": {"rms_dbfs": -23.1, "loudness_lufs": -22.8,
                               "centroid_hz": 1450.0, "pitch_hz": 180.0}},
        "av": {"offset_ms": 40.0, "confidence": 0.6},
        "tags": list(tags),
        "latency_ms": 8.4,
    }
    if labels is not None:
        msg["labels"] = labels
        msg["model"] = "default-2"
    if sentiment is not None:
        # (valence, arousal) or (basis, valence, arousal); None is null
        basis, valence, arousal = sentiment if len(sentiment) == 3 else ("voice",) + sentiment
        msg["sentiment"] = {"basis": basis, "valence": valence, "arousal": arousal,
                            "label": None if valence is None else
                            "negative" if valence < -0.1 else
                            "positive" if valence > 0.1 else "neutral",
                            "confidence": None if valence is None else 0.6}
    return msg


def event(source, seq, tag, kind, t, duration=None):
    msg = {"schema": "avfuse.event.v1", "source": source, "epoch": 0, "seq": seq,
           "tag": tag, "event": kind, "t": t}
    if duration is not None:
        msg["duration"] = duration
    return msg


def status(source, state, epoch=0, next_seq=0, error=None):
    return {
        "schema": "avfuse.status.v1",
        "source": source, "type": "stream", "state": state,
        "epoch": epoch, "next_seq": next_seq,
        "wallclock": "2026-11-27T12:00:17.000Z",
        "counters": {"frames": 1180, "samples": 1888000, "segments": next_seq,
                     "drops": {"packets": 0, "frames": 0, "segments": 0},
                     "publish_drops": 0, "reconnects": epoch},
        "queues": {"packets": 0, "frames": 1, "segments": 0},
        "latency_ms": {"p50": 12.1, "p99": 40.3},
        "error": error,
    }


TOPIC = {"avfuse.segment.v1": "seg", "avfuse.event.v1": "evt", "avfuse.status.v1": "status"}


def frames(msg, body=None):
    """The two frames of msg; body overrides the JSON text (json.dumps by default)."""
    topic = "%s/%s/" % (TOPIC[msg["schema"]], msg["source"])
    return [topic.encode(), (body if body is not None else json.dumps(msg)).encode()]


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeDaemon:
    """A daemon's PUB socket, as an XPUB so the test sees subscriptions arrive."""

    def __init__(self, port=None):
        self.sock = CTX.socket(zmq.XPUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        if port is None:
            self.port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        else:
            self.sock.bind("tcp://127.0.0.1:%d" % port)
            self.port = port
        self.endpoint = "tcp://127.0.0.1:%d" % self.port
        self.subscriptions = set()

    def wait_subscriptions(self, prefixes):
        want = {p.encode() if isinstance(p, str) else p for p in prefixes}
        deadline = time.monotonic() + WAIT
        while not want <= self.subscriptions:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sock.poll(int(left * 1000)):
                raise AssertionError("subscriptions %s never arrived at %s (got %s)"
                                     % (sorted(want), self.endpoint, sorted(self.subscriptions)))
            frame = self.sock.recv()
            if frame[:1] == b"\x01":
                self.subscriptions.add(frame[1:])

    def send(self, parts):
        self.sock.send_multipart(parts)

    def publish(self, msg, body=None):
        self.send(frames(msg, body))

    def close(self):
        self.sock.close(linger=0)


class Client:
    """An avfuse process whose stdout and stderr lines are read as they come."""

    def __init__(self, *args):
        self.cmd = [AVFUSE] + [str(a) for a in args]
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.out, self.err = [], []
        self.lock = threading.Condition()
        self.readers = [threading.Thread(target=self._read, args=(f, lines), daemon=True)
                        for f, lines in ((self.proc.stdout, self.out),
                                         (self.proc.stderr, self.err))]
        for r in self.readers:
            r.start()

    def _read(self, f, lines):
        for line in f:
            with self.lock:
                lines.append(line.rstrip("\n"))
                self.lock.notify_all()
        f.close()

    def _wait(self, pred, what):
        with self.lock:
            if not self.lock.wait_for(pred, timeout=WAIT):
                raise AssertionError("%s: timed out waiting for %s\nstdout: %s\nstderr: %s"
                                     % (" ".join(self.cmd), what, self.out, self.err))

    def wait_stdout(self, n):
        self._wait(lambda: len(self.out) >= n, "%d stdout lines" % n)
        return list(self.out)

    def wait_stderr(self, text):
        self._wait(lambda: any(text in line for line in self.err), "%r on stderr" % text)

    def wait_exit(self, timeout=WAIT):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("%s still running after %.1f s" % (" ".join(self.cmd), timeout))
        for r in self.readers:
            r.join(WAIT)
        return rc

    def stop(self, sig=signal.SIGTERM):
        self.wait_handles(sig)
        self.proc.send_signal(sig)
        return self.wait_exit()

    def wait_handles(self, sig, timeout=5.0):
        """Waits until the tool catches or blocks sig (a signal sent before would
        kill a process still starting up, which is not what the test is about)."""
        deadline = time.monotonic() + timeout
        bit = 1 << (int(sig) - 1)
        while time.monotonic() < deadline and self.proc.poll() is None:
            # caught (a handler), or blocked in any thread (taken by sigwait-like
            # calls, which unblock it in their own thread while they wait)
            mask = 0
            try:
                for task in os.listdir("/proc/%d/task" % self.proc.pid):
                    with open("/proc/%d/task/%s/status" % (self.proc.pid, task)) as fh:
                        for line in fh:
                            if line.startswith(("SigCgt:", "SigBlk:")):
                                mask |= int(line.split()[1], 16)
            except OSError:
                return
            if mask & bit:
                return
            time.sleep(0.01)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def run(*args, timeout=WAIT):
    return subprocess.run([AVFUSE] + [str(a) for a in args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=timeout)


ALL_TOPICS = ["seg/", "evt/", "status/"]


class ClientTestCase(unittest.TestCase):
    maxDiff = None

    def daemon(self, port=None):
        d = FakeDaemon(port)
        self.addCleanup(d.close)
        return d

    def client(self, *args):
        c = Client(*args)
        self.addCleanup(c.kill)
        return c


# ---------------------------------------------------------------------------
# avfuse watch
# ---------------------------------------------------------------------------

class WatchTest(ClientTestCase):

    def test_readable_lines_loss_and_restart(self):
        d = self.daemon()
        w = self.client("watch", d.endpoint)
        d.wait_subscriptions(ALL_TOPICS)
        d.publish(status("lobby", "running", epoch=1, next_seq=14))
        d.publish(segment("lobby", 14, 14.0,
                          labels={"speech": 0.93, "music": 0.04, "noise": 0.02, "silence": 0.01},
                          tags=["speech", "motion"], sentiment=(-0.2, 0.7)))
        d.publish(segment("lobby", 15, 15.0, tags=["motion"]))   # a daemon without model
        d.publish(event("lobby", 15, "speech", "start", 14.0))
        d.publish(segment("lobby", 19, 19.0,
                          labels={"speech": 0.1, "music": 0.81, "noise": 0.05, "silence": 0.0},
                          sentiment=("scene", None, -0.1)))
        d.publish(event("lobby", 19, "speech", "end", 16.0, duration=2.0))
        d.publish(status("lobby", "running", epoch=1, next_seq=20))       # no change: no line
        d.publish(status("lobby", "reconnecting", epoch=1, next_seq=20,
                         error="udp://127.0.0.1:5000: stalled: no data for 5 s"))
        d.publish(segment("archive", 7, 3725.0,
                          labels={"speech": 0.0, "music": 0.2, "noise": 0.7, "silence": 0.1},
                          tags=["noise", "loud"], sentiment=(0.0, 0.95)))
        d.publish(segment("lobby", 0, 0.0,
                          labels={"speech": 0.01, "music": 0.01, "noise": 0.01, "silence": 0.97},
                          tags=["silence"], sentiment=("none", None, None), partial=True,
                          length=0.5))
        expected = [
            "lobby  status running epoch 1",
            "lobby  00:14.0-00:15.0  speech 0.93  [speech motion]  voice v -0.20 a +0.70",
            "lobby  00:15.0-00:16.0  -  [motion]  -",
            "lobby  00:14.0  start speech",
            "lobby  00:19.0-00:20.0  music 0.81  []  scene v - a -0.10",
            "lobby  00:16.0  end speech  2.0 s",
            "lobby  status reconnecting epoch 1  error: udp://127.0.0.1:5000: stalled: no data for 5 s",
            "archive  1:02:05.0-1:02:06.0  noise 0.70  [noise loud]  voice v +0.00 a +0.95",
            "lobby  00:00.0-00:00.5  silence 0.97  [silence]  none v - a -  partial",
        ]
        w.wait_stdout(len(expected))
        w.wait_stderr("restarted")
        self.assertEqual(w.stop(signal.SIGINT), 0)
        self.assertEqual(w.out, expected)
        self.assertEqual(w.err, ["avfuse: watch: warning: lobby: 3 segments lost (seq 15 -> 19)",
                                 "avfuse: watch: warning: lobby: daemon restarted"])

    def test_help_shows_the_lines_it_prints(self):
        """Each example line of --help is what watch prints for such a message."""
        d = self.daemon()
        w = self.client("watch", d.endpoint)
        d.wait_subscriptions(ALL_TOPICS)
        d.publish(segment("lobby", 17, 17.0,
                          labels={"speech": 0.93, "music": 0.04, "noise": 0.02, "silence": 0.01},
                          tags=["speech", "motion"], sentiment=(-0.2, 0.7)))
        d.publish(event("lobby", 17, "speech", "start", 17.0))
        d.publish(status("lobby", "running", epoch=1, next_seq=18))
        w.wait_stdout(3)
        self.assertEqual(w.stop(), 0)
        help_lines = run("watch", "--help").stdout.splitlines()
        examples = [line[2:] for line in help_lines if line.startswith("  lobby  ")]
        self.assertEqual(examples, w.out)

    def test_json_as_received_with_count(self):
        d = self.daemon()
        w = self.client("watch", "--json", "--count", 3, d.endpoint)
        d.wait_subscriptions(ALL_TOPICS)
        msgs = [status("lobby", "running"),
                segment("lobby", 0, 0.0, labels={"speech": 0.5, "music": 0.5, "noise": 0.0,
                                                 "silence": 0.0}, sentiment=(0.1, 0.1)),
                event("lobby", 0, "speech", "start", 0.0),
                segment("lobby", 1, 1.0, tags=["cut"]),
                segment("lobby", 5, 5.0),
                segment("lobby", 6, 6.0)]            # after --count 3: never printed
        # spacing no encoder of ours would produce: printed byte for byte
        bodies = [json.dumps(m, indent=None, separators=(", ", ":  ")) for m in msgs]
        bodies[3] = json.dumps(msgs[3], indent=2)   # several lines: printed on one line
        for m, b in zip(msgs, bodies):
            d.publish(m, b)
        self.assertEqual(w.wait_exit(), 0)
        self.assertEqual(len(w.out), 5, w.out)
        for i in (0, 1, 2, 4):
            self.assertEqual(w.out[i], bodies[i])
        self.assertEqual(json.loads(w.out[3]), msgs[3])
        self.assertEqual(w.err, ["avfuse: watch: warning: lobby: 3 segments lost (seq 1 -> 5)"])

    def test_readable_count(self):
        d = self.daemon()
        w = self.client("watch", "--count", 2, d.endpoint)
        d.wait_subscriptions(ALL_TOPICS)
        for seq in range(4):
            d.publish(segment("hall", seq, float(seq)))
        self.assertEqual(w.wait_exit(), 0)
        self.assertEqual(w.out, ["hall  00:00.0-00:01.0  -  []  -",
                                 "hall  00:01.0-00:02.0  -  []  -"])

    def test_source_filter(self):
        d = self.daemon()
        w = self.client("watch", "--source", "lobby", d.endpoint)
        # the trailing '/' keeps lobby2 out
        d.wait_subscriptions(["seg/lobby/", "evt/lobby/", "status/lobby/"])
        self.assertEqual(d.subscriptions, {b"seg/lobby/", b"evt/lobby/", b"status/lobby/"})
        for name in ("hall", "lobby2"):
            d.publish(status(name, "running"))
            d.publish(segment(name, 3, 3.0))
            d.publish(event(name, 3, "motion", "start", 3.0))
        d.publish(segment("lobby", 4, 4.0, tags=["static"]))
        d.publish(status("lobby", "ended"))
        w.wait_stdout(2)
        self.assertEqual(w.stop(), 0)
        self.assertEqual(w.out, ["lobby  00:04.0-00:05.0  -  [static]  -",
                                 "lobby  status ended epoch 0"])
        self.assertEqual(w.err, [])

    def test_malformed_messages_skipped(self):
        d = self.daemon()
        w = self.client("watch", d.endpoint)
        d.wait_subscriptions(ALL_TOPICS)
        good = segment("lobby", 2, 2.0, tags=["speech"])
        no_seq = segment("lobby", 0, 0.0)
        del no_seq["seq"]
        d.send([b"seg/lobby/", b'{"schema": "avfuse.segment.v1", "seq": '])
        d.send([b"seg/lobby/"])
        d.send(frames(good) + [b"extra"])
        d.publish(no_seq)
        d.send([b"seg/lobby/", json.dumps(segment("hall", 1, 1.0)).encode()])
        d.send([b"evt/lobby/", b"[1, 2, 3]"])
        d.send([b"status/lobby/", json.dumps(dict(status("lobby", "running"),
                                                  schema="avfuse.status.v9")).encode()])
        d.send([b"seg/not a name/", json.dumps(good).encode()])
        d.send([b"seg/lobby/", json.dumps(dict(good, seq=-4)).encode()])
        d.send([b"seg/lobby/", json.dumps(dict(good, labels={"speech": "high"})).encode()])
        no_basis = segment("lobby", 2, 2.0, sentiment=(0.1, 0.2))
        del no_basis["sentiment"]["basis"]
        d.send([b"seg/lobby/", json.dumps(no_basis).encode()])
        text_valence = segment("lobby", 2, 2.0, sentiment=(0.1, 0.2))
        text_valence["sentiment"]["valence"] = "high"
        d.send([b"seg/lobby/", json.dumps(text_valence).encode()])
        d.send([b"seg/lobby/", b'{"schema": "avfuse.segment.v1"}\x00'])
        d.publish(good)
        w.wait_stdout(1)
        self.assertEqual(w.stop(), 0)
        self.assertEqual(w.out, ["lobby  00:02.0-00:03.0  -  [speech]  -"])
        err = "\n".join(w.err)
        for text in ["lobby: segment message skipped: invalid JSON",
                     "message skipped: 1 frame instead of 2",
                     "message skipped: 3 frames instead of 2",
                     "lobby: segment message skipped: \"seq\" is not a non-negative integer",
                     "lobby: segment message skipped: \"source\" differs from the topic's",
                     "lobby: event message skipped: not a JSON object",
                     "lobby: status message skipped: unknown \"schema\"",
                     "message skipped: topic 'seg/not a name/' is not",
                     "lobby: segment message skipped: \"labels\" is not an object",
                     "lobby: segment message skipped: \"sentiment\" lacks a basis"]:
            text = "avfuse: watch: warning: " + text
            self.assertIn(text, err)
        self.assertEqual(len(w.err), 13, err)

    def test_timeout_without_messages(self):
        port = free_port()
        start = time.monotonic()
        p = run("watch", "--timeout", 0.5, "tcp://127.0.0.1:%d" % port)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertLess(time.monotonic() - start, 5)
        self.assertEqual(p.stderr, "avfuse: watch: error: no message from tcp://127.0.0.1:%d "
                         "within 0.5 s\n" % port)
        self.assertEqual(p.stdout, "")

    def test_timeout_counts_from_the_last_message(self):
        d = self.daemon()
        w = self.client("watch", "--timeout", 0.6, d.endpoint)
        d.wait_subscriptions(ALL_TOPICS)
        for _ in range(8):                           # 1.6 s of messages 0.2 s apart
            d.publish(status("lobby", "running"))
            time.sleep(0.2)
            self.assertIsNone(w.proc.poll(), "timed out while messages were arriving")
        self.assertEqual(w.wait_exit(), 1)
        self.assertEqual(w.out, ["lobby  status running epoch 0"])
        self.assertIn("no message from %s within 0.6 s" % d.endpoint, w.err[-1])

    def test_sigterm_while_idle(self):
        w = self.client("watch", "tcp://127.0.0.1:%d" % free_port())
        time.sleep(0.3)
        start = time.monotonic()
        self.assertEqual(w.stop(signal.SIGTERM), 0)
        self.assertLess(time.monotonic() - start, 1.0)

    def test_usage(self):
        p = run("watch", "--help")
        self.assertEqual(p.returncode, 0)
        self.assertTrue(p.stdout.startswith("usage: avfuse watch"), p.stdout)
        for option in ("--source", "--json", "--count", "--timeout"):
            self.assertIn(option, p.stdout)
        for args in (["--count", "0"], ["--count", "1.5"], ["--timeout", "-1"],
                     ["--source", "not a name"], ["--frob"], ["tcp://a:1", "tcp://b:2"],
                     ["nonsense"]):
            p = run("watch", *args)
            self.assertEqual(p.returncode, 2, "%s: %s" % (args, p.stderr))
            self.assertEqual(p.stdout, "")
            # an option's mistake comes with the usage; a malformed endpoint, found by
            # ZeroMQ, as the command's error
            self.assertRegex(p.stderr, r"(?m)(avfuse watch[ :]|^avfuse: watch: error: )")


# ---------------------------------------------------------------------------
# avfuse proxy
# ---------------------------------------------------------------------------

class ProxyTest(ClientTestCase):

    def test_two_daemons_one_endpoint(self):
        a = self.daemon()
        b_port = free_port()                         # b starts after the proxy
        backend = "tcp://127.0.0.1:%d" % free_port()
        proxy = self.client("proxy", "%s,tcp://127.0.0.1:%d" % (a.endpoint, b_port), backend)
        sub = CTX.socket(zmq.SUB)
        self.addCleanup(sub.close, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"seg/a/")
        sub.setsockopt(zmq.SUBSCRIBE, b"status/b/")
        sub.connect(backend)
        b = self.daemon(b_port)
        # the subscriber's filter reaches both daemons, also the one that came later
        a.wait_subscriptions(["seg/a/", "status/b/"])
        b.wait_subscriptions(["seg/a/", "status/b/"])
        want = {"seg/a/": segment("a", 0, 0.0), "status/b/": status("b", "running")}
        a.publish(status("a", "running"))            # filtered out upstream
        a.publish(want["seg/a/"])
        b.publish(segment("b", 0, 0.0))              # filtered out upstream
        b.publish(want["status/b/"])
        got = {}
        deadline = time.monotonic() + WAIT
        while len(got) < 2 and time.monotonic() < deadline:
            if sub.poll(100):
                topic, body = sub.recv_multipart()
                got[topic.decode()] = json.loads(body)
        self.assertEqual(got, want)
        self.assertEqual(sub.poll(300), 0, "a message the subscriber did not ask for came")
        start = time.monotonic()
        self.assertEqual(proxy.stop(signal.SIGTERM), 0, proxy.err)
        self.assertLess(time.monotonic() - start, 1.0)
        self.assertEqual(proxy.err, [])

    def test_sigint_while_idle(self):
        proxy = self.client("proxy", "tcp://127.0.0.1:%d" % free_port(),
                            "tcp://127.0.0.1:%d" % free_port())
        time.sleep(0.3)
        start = time.monotonic()
        self.assertEqual(proxy.stop(signal.SIGINT), 0, proxy.err)
        self.assertLess(time.monotonic() - start, 1.0)

    def test_backend_taken(self):
        taken = CTX.socket(zmq.PUB)
        self.addCleanup(taken.close, 0)
        port = taken.bind_to_random_port("tcp://127.0.0.1")
        p = run("proxy", "tcp://127.0.0.1:%d" % free_port(), "tcp://127.0.0.1:%d" % port)
        self.assertEqual(p.returncode, 1)
        self.assertEqual("avfuse: proxy: error: cannot bind tcp://127.0.0.1:%d: Address already "
                         "in use\n" % port, p.stderr)

    def test_usage(self):
        p = run("proxy", "--help")
        self.assertEqual(p.returncode, 0)
        self.assertTrue(p.stdout.startswith("usage: avfuse proxy"), p.stdout)
        for args in ([], ["tcp://127.0.0.1:1"], ["a", "b", "c"], ["--frob", "a", "b"],
                     ["nonsense", "tcp://127.0.0.1:%d" % free_port()],
                     ["tcp://127.0.0.1:1,", "tcp://127.0.0.1:%d" % free_port()]):
            p = run("proxy", *args)
            self.assertEqual(p.returncode, 2, "%s: %s" % (args, p.stderr))
            self.assertRegex(p.stderr, r"(?m)(avfuse proxy[ :]|^avfuse: proxy: error: )")


# ---------------------------------------------------------------------------
# avfuse ctl
# ---------------------------------------------------------------------------

STATUS_REPLY = {
    "ok": True,
    "daemon": {"pid": 4242, "uptime_s": 12.5, "config": "/etc/avfuse/avfused.conf",
               "publish": "tcp://127.0.0.1:5560", "sources": 1},
    "sources": [dict(status("lobby", "running", epoch=2, next_seq=118))],
}


class CtlTest(ClientTestCase):

    def exchange(self, args, reply):
        """Runs avfuse ctl against a REP socket that answers reply (bytes or an object).
        Returns the raw request and the finished process."""
        rep = CTX.socket(zmq.REP)
        self.addCleanup(rep.close, 0)
        port = rep.bind_to_random_port("tcp://127.0.0.1")
        proc = self.client("ctl", "--socket", "tcp://127.0.0.1:%d" % port, *args)
        self.assertTrue(rep.poll(int(WAIT * 1000)), "no request came")
        request = rep.recv()
        rep.send(reply if isinstance(reply, bytes) else json.dumps(reply).encode())
        proc.wait_exit()
        return request, proc

    def test_status(self):
        req, p = self.exchange(["status"], STATUS_REPLY)
        self.assertEqual(req, b'{"cmd":"status"}')
        self.assertEqual(p.proc.returncode, 0, p.err)
        out = "\n".join(p.out)
        self.assertEqual(json.loads(out), STATUS_REPLY)
        self.assertIn('\n  "daemon": {', out)          # indented
        self.assertIn('"p50": 12.1', out)              # numbers spelled as sent
        self.assertEqual(p.err, [])

    def test_sources_json(self):
        reply = json.dumps({"ok": True, "sources": [
            {"name": "lobby", "type": "stream", "url": "rtsp://192.0.2.10/stream1",
             "state": "running", "epoch": 2, "next_seq": 118}]})
        req, p = self.exchange(["--json", "sources"], reply.encode())
        self.assertEqual(req, b'{"cmd":"sources"}')
        self.assertEqual(p.proc.returncode, 0, p.err)
        self.assertEqual(p.out, [reply])

    def test_add_typed_values(self):
        req, p = self.exchange(
            ["add", "cam2", "type=file", "url=rtsp://h/s?a=b", "hop=0.5", "fps=10",
             "read_timeout=2.5", "loop=true", "realtime=false", 'device="0"', "width=-1",
             "microphone=default", "rate=1e4", "format="],
            {"ok": True, "added": "cam2"})
        self.assertEqual(req.decode(), json.dumps(
            {"cmd": "add", "source": {"name": "cam2", "type": "file", "url": "rtsp://h/s?a=b",
                                      "hop": 0.5, "fps": 10, "read_timeout": 2.5, "loop": True,
                                      "realtime": False, "device": "0", "width": -1,
                                      "microphone": "default", "rate": 10000.0, "format": ""}},
            separators=(",", ":")))
        self.assertEqual(p.proc.returncode, 0, p.err)
        self.assertEqual(json.loads("\n".join(p.out)), {"ok": True, "added": "cam2"})

    def test_remove_and_reload(self):
        req, p = self.exchange(["remove", "lobby"], {"ok": True, "removed": "lobby"})
        self.assertEqual(req, b'{"cmd":"remove","name":"lobby"}')
        self.assertEqual(p.proc.returncode, 0, p.err)
        reply = {"ok": True, "added": ["hall"], "removed": [], "changed": ["lobby"]}
        req, p = self.exchange(["reload", "--json"], reply)
        self.assertEqual(req, b'{"cmd":"reload"}')
        self.assertEqual(p.proc.returncode, 0, p.err)
        self.assertEqual(json.loads(p.out[0]), reply)

    def test_refused(self):
        req, p = self.exchange(["remove", "nope"], {"ok": False, "error": "unknown source 'nope'"})
        self.assertEqual(req, b'{"cmd":"remove","name":"nope"}')
        self.assertEqual(p.proc.returncode, 1)
        self.assertEqual(p.out, [])
        self.assertEqual(p.err, ["avfuse: ctl: error: unknown source 'nope'"])

    def test_bad_reply(self):
        _, p = self.exchange(["status"], b"<html>")
        self.assertEqual(p.proc.returncode, 1)
        self.assertIn("avfuse: ctl: error: tcp://127.0.0.1:", p.err[0])
        self.assertIn(": the reply is not a JSON object", p.err[0])

    def test_no_reply(self):
        rep = CTX.socket(zmq.REP)                     # takes the request, never answers
        self.addCleanup(rep.close, 0)
        port = rep.bind_to_random_port("tcp://127.0.0.1")
        endpoint = "tcp://127.0.0.1:%d" % port
        start = time.monotonic()
        p = run("ctl", "--timeout", "0.5", "--socket", endpoint, "status")
        self.assertLess(time.monotonic() - start, 3)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr, "avfuse: ctl: error: no reply from %s within 0.5 s "
                         "(is avfused running?)\n" % endpoint)
        self.assertEqual(p.stdout, "")
        # nobody listening at all
        endpoint = "tcp://127.0.0.1:%d" % free_port()
        p = run("ctl", "-t", "0.3", "-s", endpoint, "sources")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr, "avfuse: ctl: error: no reply from %s within 0.3 s "
                         "(is avfused running?)\n" % endpoint)

    def test_missing_ipc_socket(self):
        tmp = tempfile.mkdtemp(prefix="avfuse_ctl_")
        self.addCleanup(shutil.rmtree, tmp, True)
        endpoint = "ipc://%s/control" % tmp
        p = run("ctl", "--socket", endpoint, "status")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr, "avfuse: ctl: error: %s: no such socket (is avfused "
                         "running?)\n" % endpoint)

    def test_default_socket_without_daemon(self):
        """Without --socket, the daemon's own default (docs/configuration.md, control)."""
        tmp = tempfile.mkdtemp(prefix="avfuse_ctl_")
        self.addCleanup(shutil.rmtree, tmp, True)
        env = {k: v for k, v in os.environ.items() if k != "RUNTIME_DIRECTORY"}
        for extra, endpoint in (({"XDG_RUNTIME_DIR": tmp}, "ipc://%s/avfuse/control" % tmp),
                                ({"XDG_RUNTIME_DIR": tmp, "RUNTIME_DIRECTORY": tmp},
                                 "ipc://%s/control" % tmp)):
            p = subprocess.run([AVFUSE, "ctl", "status"], env=dict(env, **extra), text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=WAIT)
            self.assertEqual(p.returncode, 1)
            self.assertEqual(p.stderr, "avfuse: ctl: error: %s: no such socket (is avfused "
                             "running? The system service's is --socket "
                             "ipc:///run/avfuse/control)\n" % endpoint)

    def test_usage(self):
        p = run("ctl", "--help")
        self.assertEqual(p.returncode, 0)
        self.assertTrue(p.stdout.startswith("usage: avfuse ctl"), p.stdout)
        for cmd in ("status", "sources", "add NAME", "remove NAME", "reload", "--socket",
                    "--timeout", "--json", "ipc:///run/avfuse/control"):
            self.assertIn(cmd, p.stdout)
        for args in ([], ["frob"], ["status", "extra"], ["add"], ["add", "bad name", "type=file"],
                     ["add", "x", "type"], ["add", "x", "=file"], ["add", "x", "a=1", "a=2"],
                     ["add", "x", "name=y"], ["remove"], ["remove", "a", "b"],
                     ["--timeout", "0", "status"], ["--frob", "status"]):
            p = run("ctl", "--socket", "tcp://127.0.0.1:%d" % free_port(), *args)
            self.assertEqual(p.returncode, 2, "%s: %s" % (args, p.stderr))
            self.assertEqual(p.stdout, "")
            self.assertIn("avfuse ctl", p.stderr)


class MainUsageTest(unittest.TestCase):

    def test_commands_listed(self):
        p = run("--help")
        self.assertEqual(p.returncode, 0)
        for cmd in ("watch", "proxy", "ctl"):
            self.assertIn("\n  %s " % cmd, p.stdout)


if __name__ == "__main__":
    unittest.main()
