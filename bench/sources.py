#!/usr/bin/env python3
"""avfused with many sources: what each costs, and what a burst of them leaves.

Two measurements, each on a daemon of its own, with the same small inputs as the
integration tests (320x240 25 fps H.264 + AAC, made here with the ffmpeg CLI):

  many   N real-time sources (`realtime = yes`, `loop = yes`, a 6 s clip), all
         started together (max_sources raised to N). After --warmup seconds:
         VmRSS and Threads (/proc/PID/status) against the same daemon with no
         source, so per source; the reply time of the control socket's `status`
         and `sources` (median and max of 5, a REQ socket in this process); then
         SIGTERM and the time to the daemon's exit.
  burst  one looped real-time source as the baseline, then B file sources of a
         1 s clip (read as fast as possible) added by one reload, waited for
         until all ended, then dropped by another reload; --reloads times. VmRSS
         before the first burst, once all ended, and after they were dropped.

Every socket is local (ipc:// and tcp://127.0.0.1); every wait is bounded.

  bench/sources.py [--build DIR | --avfused PATH] [--many 64] [--burst 200]
                   [--reloads 3] [--warmup 10] [--only many|burst] [--no-max-sources]

Needs pyzmq (Debian: python3-zmq): re-runs itself with /usr/bin/python3 when the
python3 on the PATH lacks it.
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

try:
    import zmq
except ImportError:
    if sys.executable != "/usr/bin/python3" and os.access("/usr/bin/python3", os.X_OK):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    sys.exit("sources: needs pyzmq: apt-get install python3-zmq, then run with /usr/bin/python3")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

FFMPEG = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"]
NO_MAX_SOURCES = False  # --no-max-sources: an avfused from before the key


def proc_status(pid, key):
    with open("/proc/%d/status" % pid) as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError("no %s for pid %d" % (key, pid))


def make_clip(workdir, seconds):
    out = os.path.join(workdir, "clip%d.mp4" % seconds)
    subprocess.run(FFMPEG + ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
                             "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
                             "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast",
                             "-g", "25", "-c:a", "aac", out], check=True, timeout=120)
    return out


class Daemon:
    def __init__(self, avfused, workdir, name):
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir)
        self.conf = os.path.join(self.dir, "avfuse.conf")
        self.control = "ipc://" + os.path.join(self.dir, "control")
        self.avfused = avfused
        self.proc = None
        self.ctx = zmq.Context()

    def write(self, sources, max_sources):
        text = "[daemon]\npublish = ipc://%s/pub\ncontrol = %s\n" % (self.dir, self.control)
        if not NO_MAX_SOURCES:
            text += "max_sources = %d\n" % max(1, max_sources)
        for name, keys in sources.items():
            text += "[source %s]\n" % name + "".join("%s = %s\n" % kv for kv in keys.items())
        with open(self.conf, "w") as fh:
            fh.write(text)

    def start(self):
        self.err = open(os.path.join(self.dir, "stderr"), "w")
        self.proc = subprocess.Popen([self.avfused, "-c", self.conf], stdout=subprocess.DEVNULL,
                                     stderr=self.err)
        deadline = time.monotonic() + 30
        while self.ctl({"cmd": "status"}, timeout=1) is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("avfused did not start: see %s/stderr" % self.dir)

    def ctl(self, request, timeout=30):
        """(reply, seconds) or None on a timeout."""
        sock = self.ctx.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVTIMEO, int(timeout * 1000))
        sock.connect(self.control)
        try:
            start = time.monotonic()
            sock.send(json.dumps(request).encode())
            reply = json.loads(sock.recv())
            return reply, time.monotonic() - start
        except zmq.Again:
            return None
        finally:
            sock.close()

    def stop(self):
        start = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = None
        took = time.monotonic() - start
        self.err.close()
        self.ctx.term()
        return rc, took

    def rss(self):
        return proc_status(self.proc.pid, "VmRSS")

    def threads(self):
        return proc_status(self.proc.pid, "Threads")

    def wait_states(self, names, states, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.ctl({"cmd": "sources"})
            if got:
                now = {s["name"]: s["state"] for s in got[0]["sources"]}
                if all(now.get(n) in states for n in names):
                    return now
            time.sleep(0.5)
        raise RuntimeError("sources not %s within %d s" % ("/".join(states), timeout))


def settle(d, seconds=3.0):
    """The lowest VmRSS over a few seconds."""
    samples = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        samples.append(d.rss())
        time.sleep(0.25)
    return min(samples)


def bench_many(args, workdir, clip6):
    empty = Daemon(args.avfused, workdir, "empty")
    empty.write({}, 1)
    empty.start()
    time.sleep(2)
    rss0, threads0 = empty.rss(), empty.threads()
    empty.stop()
    d = Daemon(args.avfused, workdir, "many")
    sources = {"s%d" % i: {"type": "file", "url": clip6, "realtime": "yes", "loop": "yes"}
               for i in range(args.many)}
    d.write(sources, args.many)
    d.start()
    d.wait_states(sources, ("running",), 120)
    time.sleep(args.warmup)
    rss, threads = d.rss(), d.threads()
    times = {}
    for cmd in ("status", "sources"):
        took = []
        for _ in range(5):
            got = d.ctl({"cmd": cmd})
            took.append(got[1] if got else float("inf"))
        times[cmd] = took
    rc, stop_s = d.stop()
    print("many: %d real-time sources (320x240 25 fps H.264 + AAC, looped)" % args.many)
    print("  no source: VmRSS %d kB, %d threads" % (rss0, threads0))
    print("  %d sources after %d s: VmRSS %d kB (%.1f MB per source), %d threads (%.1f per "
          "source)" % (args.many, args.warmup, rss, (rss - rss0) / 1024.0 / args.many, threads,
                       (threads - threads0) / float(args.many)))
    for cmd, took in times.items():
        print("  control %-7s reply: median %.0f ms, max %.0f ms" %
              (cmd, 1000 * statistics.median(took), 1000 * max(took)))
    print("  SIGTERM to exit: %.2f s (exit %s)" % (stop_s, rc))


def bench_burst(args, workdir, clip1, clip6):
    d = Daemon(args.avfused, workdir, "burst")
    base = {"base": {"type": "file", "url": clip6, "realtime": "yes", "loop": "yes"}}
    burst = {"b%d" % i: {"type": "file", "url": clip1} for i in range(args.burst)}
    d.write(base, args.burst + 1)
    d.start()
    d.wait_states(base, ("running",), 60)
    time.sleep(args.warmup)
    baseline = settle(d)
    print("burst: %d file sources of a 1 s clip, by reload, beside a looped real-time one"
          % args.burst)
    print("  before: VmRSS %d kB, %d threads" % (baseline, d.threads()))
    for k in range(args.reloads):
        d.write(dict(base, **burst), args.burst + 1)
        start = time.monotonic()
        got = d.ctl({"cmd": "reload"}, timeout=120)
        reply_s = got[1] if got else float("nan")
        peak = d.rss()
        d.wait_states(burst, ("ended", "failed"), 600)
        took = time.monotonic() - start
        ended = settle(d)
        threads = d.threads()
        d.write(base, args.burst + 1)
        d.ctl({"cmd": "reload"}, timeout=120)
        dropped = settle(d)
        print("  burst %d: reload replied in %.2f s, all ended in %.1f s; VmRSS once ended "
              "%d kB (%+.1f MB), %d threads; after the reload that dropped them %d kB "
              "(%+.1f MB); seen during the burst %d kB"
              % (k + 1, reply_s, took, ended, (ended - baseline) / 1024.0, threads, dropped,
                 (dropped - baseline) / 1024.0, peak))
    rc, took = d.stop()
    print("  SIGTERM to exit: %.2f s (exit %s)" % (took, rc))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--avfused")
    ap.add_argument("--many", type=int, default=64)
    ap.add_argument("--burst", type=int, default=200)
    ap.add_argument("--reloads", type=int, default=3)
    ap.add_argument("--warmup", type=float, default=10)
    ap.add_argument("--only", choices=("many", "burst"))
    ap.add_argument("--no-max-sources", action="store_true",
                    help="write no max_sources (an avfused older than the key)")
    args = ap.parse_args()
    global NO_MAX_SOURCES
    NO_MAX_SOURCES = args.no_max_sources
    if not args.avfused:
        args.avfused = common.ensure_built(args.build, common.build_dir_binaries(args.build)[1])
    workdir = tempfile.mkdtemp(prefix="avfuse-bench-sources-")
    try:
        clip1, clip6 = make_clip(workdir, 1), make_clip(workdir, 6)
        print(common.machine_line())
        if args.only in (None, "many"):
            bench_many(args, workdir, clip6)
        if args.only in (None, "burst"):
            bench_burst(args, workdir, clip1, clip6)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
