#!/usr/bin/env python3
"""Integration tests for the features and tags of `avfuse analyze`.

Usage:
    AVFUSE_BIN=/path/to/avfuse python3 tests/integration/test_features.py -v

Every clip is generated once per run with the ffmpeg CLI into a temporary
directory that is removed at the end. Segment k covers [k, k+1) s. Only the
Python standard library is used.

On failure, each test prints the per-segment values it looked at, so the
message alone says what the tool reported against what was expected.
"""

import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import media  # tests/integration/media.py

FFMPEG_TIMEOUT = 60
AVFUSE_TIMEOUT = 180   # avfuse may run under sanitizers or valgrind

SIZE = "320x180"
VIDEO_ENC = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
AAC_ENC = ["-c:a", "aac"]
SINE_440 = ["-f", "lavfi", "-i", "sine=f=440:r=48000"]   # "any audio"

# Flash-and-beep: a white frame-grid flash of 3 frames and a 100 ms 1 kHz beep at
# every whole second. The flash uses the frame number n so it sits exactly on the
# 30 fps grid; the beep expression is evaluated per sample.
FLASH_VIDEO = ("color=c=black:s=%s:r=30,"
               "drawbox=c=white:t=fill:enable='lt(mod(n\\,30)\\,3)'" % SIZE)
BEEP_AUDIO = "aevalsrc='if(lt(mod(t\\,1)\\,0.1)\\,0.5*sin(2*PI*1000*t)\\,0)':s=48000"

# EBU Tech 3341 case 1: 1 kHz stereo sine at -23 dBFS per channel = -23 LUFS.
EBU_AMPLITUDE = 10.0 ** (-23.0 / 20.0)

AVFUSE = None
WORKDIR = None
MEDIA = {}
_ANALYSIS = {}


# ---------------------------------------------------------------------------
# Fixture generation
# ---------------------------------------------------------------------------

def _ffmpeg(args, out_name):
    return media.generate(WORKDIR, args, out_name, FFMPEG_TIMEOUT)


def _lavfi(graph):
    return ["-f", "lavfi", "-i", graph]


def setUpModule():
    global AVFUSE, WORKDIR
    AVFUSE = os.environ.get("AVFUSE_BIN")
    if not AVFUSE:
        raise RuntimeError("AVFUSE_BIN is not set: point it at the avfuse binary, e.g. "
                           "AVFUSE_BIN=build/tools/avfuse python3 "
                           "tests/integration/test_features.py -v")
    if not (os.path.isfile(AVFUSE) and os.access(AVFUSE, os.X_OK)):
        raise RuntimeError("AVFUSE_BIN=%r is not an executable file" % AVFUSE)
    if shutil.which("ffmpeg") is None:
        raise RuntimeError("ffmpeg CLI not found on PATH")

    WORKDIR = tempfile.mkdtemp(prefix="avfuse_feat_")
    # tearDownModule does not run when setUpModule fails half-way; cleanups do.
    unittest.addModuleCleanup(tearDownModule)

    # 1. 5 s of black, with a sine so the clip is a normal A/V file.
    MEDIA["black"] = _ffmpeg(_lavfi("color=c=black:s=%s:r=30" % SIZE) + SINE_440 +
                             ["-t", "5"] + VIDEO_ENC + AAC_ENC, "black.mp4")

    # 2. One testsrc2 picture looped for 5 s.
    still = _ffmpeg(_lavfi("testsrc2=s=%s:r=30" % SIZE) + ["-frames:v", "1"], "still.png")
    MEDIA["frozen"] = _ffmpeg(["-loop", "1", "-i", still] + SINE_440 +
                              ["-map", "0:v", "-map", "1:a", "-t", "5", "-r", "30"] +
                              VIDEO_ENC + AAC_ENC, "frozen.mp4")

    # 3. Hard cut at 5.0 s: 5 s testsrc2, then 5 s smptehdbars, both 30 fps.
    MEDIA["one_cut"] = _ffmpeg(
        _lavfi("testsrc2=s=%s:r=30:d=5" % SIZE) + _lavfi("smptehdbars=s=%s:r=30:d=5" % SIZE) +
        SINE_440 +
        ["-filter_complex", "[0:v][1:v]concat=n=2:v=1:a=0[v]",
         "-map", "[v]", "-map", "2:a", "-t", "10"] + VIDEO_ENC + AAC_ENC, "one_cut.mp4")

    # 4. Flash and beep in sync, 12 s, MP4.
    MEDIA["sync"] = _ffmpeg(_lavfi(FLASH_VIDEO) + _lavfi(BEEP_AUDIO) +
                            ["-t", "12"] + VIDEO_ENC + AAC_ENC, "sync.mp4")

    # 5. The same with the audio 200 ms late.
    MEDIA["late200"] = _ffmpeg(_lavfi(FLASH_VIDEO) + _lavfi(BEEP_AUDIO + ",adelay=200") +
                               ["-t", "12"] + VIDEO_ENC + AAC_ENC, "late200.mp4")

    # 6. 20 s: video testsrc2 | black | smptehdbars | testsrc2 (cuts at 4, 8, 14),
    #    audio 440 Hz sine at 0.3 on 0-6 s and 11-20 s, digital silence 6-11 s.
    MEDIA["mixed"] = _ffmpeg(
        _lavfi("testsrc2=s=%s:r=30:d=4" % SIZE) +
        _lavfi("color=c=black:s=%s:r=30:d=4" % SIZE) +
        _lavfi("smptehdbars=s=%s:r=30:d=6" % SIZE) +
        _lavfi("testsrc2=s=%s:r=30:d=6" % SIZE) +
        _lavfi("aevalsrc='0.3*sin(2*PI*440*t)*(lt(t\\,6)+gte(t\\,11))':s=48000:d=20") +
        ["-filter_complex", "[0:v][1:v][2:v][3:v]concat=n=4:v=1:a=0[v]",
         "-map", "[v]", "-map", "4:a", "-t", "20"] + VIDEO_ENC + AAC_ENC, "mixed.mp4")

    # 7a. 4 s full-scale 50 Hz square wave, PCM WAV (no lossy re-encoding).
    MEDIA["square"] = _ffmpeg(
        _lavfi("aevalsrc='if(lt(mod(t*100\\,1)\\,0.5)\\,1\\,-1)':s=48000") +
        ["-t", "4", "-c:a", "pcm_s16le"], "square.wav")

    # 7b. EBU Tech 3341 case 1: 1 kHz stereo sine at -23 dBFS per channel, 10 s WAV.
    ebu = "%.10f*sin(2*PI*1000*t)" % EBU_AMPLITUDE
    MEDIA["ebu1"] = _ffmpeg(_lavfi("aevalsrc='%s|%s':s=48000" % (ebu, ebu)) +
                            ["-t", "10", "-c:a", "pcm_s16le"], "ebu_case1.wav")


def tearDownModule():
    global WORKDIR
    if WORKDIR is not None:
        shutil.rmtree(WORKDIR, ignore_errors=True)
        WORKDIR = None


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def analyze(key):
    """Runs `avfuse analyze` on MEDIA[key] once; returns the segments by seq order."""
    if key in _ANALYSIS:
        return _ANALYSIS[key]
    path = MEDIA[key]
    cmd = [AVFUSE, "analyze", path]
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=AVFUSE_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise AssertionError("avfuse timed out after %d s: %s" % (AVFUSE_TIMEOUT, " ".join(cmd)))
    if proc.returncode != 0:
        raise AssertionError("avfuse exited %d on %s\nstderr:\n%s"
                             % (proc.returncode, path, proc.stderr))
    segs = []
    for n, line in enumerate(proc.stdout.splitlines(), 1):
        if not line.strip():
            continue
        try:
            segs.append(json.loads(line))
        except ValueError as exc:
            raise AssertionError("avfuse line %d is not JSON (%s): %r" % (n, exc, line))
    if not segs:
        raise AssertionError("avfuse printed no segments for %s\nstderr:\n%s"
                             % (path, proc.stderr))
    segs.sort(key=lambda s: s["seq"])
    _ANALYSIS[key] = segs
    return segs


def vfeat(seg, name):
    return ((seg.get("video") or {}).get("features") or {}).get(name)


def afeat(seg, name):
    return ((seg.get("audio") or {}).get("features") or {}).get(name)


def av_of(seg):
    return seg.get("av") or {}


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        return "%.4g" % v
    return str(v)


def table(segs, columns):
    """Per-segment dump: columns is a list of (title, function of the segment)."""
    rows = ["  seq  t0      t1      " + "  ".join("%-14s" % t for t, _ in columns) + "  tags"]
    for s in segs:
        rows.append("  %-4s %-7s %-7s " % (s.get("seq"), fmt(s.get("t0")), fmt(s.get("t1"))) +
                    "  ".join("%-14s" % fmt(f(s)) for _, f in columns) +
                    "  " + ",".join(s.get("tags", [])))
    return "\n".join(rows)


def by_seq(segs, seq):
    for s in segs:
        if s["seq"] == seq:
            return s
    return None


class FeatureCase(unittest.TestCase):
    maxDiff = None

    def require_segments(self, segs, seqs, dump):
        missing = [k for k in seqs if by_seq(segs, k) is None]
        self.assertFalse(missing, "segments %s missing from the output\n%s" % (missing, dump))


# ---------------------------------------------------------------------------
# 1-3: black, frozen, cuts
# ---------------------------------------------------------------------------

class TestVideoStates(FeatureCase):

    def test_1_black(self):
        """5 s of black: every segment has luma < 0.02 and the tag "black"."""
        segs = analyze("black")
        dump = table(segs, [("luma", lambda s: vfeat(s, "luma")),
                            ("black_share", lambda s: vfeat(s, "black"))])
        self.require_segments(segs, range(5), dump)
        bad = [s["seq"] for s in segs
               if not (vfeat(s, "luma") is not None and vfeat(s, "luma") < 0.02
                       and "black" in s.get("tags", []))]
        self.assertFalse(bad, "segments %s: expected luma < 0.02 and tag 'black'\n%s"
                         % (bad, dump))

    def test_2_frozen(self):
        """A looped still: segments 1..4 have the tag "frozen" and cuts == 0."""
        segs = analyze("frozen")
        dump = table(segs, [("frozen_share", lambda s: vfeat(s, "frozen")),
                            ("cuts", lambda s: vfeat(s, "cuts")),
                            ("motion", lambda s: vfeat(s, "motion"))])
        self.require_segments(segs, range(1, 5), dump)
        bad = [k for k in range(1, 5)
               if "frozen" not in by_seq(segs, k).get("tags", [])
               or vfeat(by_seq(segs, k), "cuts") != 0]
        self.assertFalse(bad, "segments %s: expected tag 'frozen' and cuts == 0\n%s"
                         % (bad, dump))

    def test_3_one_cut(self):
        """Hard cut at 5.0 s: one cut in total, in segment 5, tagged only there."""
        segs = analyze("one_cut")
        dump = table(segs, [("cuts", lambda s: vfeat(s, "cuts")),
                            ("cut_score", lambda s: vfeat(s, "cut_score"))])
        self.require_segments(segs, [5], dump)
        total = sum(vfeat(s, "cuts") or 0 for s in segs)
        self.assertEqual(total, 1, "sum of video.features.cuts is %s, expected 1\n%s"
                         % (fmt(total), dump))
        s5 = by_seq(segs, 5)
        self.assertEqual(vfeat(s5, "cuts"), 1, "segment 5 cuts != 1\n%s" % dump)
        self.assertIn("cut", s5.get("tags", []), "segment 5 lacks tag 'cut'\n%s" % dump)
        others = [s["seq"] for s in segs if s["seq"] != 5 and "cut" in s.get("tags", [])]
        self.assertFalse(others, "segments %s other than 5 have tag 'cut'\n%s" % (others, dump))


# ---------------------------------------------------------------------------
# 4-5: audio-video offset
# ---------------------------------------------------------------------------

class TestAvOffset(FeatureCase):
    FIRST_SEQ = 4
    TOL_MS = 40.0
    MIN_CONFIDENCE = 0.5

    def _check(self, key, expected_ms, tagged):
        segs = analyze(key)
        dump = table(segs, [("offset_ms", lambda s: av_of(s).get("offset_ms")),
                            ("confidence", lambda s: av_of(s).get("confidence"))])
        later = [s for s in segs if s["seq"] >= self.FIRST_SEQ]
        self.assertTrue(later, "no segment with seq >= %d\n%s" % (self.FIRST_SEQ, dump))
        bad = []
        for s in later:
            av = av_of(s)
            off, conf = av.get("offset_ms"), av.get("confidence")
            why = []
            if off is None:
                why.append("no offset_ms")
            elif abs(off - expected_ms) > self.TOL_MS:
                why.append("offset_ms %s not within %g +- %g"
                           % (fmt(off), expected_ms, self.TOL_MS))
            if conf is None or conf < self.MIN_CONFIDENCE:
                why.append("confidence %s < %g" % (fmt(conf), self.MIN_CONFIDENCE))
            if tagged != ("av_offset" in s.get("tags", [])):
                why.append("tag av_offset %s" % ("missing" if tagged else "present"))
            if why:
                bad.append("seq %d: %s" % (s["seq"], "; ".join(why)))
        self.assertFalse(bad, "expected offset %g ms from seq %d on:\n  %s\n%s"
                         % (expected_ms, self.FIRST_SEQ, "\n  ".join(bad), dump))

    def test_4_flash_and_beep_in_sync(self):
        """Flash and beep together: offset 0 +- 40 ms, confident, no av_offset tag."""
        self._check("sync", 0.0, tagged=False)

    def test_5_audio_200ms_late(self):
        """Audio delayed 200 ms: offset +200 +- 40 ms, confident, av_offset tag."""
        self._check("late200", 200.0, tagged=True)


# ---------------------------------------------------------------------------
# 6: agreement with FFmpeg's blackdetect, silencedetect and scdet
# ---------------------------------------------------------------------------

BLACK_RE = re.compile(r"black_start:\s*([-\d.]+)\s+black_end:\s*([-\d.]+)")
SIL_START_RE = re.compile(r"silence_start:\s*([-\d.]+)")
SIL_END_RE = re.compile(r"silence_end:\s*([-\d.]+)")
SCD_RE = re.compile(r"lavfi\.scd\.score:\s*([-\d.]+),\s*lavfi\.scd\.time:\s*([-\d.]+)")


def ffmpeg_detectors(path):
    """Runs blackdetect, scdet and silencedetect; returns (black, silence, cuts)."""
    cmd = ["ffmpeg", "-hide_banner", "-nostats", "-loglevel", "info", "-i", path,
           "-vf", "blackdetect=d=0.5:pix_th=0.10,scdet=threshold=10",
           "-af", "silencedetect=n=-50dB:d=0.5", "-f", "null", "-"]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=FFMPEG_TIMEOUT)
    if proc.returncode != 0:
        raise AssertionError("ffmpeg detectors failed (rc=%d): %s\n%s"
                             % (proc.returncode, " ".join(cmd), proc.stderr))
    black, silence, cuts = [], [], []
    sil_start = None
    for line in proc.stderr.splitlines():
        m = BLACK_RE.search(line)
        if m:
            black.append((float(m.group(1)), float(m.group(2))))
        m = SIL_START_RE.search(line)
        if m:
            sil_start = float(m.group(1))
        m = SIL_END_RE.search(line)
        if m and sil_start is not None:
            silence.append((sil_start, float(m.group(1))))
            sil_start = None
        m = SCD_RE.search(line)
        if m:
            cuts.append((float(m.group(2)), float(m.group(1))))   # (time, score)
    if sil_start is not None:   # silence running to the end of the file
        silence.append((sil_start, math.inf))
    return black, silence, cuts, proc.stderr


class TestAgreementWithFFmpeg(FeatureCase):
    """Tag intervals agree with FFmpeg's detectors within one segment."""

    def _check_intervals(self, segs, tag, intervals, dump):
        """Segments fully inside an interval carry the tag; segments farther than
        one segment from every interval do not."""
        problems = []
        for s in segs:
            k = s["seq"]
            has = tag in s.get("tags", [])
            inside = any(a <= k and k + 1 <= b for a, b in intervals)
            # fully outside [a - 1, b + 1) for every interval
            far = all(k + 1 <= a - 1 or k >= b + 1 for a, b in intervals)
            if inside and not has:
                problems.append("seq %d is inside a %s interval but lacks the tag" % (k, tag))
            if far and has:
                problems.append("seq %d is more than one segment from every %s interval "
                                "but has the tag" % (k, tag))
        self.assertFalse(problems, "%s tag vs FFmpeg intervals %s:\n  %s\n%s"
                         % (tag, intervals, "\n  ".join(problems), dump))

    def test_6_agreement_with_ffmpeg_detectors(self):
        segs = analyze("mixed")
        black, silence, cuts, stderr = ffmpeg_detectors(MEDIA["mixed"])
        dump = table(segs, [("black_share", lambda s: vfeat(s, "black")),
                            ("cuts", lambda s: vfeat(s, "cuts")),
                            ("cut_score", lambda s: vfeat(s, "cut_score")),
                            ("rms_dbfs", lambda s: afeat(s, "rms_dbfs"))])
        report = ("ffmpeg blackdetect: %s\nffmpeg silencedetect: %s\n"
                  "ffmpeg scdet (time, score): %s\navfuse:\n%s"
                  % (black, silence, cuts, dump))
        print("\n" + report, file=sys.stderr)

        # The reference itself must see the fixture, or the comparison is empty.
        self.assertTrue(black, "blackdetect found no black interval\n" + stderr)
        self.assertTrue(silence, "silencedetect found no silence\n" + stderr)
        self.assertTrue(cuts, "scdet found no scene change\n" + stderr)
        last = max(s["seq"] for s in segs)
        self.assertGreaterEqual(last, 19, "expected segments up to seq 19\n" + report)

        self._check_intervals(segs, "black", black, report)
        self._check_intervals(segs, "silence", silence, report)

        # Cuts: every scdet cut has an avfuse "cut" within one segment and vice versa.
        # scdet at threshold 10 on this clip is expected to report exactly the three
        # hard cuts (4, 8, 14); no extra scdet cut is excused here - any would fail
        # the assertion below and be listed in the message.
        cut_segs = [s["seq"] for s in segs if "cut" in s.get("tags", [])]
        problems = []
        for t, score in cuts:
            k = int(math.floor(t))
            if not any(abs(c - k) <= 1 for c in cut_segs):
                problems.append("scdet cut at %.3f s (score %.1f) has no avfuse cut in "
                                "segments %d..%d" % (t, score, k - 1, k + 1))
        for c in cut_segs:
            if not any(abs(int(math.floor(t)) - c) <= 1 for t, _ in cuts):
                problems.append("avfuse cut in segment %d has no scdet cut within one "
                                "segment" % c)
        self.assertFalse(problems, "cut tags vs scdet:\n  %s\n%s"
                         % ("\n  ".join(problems), report))


# ---------------------------------------------------------------------------
# 7: loudness and clipping
# ---------------------------------------------------------------------------

class TestLoudness(FeatureCase):

    def test_7a_square_wave_clipping_and_loud(self):
        """Full-scale square wave: segments 1..3 carry "clipping" and "loud"."""
        segs = analyze("square")
        dump = table(segs, [("clipped", lambda s: afeat(s, "clipped")),
                            ("loud_max_lufs", lambda s: afeat(s, "loudness_max_lufs")),
                            ("rms_dbfs", lambda s: afeat(s, "rms_dbfs"))])
        self.require_segments(segs, range(1, 4), dump)
        bad = [k for k in range(1, 4)
               if not {"clipping", "loud"} <= set(by_seq(segs, k).get("tags", []))]
        self.assertFalse(bad, "segments %s lack 'clipping' and/or 'loud'\n%s" % (bad, dump))

    def test_7b_ebu_tech3341_case1(self):
        """1 kHz stereo sine at -23 dBFS/channel: loudness_lufs -23.0 +- 0.1 (the table's
        tolerance) on 1..9; cases 1 to 5 in full: test_loudness.py."""
        segs = analyze("ebu1")
        dump = table(segs, [("loudness_lufs", lambda s: afeat(s, "loudness_lufs")),
                            ("loud_short", lambda s: afeat(s, "loudness_short_lufs")),
                            ("rms_dbfs", lambda s: afeat(s, "rms_dbfs"))])
        self.require_segments(segs, range(1, 10), dump)
        bad = []
        for k in range(1, 10):
            v = afeat(by_seq(segs, k), "loudness_lufs")
            if v is None or abs(v - (-23.0)) > 0.1:
                bad.append(k)
        self.assertFalse(bad, "segments %s: loudness_lufs not within -23.0 +- 0.1\n%s"
                         % (bad, dump))


if __name__ == "__main__":
    unittest.main()
