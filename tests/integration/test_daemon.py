#!/usr/bin/env python3
"""avfused end to end: sources, publishing, reconnects, signals, the control socket.

Every server (the ffmpeg CLI streaming over UDP or HTTP) and every subscriber runs
on 127.0.0.1 and is started and stopped here; every wait is bounded. Files are
read in real time (realtime = yes) wherever a test must see every message: a
subscriber needs a moment to connect, and a file read at full speed could be done
before it has.
"""
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import media  # noqa: E402
import procinfo  # noqa: E402
from media import generate  # noqa: E402

AVFUSED = os.environ.get("AVFUSED_BIN", "avfused")
AVFUSE = os.environ.get("AVFUSE_BIN", "avfuse")
WORKDIR = None
MEDIA = {}

SEGMENT_KEYS = {"schema", "source", "epoch", "seq", "t0", "t1", "partial", "video", "audio",
                "tags"}
STATUS_KEYS = {"schema", "source", "type", "state", "epoch", "next_seq", "wallclock",
               "counters", "queues", "latency_ms", "error"}
STATES = {"connecting", "running", "reconnecting", "ended", "failed"}


def setUpModule():
    global WORKDIR
    WORKDIR = tempfile.mkdtemp(prefix="avfuse-daemon-")
    av = ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
          "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    enc = ["-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-c:a", "aac"]
    MEDIA["ts6"] = generate(WORKDIR, av + ["-t", "6"] + enc, "clip6.ts")
    MEDIA["mp4_6"] = generate(WORKDIR, av + ["-t", "6"] + enc, "clip6.mp4")
    MEDIA["ts12"] = generate(WORKDIR, av + ["-t", "12"] + enc, "clip12.ts")


def tearDownModule():
    shutil.rmtree(WORKDIR, ignore_errors=True)


def setup_workdir(prefix):
    """setUpModule's start for the modules that import this one (as td): checks that
    AVFUSE_BIN and AVFUSED_BIN name the binaries, makes a work folder that is removed
    when the module is done, points this module's WORKDIR, AVFUSED and AVFUSE at them
    (for Daemon) and returns the folder."""
    global WORKDIR, AVFUSED, AVFUSE
    avfuse, avfused = os.environ.get("AVFUSE_BIN"), os.environ.get("AVFUSED_BIN")
    for name, value in (("AVFUSE_BIN", avfuse), ("AVFUSED_BIN", avfused)):
        if not value or not os.access(value, os.X_OK):
            raise RuntimeError("%s must name the binary, e.g. AVFUSE_BIN=build/tools/avfuse "
                               "AVFUSED_BIN=build/daemon/avfused python3 %s" % (name, sys.argv[0]))
    WORKDIR = tempfile.mkdtemp(prefix=prefix)
    unittest.addModuleCleanup(shutil.rmtree, WORKDIR, True)
    AVFUSED = avfused
    AVFUSE = avfuse
    return WORKDIR


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, what, detail=lambda: ""):
    """Polls predicate every 50 ms for timeout seconds; fails naming what (and detail())."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out after %.0f s waiting for %s%s" % (timeout, what, detail()))


class NotifySocket:
    """A fake $NOTIFY_SOCKET: collects every datagram in a thread, (arrival, text)."""

    def __init__(self, testcase):
        self.path = os.path.join(tempfile.mkdtemp(dir=WORKDIR), "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.05)
        self.got = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        testcase.addCleanup(self.close)

    def _run(self):
        while not self.stop.is_set():
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            with self.lock:
                self.got.append((time.monotonic(), data.decode()))

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()

    def snapshot(self):
        with self.lock:
            return list(self.got)

    def times(self, text):
        """Arrival times of the datagrams that are exactly text (WATCHDOG=1)."""
        return [t for t, d in self.snapshot() if d == text]

    def wait(self, predicate, timeout, what):
        wait_until(predicate, timeout, what, lambda: "; got %s" % (self.snapshot(),))


class Subscriber:
    """Collects every message of an endpoint in a thread: (arrival, topic, body)."""

    def __init__(self, endpoint, rcvhwm=None, read=True):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        if rcvhwm is not None:
            self.sock.setsockopt(zmq.RCVHWM, rcvhwm)
            self.sock.setsockopt(zmq.RCVBUF, 1024)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"")
        self.sock.connect(endpoint)
        self.messages = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = None
        if read:
            self.thread = threading.Thread(target=self._run, daemon=True)
            self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            if self.sock.poll(50):
                topic, body = self.sock.recv_multipart()
                with self.lock:
                    self.messages.append((time.monotonic(), topic.decode(), json.loads(body)))

    def close(self):
        self.stop.set()
        if self.thread:
            self.thread.join(5)
        self.sock.close()
        self.ctx.term()

    def snapshot(self):
        with self.lock:
            return list(self.messages)

    def of(self, kind, source):
        prefix = "%s/%s/" % (kind, source)
        return [m for _, t, m in self.snapshot() if t == prefix]

    def segments(self, source):
        return self.of("seg", source)

    def states(self, source):
        """The sequence of distinct consecutive states of a source."""
        out = []
        for m in self.of("status", source):
            if not out or out[-1] != m["state"]:
                out.append(m["state"])
        return out

    def wait(self, predicate, timeout, what):
        wait_until(predicate, timeout, what)


def sigterm(proc, timeout, detail=lambda: ""):
    """SIGTERM to avfused (proc) and its exit, asserted: status 0 within timeout
    seconds (else killed). Every test that terminates a daemon goes through here.
    Returns the seconds it took; detail() (the daemon's log) goes into a failure."""
    start = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
        raise AssertionError("avfused did not exit within %.0f s of SIGTERM\n%s"
                             % (timeout, detail()))
    if rc != 0:
        raise AssertionError("avfused exited with status %d after SIGTERM, not 0\n%s"
                             % (rc, detail()))
    return time.monotonic() - start


class Daemon:
    """avfused on a config written from sections; stderr goes to a file. verbose is
    the number of -v (2: the debug log). Unless env names its own $NOTIFY_SOCKET,
    the daemon gets a fake one (self.notify), so that wait_ready() can wait for its
    READY=1: everything is set up and every source started."""

    def __init__(self, testcase, sources, daemon_extra="", env=None, watchdog_pid=False,
                 verbose=1):
        self.port = free_port()
        self.endpoint = "tcp://127.0.0.1:%d" % self.port
        self.dir = tempfile.mkdtemp(dir=WORKDIR)
        self.control = os.path.join(self.dir, "control")
        self.conf = os.path.join(self.dir, "avfuse.conf")
        self.write_config(sources, daemon_extra)
        self.errpath = os.path.join(self.dir, "stderr")
        self.err = open(self.errpath, "w")
        self.notify = None
        if "NOTIFY_SOCKET" not in (os.environ if env is None else env):
            self.notify = NotifySocket(testcase)
            env = dict(os.environ if env is None else env, NOTIFY_SOCKET=self.notify.path)
        argv = [AVFUSED] + ["-v"] * verbose + ["-c", self.conf]
        if watchdog_pid:
            # $WATCHDOG_PID names the daemon itself, as systemd sets it: the shell
            # execs avfused, which keeps the shell's pid
            argv = ["/bin/sh", "-c", 'export WATCHDOG_PID=$$; exec "$0" "$@"'] + argv
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=self.err, env=env)
        testcase.addCleanup(self.kill)

    def write_config(self, sources, daemon_extra=""):
        text = "[daemon]\npublish = %s\ncontrol = ipc://%s\nstatus_interval = 0.5\n%s\n" % (
            self.endpoint, self.control, daemon_extra)
        for name, keys in sources.items():
            text += "[source %s]\n" % name
            for k, v in keys.items():
                text += "%s = %s\n" % (k, v)
        with open(self.conf, "w") as fh:
            fh.write(text)

    def stderr(self):
        self.err.flush()
        with open(self.errpath) as fh:
            return fh.read()

    def wait_ready(self, timeout=20):
        """Waits for READY=1 on the fake notify socket; fails at once, with the log,
        when the daemon exits first."""
        assert self.notify, "this daemon was given a $NOTIFY_SOCKET of the test's own"
        wait_until(lambda: self.proc.poll() is not None or
                   any(g.split("\n")[0] == "READY=1" for _, g in self.notify.snapshot()),
                   timeout, "READY=1", lambda: "\n" + self.stderr())
        if self.proc.poll() is not None:
            raise AssertionError("avfused exited with status %d before READY=1\n%s"
                                 % (self.proc.returncode, self.stderr()))

    def terminate(self, timeout=2.0):
        """SIGTERM; asserts exit status 0 (sigterm()); returns (0, seconds it took)."""
        return 0, sigterm(self.proc, timeout + 3, self.stderr)

    def ctl(self, request, timeout=5):
        ctx = zmq.Context()
        sock = ctx.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVTIMEO, int(timeout * 1000))
        sock.connect("ipc://" + self.control)
        try:
            sock.send(json.dumps(request).encode())
            return json.loads(sock.recv())
        finally:
            sock.close()
            ctx.term()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.err.close()


class Server:
    """The ffmpeg CLI streaming a looped file to a loopback URL, in real time."""

    def __init__(self, testcase, args):
        self.args = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-stream_loop",
                     "-1"] + args
        self.proc = None
        self.start()
        testcase.addCleanup(self.stop)

    def start(self):
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(5)


def file_source(path, **extra):
    keys = {"type": "file", "url": path, "realtime": "yes"}
    keys.update({k: str(v) for k, v in extra.items()})
    return keys


class DaemonTestCase(unittest.TestCase):
    def subscribe(self, daemon, **kw):
        sub = Subscriber(daemon.endpoint, **kw)
        self.addCleanup(sub.close)
        return sub

    def check_segment(self, m, source):
        missing = SEGMENT_KEYS - set(m)
        self.assertFalse(missing, "segment lacks %s: %s" % (missing, m))
        self.assertEqual(m["schema"], "avfuse.segment.v1")
        self.assertEqual(m["source"], source)
        self.assertIsInstance(m["seq"], int)
        self.assertIsInstance(m["epoch"], int)
        self.assertLessEqual(m["t0"], m["t1"])
        for modality in ("video", "audio"):
            self.assertIsInstance(m[modality]["present"], bool)
        for label in ("speech", "music", "noise", "silence"):
            self.assertTrue(0.0 <= m["labels"][label] <= 1.0)
        sent = m["sentiment"]
        self.assertIn(sent["basis"], ("voice", "scene", "none"))
        if sent["valence"] is not None:
            self.assertTrue(-1.0 <= sent["valence"] <= 1.0)
            self.assertIn(sent["label"], ("negative", "neutral", "positive"))
        else:
            self.assertIsNone(sent["label"])
            self.assertNotEqual(sent["basis"], "voice")
        if "wallclock" in m:
            self.assertRegex(m["wallclock"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

    def check_status(self, m, source):
        missing = STATUS_KEYS - set(m)
        self.assertFalse(missing, "status lacks %s: %s" % (missing, m))
        self.assertEqual(m["schema"], "avfuse.status.v1")
        self.assertEqual(m["source"], source)
        self.assertIn(m["state"], STATES)
        for key in ("frames", "samples", "segments", "publish_drops", "reconnects",
                    "discontinuities"):
            self.assertIsInstance(m["counters"][key], int)
        for key in ("packets", "frames", "segments"):
            self.assertIsInstance(m["counters"]["drops"][key], int)

    def assert_seq_contiguous(self, segs, start=0):
        self.assertEqual([s["seq"] for s in segs], list(range(start, start + len(segs))))

    def assert_timeline_forward(self, segs):
        for a, b in zip(segs, segs[1:]):
            self.assertLessEqual(a["t0"], b["t0"], "timeline went back: %s -> %s" % (a, b))


class TestFiles(DaemonTestCase):
    def test_two_files_every_segment(self):
        d = Daemon(self, {"a": file_source(MEDIA["ts6"]), "b": file_source(MEDIA["mp4_6"])})
        sub = self.subscribe(d)
        sub.wait(lambda: all("ended" in sub.states(s) for s in "ab"), 30, "both files to end")
        for name in "ab":
            segs = sub.segments(name)
            self.assertEqual(len(segs), 6, "%s: %s" % (name, [(s["t0"], s["t1"]) for s in segs]))
            self.assert_seq_contiguous(segs)
            for s in segs:
                self.check_segment(s, name)
                self.assertEqual(s["epoch"], 0)
                self.assertIn("latency_ms", s)
            self.assertEqual([(s["t0"], s["t1"]) for s in segs],
                             [(float(k), float(k + 1)) for k in range(6)])
            for st in sub.of("status", name):
                self.check_status(st, name)
            last = sub.of("status", name)[-1]
            self.assertEqual(last["counters"]["segments"], 6)
            self.assertEqual(last["next_seq"], 6)
        rc, took = d.terminate()
        self.assertEqual(rc, 0)


class TestSignals(DaemonTestCase):
    def test_sigterm_publishes_partial_and_final_status(self):
        """A live input that sent 3.6 s and went quiet (a FIFO held open, never at its
        end), SIGTERM once the daemon took every byte and went idle: the last segment
        runs from 3.0 s to the end of data, 3.6 s, and is partial; then the final
        status. The stop point is known, so the check is exact, not "partial or a
        full segment"."""
        fifo = media.HeldFifo(os.path.join(tempfile.mkdtemp(dir=WORKDIR), "live.mkv"),
                              media.generate_bytes(media.HELD_ARGS))
        self.addCleanup(fifo.close)
        d = Daemon(self, {"a": {"type": "file", "url": fifo.path, "read_timeout": 60}})
        sub = self.subscribe(d)
        # read at full speed: the subscriber must be there before the first byte is
        sub.wait(lambda: sub.of("status", "a"), 10, "a first status (the subscriber is in)")
        fifo.start()
        sub.wait(lambda: len(sub.segments("a")) >= 3 and fifo.drained(), 20,
                 "three segments and the whole input read")
        procinfo.wait_idle(d.proc.pid, 20)
        self.assertEqual(sub.of("status", "a")[-1]["state"], "running")
        self.assertEqual(len(sub.segments("a")), 3)  # the fourth is still open
        rc, took = d.terminate()
        self.assertLess(took, 2.0)
        sub.wait(lambda: "ended" in sub.states("a"), 5, "the final status")
        segs = sub.segments("a")
        self.assert_seq_contiguous(segs)
        self.assertEqual([(s["t0"], s["t1"], s["partial"]) for s in segs[:3]],
                         [(0.0, 1.0, False), (1.0, 2.0, False), (2.0, 3.0, False)])
        self.assertEqual(len(segs), 4, [(s["t0"], s["t1"]) for s in segs])
        last = segs[-1]
        brief = {k: last[k] for k in ("seq", "t0", "t1", "partial")}
        # the content end, to within one 40 ms video frame
        self.assertEqual(last["t0"], 3.0)
        self.assertAlmostEqual(last["t1"] - last["t0"], media.HELD_SECONDS - 3.0, delta=0.04,
                               msg=brief)
        self.assertIs(last["partial"], True, brief)
        msgs = sub.snapshot()
        last_seg = max(i for i, (_, t, _m) in enumerate(msgs) if t == "seg/a/")
        finals = [m for _, t, m in msgs[last_seg:] if t == "status/a/"]
        self.assertTrue(finals, "no status after the partial segment")
        self.assertEqual(finals[-1]["state"], "ended")
        self.assertEqual(finals[-1]["next_seq"], len(segs))

    def test_sighup_broken_then_valid_config(self):
        a = file_source(MEDIA["ts6"], loop="yes")
        d = Daemon(self, {"a": a})
        sub = self.subscribe(d)
        sub.wait(lambda: len(sub.segments("a")) >= 1, 20, "a's first segment")
        with open(d.conf, "a") as fh:
            fh.write("[source b]\ntype = file\nurl = %s\nspeed = fast\n" % MEDIA["ts6"])
        with open(d.conf) as fh:
            bad_line = fh.read().splitlines().index("speed = fast") + 1
        d.proc.send_signal(signal.SIGHUP)
        sub.wait(lambda: "reload" in d.stderr(), 5, "the reload to be reported")
        time.sleep(0.2)
        self.assertIn("%s:%d: unknown key 'speed'" % (d.conf, bad_line), d.stderr())
        n = len(sub.segments("a"))
        sub.wait(lambda: len(sub.segments("a")) >= n + 2, 10, "a to keep publishing")
        self.assertEqual(sub.segments("b"), [])

        # a valid file: b starts, a is not touched (no new connection, seq goes on)
        d.write_config({"a": a, "b": file_source(MEDIA["ts6"])})
        connecting_before = sub.states("a").count("connecting")
        d.proc.send_signal(signal.SIGHUP)
        sub.wait(lambda: len(sub.segments("b")) >= 2, 20, "b's segments after the reload")
        self.assertEqual(sub.states("a").count("connecting"), connecting_before)
        self.assert_seq_contiguous(sub.segments("a"))

        # the control socket's reload: b removed, a changed (restarted, seq goes on)
        d.write_config({"a": file_source(MEDIA["ts6"], loop="yes", hop=0.5)})
        reply = d.ctl({"cmd": "reload"})
        self.assertEqual(reply, {"ok": True, "added": [], "removed": ["b"], "changed": ["a"]})
        sub.wait(lambda: sub.states("b")[-1] == "ended", 5, "b's final status")
        n = len(sub.segments("a"))
        sub.wait(lambda: len(sub.segments("a")) >= n + 3, 10, "a with its new hop")
        segs = sub.segments("a")
        self.assert_seq_contiguous(segs)
        self.assert_timeline_forward(segs)
        self.assertEqual(segs[-1]["t0"] - segs[-2]["t0"], 0.5)
        # a broken file through the control socket: refused with file and line
        with open(d.conf, "a") as fh:
            fh.write("width = wide\n")
        reply = d.ctl({"cmd": "reload"})
        self.assertFalse(reply["ok"])
        self.assertRegex(reply["error"], r"avfuse\.conf:\d+: width must be a whole number")
        rc, _ = d.terminate()
        self.assertEqual(rc, 0)


class TestControl(DaemonTestCase):
    def test_add_remove_status(self):
        d = Daemon(self, {"a": file_source(MEDIA["ts6"], loop="yes")})
        sub = self.subscribe(d)
        sub.wait(lambda: os.path.exists(d.control), 10, "the control socket")
        self.assertEqual(stat.S_IMODE(os.stat(d.control).st_mode), 0o660)
        sub.wait(lambda: len(sub.segments("a")) >= 1, 20, "a's first segment")

        reply = d.ctl({"cmd": "add", "source": {"name": "c", "type": "file",
                                                "url": MEDIA["mp4_6"], "realtime": True,
                                                "loop": True}})
        self.assertEqual(reply, {"ok": True, "added": "c"})
        sub.wait(lambda: len(sub.segments("c")) >= 2, 20, "c's segments")
        reply = d.ctl({"cmd": "sources"})
        self.assertTrue(reply["ok"])
        self.assertEqual(sorted(s["name"] for s in reply["sources"]), ["a", "c"])
        reply = d.ctl({"cmd": "status"})
        self.assertEqual(reply["daemon"]["sources"], 2)
        for st in reply["sources"]:
            self.check_status(st, st["source"])

        # errors are answered, not fatal
        self.assertFalse(d.ctl({"cmd": "add", "source": {"name": "c", "type": "file",
                                                         "url": "/x.mp4"}})["ok"])
        bad = d.ctl({"cmd": "add", "source": {"name": "e", "type": "stream", "url": "/etc/passwd"}})
        self.assertFalse(bad["ok"])
        self.assertIn("not a network URL", bad["error"])
        self.assertIn("unknown command", d.ctl({"cmd": "explode"})["error"])
        self.assertIn("not JSON", self._raw(d, b"{"))

        reply = d.ctl({"cmd": "remove", "name": "c"})
        self.assertEqual(reply, {"ok": True, "removed": "c"})
        sub.wait(lambda: sub.states("c")[-1] == "ended", 5, "c's final status")
        n = len(sub.segments("c"))
        n_a = len(sub.segments("a"))
        sub.wait(lambda: len(sub.segments("a")) >= n_a + 2, 10, "a to go on")
        self.assertEqual(len(sub.segments("c")), n)
        self.assertFalse(d.ctl({"cmd": "remove", "name": "c"})["ok"])
        rc, _ = d.terminate()
        self.assertEqual(rc, 0)

    def test_flood_and_oversize_do_not_shut_out_others(self):
        d = Daemon(self, {"a": file_source(MEDIA["ts6"], loop="yes")})
        sub = self.subscribe(d)
        sub.wait(lambda: os.path.exists(d.control), 10, "the control socket")
        ctx = zmq.Context()
        self.addCleanup(ctx.term)
        flood = ctx.socket(zmq.DEALER)  # many requests without waiting for replies
        flood.setsockopt(zmq.LINGER, 0)
        flood.setsockopt(zmq.SNDHWM, 100000)
        self.addCleanup(flood.close)
        flood.connect("ipc://" + d.control)
        big = ctx.socket(zmq.DEALER)
        big.setsockopt(zmq.LINGER, 0)
        self.addCleanup(big.close)
        big.connect("ipc://" + d.control)
        big.send_multipart([b"", b"{" + b" " * 200000 + b"}"])  # over the 64 KiB limit
        stop = threading.Event()

        def flooding():
            while not stop.is_set():
                try:
                    flood.send_multipart([b"", b'{"cmd":"status"}'], zmq.DONTWAIT)
                except zmq.Again:
                    time.sleep(0.001)
        thread = threading.Thread(target=flooding, daemon=True)
        thread.start()
        self.addCleanup(thread.join, 5)
        self.addCleanup(stop.set)
        time.sleep(0.5)
        statuses = len(sub.of("status", "a"))
        for _ in range(5):
            start = time.monotonic()
            reply = d.ctl({"cmd": "sources"}, timeout=2)
            self.assertTrue(reply["ok"])
            self.assertLess(time.monotonic() - start, 1.0)
        # the main loop still publishes its periodic status during the flood
        sub.wait(lambda: len(sub.of("status", "a")) > statuses + 1, 5,
                 "periodic status during the flood")
        stop.set()
        self.assertEqual(d.terminate()[0], 0)

    def _raw(self, d, data):
        ctx = zmq.Context()
        sock = ctx.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVTIMEO, 5000)
        sock.connect("ipc://" + d.control)
        try:
            sock.send(data)
            return json.loads(sock.recv())["error"]
        finally:
            sock.close()
            ctx.term()


class TestStreams(DaemonTestCase):
    def test_udp_stream_killed_and_restarted(self):
        port = free_port(socket.SOCK_DGRAM)
        server = Server(self, ["-i", MEDIA["ts6"], "-c", "copy", "-f", "mpegts",
                               "udp://127.0.0.1:%d?pkt_size=1316" % port])
        d = Daemon(self, {
            "cam": {"type": "stream", "url": "udp://127.0.0.1:%d" % port, "read_timeout": 1,
                    "backoff_min": 0.2, "backoff_max": 1},
            "other": file_source(MEDIA["mp4_6"], loop="yes"),
        })
        sub = self.subscribe(d)
        sub.wait(lambda: len(sub.segments("cam")) >= 3, 30, "the stream's segments")
        server.stop()
        other_before = len(sub.segments("other"))
        time.sleep(3)
        server.start()
        sub.wait(lambda: any(s["epoch"] >= 1 for s in sub.segments("cam")) and
                 len([s for s in sub.segments("cam") if s["epoch"] >= 1]) >= 3,
                 30, "segments of a new epoch")
        segs = sub.segments("cam")
        self.assert_seq_contiguous(segs)
        self.assert_timeline_forward(segs)
        for s in segs:
            self.check_segment(s, "cam")
        states = sub.states("cam")
        i = states.index("reconnecting")
        self.assertIn("running", states[i:], states)
        self.assertEqual(max(s["epoch"] for s in segs), 1)
        status = sub.of("status", "cam")[-1]
        self.assertGreaterEqual(status["counters"]["reconnects"], 1)
        # the timeline reflects the outage: the new epoch starts after it
        first_new = [s for s in segs if s["epoch"] == 1][0]
        last_old = [s for s in segs if s["epoch"] == 0][-1]
        self.assertGreaterEqual(first_new["t0"], last_old["t1"] + 2.0)
        # the other source went on during the outage, unaffected
        other = sub.segments("other")
        self.assertGreater(len(other), other_before)
        self.assert_seq_contiguous(other)
        self.assertNotIn("reconnecting", sub.states("other"))
        rc, _ = d.terminate()
        self.assertEqual(rc, 0)

    def test_hung_http_source_detected_and_sigterm_exits(self):
        port = free_port()
        server = Server(self, ["-i", MEDIA["ts6"], "-c", "copy", "-f", "mpegts", "-listen", "1",
                               "http://127.0.0.1:%d/" % port])
        timeout = 1.5
        d = Daemon(self, {"cam": {"type": "stream", "url": "http://127.0.0.1:%d/" % port,
                                  "read_timeout": timeout, "backoff_min": 0.2}})
        sub = self.subscribe(d)
        sub.wait(lambda: len(sub.segments("cam")) >= 2, 30, "the stream's segments")
        server.proc.send_signal(signal.SIGSTOP)
        stopped = time.monotonic()
        # (the server may have refused a first attempt before it listened: only the
        # reconnects after the SIGSTOP count)
        def stalls():
            return [(t, m) for t, topic, m in sub.snapshot()
                    if topic == "status/cam/" and m["state"] == "reconnecting" and t >= stopped]
        sub.wait(lambda: stalls(), 4 * timeout, "the stall")
        detected, first = stalls()[0]
        self.assertLessEqual(detected - stopped, 2 * timeout)
        self.assertIn("stalled", first["error"])
        time.sleep(1.0)  # now it is reconnecting to a server that does not answer
        rc, took = d.terminate()
        self.assertEqual(rc, 0)
        self.assertLess(took, 2.0)


class TestOutput(DaemonTestCase):
    def test_jsonl_output_and_failing_disk(self):
        out = os.path.join(tempfile.mkdtemp(dir=WORKDIR), "a.jsonl")
        d = Daemon(self, {"a": file_source(MEDIA["ts6"], output=out),
                          "full": file_source(MEDIA["mp4_6"], output="/dev/full"),
                          "gone": file_source(MEDIA["mp4_6"], output="/nonexistent/x.jsonl")})
        sub = self.subscribe(d)
        sub.wait(lambda: all("ended" in sub.states(s) for s in ("a", "full", "gone")), 30,
                 "the three files to end")
        # the file holds exactly what was published: segments and events, in order
        published = [json.dumps(m, sort_keys=True) for _, t, m in sub.snapshot()
                     if t in ("seg/a/", "evt/a/")]
        with open(out) as fh:
            written = [json.dumps(json.loads(line), sort_keys=True) for line in fh]
        self.assertEqual(written, published)
        self.assertEqual(len([m for m in written if "segment" in m]), 6)
        # a disk that refuses: clear error in the status, publishing goes on
        for name, reason in (("full", "output /dev/full: No space left on device"),
                             ("gone", "output /nonexistent/x.jsonl: No such file or directory")):
            self.assertEqual(len(sub.segments(name)), 6)
            errors = [m["error"] for m in sub.of("status", name) if m["error"]]
            self.assertTrue(any(reason in e for e in errors), errors)
        self.assertIn("output /dev/full: No space left on device", d.stderr())
        self.assertEqual(d.terminate()[0], 0)

    def test_output_reopened_on_sighup_for_log_rotation(self):
        out = os.path.join(tempfile.mkdtemp(dir=WORKDIR), "a.jsonl")
        d = Daemon(self, {"a": file_source(MEDIA["ts6"], output=out)})
        sub = self.subscribe(d)

        def lines(path):
            with open(path) as fh:
                return [json.dumps(json.loads(line), sort_keys=True) for line in fh]

        sub.wait(lambda: os.path.exists(out) and len(lines(out)) >= 2, 20, "two lines in a.jsonl")
        # logrotate: rename, then SIGHUP; a configuration that is refused changes nothing
        os.rename(out, out + ".1")
        with open(d.conf, "a") as fh:
            fh.write("width = wide\n")
        d.proc.send_signal(signal.SIGHUP)
        sub.wait(lambda: "ended" in sub.states("a"), 20, "a to end")
        self.assertIn("width must be a whole number", d.stderr())
        rotated, fresh = lines(out + ".1"), lines(out)
        self.assertGreaterEqual(len(rotated), 2)
        self.assertGreaterEqual(len(fresh), 2)  # about 4 s of the 6 s came after the rename
        # nothing lost, nothing twice: the two files are what was published, in order
        published = [json.dumps(m, sort_keys=True) for _, t, m in sub.snapshot()
                     if t in ("seg/a/", "evt/a/")]
        self.assertEqual(rotated + fresh, published)
        self.assertEqual(d.terminate()[0], 0)


class TestCamera(DaemonTestCase):
    def test_camera_through_a_recorded_file(self):
        # no /dev/video* here: the camera's input format is the seam, a recording
        # played in real time stands in for the V4L2 device
        d = Daemon(self, {"cam": {"type": "camera", "device": MEDIA["ts6"], "format": "mpegts",
                                  "realtime": "yes", "read_timeout": 1}})
        sub = self.subscribe(d)
        sub.wait(lambda: len(sub.segments("cam")) >= 3, 30, "the camera's segments")
        segs = sub.segments("cam")
        self.assert_seq_contiguous(segs)
        for s in segs:
            self.check_segment(s, "cam")
            self.assertTrue(s["video"]["present"])
            self.assertIn("wallclock", s)
        self.assertEqual(sub.of("status", "cam")[-1]["type"], "camera")
        self.assertEqual(d.terminate()[0], 0)


ALSA_CONF = """pcm.null { type null }
pcm.avfuse_mic_raw {
    type file
    slave.pcm "null"
    file "/dev/null"
    infile "%s"
    format "raw"
}
pcm.!default {
    type plug
    slave { pcm "avfuse_mic_raw" format S16_LE rate 16000 channels 1 }
}
"""


class Feeder:
    """Writes mono S16_LE 16 kHz into a FIFO at real time, 10 ms per write: the ALSA
    file PCM reads one buffer per read() and is paced by nothing else (see
    tests/unit/test_mic.c). The signal is a 440 Hz tone for tone_s seconds, then
    silence, until stopped."""

    def __init__(self, path, tone_s):
        import array
        import math
        os.mkfifo(path)
        self.fd = os.open(path, os.O_RDWR)
        self.chunks = []
        for k in range(int(tone_s * 100)):
            self.chunks.append(array.array("h", (
                int(16384 * math.sin(2 * math.pi * 440 * (k * 160 + i) / 16000))
                for i in range(160))).tobytes())
        self.silence = bytes(320)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        start = time.monotonic()
        k = 0
        while not self.stop.is_set():
            chunk = self.chunks[k] if k < len(self.chunks) else self.silence
            try:
                os.write(self.fd, chunk)
            except OSError:
                return
            k += 1
            delay = start + k * 0.01 - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def close(self):
        self.stop.set()
        self.thread.join(5)
        os.close(self.fd)


class TestMicrophone(DaemonTestCase):
    def test_microphone_through_alsa_file_pcm(self):
        tmp = tempfile.mkdtemp(dir=WORKDIR)
        fifo = os.path.join(tmp, "mic.fifo")
        conf = os.path.join(tmp, "asound.conf")
        with open(conf, "w") as fh:
            fh.write(ALSA_CONF % fifo)
        feeder = Feeder(fifo, tone_s=3.0)
        env = dict(os.environ, ALSA_CONFIG_PATH=conf)
        d = Daemon(self, {"mic": {"type": "microphone", "device": "default"}}, env=env)
        self.addCleanup(feeder.close)  # after the daemon is gone: it reads the FIFO
        sub = self.subscribe(d)
        sub.wait(lambda: len(sub.segments("mic")) >= 6, 30, "six microphone segments")
        self.assertEqual(d.terminate()[0], 0)
        segs = sub.segments("mic")
        self.assert_seq_contiguous(segs)
        for s in segs[:6]:
            self.check_segment(s, "mic")
            self.assertFalse(s["video"]["present"])
            self.assertTrue(s["audio"]["present"])
            self.assertIn("wallclock", s)
        full = [s for s in segs if not s["partial"]]
        # the feeder is a Python thread: when the machine is busy its writes come
        # late, capture time and sample count part by more than 20 ms, and the
        # drift correction leaves a hole of that size, as it should; so the bound
        # is on the average, with room for one late write per segment
        samples = [s["audio"]["samples"] for s in full]
        self.assertGreaterEqual(sorted(samples)[len(samples) // 2], 15000, samples)
        # the tone, then silence: the tone fills the first segments and silence
        # segment 4 on (the fullest of the first three holds the tone)
        tone = max(full[:3], key=lambda s: s["audio"]["samples"])["audio"]["features"]
        quiet = full[4]["audio"]["features"]
        self.assertAlmostEqual(tone["pitch_hz"], 440.0, delta=5.0)
        self.assertAlmostEqual(tone["rms_dbfs"], -9.0, delta=1.5)
        self.assertLess(quiet["rms_dbfs"], -60.0)

    def test_missing_microphone_is_reported_and_retried(self):
        tmp = tempfile.mkdtemp(dir=WORKDIR)
        conf = os.path.join(tmp, "asound.conf")
        with open(conf, "w") as fh:
            fh.write(ALSA_CONF % os.path.join(tmp, "absent.fifo"))
        env = dict(os.environ, ALSA_CONFIG_PATH=conf)
        d = Daemon(self, {"mic": {"type": "microphone", "device": "USB Headset",
                                  "backoff_min": 0.1, "backoff_max": 0.2},
                          "a": file_source(MEDIA["ts6"])}, env=env)
        sub = self.subscribe(d)
        sub.wait(lambda: any(m["counters"]["reconnects"] >= 3 for m in sub.of("status", "mic")),
                 20, "three attempts")
        status = sub.of("status", "mic")[-1]
        self.assertIn(status["state"], ("reconnecting", "connecting"))
        self.assertIn("USB Headset", status["error"])
        self.assertEqual(sub.segments("mic"), [])
        sub.wait(lambda: len(sub.segments("a")) >= 2, 20, "the other source")
        self.assertEqual(d.terminate()[0], 0)

    def test_camera_with_microphone_on_one_clock(self):
        tmp = tempfile.mkdtemp(dir=WORKDIR)
        fifo = os.path.join(tmp, "mic.fifo")
        conf = os.path.join(tmp, "asound.conf")
        with open(conf, "w") as fh:
            fh.write(ALSA_CONF % fifo)
        feeder = Feeder(fifo, tone_s=60.0)
        env = dict(os.environ, ALSA_CONFIG_PATH=conf)
        d = Daemon(self, {"room": {"type": "av", "device": MEDIA["ts6"], "format": "mpegts",
                                   "realtime": "yes", "microphone": "default"}}, env=env)
        self.addCleanup(feeder.close)
        sub = self.subscribe(d)
        sub.wait(lambda: len(sub.segments("room")) >= 4, 30, "four segments")
        self.assertEqual(d.terminate()[0], 0)
        segs = sub.segments("room")
        self.assert_seq_contiguous(segs)
        for s in segs[:4]:
            self.check_segment(s, "room")
            self.assertTrue(s["video"]["present"])
            self.assertTrue(s["audio"]["present"])
        # the audio is the microphone's (a 440 Hz tone), not the recording's own
        # (also 440 Hz, but at -21 dBFS), and it fills the segments on the camera's clock
        for s in segs[1:4]:
            self.assertGreaterEqual(s["audio"]["samples"], 12000, s["audio"]["samples"])
            self.assertAlmostEqual(s["audio"]["features"]["rms_dbfs"], -9.0, delta=1.5)
            self.assertEqual(s["video"]["frames"], 10)


class TestSlowSubscriber(DaemonTestCase):
    def _run(self, stalled):
        # 1200 segments (3.6 MB) and their events and status: far more than a
        # stalled subscriber holds (200 messages queued in the daemon, and the
        # kernel's socket buffers, which took 1.6 MB here), while the burst of
        # 100 partial segments at the end of the file fits a reading one's queue
        d = Daemon(self, {"a": file_source(MEDIA["ts12"], hop=0.01)}, "sndhwm = 200\n")
        if stalled:
            self.subscribe(d, rcvhwm=1, read=False)
        sub = self.subscribe(d)
        start = time.monotonic()
        sub.wait(lambda: "ended" in sub.states("a"), 30, "the file to end")
        took = [t for t, topic, m in sub.snapshot()
                if topic == "status/a/" and m["state"] == "ended"][0] - start
        segs = sub.segments("a")
        time.sleep(0.6)  # one more periodic status
        status = sub.of("status", "a")[-1]
        d.terminate()
        return took, segs, status

    def test_stalled_subscriber_costs_nothing_and_drops_are_counted(self):
        base, segs0, status0 = self._run(False)
        took, segs, status = self._run(True)
        self.assertLessEqual(took, base * 1.1, "with a stalled subscriber %.2f s, without %.2f s"
                             % (took, base))
        # the subscriber that reads lost nothing
        self.assertEqual([(s["seq"], s["t0"]) for s in segs], [(s["seq"], s["t0"]) for s in segs0])
        self.assert_seq_contiguous(segs)
        self.assertEqual(status0["counters"]["publish_drops"], 0)
        self.assertGreater(status["counters"]["publish_drops"], 0)
        sys.stderr.write("\n  %d segments; %.2f s without, %.2f s with a stalled subscriber; "
                         "publish_drops %d ... " % (len(segs), base, took,
                                                   status["counters"]["publish_drops"]))


class TestProxy(DaemonTestCase):
    def test_two_daemons_behind_proxy(self):
        d1 = Daemon(self, {"one": file_source(MEDIA["ts6"], loop="yes")})
        d2 = Daemon(self, {"two": file_source(MEDIA["mp4_6"], loop="yes")})
        backend = "tcp://127.0.0.1:%d" % free_port()
        proxy = subprocess.Popen([AVFUSE, "proxy", d1.endpoint + "," + d2.endpoint, backend],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proxy.poll() is None and (proxy.kill(), proxy.wait(5)))
        sub = Subscriber(backend)
        self.addCleanup(sub.close)
        sub.wait(lambda: len(sub.segments("one")) >= 2 and len(sub.segments("two")) >= 2, 30,
                 "both daemons' segments through the proxy")
        for name in ("one", "two"):
            segs = sub.segments(name)
            for a, b in zip(segs, segs[1:]):
                self.assertEqual(b["seq"], a["seq"] + 1)
            self.check_segment(segs[0], name)
        proxy.send_signal(signal.SIGTERM)
        self.assertEqual(proxy.wait(5), 0)
        for d in (d1, d2):
            self.assertEqual(d.terminate()[0], 0)


class TestMetrics(DaemonTestCase):
    def test_prometheus_endpoint(self):
        port = free_port()
        d = Daemon(self, {"a": file_source(MEDIA["ts6"], loop="yes"),
                          "b": file_source(MEDIA["mp4_6"], loop="yes")},
                   "metrics = 127.0.0.1:%d\n" % port)
        sub = self.subscribe(d)
        sub.wait(lambda: len(sub.segments("a")) >= 2 and len(sub.segments("b")) >= 2, 20,
                 "segments")
        time.sleep(0.6)  # one status tick renders the page
        proc = subprocess.run(["curl", "-sS", "-i", "http://127.0.0.1:%d/metrics" % port],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=10)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        head, _, body = proc.stdout.partition("\n\n")  # text mode: \r\n is \n
        self.assertIn("200", head.splitlines()[0])
        self.assertIn("text/plain; version=0.0.4", head)
        samples = {}
        for line in body.splitlines():
            if line.startswith("#"):
                self.assertRegex(line, r"^# (HELP|TYPE) avfuse_\w+ ")
                continue
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
        for src in "ab":
            self.assertGreaterEqual(samples['avfuse_segments_total{source="%s"}' % src], 2)
            self.assertEqual(samples['avfuse_source_state{source="%s",state="running"}' % src], 1)
            self.assertIn('avfuse_drops_total{source="%s",stage="frames"}' % src, samples)
            self.assertEqual(samples['avfuse_discontinuities_total{source="%s"}' % src], 0)
            self.assertIn('avfuse_latency_ms{source="%s",quantile="0.99"}' % src, samples)
        self.assertEqual(samples["avfuse_sources"], 2)
        missing = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                  "http://127.0.0.1:%d/" % port], stdout=subprocess.PIPE,
                                 text=True, timeout=10)
        self.assertEqual(missing.stdout, "404")
        self.assertEqual(d.terminate()[0], 0)

    def test_metrics_off_by_default_and_bad_address_refused(self):
        d = Daemon(self, {})
        d.wait_ready()  # set up: a metrics listener would have started, and said so
        self.assertIsNone(d.proc.poll())
        self.assertNotIn("metrics", d.stderr())
        self.assertIn("publishing on", d.stderr())  # the log is there to be read
        d.terminate()
        bad = Daemon(self, {}, "metrics = 300.1.1.1:80\n")
        self.assertEqual(bad.proc.wait(10), 1)
        self.assertIn("metrics: '300.1.1.1' is not an IP address", bad.stderr())


def keygen(directory, name):
    """avfuse keygen NAME in directory; returns (public, secret) as bytes."""
    base = os.path.join(directory, name)
    subprocess.run([AVFUSE, "keygen", base], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=10)
    with open(base + ".key") as fh:
        keys = dict(line.split(" = ") for line in fh.read().splitlines())
    return keys["public"].encode(), keys["secret"].encode()


class TestCurve(DaemonTestCase):
    def setUp(self):
        self.keys = tempfile.mkdtemp(dir=WORKDIR)
        self.server = keygen(self.keys, "server")
        self.client = keygen(self.keys, "client")
        self.stranger = keygen(self.keys, "stranger")
        self.allow = os.path.join(self.keys, "allow")
        with open(self.allow, "w") as fh:
            fh.write("# the clients allowed in\n%s\n" % self.client[0].decode())

    def curve_sub(self, endpoint, client, server_public):
        ctx = zmq.Context()
        sock = ctx.socket(zmq.SUB)
        sock.setsockopt(zmq.LINGER, 0)
        sock.curve_publickey, sock.curve_secretkey = client
        sock.curve_serverkey = server_public
        sock.setsockopt(zmq.SUBSCRIBE, b"")
        sock.connect(endpoint)
        self.addCleanup(ctx.term)
        self.addCleanup(sock.close)
        return sock

    def drain(self, sock, seconds):
        got = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if sock.poll(100):
                got.append(sock.recv_multipart())
        return got

    def test_allow_list_decides_who_receives(self):
        d = Daemon(self, {"a": file_source(MEDIA["ts6"], loop="yes")},
                   "curve_key = %s/server.key\ncurve_allow = %s\n" % (self.keys, self.allow))
        allowed = self.curve_sub(d.endpoint, self.client, self.server[0])
        stranger = self.curve_sub(d.endpoint, self.stranger, self.server[0])
        wrong_server = self.curve_sub(d.endpoint, self.client, self.stranger[0])
        plain = Subscriber(d.endpoint)
        self.addCleanup(plain.close)
        got = self.drain(allowed, 3.5)
        seqs = [json.loads(b)["seq"] for t, b in got if t == b"seg/a/"]
        self.assertGreaterEqual(len(seqs), 2)
        self.assertEqual(seqs, list(range(len(seqs))))  # everything, from the start
        self.assertEqual(self.drain(stranger, 0.5), [])
        self.assertEqual(self.drain(wrong_server, 0.5), [])
        self.assertEqual(plain.snapshot(), [])
        # the control socket: the allowed key is answered, no key gets nothing
        ctl = [AVFUSE, "ctl", "--socket", "ipc://" + d.control, "--timeout", "1"]
        ok = subprocess.run(ctl + ["--key", os.path.join(self.keys, "client.key"),
                                   "--server-key", os.path.join(self.keys, "server.pub"),
                                   "sources"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, timeout=10)
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertIn('"name": "a"', ok.stdout)
        for keys in (["--key", os.path.join(self.keys, "stranger.key"),
                      "--server-key", os.path.join(self.keys, "server.pub")], []):
            no = subprocess.run(ctl + keys + ["sources"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, timeout=10)
            self.assertEqual(no.returncode, 1)
            self.assertIn("no reply", no.stderr)
        self.assertEqual(d.terminate()[0], 0)
        log = d.stderr()
        self.assertIn("refused a client", log)
        self.assertNotIn(self.server[1].decode(), log)  # no secret key in the log

    def test_curve_needs_its_allow_list(self):
        for extra, reason in (
                ("curve_key = %s/server.key\n" % self.keys, "curve_key and curve_allow go together"),
                ("curve_key = %s/server.key\ncurve_allow = /dev/null\n" % self.keys,
                 "the allow-list holds no key")):
            d = Daemon(self, {}, extra)
            self.assertEqual(d.proc.wait(10), 1)
            self.assertIn(reason, d.stderr())
        os.chmod(os.path.join(self.keys, "server.key"), 0o644)
        d = Daemon(self, {}, "curve_key = %s/server.key\ncurve_allow = %s\n"
                   % (self.keys, self.allow))
        self.assertEqual(d.proc.wait(10), 1)
        self.assertIn("must not be accessible to group or others", d.stderr())


class TestByHand(DaemonTestCase):
    """avfused run from a shell, as docs/getting-started.md does: no `control` key, so
    the default socket applies, and `avfuse ctl` finds it without --socket."""

    def config(self, daemon_extra="", sources=""):
        folder = tempfile.mkdtemp(dir=WORKDIR)
        path = os.path.join(folder, "my.conf")
        with open(path, "w") as fh:
            fh.write("[daemon]\npublish = tcp://127.0.0.1:%d\n%s\n%s"
                     % (free_port(), daemon_extra, sources))
        return path

    def env(self, **extra):
        env = {k: v for k, v in os.environ.items()
               if k not in ("RUNTIME_DIRECTORY", "XDG_RUNTIME_DIR", "NOTIFY_SOCKET")}
        env.update(extra)
        return env

    def start(self, conf, env):
        err = open(os.path.join(os.path.dirname(conf), "stderr"), "w+")
        proc = subprocess.Popen([AVFUSED, "-v", "-c", conf], stdout=subprocess.DEVNULL,
                                stderr=err, env=env)

        def stop():
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
            err.close()
        self.addCleanup(stop)
        return proc, err

    def ctl_status(self, env):
        return subprocess.run([AVFUSE, "ctl", "--json", "status"], env=env, timeout=20,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait_for(self, path, proc, err, timeout=10):
        deadline = time.monotonic() + timeout
        while not os.path.exists(path):
            if proc.poll() is not None or time.monotonic() > deadline:
                err.seek(0)
                self.fail("no socket at %s (exit %s): %s" % (path, proc.poll(), err.read()))
            time.sleep(0.05)

    def test_default_control_per_user(self):
        runtime = tempfile.mkdtemp(dir=WORKDIR)
        env = self.env(XDG_RUNTIME_DIR=runtime)
        conf = self.config(sources="[source a]\ntype = file\nurl = %s\n" % MEDIA["ts6"])
        check = subprocess.run([AVFUSED, "-n", "-c", conf], env=env, timeout=30,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.assertEqual(check.returncode, 0, check.stdout)
        proc, err = self.start(conf, env)
        socket_path = os.path.join(runtime, "avfuse", "control")
        self.wait_for(socket_path, proc, err)
        # the daemon made the per-user folder, for its user alone
        st = os.stat(os.path.dirname(socket_path))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o700)
        self.assertEqual(st.st_uid, os.geteuid())
        out = self.ctl_status(env)
        self.assertEqual(out.returncode, 0, out.stderr)
        reply = json.loads(out.stdout)
        self.assertTrue(reply["ok"])
        self.assertEqual(reply["daemon"]["config"], conf)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(10), 0)

    def test_default_control_in_runtime_directory(self):
        runtime = tempfile.mkdtemp(dir=WORKDIR)  # what systemd's RuntimeDirectory= makes
        other = tempfile.mkdtemp(dir=WORKDIR)
        env = self.env(RUNTIME_DIRECTORY=runtime, XDG_RUNTIME_DIR=other)
        conf = self.config()
        proc, err = self.start(conf, env)
        self.wait_for(os.path.join(runtime, "control"), proc, err)
        self.assertFalse(os.path.exists(os.path.join(other, "avfuse")))
        out = self.ctl_status(env)
        self.assertEqual(out.returncode, 0, out.stderr)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(10), 0)

    def test_per_user_folder_of_others_refused(self):
        runtime = tempfile.mkdtemp(dir=WORKDIR)
        folder = os.path.join(runtime, "avfuse")
        os.mkdir(folder)
        os.chmod(folder, 0o777)  # anyone could put a socket of theirs there
        env = self.env(XDG_RUNTIME_DIR=runtime)
        conf = self.config()
        for argv in ([AVFUSED, "-n", "-c", conf], [AVFUSED, "-c", conf]):
            out = subprocess.run(argv, env=env, timeout=30, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
            self.assertEqual(out.returncode, 1, out.stdout)
            self.assertIn("%s: " % folder, out.stdout)
            self.assertIn("writable by group or others", out.stdout)

    def check_refused(self, conf, env, *reasons):
        out = subprocess.run([AVFUSED, "-n", "-c", conf], env=env, timeout=30,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.assertEqual(out.returncode, 1, out.stdout)
        self.assertNotIn("configuration OK", out.stdout)
        for reason in reasons:
            self.assertIn(reason, out.stdout)
        return out.stdout

    def test_check_refuses_what_a_run_would_fail_on(self):
        env = self.env(XDG_RUNTIME_DIR=tempfile.mkdtemp(dir=WORKDIR))
        # a control folder that does not exist (nobody creates a configured one)
        missing = os.path.join(WORKDIR, "no-such-folder", "sub")
        self.check_refused(self.config("control = ipc://%s/control\n" % missing), env,
                           missing, "does not exist")
        # the per-user folder cannot be made when $XDG_RUNTIME_DIR is not there
        gone = os.path.join(WORKDIR, "no-such-runtime-dir")
        self.check_refused(self.config(), self.env(XDG_RUNTIME_DIR=gone), gone)
        # a plugin folder that others can write to: the loader would refuse it
        plugins = tempfile.mkdtemp(dir=WORKDIR)
        os.chmod(plugins, 0o777)
        self.check_refused(self.config("plugin_dirs = %s\n" % plugins), env, plugins,
                           "writable by group or others")
        # a URL with stray text after it
        conf = self.config(sources="[source cam]\ntype = stream\n"
                                   "url = rtsp://cam/stream  extra\n")
        self.check_refused(conf, env, "my.conf:", "cam", "url")


class TestNotify(DaemonTestCase):
    def test_ready_watchdog_stopping(self):
        path = os.path.join(WORKDIR, "notify-%d" % os.getpid())
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        self.addCleanup(sock.close)
        sock.settimeout(10)
        env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="1000000")
        d = Daemon(self, {"a": file_source(MEDIA["ts6"], loop="yes")}, env=env)
        got = []

        def until(word):
            while not any(word in g for g in got):
                got.append(sock.recv(4096).decode())

        until("READY=1")
        until("WATCHDOG=1")
        until("STATUS=")
        d.proc.send_signal(signal.SIGTERM)
        until("STOPPING=1")
        self.assertEqual(d.proc.wait(5), 0)

    def test_watchdog_withheld_while_a_pipeline_is_stuck(self):
        """A plugin that blocks wedges the pipeline itself: WATCHDOG=1 stops within the
        runner's liveness limit, the log says which source, and it comes back."""
        plugin = os.environ.get("AVFUSE_STALL_PLUGIN")
        # a fixture: without it the test fails, it is not skipped
        self.assertTrue(plugin and os.path.isfile(plugin),
                        "AVFUSE_STALL_PLUGIN must name the built tests/plugins/stall_plugin.c "
                        "(ctest sets it)")
        # the loader refuses folders and files that group or others may write
        plugins = tempfile.mkdtemp(dir=WORKDIR)
        os.chmod(plugins, 0o755)
        shutil.copy(plugin, os.path.join(plugins, "libstall_plugin.so"))
        os.chmod(os.path.join(plugins, "libstall_plugin.so"), 0o755)
        stall = os.path.join(WORKDIR, "stall-%d" % os.getpid())
        self.addCleanup(lambda: os.path.exists(stall) and os.unlink(stall))
        notify = NotifySocket(self)
        env = dict(os.environ, NOTIFY_SOCKET=notify.path, WATCHDOG_USEC="1000000",
                   AVFUSE_STALL_FILE=stall)
        # avf_runner_alive(): 2 * read_timeout + 2 * len + 2 s without progress
        read_timeout, seg_len = 0.2, 0.5
        limit = 2 * read_timeout + 2 * seg_len + 2
        d = Daemon(self, {"a": file_source(MEDIA["ts6"], loop="yes", read_timeout=read_timeout,
                                           hop=seg_len, len=seg_len)},
                   "plugin_dirs = %s\n" % plugins, env=env, watchdog_pid=True)
        sub = self.subscribe(d)
        notify.wait(lambda: len(notify.times("WATCHDOG=1")) >= 2, 20, "the first keep-alives")
        sub.wait(lambda: len(sub.segments("a")) >= 2, 20, "a's first segments")
        self.assertIn("stall_frames", sub.segments("a")[-1]["video"]["features"])

        with open(stall, "w"):
            pass
        stuck = time.monotonic()
        # the half-period ticks (0.5 s) go on; the keep-alives among them stop
        notify.wait(lambda: time.monotonic() - max(notify.times("WATCHDOG=1")) > 2.5,
                    limit + 10, "WATCHDOG=1 to stop")
        last = max(notify.times("WATCHDOG=1"))
        self.assertLess(last - stuck, limit + 1.0,
                        "kept feeding %.1f s into the stall (limit %.1f s)" % (last - stuck, limit))
        self.assertGreater(last - stuck, 0.5, "stopped feeding before the limit")
        statuses = [t for t, g in notify.snapshot() if g.startswith("STATUS=") and t > last + 1]
        self.assertTrue(statuses, "the main loop stopped ticking too")
        # said once, naming the source, not at every tick
        said = re.findall(r"watchdog: .*source a makes no progress.*not feeding the watchdog",
                          d.stderr())
        self.assertEqual(len(said), 1, d.stderr())
        self.assertTrue(any(g.startswith("STATUS=") and "a makes no progress" in g
                            for _, g in notify.snapshot()), "systemctl status would not say")

        os.unlink(stall)
        unstuck = time.monotonic()
        notify.wait(lambda: any(t > unstuck for t in notify.times("WATCHDOG=1")), 10,
                    "WATCHDOG=1 to resume")
        n = len(sub.segments("a"))
        sub.wait(lambda: len(sub.segments("a")) > n, 10, "a to publish again")
        self.assertIn("feeding the watchdog again", d.stderr())
        rc, _ = d.terminate()
        self.assertEqual(rc, 0)

    def test_sighup_sends_reloading_then_ready(self):
        """RELOADING=1 then READY=1, for a configuration taken and for one refused."""
        notify = NotifySocket(self)
        env = dict(os.environ, NOTIFY_SOCKET=notify.path)
        a = file_source(MEDIA["ts6"], loop="yes")
        d = Daemon(self, {"a": a}, env=env)
        sub = self.subscribe(d)

        def reload_messages():
            return [g.split("\n")[0] for _, g in notify.snapshot()
                    if g.startswith("READY=") or g.startswith("RELOADING=")]

        notify.wait(lambda: reload_messages() == ["READY=1"], 20, "READY=1")
        sub.wait(lambda: len(sub.segments("a")) >= 1, 20, "a's first segment")

        # a valid new file: b starts
        d.write_config({"a": a, "b": file_source(MEDIA["ts6"], loop="yes")})
        d.proc.send_signal(signal.SIGHUP)
        notify.wait(lambda: len(reload_messages()) >= 3, 10, "the reload's datagrams")
        self.assertEqual(reload_messages(), ["READY=1", "RELOADING=1", "READY=1"])
        reloading = [g for _, g in notify.snapshot() if g.startswith("RELOADING=1")]
        self.assertRegex(reloading[0], r"^RELOADING=1\nMONOTONIC_USEC=\d+$")
        sub.wait(lambda: len(sub.segments("b")) >= 1, 20, "b after the reload")

        # a refused file: RELOADING=1 and READY=1 all the same, a and b keep running
        with open(d.conf, "a") as fh:
            fh.write("width = wide\n")
        d.proc.send_signal(signal.SIGHUP)
        notify.wait(lambda: len(reload_messages()) >= 5, 10, "the refused reload's datagrams")
        self.assertEqual(reload_messages(),
                         ["READY=1", "RELOADING=1", "READY=1", "RELOADING=1", "READY=1"])
        sub.wait(lambda: "refused" in d.stderr(), 5, "the refusal in the log")
        n = {s: len(sub.segments(s)) for s in "ab"}
        sub.wait(lambda: all(len(sub.segments(s)) >= n[s] + 2 for s in "ab"), 10,
                 "a and b to keep publishing")
        rc, _ = d.terminate()
        self.assertEqual(rc, 0)
        self.assertEqual(reload_messages()[-1], "READY=1")


if __name__ == "__main__":
    unittest.main(verbosity=2)
