#!/usr/bin/env python3
"""EBU Tech 3341 (v3, 2016) table 1 "minimum requirements", cases 1 to 5, end to end
through `avfuse analyze`, within the standard's +-0.1 LU.

Each case is a stereo 1 kHz sine at 48 kHz, the same level on both channels, in
steps of (dBFS per channel, seconds), written by the ffmpeg CLI as 16-bit WAV:

    case 1: -23 for 20 s                              M, S, I = -23.0 LUFS
    case 2: -33 for 20 s                              M, S, I = -33.0 LUFS
    case 3: -36 10 s, -23 60 s, -36 10 s              I = -23.0 LUFS
    case 4: -72 10 s, -36 10 s, -23 60 s, -36 10 s, -72 10 s   I = -23.0 LUFS
    case 5: -26 20 s, -20 20.1 s, -26 20 s            I = -23.0 LUFS

(dBFS of a sine is its peak: 0 dBFS is a full-scale sine.)

What avfuse publishes, and so what is checked: per segment, `loudness_lufs` (the
momentary loudness, libebur128's 400 ms meter read every 10 ms, averaged in power
over the segment), `loudness_max_lufs` (its maximum) and `loudness_short_lufs`
(short-term, 3 s). The meter runs on the analysis signal, the 16 kHz mono downmix,
counted as dual mono (docs/features-audio.md), so a stereo programme with equal
channels reads as the stereo programme does. Integrated loudness over the input is
not published: it is derived here from the published momentary values by the
BS.1770 gating (absolute -70 LUFS, relative -10 LU) applied to the segments, each
weighted by its length. The segments' momentary means are power means of 400 ms
blocks every 10 ms, which is BS.1770's block average on a finer step; the gate
decides per 1 s segment rather than per 400 ms block, which only matters for the
few segments astride a level step.

Checked: cases 1 and 2, M (every segment's loudness_lufs and loudness_max_lufs
from the second on, the first holding the meter's 400 ms start) and S (every
loudness_short_lufs from 3 s on) and the derived I; cases 3 to 5, the derived I.
"""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import media  # noqa: E402

TOL_LU = 0.1          # EBU Tech 3341 table 1
RATE = 48000
AVFUSE = None
WORKDIR = None

CASES = {
    1: ([(-23.0, 20.0)], -23.0),
    2: ([(-33.0, 20.0)], -33.0),
    3: ([(-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0)], -23.0),
    4: ([(-72.0, 10.0), (-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0), (-72.0, 10.0)], -23.0),
    5: ([(-26.0, 20.0), (-20.0, 20.1), (-26.0, 20.0)], -23.0),
}


def setUpModule():
    global AVFUSE, WORKDIR
    AVFUSE = os.environ.get("AVFUSE_BIN")
    if not AVFUSE or not os.access(AVFUSE, os.X_OK):
        raise RuntimeError("AVFUSE_BIN must name the avfuse binary, e.g. "
                           "AVFUSE_BIN=build/tools/avfuse python3 %s" % sys.argv[0])
    WORKDIR = tempfile.mkdtemp(prefix="avfuse-loudness-")
    unittest.addModuleCleanup(shutil.rmtree, WORKDIR, True)


def amplitude_expr(steps):
    """The per-sample amplitude of the steps as an aevalsrc expression: nested
    if(lt(t, end), amplitude, ...), peak amplitude 10^(dBFS/20)."""
    ends, end = [], 0.0
    for _, seconds in steps:
        end += seconds
        ends.append(end)
    expr = "%.12g" % 10.0 ** (steps[-1][0] / 20.0)
    for (dbfs, _), end in reversed(list(zip(steps[:-1], ends[:-1]))):
        expr = "if(lt(t\\,%.6f)\\,%.12g\\,%s)" % (end, 10.0 ** (dbfs / 20.0), expr)
    return expr


def make_case(number):
    steps, _ = CASES[number]
    total = sum(seconds for _, seconds in steps)
    sine = "%s*sin(2*PI*1000*t)" % amplitude_expr(steps)
    return media.generate(WORKDIR, ["-f", "lavfi", "-i",
                                    "aevalsrc='%s|%s':s=%d:d=%.6f" % (sine, sine, RATE, total),
                                    "-c:a", "pcm_s16le"], "tech3341_case%d.wav" % number)


def analyze(path):
    proc = subprocess.run([AVFUSE, "analyze", path], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=120)
    if proc.returncode != 0:
        raise AssertionError("avfuse exited %d on %s:\n%s" % (proc.returncode, path, proc.stderr))
    return [json.loads(line) for line in proc.stdout.splitlines()]


def feature(seg, name):
    value = seg["audio"]["features"].get(name)
    return None if value is None else float(value)


def integrated(segs):
    """BS.1770 integrated loudness from the segments' momentary power means, gated
    per segment (absolute -70 LUFS, then relative -10 LU), weighted by length."""
    blocks = [(s["t1"] - s["t0"], feature(s, "loudness_lufs")) for s in segs]
    blocks = [(w, v) for w, v in blocks if v is not None and not math.isnan(v) and v > -70.0]

    def mean(bs):
        return 10.0 * math.log10(sum(w * 10.0 ** (v / 10.0) for w, v in bs) /
                                 sum(w for w, _ in bs))
    gate = mean(blocks) - 10.0
    return mean([(w, v) for w, v in blocks if v > gate])


class TestTech3341(unittest.TestCase):
    def run_case(self, number):
        """Makes the case's signal, analyzes it, returns (segments, expected LUFS)."""
        path = make_case(number)
        self.addCleanup(os.unlink, path)
        segs = analyze(path)
        steps, want = CASES[number]
        self.assertAlmostEqual(segs[-1]["t1"], sum(seconds for _, seconds in steps), delta=0.01)
        return segs, want

    def assert_integrated(self, number, segs, want):
        got = integrated(segs)
        sys.stderr.write("\n  case %d: I = %.3f LUFS (want %.1f) ... " % (number, got, want))
        self.assertAlmostEqual(got, want, delta=TOL_LU,
                               msg="case %d: integrated %.3f LUFS, want %.1f +- %.1f"
                               % (number, got, want, TOL_LU))

    def check_steady(self, number):
        segs, want = self.run_case(number)
        table = ["%d %.2f-%.2f M %s max %s S %s" % (
            s["seq"], s["t0"], s["t1"], feature(s, "loudness_lufs"),
            feature(s, "loudness_max_lufs"), feature(s, "loudness_short_lufs")) for s in segs]
        bad = []
        for s in segs:
            if s["t0"] >= 1.0 and not s["partial"]:
                for name in ("loudness_lufs", "loudness_max_lufs"):
                    v = feature(s, name)
                    if v is None or abs(v - want) > TOL_LU:
                        bad.append((s["seq"], name, v))
            if s["t0"] >= 3.0 and not s["partial"]:
                v = feature(s, "loudness_short_lufs")
                if v is None or abs(v - want) > TOL_LU:
                    bad.append((s["seq"], "loudness_short_lufs", v))
        self.assertEqual(bad, [], "case %d: not within %.1f +- %.1f LUFS:\n%s"
                         % (number, want, TOL_LU, "\n".join(table)))
        self.assert_integrated(number, segs, want)

    def check_programme(self, number):
        self.assert_integrated(number, *self.run_case(number))

    def test_case1_minus23_M_S_I(self):
        self.check_steady(1)

    def test_case2_minus33_M_S_I(self):
        self.check_steady(2)

    def test_case3_I(self):
        self.check_programme(3)

    def test_case4_I_absolute_gate(self):
        self.check_programme(4)

    def test_case5_I(self):
        self.check_programme(5)


if __name__ == "__main__":
    unittest.main(verbosity=2)
