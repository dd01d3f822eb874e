#!/usr/bin/env python3
"""The GeMAPS voice features of `avfuse analyze` against Praat.

Usage:
    AVFUSE_BIN=/path/to/avfuse python3 tests/integration/test_voice_praat.py -v
    AVFUSE_BIN=... python3 tests/integration/test_voice_praat.py --report

Praat (the Debian package `praat`, run headless with `praat --run`) measures each
feature group with a script under tests/praat/: prosody.praat (F0 in semitones,
percentiles, slopes, voiced and unvoiced runs, loudness peaks), voice_quality.praat
(jitter, shimmer, HNR), formants.praat (F1-F3 and bandwidths), spectral_balance.praat
(alpha ratio, Hammarberg index, spectral slopes). The same file goes through
`avfuse analyze` as one segment; Praat reads it resampled to avfuse's 16 kHz
analysis rate by ffmpeg.

- Synthetic signals with a known answer always run: vowels built from pulse trains
  with a known F0, jitter and shimmer, a two-tone for the spectral balance, a gated
  tone for the runs and the loudness peaks, a glide for the slopes. Both avfuse and
  Praat are held to the truth.
- Real speech runs when the labelled recordings are at ../shared/data from the
  repository root (EmoDB, 22.05 kHz, and FSDD, 8 kHz); otherwise those tests skip.
  Each feature is held to Praat within the tolerance in TOLERANCE: the median
  difference over the files, and the share of files within a per-file bound.
  docs/features-audio.md lists the measured agreement (--report prints it).

Skips everything (exit 77 under ctest) when praat or ffmpeg is not installed.
Only the Python standard library is used.
"""

import json
import math
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import unittest
import wave

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(os.path.dirname(ROOT), "shared", "data")
SCRIPTS = os.path.join(ROOT, "tests", "praat")
AVFUSE = os.environ.get("AVFUSE_BIN", os.path.join(ROOT, "build", "tools", "avfuse"))
RATE = 16000
TIMEOUT = 120

# Real speech: every EMODB_STEP-th EmoDB file and every FSDD_STEP-th FSDD file, by
# name (a fixed selection over speakers and emotions, or digits).
EMODB_STEP = 20
FSDD_STEP = 100

# feature: (bound on the median |avfuse - Praat| over the files, per-file bound,
# share of files that must be within the per-file bound). Relative bounds (a share
# of Praat's value) are marked "rel". Measured values: docs/features-audio.md.
TOLERANCE = {
    "f0_st": (0.5, 1.0, 0.85, "abs"),
    "f0_st_p20": (0.5, 1.0, 0.85, "abs"),
    "f0_st_p50": (0.5, 1.2, 0.85, "abs"),
    "f0_st_p80": (0.5, 1.2, 0.85, "abs"),
    "f0_st_std": (0.4, 1.0, 0.85, "abs"),
    "f0_st_range": (0.5, 1.6, 0.85, "abs"),
    "f0_rise_st_s": (0.25, 0.7, 0.85, "rel"),
    "f0_fall_st_s": (0.3, 0.8, 0.85, "rel"),
    "voiced_run_s": (0.55, 0.7, 0.85, "rel"),
    "unvoiced_run_s": (0.6, 1.4, 0.85, "rel"),
    "loudness_peaks_per_s": (0.08, 0.15, 0.85, "rel"),
    "jitter": (0.3, 0.55, 0.85, "rel"),
    "shimmer_db": (0.6, 0.9, 0.85, "rel"),
    "hnr_db": (2.0, 3.5, 0.85, "abs"),
    "f1_hz": (0.1, 0.2, 0.85, "rel"),
    "f2_hz": (0.06, 0.12, 0.85, "rel"),
    "f3_hz": (0.03, 0.08, 0.85, "rel"),
    "f1_bw_hz": (0.3, 0.7, 0.85, "rel"),
    "f2_bw_hz": (0.35, 0.95, 0.85, "rel"),
    "f3_bw_hz": (0.45, 0.75, 0.85, "rel"),
    "alpha_ratio_db": (2.0, 4.0, 0.85, "abs"),
    "hammarberg_db": (2.0, 4.0, 0.85, "abs"),
    "slope_0_500_db_khz": (8.0, 12.0, 0.85, "abs"),
    "slope_500_1500_db_khz": (2.0, 4.0, 0.85, "abs"),
}

WORKDIR = None


def have_tools():
    return shutil.which("praat") and shutil.which("ffmpeg") and os.access(AVFUSE, os.X_OK)


def praat(script, wav, *args):
    """Runs tests/praat/SCRIPT.praat on wav; {name: value}, NaN where undefined."""
    out = subprocess.run(["praat", "--run", os.path.join(SCRIPTS, script + ".praat"), wav,
                          *map(str, args)], capture_output=True, text=True, check=True,
                         timeout=TIMEOUT).stdout
    values = {}
    for line in out.splitlines():
        name, value = line.split()
        try:
            values[name] = float(value)
        except ValueError:     # Praat prints "--undefined--"
            values[name] = math.nan
    return values


def praat_all(wav):
    values = {}
    values.update(praat("prosody", wav, 5))
    values.update(praat("voice_quality", wav))
    values.update(praat("formants", wav, 5500))
    values.update(praat("spectral_balance", wav))
    return values


def to_wav16(src, dst):
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", src, "-ac", "1",
                    "-ar", str(RATE), dst], check=True, timeout=TIMEOUT)


def analyze(paths):
    """The first segment's audio features of each input (one 30 s segment each)."""
    outdir = os.path.join(WORKDIR, "out")
    shutil.rmtree(outdir, ignore_errors=True)
    subprocess.run([AVFUSE, "analyze", "-q", "-j", "2", "--len", "30", "--hop", "30",
                    "-o", outdir + "/", *paths], check=True, timeout=20 * TIMEOUT)
    features = []
    for p in paths:
        name = os.path.splitext(os.path.basename(p))[0]
        with open(os.path.join(outdir, name + ".jsonl"), encoding="utf-8") as f:
            first = json.loads(f.readline())
        features.append({k: v for k, v in first["audio"].get("features", {}).items()})
    return features


def write_wav(path, samples, rate=RATE):
    peak = max(abs(v) for v in samples) or 1.0
    scale = 0.5 / peak
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", int(round(v * scale * 32767)))
                               for v in samples))


def resonate(x, rate, hz, bw):
    r = math.exp(-math.pi * bw / rate)
    c = 2 * r * math.cos(2 * math.pi * hz / rate)
    y1 = y2 = 0.0
    for i, v in enumerate(x):
        y = v + c * y1 - r * r * y2
        y2, y1 = y1, y
        x[i] = y


def vowel(seconds, periods, amps, formants, noise=0.0, rate=RATE):
    """Pulses of the given periods and amplitudes (cycled), -6 dB/octave, through
    resonators (hz, bw), plus Gaussian noise of the given RMS relative to 0.5 peak."""
    n = int(seconds * rate)
    x = [0.0] * n
    i = k = 0
    while i < n:
        x[i] = amps[k % len(amps)]
        i += periods[k % len(periods)]
        k += 1
    for i in range(1, n):
        x[i] += 0.95 * x[i - 1]
    for hz, bw in formants:
        resonate(x, rate, hz, bw)
    peak = max(abs(v) for v in x)
    x = [0.5 * v / peak for v in x]
    if noise:
        import random
        rng = random.Random(7)
        x = [v + rng.gauss(0, noise) for v in x]
    return x


VOWEL_A = [(700, 60), (1220, 80), (2600, 120), (3300, 200), (4500, 250), (5500, 300)]


def semitones(hz):
    return 12 * math.log2(hz / 27.5)


class Synthetic(unittest.TestCase):
    """Known answers, for avfuse and for Praat alike."""

    @classmethod
    def setUpClass(cls):
        if not have_tools():
            raise unittest.SkipTest("praat, ffmpeg or avfuse missing")
        signals = {
            "steady": vowel(1.5, [160], [1.0], VOWEL_A),
            "jitter": vowel(1.5, [158, 162], [1.0], VOWEL_A),
            "shimmer": vowel(1.5, [160], [1.0, 0.8], VOWEL_A),
            "noisy": vowel(1.5, [160], [1.0], VOWEL_A, noise=0.02),
        }
        # 250 Hz and 3 kHz, 20 dB apart
        signals["two_tone"] = [0.5 * math.sin(2 * math.pi * 250 * i / RATE) +
                               0.05 * math.sin(2 * math.pi * 3000 * i / RATE)
                               for i in range(int(1.5 * RATE))]
        # 220 Hz gated 300 ms on, 200 ms off, 6 times
        signals["gated"] = [(0.5 * math.sin(2 * math.pi * 220 * i / RATE)
                             if (i % (RATE // 2)) >= RATE // 10 * 2 else 0.0)
                            for i in range(3 * RATE)]
        # F0 rising 12 semitones per second, 100 to 200 Hz, then falling back
        phase, glide = 0.0, []
        for i in range(2 * RATE):
            t = i / RATE
            f0 = 100 * 2 ** (t if t < 1 else 2 - t)
            phase += 2 * math.pi * f0 / RATE
            glide.append(sum(math.sin(h * phase) / h for h in range(1, 8)))
        signals["glide"] = glide
        cls.paths, cls.praat = {}, {}
        for name, x in signals.items():
            path = os.path.join(WORKDIR, name + ".wav")
            write_wav(path, x)
            cls.paths[name] = path
            cls.praat[name] = praat_all(path)
        names = list(signals)
        cls.avfuse = dict(zip(names, analyze([cls.paths[n] for n in names])))

    def both(self, signal, feature):
        return self.avfuse[signal].get(feature, math.nan), self.praat[signal][feature]

    def assert_both(self, signal, feature, truth, tol_avfuse, tol_praat=None):
        got, ref = self.both(signal, feature)
        msg = "%s %s: avfuse %.4g, Praat %.4g, truth %.4g" % (signal, feature, got, ref, truth)
        self.assertLessEqual(abs(got - truth), tol_avfuse, msg)
        self.assertLessEqual(abs(ref - truth), tol_avfuse if tol_praat is None else tol_praat, msg)

    def test_f0_semitones(self):
        st = semitones(100.0)
        for feature in ("f0_st", "f0_st_p20", "f0_st_p50", "f0_st_p80"):
            self.assert_both("steady", feature, st, 0.05)
        self.assert_both("steady", "f0_st_range", 0.0, 0.05)

    def assert_close(self, signal, feature, tol):
        got, ref = self.both(signal, feature)
        self.assertLessEqual(abs(got - ref), tol, "%s %s: avfuse %.4g, Praat %.4g"
                             % (signal, feature, got, ref))

    def test_jitter(self):
        # built with |158 - 162| / 160 = 2.5 %; each period rings on into the next
        # (the resonances of the vowel), which pulls the periods a correlation finds
        # towards their mean: both read 1.78 %
        self.assert_both("jitter", "jitter", 0.021, 0.006)
        self.assert_close("jitter", "jitter", 0.002)
        self.assert_both("steady", "jitter", 0.0, 0.002)

    def test_shimmer(self):
        # built with 20 log10(1 / 0.8) = 1.94 dB; both read 1.53 dB, for the same reason
        self.assert_both("shimmer", "shimmer_db", 1.7, 0.4)
        self.assert_close("shimmer", "shimmer_db", 0.15)
        self.assert_both("steady", "shimmer_db", 0.0, 0.1)

    def test_hnr(self):
        clean, _ = self.both("steady", "hnr_db")
        got, ref = self.both("noisy", "hnr_db")
        self.assertGreater(clean, 30)
        self.assertGreater(self.praat["steady"]["hnr_db"], 30)
        self.assertLess(got, clean - 10)
        self.assertLessEqual(abs(got - ref), 3.0, "noisy vowel HNR: avfuse %.2f, Praat %.2f"
                             % (got, ref))

    def test_formants(self):
        for k, (hz, bw) in enumerate(VOWEL_A[:3], 1):
            self.assert_both("steady", "f%d_hz" % k, hz, 0.03 * hz)
            self.assert_both("steady", "f%d_bw_hz" % k, bw, 0.3 * bw + 20)

    def test_spectral_balance(self):
        self.assert_both("two_tone", "alpha_ratio_db", 20.0, 0.5)
        self.assert_both("two_tone", "hammarberg_db", 20.0, 0.5)

    def test_runs_and_peaks(self):
        self.assert_both("gated", "voiced_run_s", 0.3, 0.04)
        self.assert_both("gated", "unvoiced_run_s", 0.2, 0.04)
        # 6 bursts in 3 s; the last one does not fall before the file ends
        self.assert_both("gated", "loudness_peaks_per_s", 5 / 3, 0.1)

    def test_slopes(self):
        self.assert_both("glide", "f0_rise_st_s", 12.0, 1.5)
        self.assert_both("glide", "f0_fall_st_s", 12.0, 1.5)


def real_files():
    files = []
    for corpus, step in (("emodb", EMODB_STEP), ("fsdd", FSDD_STEP)):
        folder = os.path.join(DATA, corpus)
        names = sorted(f for f in os.listdir(folder) if f.endswith(".flac"))
        files += [os.path.join(folder, f) for f in names[::step]]
    return files


def agreement(pairs, kind):
    """Per file |avfuse - Praat| (relative to |Praat| for "rel") where both exist."""
    d = []
    for got, ref in pairs:
        if math.isnan(got) or math.isnan(ref):
            continue
        if kind == "rel":
            if ref == 0:
                continue
            d.append(abs(got - ref) / abs(ref))
        else:
            d.append(abs(got - ref))
    return d


class RealSpeech(unittest.TestCase):
    """EmoDB and FSDD against Praat, feature by feature."""

    @classmethod
    def setUpClass(cls):
        if not have_tools():
            raise unittest.SkipTest("praat, ffmpeg or avfuse missing")
        if not os.path.isfile(os.path.join(DATA, "README.md")):
            raise unittest.SkipTest("%s not found" % DATA)
        cls.files = real_files()
        cls.avfuse = analyze(cls.files)
        cls.praat = []
        for i, f in enumerate(cls.files):
            wav = os.path.join(WORKDIR, "real%d.wav" % i)
            to_wav16(f, wav)
            cls.praat.append(praat_all(wav))

    def pairs(self, feature):
        return [(a.get(feature, math.nan), p[feature]) for a, p in zip(self.avfuse, self.praat)]

    def test_agreement(self):
        failures = []
        for feature, (med_bound, file_bound, share, kind) in TOLERANCE.items():
            d = agreement(self.pairs(feature), kind)
            if len(d) < 0.5 * len(self.files):
                failures.append("%s: only %d of %d files have both values"
                                % (feature, len(d), len(self.files)))
                continue
            med = statistics.median(d)
            within = sum(v <= file_bound for v in d) / len(d)
            if med > med_bound or within < share:
                failures.append("%s (%s): median %.3g (bound %.3g), %.0f %% within %.3g "
                                "(need %.0f %%)" % (feature, kind, med, med_bound, 100 * within,
                                                    file_bound, 100 * share))
        self.assertEqual(failures, [], "\n".join(failures))


def report():
    """Prints the agreement table of docs/features-audio.md."""
    global WORKDIR
    RealSpeech.setUpClass()
    r = RealSpeech()
    print("%d files (%d EmoDB, %d FSDD)" % (len(r.files),
                                           sum("emodb" in f for f in r.files),
                                           sum("fsdd" in f for f in r.files)))
    print("| feature | kind | files | median diff | 90th pct diff | median signed | Praat mean |")
    print("|---|---|---|---|---|---|---|")
    for feature, (_, _, _, kind) in TOLERANCE.items():
        pairs = r.pairs(feature)
        d = sorted(agreement(pairs, kind))
        signed = [(g - p) / (abs(p) if kind == "rel" else 1.0) for g, p in pairs
                  if not (math.isnan(g) or math.isnan(p)) and (kind != "rel" or p != 0)]
        refs = [p for _, p in pairs if not math.isnan(p)]
        print("| `%s` | %s | %d | %.3g | %.3g | %+.3g | %.4g |" % (
            feature, "relative" if kind == "rel" else "absolute", len(d),
            statistics.median(d), d[int(0.9 * (len(d) - 1))], statistics.median(signed),
            statistics.mean(refs)))


def main():
    global WORKDIR
    WORKDIR = tempfile.mkdtemp(prefix="avfuse-voice-")
    try:
        if "--report" in sys.argv:
            report()
            return 0
        result = unittest.main(exit=False).result
        if not result.wasSuccessful():
            return 1
        return 77 if result.testsRun == len(result.skipped) else 0
    finally:
        shutil.rmtree(WORKDIR, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
