#!/usr/bin/env python3
"""Integration tests for `avfuse analyze` over many files: -j, -o DIR, the progress bar.

Usage:
    AVFUSE_BIN=/path/to/avfuse python3 tests/integration/test_batch.py -v

The acceptance case runs 5 inputs, one of them corrupt, under a pseudo-terminal
(Python's pty module): the progress bar shows, 4 JSON-lines files are written,
the corrupt input is named in one error line and the exit status is 1. The other
cases check what surrounds it: no bar without a terminal, -j 2 on stdout keeps
each input's lines together and in input order, inputs of the same name get
distinct files, a write error is one input's error, SIGINT stops every running
input. Media is generated once with the ffmpeg CLI into a temporary directory.
Only the Python standard library is used.
"""

import errno
import fcntl
import itertools
import json
import os
import pty
import re
import resource
import select
import shutil
import signal
import struct
import subprocess
import tempfile
import termios
import time
import unittest

import media  # tests/integration/media.py
import procinfo  # tests/integration/procinfo.py

AVFUSE_TIMEOUT = 300
T_TOL = 1e-6     # segment boundaries on the whole-second grid
HELD_TOL = 0.04  # a stopped live input's end: one 40 ms video frame

VIDEO_SRC = ["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30"]
AUDIO_SRC = ["-f", "lavfi", "-i", "sine=f=440:r=48000"]
ENC = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", "2"]

# name -> seconds: whole seconds give exactly that many 1 s segments. Together long
# enough (about 2 minutes of media) that the bar is drawn several times even on a
# fast machine.
CLIPS = {"talk": 20, "music": 40, "lobby": 25, "street": 35}
CORRUPT = "broken.mp4"

TERM_COLS = 100
BAR_RE = re.compile(r"^\s*(\d{1,3})% .*?(\d+)/(\d+) files.*? (\S+)\u00d7 real time  ETA (\S+)\s*$")

AVFUSE = None
WORKDIR = None
MEDIA = {}


def _remove_workdir():
    global WORKDIR
    if WORKDIR is not None:
        shutil.rmtree(WORKDIR, ignore_errors=True)
        WORKDIR = None


def setUpModule():
    global AVFUSE, WORKDIR
    AVFUSE = os.environ.get("AVFUSE_BIN")
    if not AVFUSE:
        raise RuntimeError("AVFUSE_BIN is not set: point it at the avfuse binary, e.g. "
                           "AVFUSE_BIN=build/tools/avfuse python3 tests/integration/test_batch.py")
    if not (os.path.isfile(AVFUSE) and os.access(AVFUSE, os.X_OK)):
        raise RuntimeError("AVFUSE_BIN=%r is not an executable file" % AVFUSE)
    if shutil.which("ffmpeg") is None:
        raise RuntimeError("ffmpeg CLI not found on PATH")
    WORKDIR = tempfile.mkdtemp(prefix="avfuse_batch_")
    unittest.addModuleCleanup(_remove_workdir)
    for name, seconds in CLIPS.items():
        MEDIA[name] = media.generate(WORKDIR, VIDEO_SRC + AUDIO_SRC + ["-t", str(seconds)] + ENC,
                                     name + ".mp4")
    # The head of a real MP4 (its index is written last): the container is cut off.
    with open(MEDIA["lobby"], "rb") as src:
        head = src.read(4096)
    MEDIA["corrupt"] = os.path.join(WORKDIR, CORRUPT)
    with open(MEDIA["corrupt"], "wb") as dst:
        dst.write(head)


def fresh_dir(name):
    path = os.path.join(WORKDIR, name)
    shutil.rmtree(path, ignore_errors=True)
    return path


def run_pipes(args, preexec_fn=None, text=True):
    """avfuse analyze ARGS with stdout and stderr on pipes (no terminal); text=False
    keeps the bytes as they are (text mode turns '\r' into '\n')."""
    cmd = [AVFUSE, "analyze"] + args
    try:
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=text, timeout=AVFUSE_TIMEOUT,
                              preexec_fn=preexec_fn)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError("avfuse timed out after %ds: %s" % (AVFUSE_TIMEOUT, " ".join(cmd))) \
            from exc


def run_pty(args, cols=TERM_COLS):
    """avfuse analyze ARGS with stdout and stderr on one pseudo-terminal of cols columns.

    Returns (exit status, everything written to the terminal)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
    env = dict(os.environ, LC_ALL="C.UTF-8")
    proc = subprocess.Popen([AVFUSE, "analyze"] + args, stdin=subprocess.DEVNULL, stdout=slave,
                            stderr=slave, env=env)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + AVFUSE_TIMEOUT
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("avfuse timed out under a terminal: %s" % " ".join(args))
            ready, _, _ = select.select([master], [], [], left)
            if not ready:
                continue
            try:
                data = os.read(master, 65536)
            except OSError as exc:
                if exc.errno == errno.EIO:  # the terminal's last writer is gone
                    break
                raise
            if not data:
                break
            chunks.append(data)
        rc = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return rc, b"".join(chunks).decode("utf-8", "replace")


def read_jsonl(path):
    with open(path) as fh:
        return [json.loads(line) for line in fh]


class BatchTestCase(unittest.TestCase):
    maxDiff = None

    def assert_clip_lines(self, msgs, name, source=None):
        """msgs are exactly the segments of clip `name`, in order."""
        n = CLIPS[name]
        self.assertEqual(len(msgs), n, "%s: expected %d segments, got %d" % (name, n, len(msgs)))
        self.assertEqual([m["seq"] for m in msgs], list(range(n)), name)
        self.assertEqual({m["source"] for m in msgs}, {source or name}, name)
        for k, m in enumerate(msgs):
            self.assertEqual(m["schema"], "avfuse.segment.v1")
            self.assertAlmostEqual(m["t0"], float(k), delta=1e-6)
            self.assertIs(m["partial"], False)

    def assert_jsonl_files(self, out_dir, expected):
        """out_dir holds exactly expected (file name -> (clip, source)), nothing else."""
        self.assertEqual(sorted(os.listdir(out_dir)), sorted(expected))
        for file_name, (clip, source) in expected.items():
            self.assert_clip_lines(read_jsonl(os.path.join(out_dir, file_name)), clip, source)


class TestProgressTerminal(BatchTestCase):
    def test_five_files_one_corrupt_under_a_terminal(self):
        """The acceptance case: the bar shows, 4 JSON-lines files, the corrupt one named
        in one clear error line, exit status 1."""
        out_dir = fresh_dir("out_pty")
        inputs = [MEDIA["talk"], MEDIA["music"], MEDIA["corrupt"], MEDIA["lobby"], MEDIA["street"]]
        rc, screen = run_pty(["-j", "2", "-o", out_dir + "/"] + inputs)
        self.assertEqual(rc, 1, screen)

        self.assert_jsonl_files(out_dir, {name + ".jsonl": (name, name) for name in CLIPS})

        # Everything on the terminal is either a drawing of the bar, the spaces that wipe
        # it, or a whole line of its own.
        pieces = [p for p in re.split(r"[\r\n]", screen) if p.strip()]
        bars = [BAR_RE.match(p) for p in pieces]
        drawn = [m for m in bars if m]
        self.assertTrue(drawn, "no progress bar on the terminal:\n%r" % screen)
        for m in drawn:
            self.assertLessEqual(int(m.group(1)), 100)
            self.assertEqual(m.group(3), "5")
        self.assertTrue(any(re.fullmatch(r"\d+(\.\d+)?", m.group(4)) for m in drawn),
                        "the bar never showed a speed:\n%r" % screen)
        self.assertTrue(any(re.fullmatch(r"\d+:\d\d(:\d\d)?", m.group(5)) for m in drawn),
                        "the bar never showed an ETA:\n%r" % screen)
        for p in pieces:
            self.assertLessEqual(len(p), TERM_COLS - 1, "a line wider than the terminal: %r" % p)

        others = [p for p, m in zip(pieces, bars) if not m]
        self.assertEqual(len(others), 1, "expected one line besides the bar:\n%r" % screen)
        self.assertRegex(others[0], r"^avfuse: \S*%s: error: \S" % re.escape(CORRUPT))
        self.assertNotIn("%", others[0], "the error line is mixed with the bar")
        self.assertNotIn("ETA", others[0], "the error line is mixed with the bar")
        # the error line starts on a clean line and the bar is wiped at the end
        self.assertRegex(screen, r"\r +\ravfuse: \S*%s: error: " % re.escape(CORRUPT))
        self.assertRegex(screen, r"\r +\r$", "the bar was left on screen")

    def test_no_progress_under_a_terminal(self):
        out_dir = fresh_dir("out_pty_quiet")
        rc, screen = run_pty(["--no-progress", "-o", out_dir + "/", MEDIA["lobby"]])
        self.assertEqual(rc, 0, screen)
        self.assertEqual(screen, "")
        self.assert_jsonl_files(out_dir, {"lobby.jsonl": ("lobby", "lobby")})


class TestNoTerminal(BatchTestCase):
    def test_pipes_no_progress_output(self):
        """The same run on pipes: no bar at all, only the one error line."""
        out_dir = fresh_dir("out_pipes")
        inputs = [MEDIA["talk"], MEDIA["music"], MEDIA["corrupt"], MEDIA["lobby"], MEDIA["street"]]
        proc = run_pipes(["-j", "2", "-o", out_dir + "/"] + inputs)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertEqual(proc.stdout, "")
        self.assertNotIn("\r", proc.stderr)
        lines = proc.stderr.splitlines()
        self.assertEqual(len(lines), 1, proc.stderr)
        self.assertRegex(lines[0], r"^avfuse: \S*%s: error: " % re.escape(CORRUPT))
        self.assert_jsonl_files(out_dir, {name + ".jsonl": (name, name) for name in CLIPS})

    def test_forced_progress_on_a_pipe(self):
        proc = run_pipes(["--progress", "-o", fresh_dir("out_forced") + "/", MEDIA["talk"]],
                         text=False)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn(b"\r", proc.stderr)
        self.assertRegex(proc.stderr, rb"\d+% .* 0/1 files .*ETA")
        self.assertNotIn(b"\n", proc.stderr)


class TestOrder(BatchTestCase):
    def test_stdout_keeps_each_file_together_in_input_order(self):
        """-j 2 to stdout: lobby finishes while music still runs, yet comes after it."""
        order = ["music", "lobby", "street", "talk"]
        proc = run_pipes(["-j", "2"] + [MEDIA[n] for n in order])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stderr, "")
        msgs = [json.loads(line) for line in proc.stdout.splitlines()]
        runs = [(src, list(group)) for src, group in itertools.groupby(msgs, lambda m: m["source"])]
        self.assertEqual([src for src, _ in runs], order, "lines of the inputs interleave")
        for src, group in runs:
            self.assert_clip_lines(group, src)

    def test_output_file_still_one_file(self):
        """-o FILE (no trailing '/', not a folder) keeps its meaning: one file, in order."""
        path = os.path.join(fresh_dir("out_one"), "all.jsonl")
        os.makedirs(os.path.dirname(path))
        proc = run_pipes(["-j", "2", "-o", path, MEDIA["street"], MEDIA["lobby"]])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        msgs = read_jsonl(path)
        self.assert_clip_lines(msgs[:CLIPS["street"]], "street")
        self.assert_clip_lines(msgs[CLIPS["street"]:], "lobby")

    def test_all_good_exit_0(self):
        out_dir = fresh_dir("out_good")
        proc = run_pipes(["-j", "2", "-o", out_dir + "/"] + [MEDIA[n] for n in CLIPS])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stderr, "")
        self.assert_jsonl_files(out_dir, {name + ".jsonl": (name, name) for name in CLIPS})


class TestOutputDir(BatchTestCase):
    def test_same_names_get_distinct_files(self):
        """Two same.mp4 in two folders and a same-2.mp4: three files, none overwritten."""
        src = fresh_dir("dups")
        for folder, file_name, clip in (("a", "same.mp4", "lobby"), ("b", "same.mp4", "talk"),
                                        ("a", "same-2.mp4", "street")):
            os.makedirs(os.path.join(src, folder), exist_ok=True)
            shutil.copy(MEDIA[clip], os.path.join(src, folder, file_name))
        out_dir = fresh_dir("out_dups")  # missing: created
        proc = run_pipes(["-j", "2", "-o", out_dir + "/", os.path.join(src, "a", "same.mp4"),
                          os.path.join(src, "b", "same.mp4"), os.path.join(src, "a", "same-2.mp4")])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assert_jsonl_files(out_dir, {"same.jsonl": ("lobby", "same"),
                                          "same-2.jsonl": ("talk", "same"),
                                          "same-2-2.jsonl": ("street", "same-2")})

    def test_write_error_is_that_files_error(self):
        """A file size limit (a full disk, portably): the long input fails alone, its
        half-written .part removed; the short one is written."""
        probe = run_pipes([MEDIA["lobby"]])
        self.assertEqual(probe.returncode, 0, probe.stderr)
        limit = len(probe.stdout.encode()) + 4096
        self.assertGreater(len(probe.stdout.encode()) * CLIPS["music"] / CLIPS["lobby"], limit)

        def limit_file_size():
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() fails with EFBIG instead
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        out_dir = fresh_dir("out_full")
        os.makedirs(out_dir)
        proc = run_pipes(["-j", "2", "-o", out_dir, MEDIA["music"], MEDIA["lobby"]],
                         preexec_fn=limit_file_size)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        lines = proc.stderr.splitlines()
        self.assertEqual(len(lines), 1, proc.stderr)
        self.assertRegex(lines[0], r"^avfuse: \S*music\.mp4: error: cannot write \S*music\.jsonl"
                                   r"\.part: File too large$")
        self.assert_jsonl_files(out_dir, {"lobby.jsonl": ("lobby", "lobby")})

    def test_folder_that_cannot_be_made(self):
        blocker = fresh_dir("blocked")
        os.makedirs(blocker)
        with open(os.path.join(blocker, "file"), "w"):
            pass
        proc = run_pipes(["-o", os.path.join(blocker, "file", "out") + "/", MEDIA["lobby"]])
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertEqual(len(proc.stderr.splitlines()), 1, proc.stderr)
        self.assertIn("cannot create the folder", proc.stderr)


class TestInterrupt(BatchTestCase):
    def test_sigint_stops_every_running_input(self):
        """Two live inputs at once, each having sent 3.6 s and gone quiet (FIFOs held
        open, never at their end), and a third input waiting for a slot: SIGINT, sent
        once avfuse took every byte of both and went idle, ends both at a known point,
        0.6 s into their fourth segment, so each .part file holds 3 whole segments and
        a partial last one from 3.0 to 3.6 s; the third input never starts; exit 130."""
        src = fresh_dir("live")
        os.makedirs(src)
        data = media.generate_bytes(media.HELD_ARGS)
        names = ("cam1", "cam2")
        fifos = []
        for name in names:
            fifo = media.HeldFifo(os.path.join(src, name + ".mkv"), data).start()
            self.addCleanup(fifo.close)
            fifos.append(fifo)
        out_dir = fresh_dir("out_live")
        proc = subprocess.Popen([AVFUSE, "analyze", "-j", "2", "-o", out_dir + "/"] +
                                [f.path for f in fifos] + [MEDIA["lobby"]],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 30
            while not all(f.drained() for f in fifos):
                self.assertIsNone(proc.poll(), "avfuse exited before it took both inputs")
                self.assertLess(time.monotonic(), deadline, "avfuse did not read both FIFOs")
                time.sleep(0.02)
            procinfo.wait_idle(proc.pid, 30)
            self.assertIsNone(proc.poll(), "avfuse ended on FIFOs held open")
            # both slots are still taken: the third input has not started
            self.assertEqual(sorted(os.listdir(out_dir)), ["cam1.jsonl.part", "cam2.jsonl.part"])
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        self.assertEqual(proc.returncode, 130, err)
        self.assertEqual(out, "")
        self.assertIn("interrupted", err)
        # the third input never started: no file of its own, no line about it
        self.assertEqual(sorted(os.listdir(out_dir)), ["cam1.jsonl.part", "cam2.jsonl.part"], err)
        self.assertNotIn("lobby", err)
        for name in names:
            msgs = read_jsonl(os.path.join(out_dir, name + ".jsonl.part"))
            self.assertEqual([m["seq"] for m in msgs], [0, 1, 2, 3], (name, err))
            self.assertEqual({m["source"] for m in msgs}, {name})
            self.assertEqual([(m["t0"], m["t1"], m["partial"]) for m in msgs[:3]],
                             [(0.0, 1.0, False), (1.0, 2.0, False), (2.0, 3.0, False)], name)
            last = msgs[-1]
            brief = {k: last[k] for k in ("source", "seq", "t0", "t1", "partial")}
            # the end of data, to within one 40 ms video frame
            self.assertAlmostEqual(last["t0"], 3.0, delta=T_TOL, msg=brief)
            self.assertAlmostEqual(last["t1"] - last["t0"], media.HELD_SECONDS - 3.0,
                                   delta=HELD_TOL, msg=brief)
            self.assertIs(last["partial"], True, brief)
            self.assertRegex(err, r"%s\.mkv: warning: interrupted: 4 segments in \S*%s\.jsonl\.part"
                             % (name, name))

if __name__ == "__main__":
    unittest.main()
