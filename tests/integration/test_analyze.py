#!/usr/bin/env python3
"""Integration tests for `avfuse analyze`.

Usage:
    AVFUSE_BIN=/path/to/avfuse python3 tests/integration/test_analyze.py -v

All media is generated once per run with the ffmpeg CLI into a temporary
directory that is removed at the end. Only the Python standard library is used.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

import media  # tests/integration/media.py

FFMPEG_TIMEOUT = 60
AVFUSE_TIMEOUT = 120

SCHEMA = "avfuse.segment.v1"
SOURCE_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
T_TOL = 1e-6          # tolerance for segment boundaries on whole-second grids
END_TOL = 1e-3        # tolerance for content-end timestamps (partial t1)
HELD_TOL = 0.04       # a stopped live input's end: one 40 ms video frame

FULL_FRAMES = 10      # 10 fps sampling, 1 s segment
FULL_SAMPLES = 16000  # mono 16 kHz, 1 s segment

# AAC encoder priming is 1024 samples at 48 kHz = 341.33 samples at 16 kHz;
# a container may leave it in front of the first real sample.
AAC_PRIMING_16K = 342

AVFUSE = None
WORKDIR = None
MEDIA = {}

VIDEO_SRC = ["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30"]
VIDEO_SRC_2997 = ["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30000/1001"]
AUDIO_SRC = ["-f", "lavfi", "-i", "sine=f=440:r=48000"]
VIDEO_ENC = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
AAC_ENC = ["-c:a", "aac", "-ac", "2"]


# ---------------------------------------------------------------------------
# Fixture generation
# ---------------------------------------------------------------------------

def _ffmpeg(args, out_name):
    return media.generate(WORKDIR, args, out_name, FFMPEG_TIMEOUT)


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
                           "AVFUSE_BIN=build/tools/avfuse python3 tests/integration/test_analyze.py")
    if not (os.path.isfile(AVFUSE) and os.access(AVFUSE, os.X_OK)):
        raise RuntimeError("AVFUSE_BIN=%r is not an executable file" % AVFUSE)
    if shutil.which("ffmpeg") is None:
        raise RuntimeError("ffmpeg CLI not found on PATH")

    WORKDIR = tempfile.mkdtemp(prefix="avfuse_it_")
    # Module cleanups run even if setUpModule fails half-way.
    unittest.addModuleCleanup(_remove_workdir)

    # (a) 10.0 s, 30 fps + 48 kHz stereo AAC, MP4.
    MEDIA["a_mp4"] = _ffmpeg(VIDEO_SRC + AUDIO_SRC + ["-t", "10"] + VIDEO_ENC + AAC_ENC,
                             "clip_a.mp4")

    # (b) audio timestamps start at 0.5 s, one ffmpeg run each.
    offset = VIDEO_SRC + ["-itsoffset", "0.5"] + AUDIO_SRC + \
        ["-map", "0:v", "-map", "1:a", "-t", "10"] + VIDEO_ENC
    MEDIA["b_mkv_flac"] = _ffmpeg(offset + ["-c:a", "flac", "-ac", "2"], "offset_flac.mkv")
    MEDIA["b_mp4_ts48k"] = _ffmpeg(offset + AAC_ENC + ["-movie_timescale", "48000"],
                                   "offset_aac_ts48k.mp4")
    MEDIA["b_mp4_ts1k"] = _ffmpeg(offset + AAC_ENC, "offset_aac_ts1k.mp4")

    # (c) case-a content in other containers / frame rates.
    MEDIA["c_ts"] = _ffmpeg(VIDEO_SRC + AUDIO_SRC + ["-t", "10"] + VIDEO_ENC + AAC_ENC,
                            "clip_c.ts")
    MEDIA["c_mkv"] = _ffmpeg(VIDEO_SRC + AUDIO_SRC + ["-t", "10"] + VIDEO_ENC + AAC_ENC,
                             "clip_c.mkv")
    MEDIA["c_2997"] = _ffmpeg(VIDEO_SRC_2997 + AUDIO_SRC + ["-t", "10"] + VIDEO_ENC + AAC_ENC,
                              "clip_c_2997.mp4")

    # (d) audio-only WAV.
    MEDIA["d_wav"] = _ffmpeg(AUDIO_SRC + ["-t", "10", "-c:a", "pcm_s16le", "-ar", "48000",
                                          "-ac", "2"], "audio_only.wav")

    # (e) video-only MP4.
    MEDIA["e_mp4"] = _ffmpeg(VIDEO_SRC + ["-t", "10", "-an"] + VIDEO_ENC, "video_only.mp4")

    # (f) 10.4 s MP4.
    MEDIA["f_mp4"] = _ffmpeg(VIDEO_SRC + AUDIO_SRC + ["-t", "10.4"] + VIDEO_ENC + AAC_ENC,
                             "clip_10_4.mp4")

    # (h) non-media and missing files.
    notmedia = os.path.join(WORKDIR, "notmedia.mp4")
    with open(notmedia, "w") as fh:
        fh.write("this is plain text, not an MP4 file\n" * 20)
    MEDIA["notmedia"] = notmedia
    MEDIA["missing"] = os.path.join(WORKDIR, "does_not_exist.mp4")


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def run_avfuse(*args):
    cmd = [AVFUSE, "analyze"] + [str(a) for a in args]
    try:
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=AVFUSE_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError("avfuse timed out after %ds: %s" % (AVFUSE_TIMEOUT, " ".join(cmd))) \
            from exc


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class AnalyzeTestCase(unittest.TestCase):
    maxDiff = None

    # -- (i) per-line schema check, used by every case ---------------------
    def check_output_lines(self, stdout):
        """Parse every stdout line as JSON and check the common schema.

        Returns the list of decoded segment objects in output order."""
        segs = []
        for lineno, line in enumerate(stdout.splitlines(), 1):
            ctx = "stdout line %d: %r" % (lineno, line)
            try:
                obj = json.loads(line)
            except ValueError as exc:
                self.fail("%s does not parse as JSON: %s" % (ctx, exc))
            self.assertIsInstance(obj, dict, ctx)
            self.assertEqual(obj.get("schema"), SCHEMA, ctx)
            src = obj.get("source")
            self.assertIsInstance(src, str, ctx)
            self.assertRegex(src, SOURCE_RE, ctx)
            self.assertTrue(_is_int(obj.get("seq")) and obj["seq"] >= 0,
                            "%s: seq must be a non-negative integer" % ctx)
            self.assertTrue(_is_num(obj.get("t0")), "%s: t0 must be a number" % ctx)
            self.assertTrue(_is_num(obj.get("t1")), "%s: t1 must be a number" % ctx)
            self.assertGreaterEqual(obj["t0"], 0.0, ctx)
            self.assertGreater(obj["t1"], obj["t0"], ctx)
            self.assertIsInstance(obj.get("partial"), bool, ctx)
            for mod, count_key in (("video", "frames"), ("audio", "samples")):
                m = obj.get(mod)
                self.assertIsInstance(m, dict, "%s: %s must be an object" % (ctx, mod))
                self.assertIsInstance(m.get("present"), bool,
                                      "%s: %s.present must be a boolean" % (ctx, mod))
                if m["present"]:
                    self.assertTrue(_is_int(m.get(count_key)) and m[count_key] >= 0,
                                    "%s: %s.%s must be a non-negative integer when present"
                                    % (ctx, mod, count_key))
                # When present is false the count key is optional.
            segs.append(obj)
        return segs

    def analyze_ok(self, *args):
        """Run avfuse on a single good input; expect success and one source."""
        proc = run_avfuse(*args)
        self.assertEqual(proc.returncode, 0,
                         "avfuse %s exited %d; stderr:\n%s" % (args, proc.returncode, proc.stderr))
        segs = self.check_output_lines(proc.stdout)
        self.assertTrue(segs, "no segments on stdout for %s; stderr:\n%s" % (args, proc.stderr))
        sources = {s["source"] for s in segs}
        self.assertEqual(len(sources), 1, "single input produced several sources: %s" % sources)
        self.assert_seq_consecutive(segs)
        return segs

    def assert_seq_consecutive(self, segs):
        self.assertEqual([s["seq"] for s in segs], list(range(len(segs))),
                         "seq must count 0,1,2,... in order")

    def assert_whole_second_grid(self, segs, n):
        """Exactly n full 1 s segments [k, k+1), none partial."""
        self.assertEqual(len(segs), n, "expected %d segments, got %d: %s"
                         % (n, len(segs), [(s["t0"], s["t1"], s["partial"]) for s in segs]))
        for k, s in enumerate(segs):
            self.assertEqual(s["seq"], k)
            self.assertAlmostEqual(s["t0"], float(k), delta=T_TOL, msg="seg %d t0" % k)
            self.assertAlmostEqual(s["t1"], s["t0"] + 1.0, delta=T_TOL, msg="seg %d t1" % k)
            self.assertIs(s["partial"], False, "seg %d must not be partial" % k)

    def assert_video(self, s, frames, k):
        self.assertIs(s["video"]["present"], True, "seg %d video.present" % k)
        self.assertEqual(s["video"]["frames"], frames, "seg %d video.frames" % k)

    def assert_audio(self, s, samples, k):
        self.assertIs(s["audio"]["present"], True, "seg %d audio.present" % k)
        self.assertEqual(s["audio"]["samples"], samples, "seg %d audio.samples" % k)

    def assert_full_av(self, segs):
        for k, s in enumerate(segs):
            self.assert_video(s, FULL_FRAMES, k)
            self.assert_audio(s, FULL_SAMPLES, k)

    def assert_single_error(self, proc, path):
        name = os.path.basename(path)
        self.assertNotEqual(proc.returncode, 0, "expected non-zero exit for %s" % name)
        lines = proc.stderr.splitlines()
        self.assertEqual(len(lines), 1,
                         "expected exactly one stderr line for %s, got %r" % (name, proc.stderr))
        self.assertTrue(lines[0].strip(), "stderr line is empty")
        self.assertIn(name, lines[0], "stderr line does not name the file")


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------

class TestBasic(AnalyzeTestCase):
    # (a)
    def test_a_mp4_10s_av(self):
        segs = self.analyze_ok(MEDIA["a_mp4"])
        self.assert_whole_second_grid(segs, 10)
        self.assert_full_av(segs)


class TestAudioOffset(AnalyzeTestCase):
    """(b) audio stream timestamps start at 0.5 s; video starts at 0."""

    def _check_offset(self, path, seg0_min, seg0_max):
        segs = self.analyze_ok(path)
        self.assert_whole_second_grid(segs, 10)
        for k, s in enumerate(segs):
            self.assert_video(s, FULL_FRAMES, k)
        a0 = segs[0]["audio"]
        self.assertIs(a0["present"], True)
        self.assertGreaterEqual(a0["samples"], seg0_min, "seg 0 audio.samples")
        self.assertLessEqual(a0["samples"], seg0_max, "seg 0 audio.samples")
        for k, s in enumerate(segs[1:], 1):
            self.assert_audio(s, FULL_SAMPLES, k)

    def test_b_mkv_flac(self):
        # FLAC has no priming: the first half second is exactly empty.
        self._check_offset(MEDIA["b_mkv_flac"], 8000, 8000)

    def test_b_mp4_aac_timescale_48000(self):
        # Edit list expressed in 1/48000 s, so only AAC priming (<= 1024
        # samples at 48 kHz = 342 at 16 kHz) can add to the 8000.
        self._check_offset(MEDIA["b_mp4_ts48k"], 8000, 8000 + AAC_PRIMING_16K)

    def test_b_mp4_aac_timescale_default(self):
        # Default movie timescale is 1000, so the muxer rounds the empty edit
        # (0.5 s minus priming) to whole milliseconds: up to 1 ms = 16 samples
        # at 16 kHz more than the priming allowance.
        self._check_offset(MEDIA["b_mp4_ts1k"], 8000, 8000 + AAC_PRIMING_16K + 16)


class TestContainers(AnalyzeTestCase):
    """(c) case-a content in other containers / at 29.97 fps."""

    def _check(self, key):
        segs = self.analyze_ok(MEDIA[key])
        self.assert_whole_second_grid(segs, 10)
        self.assert_full_av(segs)

    def test_c_mpegts(self):
        self._check("c_ts")

    def test_c_matroska_aac(self):
        self._check("c_mkv")

    def test_c_mp4_2997fps(self):
        self._check("c_2997")


class TestSingleModality(AnalyzeTestCase):
    # (d)
    def test_d_wav_audio_only(self):
        segs = self.analyze_ok(MEDIA["d_wav"])
        self.assert_whole_second_grid(segs, 10)
        for k, s in enumerate(segs):
            self.assertIs(s["video"]["present"], False, "seg %d video.present" % k)
            self.assert_audio(s, FULL_SAMPLES, k)

    # (e)
    def test_e_mp4_video_only(self):
        segs = self.analyze_ok(MEDIA["e_mp4"])
        self.assert_whole_second_grid(segs, 10)
        for k, s in enumerate(segs):
            self.assertIs(s["audio"]["present"], False, "seg %d audio.present" % k)
            self.assert_video(s, FULL_FRAMES, k)


class TestSegmentation(AnalyzeTestCase):
    # (f)
    def test_f_partial_tail(self):
        segs = self.analyze_ok(MEDIA["f_mp4"])
        self.assertEqual(len(segs), 11, "expected 11 segments, got %s"
                         % [(s["t0"], s["t1"], s["partial"]) for s in segs])
        self.assert_whole_second_grid(segs[:10], 10)
        self.assert_full_av(segs[:10])
        last = segs[10]
        self.assertEqual(last["seq"], 10)
        self.assertIs(last["partial"], True, "last segment must be partial")
        self.assertAlmostEqual(last["t0"], 10.0, delta=T_TOL)
        self.assertAlmostEqual(last["t1"], 10.4, delta=END_TOL)
        self.assert_audio(last, 6400, 10)
        self.assert_video(last, 4, 10)

    # (g)
    def test_g_hop_smaller_than_len(self):
        segs = self.analyze_ok("--hop", "0.5", "--len", "1.0", MEDIA["a_mp4"])
        for k, s in enumerate(segs):
            self.assertAlmostEqual(s["t0"], 0.5 * k, delta=T_TOL, msg="seg %d t0" % k)
        full = [s for s in segs if not s["partial"]]
        partial = [s for s in segs if s["partial"]]
        self.assertEqual(len(full), 19, "expected 19 full segments, got %s"
                         % [(s["t0"], s["t1"], s["partial"]) for s in segs])
        # Every partial segment comes after all the full ones.
        self.assertEqual(segs[:len(full)], full, "a partial segment precedes a full one")
        for s in full:
            k = s["seq"]
            self.assertAlmostEqual(s["t1"], s["t0"] + 1.0, delta=T_TOL, msg="seg %d t1" % k)
            self.assert_video(s, FULL_FRAMES, k)
            self.assert_audio(s, FULL_SAMPLES, k)
        for s in partial:
            self.assertLessEqual(s["t1"], 10.0 + END_TOL, "partial seg %d t1" % s["seq"])


class TestErrors(AnalyzeTestCase):
    # (h1)
    def test_h_not_media(self):
        proc = run_avfuse(MEDIA["notmedia"])
        self.assert_single_error(proc, MEDIA["notmedia"])
        self.assertEqual(proc.stdout, "", "nothing may be printed on stdout")

    # (h2)
    def test_h_missing_file(self):
        proc = run_avfuse(MEDIA["missing"])
        self.assert_single_error(proc, MEDIA["missing"])
        self.assertEqual(proc.stdout, "", "nothing may be printed on stdout")

    # (h3)
    def _check_mixed(self, files, bad):
        good_segs = self.analyze_ok(MEDIA["a_mp4"])
        good_source = good_segs[0]["source"]
        proc = run_avfuse(*files)
        self.assertNotEqual(proc.returncode, 0, "one bad input must give a non-zero exit")
        segs = self.check_output_lines(proc.stdout)
        self.assertEqual([s["source"] for s in segs], [good_source] * len(segs),
                         "every line must belong to the good file")
        self.assert_seq_consecutive(segs)
        self.assert_whole_second_grid(segs, 10)
        self.assert_full_av(segs)
        lines = [l for l in proc.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, "expected one stderr line, got:\n%s" % proc.stderr)
        self.assertIn(os.path.basename(bad), lines[0])

    def test_h_good_then_bad(self):
        self._check_mixed([MEDIA["a_mp4"], MEDIA["notmedia"]], MEDIA["notmedia"])

    def test_h_bad_then_good(self):
        self._check_mixed([MEDIA["notmedia"], MEDIA["a_mp4"]], MEDIA["notmedia"])



class TestInterrupt(unittest.TestCase):
    def test_sigint_publishes_partial_and_exits_130(self):
        """SIGINT on a live input that has sent 3.6 s and gone quiet (a FIFO held open,
        never at its end): every segment is published, the last one from 3.0 s to
        the end of data, 3.6 s, and partial; the exit status is 130. The stop comes
        after avfuse took every byte and went idle, so where it cuts is known: 0.6 s
        into the fourth segment, never on a boundary."""
        import signal
        import procinfo
        data = media.generate_bytes(media.HELD_ARGS)
        fifo = media.HeldFifo(os.path.join(WORKDIR, "live.mkv"), data).start()
        self.addCleanup(fifo.close)
        proc = subprocess.Popen([AVFUSE, "analyze", fifo.path], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 30
            while not fifo.drained():
                self.assertIsNone(proc.poll(), "avfuse exited before it took the input")
                self.assertLess(time.monotonic(), deadline, "avfuse did not read the FIFO")
                time.sleep(0.02)
            procinfo.wait_idle(proc.pid, 30)
            self.assertIsNone(proc.poll(), "avfuse ended on a FIFO held open")
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        self.assertEqual(proc.returncode, 130, err)
        self.assertIn("interrupted", err)
        lines = [json.loads(l) for l in out.splitlines()]
        self.assertEqual([m["seq"] for m in lines], [0, 1, 2, 3], err)
        self.assertEqual([(m["t0"], m["t1"]) for m in lines[:3]],
                         [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)])
        self.assertTrue(all(not m["partial"] for m in lines[:-1]), lines[:-1])
        last = lines[-1]
        brief = {k: last[k] for k in ("seq", "t0", "t1", "partial")}
        # the content end, to within one audio sample block and one video frame
        self.assertAlmostEqual(last["t0"], 3.0, delta=T_TOL)
        self.assertAlmostEqual(last["t1"] - last["t0"], media.HELD_SECONDS - 3.0,
                               delta=HELD_TOL, msg=brief)
        self.assertIs(last["partial"], True, brief)
        self.assertAlmostEqual(last["audio"]["samples"], 9600, delta=HELD_TOL * 16000)
        self.assertEqual(last["video"]["frames"], 6)


if __name__ == "__main__":
    unittest.main()
