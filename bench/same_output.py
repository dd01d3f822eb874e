#!/usr/bin/env python3
"""Does a change alter what `avfuse analyze` prints? A refactor must not: this runs
`avfuse analyze` of two builds on the same inputs and asserts that their standard
output is byte-identical, apart from the `latency_ms` and `wallclock` fields (which
`avfuse analyze` does not print today: they are removed if they ever appear), and
that they exit with the same status.

The two builds: the one under test (--build, default build/, built when missing)
and a reference, either --ref-build DIR or the git revision --ref (default
REF_REVISION: the last commit that changed what `avfuse analyze` prints on
purpose — 96fbf09, issue 16's default-3 model with the sentiment's basis and the
GeMAPS voice features; before it, 2e75879, the reference of the issue 15
refactors). A change that means to alter the output moves REF_REVISION to its own
commit in a commit of its own, which every later commit must then print the same
as. A revision is
exported with `git archive` into a temporary folder (nothing is registered in the
repository), only the avfuse target is built (RelWithDebInfo, tests off, -j2) into
the bench cache, ref-HASH/, the folder removed; a second run reuses that build.
Each build reads its own tree's models/default.model (passed with --model; the
reference's is copied beside its build), AVFUSE_MODEL is unset.

The inputs, generated with the ffmpeg CLI: the bench's 720p30 and 1080p30 inputs
(bench/common.py's recipe, the first 24 s and 8 s, --seconds, cached) and ten short
clips made into a temporary folder each run: video + audio with cuts, black and
frozen stretches; audio only (stereo 48 kHz, mono 8 kHz); video only; 29.97, 25 and
12 fps; mono 44.1 kHz AAC; an MP4 with an edit list; FLAC in Matroska; MPEG-TS; a
Matroska file cut short (what avfuse prints of it, and its exit status, must match
too). Each input runs `analyze --events` with the default model and `analyze
--no-features`; then all but the cut one in one `analyze -j 2 --events --hop 0.5
--len 1.5` run. The report has one line per comparison: same, or the first
differing line of each build around its first differing byte. Exits 1 on any
difference.

Output that varies from run to run within one build is a bug of its own (before the
segmenter fix, the av offset and confidence of a clip whose cuts and sound onsets
line up varied with thread timing), and this tells it from a difference between the
builds: when the two outputs differ, both builds run again, alternately, twice
each, and while either varies up to --reruns times each: if one of them then prints
the other's bytes, the verdict is VARIES (printed, with the members that varied; a
failure with --strict, as tools/test.sh runs it), otherwise DIFFERS.

--bench then also compares CPU time (user + system, os.wait4's rusage, as the other
benches measure it) of the two builds on the 60 s 720p30 bench input (--bench-seconds):
--runs pairs, the order alternating in each pair, the median of the per-pair ratios
new / ref printed. Timing depends on the machine, so it is not part of CI;
--max-ratio R makes a median ratio above R an error.

Needs the git history back to the reference revision: a shallow clone fails with a
message, it does not skip. Usage: python3 bench/same_output.py [--build DIR]
[--ref REV | --ref-build DIR] [--cache DIR] [--seconds N] [--keep DIR] [--strict]
[--bench [--runs N] [--bench-seconds N] [--max-ratio R]]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (building, the bench inputs, measuring a command)

# The last commit that changed the output on purpose ("models: default-3, ..."):
# what every later commit must print the same as.
REF_REVISION = "96fbf0962ae8d62f9e44647872a7c270687e2a56"
# The first seconds of the bench inputs compared: at 720p five hard cuts, the black
# stretch (20-24 s), speech, chords; 1080p only for its size (generating it costs most).
BENCH_SECONDS = {"720p30": 24, "1080p30": 8}
RUN_TIMEOUT = 300

# A key whose value may differ between two runs of the same build, with its value: a
# number, a string (wallclock: ISO 8601), null, or a flat object (latency_ms of a
# status message: {"p50", "p99"}). Removed with the comma before it, or, as the first
# member of an object, with the comma after it; nothing else is touched.
_VOLATILE = (rb'"(?:latency_ms|wallclock)":(?:-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?'
             rb'|"[^"\\]*"|null|\{[^{}]*\})')
_STRIP = re.compile(rb"," + _VOLATILE + rb"(?=[,}])|(?<=\{)" + _VOLATILE + rb"(?:,|(?=\}))")


def strip_volatile(data):
    """data (bytes) without its latency_ms and wallclock members; the count removed."""
    return _STRIP.subn(b"", data)


def check_strip():
    """strip_volatile on known lines: the comparison is only as good as this."""
    cases = [
        (b'{"a":1,"latency_ms":12.5,"b":2}\n', b'{"a":1,"b":2}\n'),
        (b'{"wallclock":"2026-11-27T12:00:17.000Z","a":1}', b'{"a":1}'),
        (b'{"a":{"latency_ms":null},"b":[1]}', b'{"a":{},"b":[1]}'),
        (b'{"a":1,"latency_ms":{"p50":3,"p99":-1e-3}}', b'{"a":1}'),
        (b'{"a":1,"latency_ms":-40,"wallclock":"x"}', b'{"a":1}'),
        (b'{"k":"latency_ms","latency_msx":1,"why":"\\"wallclock\\":1"}',
         b'{"k":"latency_ms","latency_msx":1,"why":"\\"wallclock\\":1"}'),
    ]
    for given, want in cases:
        got, _ = strip_volatile(given)
        if got != want:
            sys.exit("same_output: strip_volatile(%r) = %r, not %r" % (given, got, want))


def git(*args, check=True):
    proc = subprocess.run(["git", "-C", common.ROOT] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    if check and proc.returncode != 0:
        sys.exit("same_output: git %s failed: %s" % (" ".join(args), proc.stderr.strip()))
    return proc


def resolve_revision(rev):
    """The full hash of rev; exits with what to do when the history lacks it."""
    proc = git("rev-parse", "--verify", "--quiet", rev + "^{commit}", check=False)
    if proc.returncode == 0:
        return proc.stdout.strip()
    shallow = git("rev-parse", "--is-shallow-repository", check=False).stdout.strip()
    hint = ("this clone is shallow: fetch the history (git fetch --unshallow) or clone "
            "without --depth" if shallow == "true" else
            "the repository has no such commit (a clone of a fork, or a rewritten history?)")
    sys.exit("same_output: FAILED: reference revision %s is not in %s: %s; or compare with "
             "a build of the reference: --ref-build DIR" % (rev, common.ROOT, hint))


def build_revision(rev, cache):
    """(avfuse, model) of revision rev, built into cache/ref-HASH/ unless already there."""
    full = resolve_revision(rev)
    where = os.path.join(cache, "ref-" + full)
    binary = os.path.join(where, "build", "tools", "avfuse")
    model = os.path.join(where, "default.model")
    if os.access(binary, os.X_OK) and os.path.isfile(model):
        print("same_output: reference %s: cached build %s" % (full[:12], where))
        return binary, model
    start = time.monotonic()
    print("same_output: reference %s: building avfuse into %s" % (full[:12], where))
    shutil.rmtree(os.path.join(where, "build"), ignore_errors=True)  # an interrupted build
    tree = tempfile.mkdtemp(prefix="avfuse-ref-")
    try:
        archive = subprocess.Popen(["git", "-C", common.ROOT, "archive", "--format=tar", full],
                                   stdout=subprocess.PIPE)
        untar = subprocess.run(["tar", "-x", "-C", tree], stdin=archive.stdout)
        archive.stdout.close()
        if archive.wait() != 0 or untar.returncode != 0:
            sys.exit("same_output: git archive %s | tar -x failed" % full)
        src_model = os.path.join(tree, "models", "default.model")
        if not os.path.isfile(src_model):
            sys.exit("same_output: revision %s has no models/default.model" % full)
        for cmd in (["cmake", "-S", tree, "-B", os.path.join(where, "build"),
                     "-DCMAKE_BUILD_TYPE=RelWithDebInfo", "-DAVFUSE_TESTS=OFF"],
                    ["cmake", "--build", os.path.join(where, "build"), "--target", "avfuse",
                     "-j2"]):
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True)
            if proc.returncode != 0:
                sys.exit("same_output: building the reference failed: %s\n%s"
                         % (" ".join(cmd), proc.stdout[-4000:]))
        shutil.copyfile(src_model, model)
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    print("same_output: reference built in %.0f s" % (time.monotonic() - start))
    return binary, model


def build_source(build):
    """The source tree build was configured from (its CMakeCache.txt)."""
    try:
        with open(os.path.join(build, "CMakeCache.txt")) as fh:
            for line in fh:
                if line.startswith("CMAKE_HOME_DIRECTORY:"):
                    return line.split("=", 1)[1].strip()
    except OSError:
        pass
    sys.exit("same_output: %s has no CMakeCache.txt naming its source tree" % build)


def build_dir(build):
    """(avfuse, model) of an existing or buildable build folder."""
    build = os.path.abspath(build)
    binary, _ = common.build_dir_binaries(build)
    binary = common.ensure_built(build, binary)
    model = os.path.join(build_source(build), "models", "default.model")
    if not os.path.isfile(model):
        sys.exit("same_output: %s: no %s" % (build, model))
    return binary, model


def make_media(work):
    """The short test clips, generated into work; a list of paths."""
    v320 = "s=320x180"
    aac = ["-c:a", "aac", "-b:a", "96k"]
    h264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    scenes = (
        "testsrc2=%s:r=30:d=3[a];color=c=black:%s:r=30:d=3[b];"
        "testsrc2=%s:r=30:d=3,loop=loop=-1:size=1,trim=duration=3[c];"
        "smptehdbars=%s:r=30:d=3[d];[a][b][c][d]concat=n=4:v=1:a=0,format=yuv420p[v];"
        "aevalsrc='0.3*sin(2*PI*440*t)*(lt(t\\,5)+gte(t\\,8))|0.2*sin(2*PI*660*t)':"
        "s=48000:d=12[x]" % (v320, v320, v320, v320))
    recipes = [
        ("scenes.mp4", ["-filter_complex", scenes, "-map", "[v]", "-map", "[x]"] + h264 + aac),
        ("stereo48k.wav", ["-f", "lavfi", "-i", "aevalsrc='0.3*sin(2*PI*440*t)|"
                           "0.2*sin(2*PI*660*t)*lt(t\\,4)':s=48000:d=8",
                           "-c:a", "pcm_s16le"]),
        ("mono8k.wav", ["-filter_complex", "sine=f=300:r=8000:d=3[s];anoisesrc=c=pink:r=8000:"
                        "a=0.2:seed=3:d=3[n];anullsrc=r=8000:cl=mono:d=2[z];"
                        "[s][z][n]concat=n=3:v=0:a=1[x]", "-map", "[x]", "-ac", "1",
                        "-c:a", "pcm_s16le"]),
        ("video_only.mp4", ["-f", "lavfi", "-i", "mandelbrot=%s:r=30" % v320, "-t", "6"]
         + h264),
        ("ntsc2997_mono441.mp4", ["-f", "lavfi", "-i", "testsrc2=%s:r=30000/1001" % v320,
                                  "-f", "lavfi", "-i", "sine=f=523:r=44100", "-t", "10.4",
                                  "-ac", "1", "-ar", "44100"] + h264 + aac),
        ("pal25_flac.mkv", ["-f", "lavfi", "-i", "life=s=160x90:r=25:seed=7,scale=320:180",
                            "-f", "lavfi", "-i", "anoisesrc=c=brown:r=48000:a=0.3:seed=5",
                            "-t", "8", "-ac", "2"] + h264 + ["-c:a", "flac"]),
        ("fps12.ts", ["-f", "lavfi", "-i", "gradients=%s:r=12:seed=3:speed=0.05" % v320,
                      "-f", "lavfi", "-i", "sine=f=440:r=48000", "-t", "7"] + h264 + aac),
        ("editlist.mp4", ["-f", "lavfi", "-i", "testsrc2=%s:r=30" % v320, "-itsoffset", "0.5",
                          "-f", "lavfi", "-i", "sine=f=440:r=48000", "-map", "0:v",
                          "-map", "1:a", "-t", "8"] + h264 + aac),
        ("big640.mkv", ["-f", "lavfi", "-i", "testsrc2=s=640x360:r=30,noise=alls=6:allf=t",
                        "-f", "lavfi", "-i", "sine=f=220:r=48000", "-t", "6"] + h264 + aac),
    ]
    paths = []
    for name, args in recipes:
        cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y"] + args
        out = os.path.join(work, name)
        proc = subprocess.run(cmd + [out], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True, timeout=120)
        if proc.returncode != 0:
            sys.exit("same_output: generating %s failed:\n%s\n%s"
                     % (name, " ".join(cmd + [out]), proc.stderr))
        paths.append(out)
    # A cut-off Matroska file: avfuse analyzes what is there, then fails or stops.
    whole = os.path.join(work, "pal25_flac.mkv")
    cut = os.path.join(work, "truncated.mkv")
    with open(whole, "rb") as src, open(cut, "wb") as dst:
        dst.write(src.read(os.path.getsize(whole) * 3 // 5))
    paths.append(cut)
    return paths


def run(binary, args):
    env = dict(os.environ, LC_ALL="C", TZ="UTC")
    env.pop("AVFUSE_MODEL", None)
    proc = subprocess.run([binary, "analyze", "-q", "--no-progress"] + args,
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=env, timeout=RUN_TIMEOUT)
    return proc.returncode, proc.stdout, proc.stderr


def excerpt(line, col, width=90):
    lo = max(0, col - width // 2)
    text = line[lo:lo + width].decode(errors="replace")
    return ("..." if lo else "") + text + ("..." if lo + width < len(line) else "")


def first_difference(ref, new):
    """A few lines saying where ref and new (bytes) first differ."""
    ref_lines, new_lines = ref.split(b"\n"), new.split(b"\n")
    for i, (a, b) in enumerate(zip(ref_lines, new_lines)):
        if a != b:
            col = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]),
                       min(len(a), len(b)))
            return ("      line %d, byte %d:\n        ref: %s\n        new: %s"
                    % (i + 1, col + 1, excerpt(a, col), excerpt(b, col)))
    return ("      ref has %d lines, new %d: the first extra line:\n        %s"
            % (len(ref_lines), len(new_lines),
               excerpt((ref_lines + new_lines)[min(len(ref_lines), len(new_lines))], 0)))


def varying_fields(a, b):
    """Dotted names of the JSON members whose values differ between outputs a and b
    (bytes, JSON lines): only to say what varied."""
    def flat(obj, path, out):
        if isinstance(obj, dict):
            for k, v in obj.items():
                flat(v, path + "." + k if path else k, out)
        else:
            out[path] = obj
        return out

    names = []
    for la, lb in zip(a.split(b"\n"), b.split(b"\n")):
        if la == lb:
            continue
        try:
            fa, fb = flat(json.loads(la), "", {}), flat(json.loads(lb), "", {})
        except ValueError:
            return ["(not JSON)"]
        for k in sorted(set(fa) | set(fb)):
            if fa.get(k) != fb.get(k) and k not in names:
                names.append(k)
    return names or ["(line count)"]


def compare(label, ref, new, args, keep, reruns):
    """Runs both builds with args; prints one verdict: "same", "varies" (they differed,
    but each build prints different bytes from run to run and both printed the same
    once, within reruns more runs each), "differs", or "failed" (both builds failed
    alike: an input analyze must read, so a broken input or build)."""
    def once(build):
        rc, out, err = run(build[0], args(build[1]))
        stripped, n = strip_volatile(out)
        return (rc, stripped), out, err, n

    ref_key, ref_out, ref_err, ref_n = once(ref)
    new_key, new_out, new_err, new_n = once(new)
    if keep:
        for side, data in (("ref", ref_out), ("new", new_out)):
            with open(os.path.join(keep, "%s.%s.jsonl" % ("_".join(label.split()), side)),
                      "wb") as fh:
                fh.write(data)
    stripped = " (stripped %d / %d volatile fields)" % (ref_n, new_n) if ref_n or new_n else ""
    if ref_key == new_key and (new_key[0] != 0 or not new_out):
        # every input here is one analyze reads: the same failure twice proves nothing
        print("  FAILED   %-34s both builds exit %d with %d bytes: a broken input or build\n"
              "      stderr: %s" % (label, new_key[0], len(new_out),
                                    new_err[-300:].decode(errors="replace").strip()))
        return "failed"
    if ref_key == new_key:
        print("  same     %-34s exit %d, %d lines, %d bytes%s"
              % (label, new_key[0], new_out.count(b"\n"), len(new_out), stripped))
        if ref_err != new_err:
            print("           (stderr differs, not compared: ref %r, new %r)"
                  % (ref_err[-200:].decode(errors="replace"),
                     new_err[-200:].decode(errors="replace")))
        return "same"
    # They differ: run both again, alternately, until one prints what the other did.
    ref_seen, new_seen = [ref_key], [new_key]
    met = False
    for i in range(reruns):
        if i == 2 and len(ref_seen) == 1 and len(new_seen) == 1:
            break  # two more runs each printed their first bytes again: no variation
        key = once(ref)[0]
        ref_seen += [key] if key not in ref_seen else []
        if key in new_seen:
            met = True
            break
        key = once(new)[0]
        new_seen += [key] if key not in new_seen else []
        if key in ref_seen:
            met = True
            break
    varied = [seen for seen in (ref_seen, new_seen) if len(seen) > 1]
    fields = varying_fields(varied[0][0][1], varied[0][1][1]) if varied else []
    if met:
        print("  VARIES   %-34s the same once rerun: ref printed %d different outputs, new %d;"
              "\n           what varies from run to run: %s"
              % (label, len(ref_seen), len(new_seen), ", ".join(fields[:8])))
        return "varies"
    print("  DIFFERS  %-34s exit ref %d new %d, lines ref %d new %d%s"
          % (label, ref_key[0], new_key[0], ref_out.count(b"\n"), new_out.count(b"\n"),
             stripped))
    if ref_key[1] != new_key[1]:
        print(first_difference(ref_key[1], new_key[1]))
    if ref_key[0] != new_key[0]:
        print("      stderr ref: %s\n      stderr new: %s"
              % (ref_err[-300:].decode(errors="replace").strip(),
                 new_err[-300:].decode(errors="replace").strip()))
    if varied:
        print("      (and it varies from run to run: %s)" % ", ".join(fields[:8]))
    return "differs"


def identity(ref, new, inputs, keep, reruns):
    """Every comparison run; the list of verdicts."""
    verdicts = []
    for path in inputs:
        name = os.path.basename(path)
        verdicts.append(compare("events   " + name, ref, new,
                                lambda m, p=path: ["--events", "--model", m, p], keep, reruns))
        verdicts.append(compare("nofeat   " + name, ref, new,
                                lambda m, p=path: ["--no-features", p], keep, reruns))
    good = [p for p in inputs if "truncated" not in p]
    verdicts.append(compare("batch    -j2 hop 0.5 len 1.5 (%d)" % len(good), ref, new,
                            lambda m: ["-j", "2", "--events", "--hop", "0.5", "--len", "1.5",
                                       "--model", m] + good, keep, reruns))
    return verdicts


def cpu_bench(ref, new, cache, seconds, runs, max_ratio):
    """Paired CPU runs on the 720p30 bench input; False when over max_ratio."""
    clip = common.make_input(cache, "720p30", seconds)
    print("same_output: CPU, %d pairs, analyze --events on %s" % (runs, clip))
    print("  %s" % common.machine_line())
    ref_cpu, new_cpu, ratios = [], [], []
    for i in range(runs):
        order = [("ref", ref), ("new", new)] if i % 2 == 0 else [("new", new), ("ref", ref)]
        got = {}
        for side, (binary, model) in order:
            cpu, _, _ = common.measure([binary, "analyze", "-q", "--no-progress", "--events",
                                        "--model", model, clip])
            got[side] = cpu
        ref_cpu.append(got["ref"])
        new_cpu.append(got["new"])
        ratios.append(got["new"] / got["ref"])
        print("  pair %d: ref %.2f s, new %.2f s, new / ref %.3f"
              % (i + 1, got["ref"], got["new"], ratios[-1]))
    ratio = common.median(ratios)
    print("  CPU median: ref %.2f s (spread %.1f %%), new %.2f s (spread %.1f %%)"
          % (common.median(ref_cpu), common.spread(ref_cpu), common.median(new_cpu),
             common.spread(new_cpu)))
    print("  new / ref, median of the pairs: %.3f (pairs %.3f to %.3f)"
          % (ratio, min(ratios), max(ratios)))
    if max_ratio is not None and ratio > max_ratio:
        print("same_output: CPU ratio %.3f is above --max-ratio %.3f" % (ratio, max_ratio))
        return False
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=common.DEFAULT_BUILD,
                    help="the build under test (default %(default)s; built when missing)")
    ap.add_argument("--ref", default=REF_REVISION,
                    help="reference git revision (default %(default)s)")
    ap.add_argument("--ref-build", help="a build of the reference, instead of --ref")
    ap.add_argument("--cache", default=common.DEFAULT_CACHE,
                    help="bench inputs and reference builds (default %(default)s)")
    ap.add_argument("--seconds", type=int,
                    help="length of the bench inputs compared (default %s)"
                    % ", ".join("%s %d s" % kv for kv in BENCH_SECONDS.items()))
    ap.add_argument("--keep", help="write every output, NAME.ref.jsonl / NAME.new.jsonl, here")
    ap.add_argument("--reruns", type=int, default=8,
                    help="when the outputs differ, run each build up to this many more times "
                    "(default %(default)s)")
    ap.add_argument("--strict", action="store_true",
                    help="an output that varies from run to run is a failure")
    ap.add_argument("--bench", action="store_true", help="then compare CPU time")
    ap.add_argument("--bench-seconds", type=int, default=common.DURATION,
                    help="--bench: length of the 720p30 input (default %(default)s)")
    ap.add_argument("--runs", type=int, default=5, help="--bench pairs (default %(default)s)")
    ap.add_argument("--max-ratio", type=float, help="--bench: fail above this new / ref")
    opts = ap.parse_args()

    start = time.monotonic()
    check_strip()
    if not shutil.which("ffmpeg"):
        sys.exit("same_output: the ffmpeg CLI is not on the PATH (tools/setup-deps.sh)")
    with common.cache_lock(opts.cache):
        ref = build_dir(opts.ref_build) if opts.ref_build else build_revision(opts.ref, opts.cache)
        bench_inputs = [common.make_input(opts.cache, name, opts.seconds or BENCH_SECONDS[name])
                        for name in common.SIZES]
    new = build_dir(opts.build)
    print("same_output: ref %s (model %s)\nsame_output: new %s (model %s)"
          % (ref[0], ref[1], new[0], new[1]))
    if opts.keep:
        os.makedirs(opts.keep, exist_ok=True)
    work = tempfile.mkdtemp(prefix="avfuse-same-")
    try:
        inputs = bench_inputs + make_media(work)
        print("same_output: %d inputs, %d comparisons" % (len(inputs), 2 * len(inputs) + 1))
        verdicts = identity(ref, new, inputs, opts.keep, opts.reruns)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    took = time.monotonic() - start
    differs = verdicts.count("differs") + verdicts.count("failed")
    varies = verdicts.count("varies")
    if varies:
        print("same_output: %d of %d comparisons vary from run to run within a build: the "
              "same bytes came out of both builds once rerun%s"
              % (varies, len(verdicts), "; --strict counts them as failures" if opts.strict
                 else " (not a failure without --strict)"))
    if differs or (opts.strict and varies):
        print("same_output: FAILED: %d of %d comparisons printed something else (%.0f s)"
              % (differs + (varies if opts.strict else 0), len(verdicts), took))
        return 1
    print("same_output: PASSED: the two builds printed the same bytes in every comparison%s "
          "(%.0f s)" % (" (%d of them once rerun)" % varies if varies else "", took))
    if opts.bench and not cpu_bench(ref, new, opts.cache, opts.bench_seconds, opts.runs,
                                     opts.max_ratio):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
