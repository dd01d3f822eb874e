#!/usr/bin/env python3
"""What feature extraction costs on top of decoding.

Generates (once, into build/bench/) a 60 s 720p30 H.264 + AAC clip with motion,
hard cuts, a speech-like and a music-like stretch, then runs on that same file,
in this one run:
  ffmpeg -i IN -f null -            plain decode, for reference
  avfuse analyze --no-features IN   avfuse's decode floor (decode, scale, segment)
  avfuse analyze IN                 with every built-in extractor, fusion and tags
and prints CPU seconds (user + system, children included), wall seconds and peak
RSS of each (the median of RUNS runs, default 3), and the ratios. CPU time on a
shared 2-core machine varies by several percent from run to run, so unless
INSTR=0 it also counts instructions with valgrind's callgrind on the first 10 s
(a figure that repeats exactly) for avfuse with and without features. Then runs bench_audio_features (the audio extractor
alone on 60 s of 16 kHz audio). Usage: bench/features.py [BUILD_DIR] (default build).
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import measure  # noqa: E402  (shared with compare.py: CPU, wall, peak RSS)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(ROOT, "build")
RUNS = int(os.environ.get("RUNS", "3"))
AVFUSE = os.path.join(BUILD, "tools", "avfuse")
AUDIO_BENCH = os.path.join(BUILD, "bench", "bench_audio_features")
CLIP = os.path.join(BUILD, "bench", "bench_720p30_60s.mp4")


def make_clip():
    if os.path.exists(CLIP):
        return
    os.makedirs(os.path.dirname(CLIP), exist_ok=True)
    video = ("[0:v][1:v][2:v]concat=n=3:v=1:a=0[v]")
    audio = ("[3:a]atrim=duration=20[sp];[4:a]atrim=duration=20[mu];[5:a]atrim=duration=20[no];"
             "[sp][mu][no]concat=n=3:v=0:a=1,aformat=channel_layouts=stereo[a]")
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
           "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30:duration=20",
           "-f", "lavfi", "-i", "mandelbrot=size=1280x720:rate=30,trim=duration=20",
           "-f", "lavfi", "-i", "smptehdbars=size=1280x720:rate=30:duration=20",
           # speech-like: a gliding harmonic voice switched at syllable rate
           "-f", "lavfi", "-i", "aevalsrc='0.3*lt(mod(t*4\\,1)\\,0.6)*(sin(2*PI*(120+40*sin(2*PI*0.3*t))*t)"
           "+0.5*sin(4*PI*(120+40*sin(2*PI*0.3*t))*t))':s=48000",
           # music-like: a chord with a beat
           "-f", "lavfi", "-i", "aevalsrc='0.2*(sin(2*PI*261.6*t)+sin(2*PI*329.6*t)+sin(2*PI*392*t))"
           "*(0.6+0.4*lt(mod(t*2\\,1)\\,0.1))':s=48000",
           "-f", "lavfi", "-i", "anoisesrc=color=pink:amplitude=0.2:sample_rate=48000",
           "-filter_complex", video + ";" + audio, "-map", "[v]", "-map", "[a]",
           "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "60",
           "-c:a", "aac", "-b:a", "128k", CLIP]
    subprocess.run(cmd, check=True, timeout=600)


def main():
    if not os.access(AVFUSE, os.X_OK):
        sys.exit("bench: %s not built (cmake --build %s)" % (AVFUSE, BUILD))
    make_clip()
    rows = [
        ("ffmpeg -i IN -f null - (plain decode)", ["ffmpeg", "-hide_banner", "-nostats", "-i", CLIP, "-f", "null", "-"]),
        ("avfuse analyze --no-features (decode floor)", [AVFUSE, "analyze", "--no-features", CLIP]),
        ("avfuse analyze (features, fusion, tags)", [AVFUSE, "analyze", CLIP]),
    ]
    results = {}
    print("input: %s (60 s, 1280x720, 30 fps, H.264 + AAC stereo 48 kHz)" % CLIP)
    print("machine: %d cores" % os.cpu_count())
    print("median of %d runs each" % RUNS)
    print("%-46s %9s %9s %9s" % ("command", "CPU s", "wall s", "RSS MB"))
    for name, cmd in rows:
        runs = sorted(measure(cmd) for _ in range(RUNS))
        cpu, wall, rss = runs[len(runs) // 2]  # the run with the median CPU time
        results[name] = cpu
        print("%-46s %9.2f %9.2f %9.1f" % (name, cpu, wall, rss))
    floor = results[rows[1][0]]
    full = results[rows[2][0]]
    print("extraction + fusion cost: %.2f CPU s = %.1f %% of the decode floor (target <= 10 %%)"
          % (full - floor, 100.0 * (full - floor) / floor))
    print("avfuse with features / ffmpeg plain decode: %.2f" % (full / results[rows[0][0]]))
    if os.environ.get("INSTR", "1") != "0":
        short = os.path.join(os.path.dirname(CLIP), "bench_720p30_10s.mp4")
        if not os.path.exists(short):
            subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", CLIP,
                            "-t", "10", "-c", "copy", short], check=True, timeout=120)
        counts = []
        for extra in (["--no-features"], []):
            out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                                  AVFUSE, "analyze"] + extra + [short],
                                 capture_output=True, text=True, timeout=1200)
            counts.append(int(out.stderr.split("Collected :")[1].split()[0]))
        print("instructions, first 10 s (callgrind): decode floor %.3g, with features %.3g: "
              "extraction + fusion = %.1f %% of the decode floor"
              % (counts[0], counts[1], 100.0 * (counts[1] - counts[0]) / counts[0]))
    if os.access(AUDIO_BENCH, os.X_OK):
        out = subprocess.run([AUDIO_BENCH], check=True, capture_output=True, text=True, timeout=300)
        print(out.stdout.strip())


if __name__ == "__main__":
    main()
