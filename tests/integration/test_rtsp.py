#!/usr/bin/env python3
"""avfused against a real RTSP camera: GStreamer's RTSP server on loopback.

Usage:
    AVFUSE_BIN=build/tools/avfuse AVFUSED_BIN=build/daemon/avfused \
        /usr/bin/python3 tests/integration/test_rtsp.py -v

The cameras are rtsp_server.py (beside this file) run as subprocesses: H.264 with
G.711 or AAC, Basic or Digest authentication, a camera that accepts the session but
sends no media, one that changes its picture size mid-session; a test kills one
(SIGKILL) and starts it again on the same port. TestAcceptance is the end-to-end
check of the RTSP work: two cameras that demand a password (one configured with the
wrong one) beside a file, what a subscriber, the log and the control socket show,
and that no password is ever shown.

Exits 77 (skipped) when the GStreamer bindings are missing: tools/setup-deps.sh
--test installs them (python3-gi, gir1.2-gst-rtsp-server-1.0, the plugins). Every
wait is bounded; the helpers (Daemon, Subscriber) are test_daemon.py's.
"""
import base64
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

try:
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import Gst, GstRtspServer  # noqa: F401
except (ImportError, ValueError) as e:
    print("skipped: GStreamer bindings missing (%s); tools/setup-deps.sh --test installs "
          "them" % e)
    sys.exit(77)

import media  # noqa: E402
import test_daemon as td  # noqa: E402

AVFUSE = os.environ.get("AVFUSE_BIN")
AVFUSED = os.environ.get("AVFUSED_BIN")
SERVER = os.path.join(HERE, "rtsp_server.py")
READY_TIMEOUT = 30
WORKDIR = None
MEDIA = {}

USER = "admin"
PASSWORD = "Adm1n+P@ss"  # '+' and '@' differ between the raw and the percent-encoded form
WRONG_PASSWORD = "Wr0ng!Gue$s"


def setUpModule():
    global WORKDIR
    WORKDIR = td.setup_workdir("avfuse-rtsp-")
    MEDIA["file"] = media.generate(WORKDIR, [
        "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "4",
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-c:a", "aac"], "clip4.mp4")


def quoted(password):
    """The password as it stands in a URL's user info (percent-encoded)."""
    return urllib.parse.quote(password, safe="")


def secret_forms(password):
    """Every form of a password that would give it away: as is, percent-encoded
    (upper and lower case hex), as JSON would escape it, and in Basic
    authentication's header (base64 of USER:PASSWORD)."""
    forms = {password, quoted(password), quoted(password).lower(),
             json.dumps(password)[1:-1]}
    basic = base64.b64encode(("%s:%s" % (USER, password)).encode())
    return sorted(f.encode() for f in forms) + [basic]


class RtspServer:
    """rtsp_server.py in a subprocess on a fixed port; start() waits for "ready"."""

    def __init__(self, testcase, *args, port=None):
        self.port = port or td.free_port()
        self.dir = tempfile.mkdtemp(dir=WORKDIR)
        self.count_file = os.path.join(self.dir, "requests")
        self.args = [sys.executable, SERVER, "--port", str(self.port),
                     "--count-file", self.count_file] + list(args)
        self.proc = None
        self.lines = []  # (time.monotonic(), line) printed after "ready"
        self.start()
        testcase.addCleanup(self.kill)

    def url(self, password=None, user=USER, path="/cam"):
        auth = "%s:%s@" % (user, quoted(password)) if password is not None else ""
        return "rtsp://%s127.0.0.1:%d%s" % (auth, self.port, path)

    def start(self):
        self.err = open(os.path.join(self.dir, "stderr"), "a")
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self.err, text=True)
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                line = self.proc.stdout.readline()
                if line.startswith("ready"):
                    threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()
                    return
                if not line:
                    break
        self.kill()
        with open(os.path.join(self.dir, "stderr")) as fh:
            raise AssertionError("rtsp_server.py did not get ready within %d s (rc %s): %s"
                                 % (READY_TIMEOUT, self.proc.returncode, fh.read()[-2000:]))

    def _read(self, proc):
        for line in proc.stdout:
            self.lines.append((time.monotonic(), line.strip()))

    def kill(self):
        """SIGKILL, as a camera that loses power."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        if self.proc:
            self.proc.stdout.close()
            self.err.close()

    def requests(self):
        """[(monotonic time, event, detail)] from the server's count file."""
        try:
            with open(self.count_file) as fh:
                rows = [line.rstrip("\n").split(" ", 2) for line in fh]
        except FileNotFoundError:
            return []
        return [(float(t), event, detail) for t, event, detail in rows]


class Daemon(td.Daemon):
    """test_daemon.py's Daemon, with the log as verbose as it gets (-v -v)."""

    def __init__(self, testcase, sources, daemon_extra=""):
        super().__init__(testcase, sources, daemon_extra, verbose=2)

    def cli(self, *args):
        """avfuse ctl ARGS against this daemon: (exit code, stdout + stderr)."""
        proc = subprocess.run([AVFUSE, "ctl", "--socket", "ipc://" + self.control, "--timeout",
                               "3"] + list(args), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
        return proc.returncode, proc.stdout + proc.stderr


class RawSubscriber(td.Subscriber):
    """A Subscriber that also keeps every message's frames as received (bytes)."""

    def __init__(self, endpoint):
        self.raw = []
        super().__init__(endpoint)

    def _run(self):
        while not self.stop.is_set():
            if self.sock.poll(50):
                frames = self.sock.recv_multipart()
                with self.lock:
                    self.raw.append(frames)
                    self.messages.append((time.monotonic(), frames[0].decode(),
                                          json.loads(frames[1])))


def camera(url, **extra):
    keys = {"type": "stream", "url": url, "read_timeout": 3, "backoff_min": 0.2,
            "backoff_max": 1}
    keys.update({k: str(v) for k, v in extra.items()})
    return keys


def both(segs):
    return [s for s in segs if s["video"]["present"] and s["audio"]["present"]]


class RtspTestCase(td.DaemonTestCase):
    def subscribe(self, daemon):
        sub = RawSubscriber(daemon.endpoint)
        self.addCleanup(sub.close)
        return sub

    def wait_both(self, sub, source, n, timeout=40):
        sub.wait(lambda: len(both(sub.segments(source))) >= n, timeout,
                 "%d segments of %s with video and audio (states %s, last status %s)"
                 % (n, source, sub.states(source), (sub.of("status", source) or [None])[-1]))

    def check_camera(self, sub, source, n=3):
        self.wait_both(sub, source, n)
        segs = sub.segments(source)
        self.assert_seq_contiguous(segs)
        for s in segs:
            self.check_segment(s, source)
        self.assertGreater(both(segs)[0]["video"]["frames"], 0)
        self.assertGreater(both(segs)[0]["audio"]["samples"], 0)
        return segs

    def stop_daemon(self, d):
        rc, took = d.terminate()
        self.assertEqual(rc, 0, d.stderr()[-3000:])
        self.assertLess(took, 2.0)


class TestCameras(RtspTestCase):
    def test_h264_g711_basic_auth(self):
        server = RtspServer(self, "--audio", "pcmu", "--user", USER, "--password", PASSWORD)
        d = Daemon(self, {"cam": camera(server.url(PASSWORD))})
        sub = self.subscribe(d)
        self.check_camera(sub, "cam", 4)
        self.stop_daemon(d)

    def test_h264_aac(self):
        server = RtspServer(self, "--audio", "aac")
        d = Daemon(self, {"cam": camera(server.url())})
        sub = self.subscribe(d)
        self.check_camera(sub, "cam", 4)
        self.stop_daemon(d)

    def test_digest_auth(self):
        server = RtspServer(self, "--audio", "pcmu", "--user", USER, "--password", PASSWORD,
                            "--auth", "digest")
        d = Daemon(self, {"cam": camera(server.url(PASSWORD)),
                          "bad": camera(server.url(WRONG_PASSWORD))})
        sub = self.subscribe(d)
        self.check_camera(sub, "cam", 3)
        sub.wait(lambda: any(m["error"] for m in sub.of("status", "bad")), 20,
                 "a status error for the wrong password")
        self.assertIn("authentication failed",
                      [m["error"] for m in sub.of("status", "bad") if m["error"]][0])
        self.assertEqual(sub.segments("bad"), [])
        self.stop_daemon(d)

    def test_wrong_password_fails_and_backs_off(self):
        server = RtspServer(self, "--audio", "pcmu", "--user", USER, "--password", PASSWORD)
        backoff_max = 1.0
        d = Daemon(self, {"cam": camera(server.url(WRONG_PASSWORD), backoff_min=0.1,
                                        backoff_max=backoff_max)})
        sub = self.subscribe(d)

        def failures():
            return [m for m in sub.of("status", "cam")
                    if m["state"] == "reconnecting" and m["error"]]
        sub.wait(failures, 20, "a status that the camera refused the password")
        self.assertIn("authentication failed", failures()[0]["error"])
        # the retries settle at backoff_max, as a camera that refuses must not be
        # hammered: 0.1, 0.2, 0.4, 0.8, then 1 s (+-25 % jitter) between attempts
        sub.wait(lambda: len([r for r in server.requests() if r[1] == "connect"]) >= 8, 30,
                 "8 connection attempts (%s)" % server.requests()[-3:])
        attempts = [t for t, event, _ in server.requests() if event == "connect"]
        gaps = [b - a for a, b in zip(attempts, attempts[1:])]
        self.assertGreaterEqual(min(gaps[4:]), 0.75 * backoff_max - 0.05, gaps)
        self.assertLessEqual(max(gaps[4:]), 1.25 * backoff_max + 2.0, gaps)
        self.assertEqual(sub.segments("cam"), [])
        self.assertNotIn("DESCRIBE", [e for _, e, _ in server.requests()])  # never let in
        self.stop_daemon(d)

    def test_rtsp_transport_tcp_and_udp(self):
        server = RtspServer(self, "--audio", "pcmu")
        d = Daemon(self, {"tcp": camera(server.url(), rtsp_transport="tcp"),
                          "udp": camera(server.url(), rtsp_transport="udp"),
                          "default": camera(server.url())})
        sub = self.subscribe(d)
        for name in ("tcp", "udp", "default"):
            self.check_camera(sub, name, 3)
        setups = [detail for _, event, detail in server.requests() if event == "SETUP"]
        # two streams a session (more if one reconnected): the default is TCP, as
        # cameras behind NAT need
        self.assertGreaterEqual(len([s for s in setups if s.startswith("RTP/AVP/TCP")]), 4,
                                setups)
        self.assertGreaterEqual(len([s for s in setups if s.startswith("RTP/AVP/UDP") or
                                     s.startswith("RTP/AVP;")]), 2, setups)
        self.stop_daemon(d)

    def test_rtsp_transport_refused_where_it_does_not_apply(self):
        server = RtspServer(self, "--audio", "none")
        for keys, reason in (
                (camera(server.url(), rtsp_transport="http"),
                 "rtsp_transport must be tcp or udp, not 'http'"),
                (camera("udp://127.0.0.1:%d" % server.port, rtsp_transport="udp"),
                 "rtsp_transport applies to rtsp:// and rtsps:// URLs only"),
                (td.file_source(MEDIA["file"], rtsp_transport="tcp"),
                 "rtsp_transport does not apply to a file source")):
            d = Daemon(self, {"cam": keys})
            self.assertEqual(d.proc.wait(10), 1)
            self.assertIn(reason, d.stderr())

    def test_server_killed_and_restarted(self):
        server = RtspServer(self, "--audio", "pcmu", "--user", USER, "--password", PASSWORD)
        d = Daemon(self, {"cam": camera(server.url(PASSWORD))})
        sub = self.subscribe(d)
        self.check_camera(sub, "cam", 3)
        server.kill()
        killed = time.monotonic()
        before = sub.segments("cam")
        time.sleep(2)
        server.start()
        epoch = before[-1]["epoch"]
        sub.wait(lambda: len(both([s for s in sub.segments("cam") if s["epoch"] > epoch])) >= 3,
                 40, "3 segments of a new epoch (states %s)" % sub.states("cam"))
        segs = sub.segments("cam")
        self.assert_seq_contiguous(segs)
        self.assert_timeline_forward(segs)
        last_old = [s for s in segs if s["epoch"] == epoch][-1]
        first_new = [s for s in segs if s["epoch"] > epoch][0]
        self.assertEqual(first_new["epoch"], epoch + 1)
        # the timeline goes on: the new epoch starts after the old one, and after the
        # two seconds the camera was away (it runs on the wall clock)
        self.assertGreaterEqual(first_new["t0"], last_old["t1"] + 1.5)
        gone = [m for t, topic, m in sub.snapshot()
                if topic == "status/cam/" and t >= killed and m["state"] == "reconnecting"]
        self.assertTrue(gone, sub.states("cam"))
        self.stop_daemon(d)

    def test_no_media_stalls_and_reconnects(self):
        server = RtspServer(self, "--audio", "pcmu", "--no-media")
        read_timeout = 2.0
        d = Daemon(self, {"cam": camera(server.url(), read_timeout=read_timeout)})
        sub = self.subscribe(d)

        def stalls():
            return [(t, m) for t, topic, m in sub.snapshot()
                    if topic == "status/cam/" and m["state"] == "reconnecting"]
        sub.wait(stalls, 30, "a reconnecting status (states %s)" % sub.states("cam"))
        detected, status = stalls()[0]
        self.assertIn("stalled", status["error"])
        plays = [t for t, event, _ in server.requests() if event == "PLAY"]
        self.assertTrue(plays, server.requests())
        # the session was up (PLAY answered), and then no data for read_timeout
        self.assertLessEqual(detected - plays[0], read_timeout + 1.5,
                             "stalled %.1f s after PLAY" % (detected - plays[0]))
        self.assertEqual(sub.segments("cam"), [])
        self.stop_daemon(d)

    def test_resolution_switch(self):
        server = RtspServer(self, "--audio", "pcmu", "--switch-resolution", "3")
        d = Daemon(self, {"cam": camera(server.url())})
        sub = self.subscribe(d)
        self.check_camera(sub, "cam", 1)
        sub.wait(lambda: server.lines, 20, "the camera to switch its picture size")
        switched = server.lines[0][0]

        def after():
            return [m for t, topic, m in sub.snapshot()
                    if topic == "seg/cam/" and t >= switched + 1.5]
        sub.wait(lambda: len(both(after())) >= 4, 30,
                 "4 segments with video after the size change (states %s)" % sub.states("cam"))
        self.assertTrue(all(s["video"]["frames"] > 0 for s in after()[:4]), after()[:4])
        segs = sub.segments("cam")
        self.assert_seq_contiguous(segs)
        self.assertEqual({s["epoch"] for s in segs}, {0}, "the decoder reconnected")
        self.assertNotIn("reconnecting", sub.states("cam"))
        self.stop_daemon(d)


class TestAcceptance(RtspTestCase):
    def test_cameras_with_passwords_and_a_file(self):
        good = RtspServer(self, "--audio", "pcmu", "--user", USER, "--password", PASSWORD)
        locked = RtspServer(self, "--audio", "pcmu", "--user", USER, "--password", PASSWORD)
        cam_url = "rtsp://%s:%s@127.0.0.1:%d/cam" % (USER, quoted(PASSWORD), good.port)
        d = Daemon(self, {
            "cam": camera(cam_url),
            "locked": camera(locked.url(WRONG_PASSWORD)),
            "file": td.file_source(MEDIA["file"]),
        })
        sub = self.subscribe(d)
        self.check_camera(sub, "cam", 3)
        good.kill()
        epoch = sub.segments("cam")[-1]["epoch"]
        time.sleep(1.5)
        good.start()
        sub.wait(lambda: len(both([s for s in sub.segments("cam") if s["epoch"] > epoch])) >= 2,
                 40, "segments of the camera's new epoch (states %s)" % sub.states("cam"))
        sub.wait(lambda: "ended" in sub.states("file"), 30, "the file to end")
        sub.wait(lambda: any(m["error"] for m in sub.of("status", "locked")), 20,
                 "a status error for the camera with the wrong password")
        ctl = {what: d.cli(what) for what in ("status", "sources")}

        cam = sub.segments("cam")
        self.assert_seq_contiguous(cam)
        self.assert_timeline_forward(cam)
        old = [s for s in cam if s["epoch"] <= epoch]
        new = [s for s in cam if s["epoch"] > epoch]
        self.assertEqual(new[0]["epoch"], epoch + 1)
        self.assertGreaterEqual(new[0]["t0"], old[-1]["t1"])
        self.assertTrue(both(old))
        self.assertTrue(both(new))
        files = sub.segments("file")
        self.assertGreaterEqual(len(files), 3)
        self.assert_seq_contiguous(files)
        errors = [m["error"] for m in sub.of("status", "locked") if m["error"]]
        self.assertIn("authentication failed", errors[-1])
        self.assertEqual(sub.segments("locked"), [])
        for what, (rc, _) in ctl.items():
            self.assertEqual(rc, 0, "avfuse ctl %s failed" % what)
        rc, took = d.terminate()
        self.assertEqual(rc, 0)
        self.assertLess(took, 2.0)

        # no password in anything shown: messages, the log, the control replies
        with sub.lock:
            received = [b"".join(frames) for frames in sub.raw]
        shown = {"the log (-v -v)": d.stderr().encode()}
        for what, (_, out) in ctl.items():
            shown["avfuse ctl " + what] = out
        leaks = []
        for password in (PASSWORD, WRONG_PASSWORD):
            for form in secret_forms(password):
                hits = [m for m in received if form in m]
                if hits:
                    leaks.append("%r in %d of %d messages, e.g. %s" % (
                        form, len(hits), len(received), hits[0][:300]))
                for what, text in shown.items():
                    if form in text:
                        i = text.index(form)
                        leaks.append("%r in %s: ...%s..." % (form, what, text[max(0, i - 120):
                                                                               i + 60]))
        self.assertEqual(leaks, [], "\n".join(leaks))


if __name__ == "__main__":
    unittest.main(verbosity=2)
