"""What the bench scripts share: finding (or building) the binaries, generating the
test inputs with the ffmpeg CLI into a cache folder, and measuring one command.

Measuring: CPU time is user + system of the child and everything it waited for
(os.wait4's rusage), which is what a process costs whatever else the machine is
doing; wall time is printed beside it but on a shared machine it says more about
the neighbours than about the program. Figures are medians of several runs, with
the spread (max - min) / median printed beside them.
"""
import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_BUILD = os.path.join(ROOT, "build")
DEFAULT_CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                             "avfuse-bench")
BUILD_HELP = ("cmake -S %s -B BUILD -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAVFUSE_TESTS=OFF && "
              "cmake --build BUILD -j2   (tools/setup-deps.sh installs the packages)" % ROOT)

# Bump when the recipe below changes, so cached inputs of an older recipe are not reused.
RECIPE = "v2"
DURATION = 60
CUT_EVERY = 4  # seconds between hard cuts
SIZES = {"720p30": (1280, 720, 4), "1080p30": (1920, 1080, 8)}  # width, height, max Mbit/s

SPEECH_TEXT = (
    "Good morning, and welcome to the lobby. The doors open at nine o'clock, and visitors "
    "are asked to sign in at the front desk. Please keep your badge visible at all times. "
    "The meeting on the third floor has moved to room twelve, next to the kitchen. "
    "If you are waiting for a delivery, the loading bay is around the back of the building. "
    "Thank you for your patience while the lifts are being repaired this week. "
    "Coffee and tea are served in the atrium until eleven. The fire alarm will be tested "
    "on Thursday afternoon; there is no need to leave the building when you hear it. "
    "Lost property can be collected from security. Have a pleasant day.\n")


def build_dir_binaries(build):
    return os.path.join(build, "tools", "avfuse"), os.path.join(build, "daemon", "avfused")


def ensure_built(build, binary):
    """Returns binary (a path); when it is missing and lies in build, configures and
    builds build first (RelWithDebInfo, no tests). Exits with the command to run when
    that fails."""
    if os.access(binary, os.X_OK):
        return binary
    if os.path.dirname(os.path.dirname(os.path.abspath(binary))) != os.path.abspath(build):
        sys.exit("bench: %s is not an executable" % binary)
    print("bench: %s is missing: building %s (RelWithDebInfo, no tests)" % (binary, build),
          file=sys.stderr)
    cmds = [["cmake", "-S", ROOT, "-B", build, "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
             "-DAVFUSE_TESTS=OFF"],
            ["cmake", "--build", build, "-j%d" % (os.cpu_count() or 2)]]
    for cmd in cmds:
        if subprocess.run(cmd, stdout=sys.stderr).returncode != 0:
            sys.exit("bench: the build failed; build by hand with\n  %s\nthen pass --build BUILD"
                     % BUILD_HELP)
    if not os.access(binary, os.X_OK):
        sys.exit("bench: %s still missing after the build" % binary)
    return binary


def build_type(build):
    """CMAKE_BUILD_TYPE from build/CMakeCache.txt, or '?'."""
    try:
        with open(os.path.join(build, "CMakeCache.txt")) as fh:
            for line in fh:
                if line.startswith("CMAKE_BUILD_TYPE:"):
                    return line.split("=", 1)[1].strip() or "(none)"
    except OSError:
        pass
    return "?"


def built_at(binary):
    """The binary's modification time, UTC: which build was measured."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(os.path.getmtime(binary)))


def _chord_expr():
    """aevalsrc expression of a C - Am - F - G progression, one chord per 2 s, with a
    bass note and a plucked envelope on every half-second beat (music-like)."""
    chords = [(130.81, 261.63, 329.63, 392.00), (110.00, 220.00, 261.63, 329.63),
              (87.31, 174.61, 220.00, 261.63), (98.00, 196.00, 246.94, 293.66)]
    terms = []
    for i, (bass, a, b, c) in enumerate(chords):
        tones = "+".join("sin(2*PI*%.2f*t)" % f for f in (a, b, c))
        terms.append("eq(mod(floor(t/2)\\,4)\\,%d)*(0.6*sin(2*PI*%.2f*t)+%s)" % (i, bass, tones))
    return "0.12*(0.35+0.65*exp(-6*mod(t\\,0.5)))*(%s)" % "+".join(terms)


def _video_graph(width, height, duration):
    """One filtergraph chain per CUT_EVERY seconds, cycling through sources that move in
    different ways, so every cut is a hard cut; one black (20-24 s) and one frozen
    (40-44 s) stretch."""
    w, h, seg = width, height, CUT_EVERY
    makers = [
        lambda i: "testsrc2=s=%dx%d:r=30:d=%d,hue=h=%d" % (w, h, seg, 40 * i),
        lambda i: ("mandelbrot=s=%dx%d:r=30:start_scale=%.2f:end_scale=0.01,trim=duration=%d,"
                   "scale=%d:%d" % (w // 4, h // 4, 3.0 - 0.1 * i, seg, w, h)),
        lambda i: ("life=s=%dx%d:r=30:seed=%d:ratio=0.3:mold=10,trim=duration=%d,"
                   "scale=%d:%d:flags=neighbor" % (w // 8, h // 8, 1000 + i, seg, w, h)),
        lambda i: "gradients=s=%dx%d:r=30:speed=0.02:seed=%d:d=%d" % (w, h, 7 + i, seg),
        lambda i: "smptehdbars=s=%dx%d:r=30:d=%d,scroll=h=0.004:v=0.002" % (w, h, seg),
    ]
    n = -(-duration // seg)
    chains = []
    for i in range(n):
        grain = ",noise=alls=4:allf=t"  # sensor-like noise: camera-like bitrates
        if i == 5:  # black (lens cap: still noisy)
            src = "color=c=black:s=%dx%d:r=30:d=%d" % (w, h, seg)
        elif i == 10:  # frozen: one frame held exactly, as a stuck encoder sends it
            src = "testsrc2=s=%dx%d:r=30:d=%d,loop=loop=-1:size=1,trim=duration=%d" % (
                w, h, seg, seg)
            grain = ""
        else:
            src = makers[i % len(makers)](i)
        chains.append("%s,fps=30,setsar=1,format=yuv420p%s,setpts=PTS-STARTPTS[v%d]"
                      % (src, grain, i))
    chains.append("%sconcat=n=%d:v=1:a=0[v]" % ("".join("[v%d]" % i for i in range(n)), n))
    return ";".join(chains)


def _audio_graph(textfile, duration):
    """Speech (flite) alone 0-20 s, chords alone 20-40 s, speech over quieter chords
    40-52 s, silence 52-56 s, chords 56-60 s (cut short at duration)."""
    d = duration
    speech = ("flite=textfile='%s':voice=kal16,aresample=48000,apad,atrim=duration=%d,"
              "volume=eval=frame:volume='between(t\\,0\\,20)+between(t\\,40\\,52)'[sp]"
              % (textfile, d))
    music = ("aevalsrc='%s':s=48000:d=%d,volume=eval=frame:"
             "volume='between(t\\,20\\,40)+0.4*between(t\\,40\\,52)+between(t\\,56\\,60)'[mu]"
             % (_chord_expr(), d))
    return ("%s;%s;[sp][mu]amix=inputs=2:normalize=0,aformat=channel_layouts=stereo,"
            "asetnsamples=n=1024:p=0[a]" % (speech, music))


@contextlib.contextmanager
def cache_lock(cache):
    """Holds an exclusive lock on the cache folder, so that two runs at once (a bench
    beside the test suite) do not build or generate the same file together."""
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(cache, ".lock"), "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def make_input(cache, name, duration=DURATION):
    """Returns the path of the cached input NAME (a key of SIZES), generating it (H.264 +
    AAC in MP4) first when it is not there yet. A duration under 60 s keeps the first
    duration seconds of the same recipe (a whole number of seconds)."""
    width, height, maxrate = SIZES[name]
    path = os.path.join(cache, "%s-%s-%ds.mp4" % (RECIPE, name, duration))
    if os.path.exists(path):
        return path
    os.makedirs(cache, exist_ok=True)
    textfile = os.path.join(cache, "speech.txt")
    with open(textfile, "w") as fh:
        fh.write(SPEECH_TEXT * 2)
    print("bench: generating %s (once; takes a minute or two)" % path, file=sys.stderr)
    tmp = "%s.%d.part.mp4" % (path, os.getpid())  # another run may be making it too
    graph = _video_graph(width, height, duration) + ";" + _audio_graph(textfile, duration)
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostats", "-y",
           "-filter_complex", graph,
           "-map", "[v]", "-map", "[a]", "-t", str(duration),
           "-c:v", "libx264", "-preset", "veryfast", "-crf", "21", "-maxrate", "%dM" % maxrate,
           "-bufsize", "%dM" % (2 * maxrate), "-g", "60", "-pix_fmt", "yuv420p",
           "-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-movflags", "+faststart", tmp]
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          timeout=1800)
    if proc.returncode != 0:
        sys.exit("bench: generating %s failed:\n%s\n%s" % (name, " ".join(cmd), proc.stderr))
    os.replace(tmp, path)
    return path


def make_excerpt(src, seconds):
    """The first SECONDS of src, stream-copied beside it; returns its path."""
    root, ext = os.path.splitext(src)
    path = "%s-first%ds%s" % (root, seconds, ext)
    if not os.path.exists(path):
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", src, "-t",
                        str(seconds), "-c", "copy", path], check=True, timeout=300)
    return path


def measure(cmd, env=None):
    """Runs cmd (stdout to /dev/null); returns (cpu s, wall s, peak RSS MB) of that
    child. Exits with its stderr when it fails."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env)
    err = proc.stderr.read().decode(errors="replace")  # until it closes: at exit
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit("bench: %s failed (exit %d):\n%s" % (" ".join(cmd), proc.returncode, err[-4000:]))
    return usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024.0


def median(values):
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2.0


def spread(values):
    """(max - min) / median, in percent."""
    m = median(values)
    return 100.0 * (max(values) - min(values)) / m if m else 0.0


def callgrind_instructions(cmd):
    """Instructions executed by cmd under valgrind's callgrind (all threads)."""
    if not shutil.which("valgrind"):
        sys.exit("bench: valgrind is not installed (apt-get install valgrind)")
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"] + cmd,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, timeout=3600)
    if "Collected :" not in out.stderr:
        sys.exit("bench: callgrind failed on %s:\n%s" % (" ".join(cmd), out.stderr[-2000:]))
    return int(out.stderr.split("Collected :")[1].split()[0])


def machine_line():
    """One line about the machine: CPU model, cores, load average now."""
    model = "?"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = os.getloadavg()
    return "%s, %d cores (shared: other processes run beside the bench), load avg %.2f %.2f %.2f" % (
        model, os.cpu_count() or 0, load[0], load[1], load[2])
