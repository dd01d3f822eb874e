#!/usr/bin/env python3
"""The example subscribers of examples/ against a running avfused.

examples/subscriber.py (events) and examples/subscriber.c (segments) are started
before the daemon, which then reads generated files in real time; once the files
have ended, each example gets SIGINT (Ctrl-C) and must exit 0 having printed one
line per message of the sources it asked for, the same messages a subscriber of
the test's own received. The daemon and subscriber helpers come from
test_schema.py.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_schema  # noqa: E402
from media import generate  # noqa: E402
from test_schema import Daemon, Subscriber, file_source  # noqa: E402

EXAMPLES = os.path.join(HERE, "..", "..", "examples")
SUBSCRIBER_C = os.environ.get("AVFUSE_SUBSCRIBER_BIN")
MEDIA = {}

EVENT_LINE = re.compile(r"^\d\d:\d\d:\d\d  (\S+)  (\S+) +(start|end) +t=([0-9.]+) s"
                        r"(?:  \(([0-9.]+) s\))?$")
SEGMENT_LINE = re.compile(r"^(\S+)  seq=(\d+)  t0=([0-9.]+)  (?:(\S+) ([0-9.]+)|-)"
                          r"(?:  (voice|scene|none) v (\S+) a (\S+))?$")


def setUpModule():
    test_schema.WORKDIR = tempfile.mkdtemp(prefix="avfuse-examples-")
    work = test_schema.WORKDIR
    # like tools/demo.sh: audio 4 s of synthetic speech, 4 s of silence, 3 s of a
    # 440 Hz tone; video 7 s of a moving pattern, then a hard cut to still bars
    MEDIA["events"] = generate(work, [
        "-f", "lavfi", "-i", "flite=text='Hello. This is avfuse. It cuts sound and picture "
        "into aligned segments.':voice=slt",
        "-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=3",
        "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=7",
        "-f", "lavfi", "-i", "smptehdbars=size=320x240:rate=25:duration=4",
        "-filter_complex",
        "[0:a]aresample=48000,atrim=duration=4,apad=whole_dur=4[speech];"
        "[1:a]atrim=duration=4[silence];[speech][silence][2:a]concat=n=3:v=0:a=1[a];"
        "[3:v][4:v]concat=n=2:v=1:a=0[v]",
        "-map", "[v]", "-map", "[a]", "-c:v", "libx264", "-preset", "ultrafast",
        "-pix_fmt", "yuv420p", "-c:a", "aac"], "events.mp4")
    # a neighbour whose messages a --source subscriber must not print
    MEDIA["other"] = generate(work, [
        "-f", "lavfi", "-i", "sine=frequency=220:sample_rate=48000:duration=2",
        "-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono",
        "-filter_complex", "[1:a]atrim=duration=2[s];[0:a][s]concat=n=2:v=0:a=1[a]",
        "-map", "[a]"], "other.wav")


def tearDownModule():
    shutil.rmtree(test_schema.WORKDIR, ignore_errors=True)


class Example:
    """An example program whose stdout lines are collected in a thread."""

    def __init__(self, testcase, argv):
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        testcase.addCleanup(self.kill)

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def interrupt(self):
        """Ctrl-C; returns (exit status, stderr)."""
        self.proc.send_signal(signal.SIGINT)
        try:
            rc = self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("%s did not exit within 5 s of SIGINT" % self.proc.args)
        self.thread.join(5)
        return rc, self.proc.stderr.read()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.proc.stdout.close()
        self.proc.stderr.close()


class ExampleTestCase(unittest.TestCase):
    def run_daemon(self, examples):
        """Starts each example (a function of the endpoint), then the daemon on the
        events clip and its neighbour; returns (examples, the test's subscriber)
        after both files ended and every example was interrupted."""
        d = Daemon(self, {"demo": file_source(MEDIA["events"]),
                          "other": file_source(MEDIA["other"])})
        started = [Example(self, argv(d.endpoint)) for argv in examples]
        sub = Subscriber(d.endpoint)
        self.addCleanup(sub.close)
        # the examples are connected (libzmq retries each 100 ms) before the first
        # message that counts: events come 2 s in, segments 1 s in
        time.sleep(0.5)
        sub.wait(lambda: all("ended" in sub.states(s) for s in ("demo", "other")), 40,
                 "both files to end")
        time.sleep(0.5)  # the last messages reach every subscriber
        for ex in started:
            rc, err = ex.interrupt()
            self.assertEqual(rc, 0, err)
            self.assertEqual(err, "", "stderr of %s" % ex.proc.args)
        self.assertEqual(d.terminate(), 0)
        return started, sub


class TestPythonSubscriber(ExampleTestCase):
    def test_prints_each_event(self):
        script = os.path.join(EXAMPLES, "subscriber.py")
        (only_demo, every), sub = self.run_daemon([
            lambda ep: [sys.executable, script, ep, "--source", "demo"],
            lambda ep: [sys.executable, script, ep],
        ])

        def parse(lines):
            out = []
            for line in lines:
                m = EVENT_LINE.match(line)
                self.assertIsNotNone(m, "unexpected line: %r" % line)
                source, tag, event, t, duration = m.groups()
                self.assertEqual(duration is not None, event == "end", line)
                out.append((source, tag, event, round(float(t), 3)))
            return out

        def expected(source):
            return [(m["source"], m["tag"], m["event"], round(m["t"], 3))
                    for m in sub.of("evt", source)]

        printed = parse(only_demo.lines)
        self.assertEqual(printed, expected("demo"))
        # the clip: speech 0-4 s, silence 4-8 s, a cut at 7 s, then a steady tone
        # (no content event is asserted for it: default-3 gives a pure tone noise
        # about 0.5 and music about 0.3, a call for the model, not for this test)
        for event in [("demo", "speech", "start", 0.0), ("demo", "speech", "end", 4.0),
                      ("demo", "silence", "start", 4.0), ("demo", "silence", "end", 8.0),
                      ("demo", "cut", "start", 7.0), ("demo", "cut", "end", 8.0)]:
            self.assertIn(event, printed)
        # without --source: both sources, each in its own order
        both = parse(every.lines)
        self.assertEqual([e for e in both if e[0] == "demo"], expected("demo"))
        self.assertEqual([e for e in both if e[0] == "other"], expected("other"))
        self.assertIn(("other", "silence", "start", 2.0), both)


class TestCSubscriber(ExampleTestCase):
    @classmethod
    def setUpClass(cls):
        if not SUBSCRIBER_C or not os.access(SUBSCRIBER_C, os.X_OK):
            raise RuntimeError("AVFUSE_SUBSCRIBER_BIN must name the built examples/subscriber.c "
                               "(ctest sets it): the test fails without it, it is not skipped")
        super().setUpClass()

    def test_prints_each_segment(self):
        (only_demo, every), sub = self.run_daemon([
            lambda ep: [SUBSCRIBER_C, ep, "demo"],
            lambda ep: [SUBSCRIBER_C, ep],
        ])

        def parse(lines):
            out = []
            for line in lines:
                m = SEGMENT_LINE.match(line)
                self.assertIsNotNone(m, "unexpected line: %r" % line)
                source, seq, t0, label, p, basis, v, a = m.groups()
                out.append((source, int(seq), round(float(t0), 3), label,
                            p and round(float(p), 2), basis, v, a))
            return out

        def expected(source):
            out = []
            for m in sub.of("seg", source):
                labels = m.get("labels")
                top = max(labels, key=labels.get) if labels else None
                sent = m.get("sentiment")
                value = ("%+.2f" % x if x is not None else "-" for x in (
                    sent["valence"], sent["arousal"])) if sent else (None, None)
                out.append((m["source"], m["seq"], round(m["t0"], 3), top,
                            top and round(labels[top], 2), sent and sent["basis"], *value))
            return out

        printed = parse(only_demo.lines)
        self.assertEqual(len(printed), 11)
        self.assertEqual(printed, expected("demo"))
        self.assertEqual([p[3] for p in printed[:4]], ["speech"] * 4)
        self.assertEqual([p[3] for p in printed[-3:]], ["noise"] * 3)  # the tone: a beep
        # someone speaks, then nobody: a valence, then none (silence, the tone)
        self.assertEqual([p[5] for p in printed[:4]], ["voice"] * 4)
        self.assertTrue(all(p[5] in ("none", "scene") and p[6] == "-" for p in printed[-6:]),
                        printed[-6:])
        both = parse(every.lines)
        self.assertEqual([s for s in both if s[0] == "demo"], expected("demo"))
        self.assertEqual([s for s in both if s[0] == "other"], expected("other"))

    def test_usage(self):
        proc = subprocess.run([SUBSCRIBER_C, "--help"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=10)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("usage:", proc.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
