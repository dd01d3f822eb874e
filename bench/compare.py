#!/usr/bin/env python3
"""avfuse against FFmpeg on the same inputs: what analysis costs beside plain decoding.

Generates (once, into a cache folder) 60 s of 720p30 and of 1080p30, H.264 + AAC,
with motion, sensor-like noise, a hard cut every 4 s, a black and a frozen stretch,
speech (flite), chords, speech over chords and silence. Then runs on each input, in
this one run, round-robin so that a busy neighbour hits every command alike:
  (a) ffmpeg -i IN -f null -                    plain decode
  (b) ffmpeg with its analysis filters          scdet, blackdetect, freezedetect,
      signalstats; silencedetect, ebur128, astats (logging at 'error' only)
  (c) avfuse analyze IN                         default settings, JSON to /dev/null
  (d) avfuse analyze --no-features IN           avfuse's decode floor
and prints for each the median CPU seconds (user + system of the process and its
threads), wall seconds and peak RSS, each with its run-to-run spread, then the
targets of issue 7 as MET / NOT MET. --instr adds instruction counts from callgrind
on the first seconds of each input (repeatable to the last digit, slow).

  bench/compare.py [--build DIR | --avfuse PATH] [--runs N] [--cache DIR]
                   [--inputs 720p30,1080p30] [--instr] [--instr-seconds S]

Without a built avfuse at DIR/tools/avfuse (DIR defaults to build/), it configures
and builds DIR first (RelWithDebInfo, tests off).
"""
import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

FILTERS_V = "scdet,blackdetect,freezedetect,signalstats"
FILTERS_A = "silencedetect,ebur128=framelog=verbose,astats"
QUIET = ["-hide_banner", "-nostats", "-loglevel", "error"]

TARGET_RATIO_DECODE = 0.8    # avfuse default CPU / ffmpeg plain decode CPU <=
TARGET_RATIO_FILTERS = 5.0   # ffmpeg filter chain CPU / avfuse default CPU >=
TARGET_EXTRACTION = 10.0     # (avfuse default - floor) / floor, percent <=
TARGET_RSS_MB = 80.0         # avfuse default peak RSS on 1080p30 <=


def commands(avfuse, path):
    return [
        ("a", "ffmpeg plain decode", ["ffmpeg"] + QUIET + ["-i", path, "-f", "null", "-"]),
        ("b", "ffmpeg analysis filters",
         ["ffmpeg"] + QUIET + ["-i", path, "-vf", FILTERS_V, "-af", FILTERS_A, "-f", "null", "-"]),
        ("c", "avfuse analyze (default)", [avfuse, "analyze", path]),
        ("d", "avfuse analyze --no-features", [avfuse, "analyze", "--no-features", path]),
    ]


def describe(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries",
                          "format=duration,bit_rate:stream=codec_name,width,height,r_frame_rate,"
                          "sample_rate,channels", "-of", "default=nw=1", path],
                         capture_output=True, text=True, check=True).stdout
    kv = {}
    for line in out.splitlines():
        k, _, v = line.partition("=")
        kv.setdefault(k, []).append(v)
    return "%.0f s, %sx%s %s fps, %s + %s %s Hz %s ch, %.1f Mbit/s" % (
        float(kv["duration"][0]), kv["width"][0], kv["height"][0],
        kv["r_frame_rate"][0].replace("/1", ""), kv["codec_name"][0], kv["codec_name"][1],
        kv["sample_rate"][0], kv["channels"][0], int(kv["bit_rate"][0]) / 1e6)


def verdict(ok):
    return "MET" if ok else "NOT MET"


def bench_input(name, path, avfuse, runs):
    """Runs the four commands RUNS times round-robin; prints the table; returns
    {key: [(cpu, wall, rss), ...]}."""
    cmds = commands(avfuse, path)
    results = {key: [] for key, _, _ in cmds}
    for i in range(runs):
        for key, _, cmd in cmds:
            results[key].append(common.measure(cmd))
        print("  ... run %d/%d done (load avg %.2f)" % (i + 1, runs, os.getloadavg()[0]),
              file=sys.stderr)
    print("\n%s: %s\n  %s" % (name, path, describe(path)))
    print("  %-34s %8s %7s %8s %7s %8s %8s" % ("command", "CPU s", "spread", "wall s", "spread",
                                             "RSS MB", "max RSS"))
    for key, label, _ in cmds:
        r = results[key]
        cpu, wall, rss = ([x[j] for x in r] for j in range(3))
        print("  (%s) %-30s %8.2f %6.1f%% %8.2f %6.0f%% %8.1f %8.1f" % (
            key, label, common.median(cpu), common.spread(cpu), common.median(wall),
            common.spread(wall), common.median(rss), max(rss)))
    return results


def ratio_text(num, den, fmt):
    """Median ratio and the range of the per-run (paired) ratios."""
    per_run = [a / b for a, b in zip(num, den)]
    return (fmt % (common.median(num) / common.median(den))
            + " (runs " + fmt % min(per_run) + " to " + fmt % max(per_run) + ")"), \
        common.median(num) / common.median(den)


def targets(name, results, lines):
    cpu = {k: [x[0] for x in v] for k, v in results.items()}
    text, r = ratio_text(cpu["c"], cpu["a"], "%.2f")
    lines.append((name, "avfuse default / ffmpeg decode CPU", text,
                  "<= %.1f" % TARGET_RATIO_DECODE, r <= TARGET_RATIO_DECODE))
    text, r = ratio_text(cpu["b"], cpu["c"], "%.2f")
    lines.append((name, "ffmpeg filters / avfuse default CPU", text,
                  ">= %.0f" % TARGET_RATIO_FILTERS, r >= TARGET_RATIO_FILTERS))
    extra = [100.0 * (c - d) / d for c, d in zip(cpu["c"], cpu["d"])]
    share = 100.0 * (common.median(cpu["c"]) - common.median(cpu["d"])) / common.median(cpu["d"])
    lines.append((name, "(avfuse default - floor) / floor",
                  "%.1f %% (runs %.1f to %.1f)" % (share, min(extra), max(extra)),
                  "<= %.0f %%" % TARGET_EXTRACTION, share <= TARGET_EXTRACTION))
    if name.startswith("1080p"):
        rss = max(x[2] for x in results["c"])
        lines.append((name, "avfuse default peak RSS (max of runs)", "%.1f MB" % rss,
                      "<= %.0f MB" % TARGET_RSS_MB, rss <= TARGET_RSS_MB))


def instructions(name, path, avfuse, seconds):
    short = common.make_excerpt(path, seconds)
    counts = {}
    for key, label, cmd in commands(avfuse, short):
        counts[key] = common.callgrind_instructions(cmd)
        print("  ... callgrind %s (%s) done" % (key, label), file=sys.stderr)
    print("\n%s, first %d s, instructions (callgrind, all threads; repeatable, whatever the "
          "load):" % (name, seconds))
    for key, label, _ in commands(avfuse, short):
        print("  (%s) %-30s %14s M" % (key, label, format(counts[key] // 1000000, ",")))
    print("  avfuse default / ffmpeg decode %.2f; ffmpeg filters / avfuse default %.2f; "
          "(avfuse default - floor) / floor %.1f %%" % (
              counts["c"] / counts["a"], counts["b"] / counts["c"],
              100.0 * (counts["c"] - counts["d"]) / counts["d"]))


def git_state():
    try:
        head = subprocess.run(["git", "-C", common.ROOT, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", common.ROOT, "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True).stdout
        return head + (" + uncommitted changes" if dirty.strip() else "")
    except OSError:
        return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=common.DEFAULT_BUILD,
                    help="build folder (default: build/ of this tree; built when missing)")
    ap.add_argument("--avfuse", help="the avfuse binary (default: BUILD/tools/avfuse)")
    ap.add_argument("--runs", type=int, default=3, help="runs of each command (default 3)")
    ap.add_argument("--cache", default=common.DEFAULT_CACHE,
                    help="folder of the generated inputs (default %(default)s)")
    ap.add_argument("--inputs", default=",".join(common.SIZES),
                    help="comma-separated, of %s (default: all)" % ", ".join(common.SIZES))
    ap.add_argument("--instr", action="store_true",
                    help="also count instructions with callgrind (slow: minutes per input)")
    ap.add_argument("--instr-seconds", type=int, default=5,
                    help="length of the excerpt callgrind runs on (default 5)")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    names = [n for n in args.inputs.split(",") if n]
    for n in names:
        if n not in common.SIZES:
            ap.error("unknown input %s (have %s)" % (n, ", ".join(common.SIZES)))
    avfuse = args.avfuse or common.build_dir_binaries(args.build)[0]
    avfuse = os.path.abspath(common.ensure_built(args.build, avfuse))
    build = os.path.dirname(os.path.dirname(avfuse))
    paths = {n: common.make_input(args.cache, n) for n in names}

    print("avfuse: %s (build type %s, built %s; tree now %s)" % (
        avfuse, common.build_type(build), common.built_at(avfuse), git_state()))
    print("ffmpeg: %s" % subprocess.run(["ffmpeg", "-version"], capture_output=True,
                                        text=True).stdout.splitlines()[0])
    print("machine: %s" % common.machine_line())
    print("each figure: median of %d runs, round-robin; spread = (max - min) / median;"
          " CPU = user + sys of the process" % args.runs)
    for key, label, cmd in commands(os.path.basename(avfuse), "IN"):
        print("  (%s) %s" % (key, " ".join(cmd)))
    lines = []
    for n in names:
        results = bench_input(n, paths[n], avfuse, args.runs)
        targets(n, results, lines)
    print("\ntargets (issue 7; medians, ratio ranges from runs paired in time; 2 shared cores, "
          "load avg now %.2f):" % os.getloadavg()[0])
    for name, what, value, target, ok in lines:
        print("  %-8s %-38s %-28s %-9s %s" % (name, what, value, target, verdict(ok)))
    if args.instr:
        for n in names:
            instructions(n, paths[n], avfuse, args.instr_seconds)


if __name__ == "__main__":
    main()
