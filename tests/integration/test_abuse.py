#!/usr/bin/env python3
"""Abuse: sources that never deliver, and what they must not do to the daemon.

A `type = file` source on a FIFO nobody writes to must end as a stall within its
read_timeout (not hang in open(2)), while the control socket keeps answering;
`ctl remove` of it and SIGTERM return at once. A source stuck where no timeout
reaches (an HLS playlist whose segment is a FIFO: libavformat opens it with a
blocking open(2) of its own) is abandoned after a bounded wait: `ctl remove`
returns within 1.5 s, SIGTERM exits 0 within 2 s; while it is stuck the watchdog
is not fed, and once it is abandoned it is again. A `pipe:` URL is refused as a
file source. A FIFO that gets a writer later is analyzed.

Usage:
    AVFUSE_BIN=build/tools/avfuse AVFUSED_BIN=build/daemon/avfused \
        python3 tests/integration/test_abuse.py -v

The measured figures are printed at the end (docs/reliability.md quotes them).
Helpers (Daemon, Subscriber) are test_daemon.py's.
"""
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import media  # noqa: E402
import test_daemon as td  # noqa: E402

AVFUSE = os.environ.get("AVFUSE_BIN")
AVFUSED = os.environ.get("AVFUSED_BIN")
WORKDIR = None
MEDIA = {}
FIGURES = []  # printed at the end, quoted in docs/reliability.md
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def setUpModule():
    global WORKDIR
    WORKDIR = td.setup_workdir("avfuse-abuse-")
    MEDIA["ts"] = media.generate(
        WORKDIR, ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i",
                  "sine=frequency=440:sample_rate=48000", "-t", "4", "-c:v", "libx264",
                  "-preset", "ultrafast", "-g", "10", "-c:a", "aac", "-f", "mpegts"], "clip.ts")


def tearDownModule():
    if FIGURES:
        sys.stderr.write("\n" + "\n".join(FIGURES) + "\n")


def fifo(name):
    path = os.path.join(tempfile.mkdtemp(dir=WORKDIR), name)
    os.mkfifo(path)
    return path


def stuck_playlist():
    """An HLS playlist whose one segment is a FIFO nobody writes to: libavformat
    opens the segment itself, with a blocking open(2) no timeout reaches."""
    folder = tempfile.mkdtemp(dir=WORKDIR)
    os.mkfifo(os.path.join(folder, "seg.ts"))
    path = os.path.join(folder, "stuck.m3u8")
    with open(path, "w") as fh:
        fh.write("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n"
                 "#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:4.0,\nseg.ts\n#EXT-X-ENDLIST\n")
    return path


def ctl(daemon, *args, timeout=5):
    """avfuse ctl ARGS; returns (exit code, stdout, seconds it took)."""
    start = time.monotonic()
    proc = subprocess.run([AVFUSE, "ctl", "-s", "ipc://" + daemon.control, "-t", str(timeout),
                           "--json"] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout + 10)
    return proc.returncode, proc.stdout, time.monotonic() - start


class AbuseTestCase(td.DaemonTestCase):
    def start(self, sources):
        d = td.Daemon(self, sources)
        sub = self.subscribe(d)
        d.wait_ready()
        return d, sub

    def assert_answers(self, d, what, limit=1.0, times=3):
        """avfuse ctl status answers; and the daemon answers a status request, each
        time within limit seconds (timed through the socket: starting avfuse ctl
        is no part of it, and takes seconds under a sanitizer on a busy machine).
        Returns the slowest answer."""
        rc, out, _ = ctl(d, "status")
        self.assertEqual(rc, 0, "avfuse ctl status %s: %s\n%s" % (what, out, d.stderr()))
        slowest = 0.0
        for _ in range(times):
            start = time.monotonic()
            reply = d.ctl({"cmd": "status"})
            slowest = max(slowest, time.monotonic() - start)
            self.assertTrue(reply["ok"], reply)
        self.assertLess(slowest, limit, "status %s took %.2f s" % (what, slowest))
        return slowest

    def assert_removed_at_once(self, d, name):
        """A remove request (through the socket, without avfuse ctl's own start-up)
        removes name within 1.5 s; returns the seconds it took."""
        start = time.monotonic()
        reply = d.ctl({"cmd": "remove", "name": name})
        took = time.monotonic() - start
        self.assertEqual(reply, {"ok": True, "removed": name})
        self.assertLess(took, 1.5, "remove took %.2f s" % took)
        return took

    def assert_clean_exit(self, d, limit=2.0):
        rc, took = d.terminate()
        self.assertEqual(rc, 0, d.stderr())
        self.assertLess(took, limit, "SIGTERM took %.2f s" % took)
        for mark in SANITIZER_MARKS:
            self.assertNotIn(mark, d.stderr())
        return took


class TestFifo(AbuseTestCase):
    def test_fifo_nobody_writes_to_stalls_within_read_timeout(self):
        timeout = 2
        d, sub = self.start({"f": {"type": "file", "url": fifo("in.ts"),
                                   "read_timeout": timeout}})
        start = time.monotonic()
        slowest = self.assert_answers(d, "while the source waits for a writer")
        sub.wait(lambda: sub.states("f")[-1:] == ["failed"], timeout + 3, "the stall")
        took = time.monotonic() - start
        error = sub.of("status", "f")[-1]["error"]
        self.assertIn("stalled: no data for 2 s", error)
        FIGURES.append("FIFO nobody writes to: failed as a stall %.1f s after the control "
                       "socket appeared (read_timeout %d s); status took at most %.3f s"
                       % (took, timeout, slowest))
        self.assert_clean_exit(d)

    def test_remove_and_status_answer_at_once(self):
        d, sub = self.start({"f": {"type": "file", "url": fifo("in.ts"), "read_timeout": 30},
                             "g": td.file_source(MEDIA["ts"], loop="yes")})
        sub.wait(lambda: sub.segments("g"), 20, "g's first segment")
        slowest = self.assert_answers(d, "while f waits for a writer")
        took = self.assert_removed_at_once(d, "f")
        after = self.assert_answers(d, "after the remove")
        sub.wait(lambda: sub.states("f")[-1:] == ["ended"], 5, "f's final status")
        n = len(sub.segments("g"))
        sub.wait(lambda: len(sub.segments("g")) >= n + 2, 10, "g to go on")
        FIGURES.append("FIFO nobody writes to: status %.3f s, remove %.3f s, "
                       "status after it %.3f s" % (slowest, took, after))
        self.assertNotIn("abandoned", d.stderr())  # it stopped: nothing to abandon
        self.assert_clean_exit(d)

    def test_sigterm_with_fifo_source(self):
        d, sub = self.start({"f": {"type": "file", "url": fifo("in.ts"), "read_timeout": 30}})
        sub.wait(lambda: sub.states("f")[-1:] == ["connecting"], 10, "f to connect")
        time.sleep(0.5)
        took = self.assert_clean_exit(d)
        FIGURES.append("SIGTERM with a FIFO source nobody writes to: exit 0 in %.2f s" % took)

    def test_fifo_written_later_is_analyzed(self):
        path = fifo("in.ts")
        d, sub = self.start({"f": {"type": "file", "url": path, "read_timeout": 10}})
        sub.wait(lambda: sub.states("f")[-1:] == ["connecting"], 10, "f to connect")
        time.sleep(1.5)
        writer = subprocess.Popen(["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-i",
                                   MEDIA["ts"], "-c", "copy", "-f", "mpegts", "-y", path],
                                  stdin=subprocess.DEVNULL)
        self.addCleanup(writer.kill)
        sub.wait(lambda: sub.states("f")[-1:] == ["ended"], 20, "f to end")
        self.assertEqual(writer.wait(10), 0)
        segs = sub.segments("f")
        self.assertGreaterEqual(len(segs), 3, segs)
        self.assertTrue(segs[0]["video"]["present"] and segs[0]["audio"]["present"], segs[0])
        self.assert_seq_contiguous(segs)
        self.assertNotIn("failed", sub.states("f"))
        self.assert_clean_exit(d)


class TestStuck(AbuseTestCase):
    """A source blocked where neither read_timeout nor a stop reaches."""

    def test_remove_abandons_and_sigterm_exits(self):
        playlist = stuck_playlist()
        d, sub = self.start({"s": {"type": "file", "url": playlist, "read_timeout": 1},
                             "g": td.file_source(MEDIA["ts"], loop="yes")})
        sub.wait(lambda: sub.segments("g"), 20, "g's first segment")
        time.sleep(1.5)  # s is blocked in open(2) by now
        before = self.assert_answers(d, "while s is blocked")
        # (the wait is the daemon's 1 s for a source to stop)
        took = self.assert_removed_at_once(d, "s")
        self.assertIn("did not stop within 1 s: abandoned", d.stderr())
        after = self.assert_answers(d, "after s was abandoned")
        removed = time.monotonic()
        n = len(sub.segments("g"))
        sub.wait(lambda: len(sub.segments("g")) >= n + 2, 10, "g to go on")
        # set free at last (a writer opens the FIFO and goes): the abandoned runner
        # ends, frees itself and publishes nothing
        os.close(os.open(os.path.join(os.path.dirname(playlist), "seg.ts"),
                         os.O_WRONLY | os.O_NONBLOCK))
        sub.wait(lambda: "the abandoned runner ended at last" in d.stderr(), 10,
                 "the abandoned runner to end")
        time.sleep(0.5)
        late = [m for t, topic, m in sub.snapshot() if t > removed and topic.endswith("/s/")]
        self.assertEqual(late, [], "the abandoned runner published")
        # the name is free again, and its epoch goes on from where it was
        rc, out, _ = ctl(d, "add", "s", "type=file", "url=" + stuck_playlist(), "read_timeout=1")
        self.assertEqual(rc, 0, out)
        sub.wait(lambda: any(m["epoch"] >= 1 for m in sub.of("status", "s")), 5,
                 "the new s's status")
        time.sleep(1.0)
        exit_took = self.assert_clean_exit(d)
        self.assertIn("abandoned", d.stderr())
        FIGURES.append("source blocked in open(2) (HLS segment on a FIFO): status %.3f s "
                       "before, remove %.2f s (abandoned), status after %.3f s; "
                       "SIGTERM with another one blocked: exit 0 in %.2f s"
                       % (before, took, after, exit_took))


    def test_watchdog_withheld_while_stuck_and_fed_once_abandoned(self):
        notify = td.NotifySocket(self)
        env = dict(os.environ, NOTIFY_SOCKET=notify.path, WATCHDOG_USEC="1000000")
        # a runner may stay silent 2 read_timeout + 2 len + 2 s = 4 s here
        d = td.Daemon(self, {"s": {"type": "file", "url": stuck_playlist(), "read_timeout": 0.5,
                                   "hop": 0.5, "len": 0.5}}, env=env)

        def fed(since):
            return [t for t in notify.times("WATCHDOG=1") if t >= since]

        start = time.monotonic()
        time.sleep(2)
        self.assertTrue(fed(start), "no WATCHDOG=1 at first: %s" % notify.snapshot())
        time.sleep(5)  # the stuck source's heartbeat is older than its limit by now
        quiet = time.monotonic()
        time.sleep(1.5)
        self.assertFalse(fed(quiet), "the watchdog was fed while a source was stuck")
        self.assertIn("not feeding the watchdog", d.stderr())
        rc, out, _ = ctl(d, "remove", "s")
        self.assertEqual(rc, 0, out)
        removed = time.monotonic()
        time.sleep(1.5)
        self.assertTrue(fed(removed), "the abandoned source still holds back the watchdog")
        self.assert_clean_exit(d)


class TestPipe(unittest.TestCase):
    def test_pipe_url_refused_as_file_source(self):
        conf = os.path.join(tempfile.mkdtemp(dir=WORKDIR), "avfuse.conf")
        with open(conf, "w") as fh:
            fh.write("[daemon]\npublish = tcp://127.0.0.1:%d\n\n[source p]\ntype = file\n"
                     "url = pipe:0\n" % td.free_port())
        proc = subprocess.run([AVFUSED, "-n", "-c", conf], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=30)
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertIn("avfuse.conf:4: source p: pipe: URLs are not accepted", proc.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
