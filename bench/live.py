#!/usr/bin/env python3
"""avfused at live scale: N real-time 720p30 sources, CPU, drops and end-to-end latency.

For each N of --streams (default 1,4,8,12,16) it starts avfused with N sources on
the same generated 60 s 720p30 H.264 + AAC input (the one bench/compare.py makes),
each `type = file`, `realtime = yes`, `loop = yes`, `live = yes` (paced as a camera
would deliver it, and queues that drop the oldest work instead of waiting), all
starting together, and a ZeroMQ subscriber in this process. After --warmup seconds
it measures for --duration seconds:
  - the daemon's CPU use in cores: utime + stime of all its threads from
    /proc/PID/stat, over the window, divided by the window;
  - the whole machine's busy cores over the window (/proc/stat), so a neighbour's
    load is seen beside the figure;
  - drops: the sources' last status counters (drops of packets, frames and
    segments in the bounded queues, and publish drops), summed over sources, for
    the daemon's whole life (warm-up included), and the gaps in seq the
    subscriber saw;
  - end-to-end latency of each segment published in the window: its arrival here
    (CLOCK_REALTIME) minus the wall-clock time of its end on the media clock,
    wallclock + (t1 - t0); the message's wallclock has millisecond resolution and
    is truncated, so this reads up to 1 ms high. The daemon's own latency_ms (to
    its hand-over to the publishing socket) is shown beside it.
Prints one row per run, the median over --repeat runs per N, and the target of
issue 7: 12 streams with no drops and end-to-end p99 <= 100 ms.

Needs pyzmq (Debian: python3-zmq); run with /usr/bin/python3, or any python3, which
re-executes itself with /usr/bin/python3 when it lacks zmq.

  bench/live.py [--build DIR | --avfused PATH] [--streams 1,4,8,12,16]
                [--duration 30] [--warmup 5] [--repeat 1] [--cache DIR | --media FILE]
"""
import argparse
import calendar
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

try:
    import zmq
except ImportError:
    if sys.executable != "/usr/bin/python3" and os.access("/usr/bin/python3", os.X_OK):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    sys.exit("live: needs pyzmq: apt-get install python3-zmq, then run with /usr/bin/python3")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

TARGET_STREAMS = 12
TARGET_P99_MS = 100.0
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_cpu(pid):
    """utime + stime of every thread of pid, in seconds."""
    with open("/proc/%d/stat" % pid) as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)


def machine_cpu():
    """(busy, total) jiffies of all cores together, from /proc/stat."""
    with open("/proc/stat") as fh:
        v = [int(x) for x in fh.readline().split()[1:]]
    idle = v[3] + v[4]  # idle + iowait
    total = sum(v[:8])  # guest time is already inside user
    return total - idle, total


def wallclock_seconds(text):
    """'2026-11-27T12:00:17.000Z' -> seconds since the epoch."""
    day, _, frac = text.rstrip("Z").partition(".")
    return calendar.timegm(time.strptime(day, "%Y-%m-%dT%H:%M:%S")) + float("0." + (frac or "0"))


def percentile(values, q):
    """Nearest-rank percentile; None when empty."""
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q / 100.0 * len(s)) - 1))]


class Subscriber:
    """Receives every message in a thread; keeps (arrival CLOCK_REALTIME, topic, body)."""

    def __init__(self, endpoint):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RCVHWM, 0)  # never drop here: drops must be the daemon's
        self.sock.setsockopt(zmq.SUBSCRIBE, b"")
        self.sock.connect(endpoint)
        self.messages = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            if self.sock.poll(50):
                topic, body = self.sock.recv_multipart()
                self.messages.append((time.time(), topic, body))  # parsed later, not on the clock

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()
        self.ctx.term()


def write_config(path, endpoint, media, n):
    text = ("[daemon]\npublish = %s\ncontrol = none\nstatus_interval = 1\nlog_level = warn\n"
            % endpoint)
    for i in range(n):
        text += ("\n[source cam%02d]\ntype = file\nurl = %s\nrealtime = yes\nloop = yes\n"
                 "live = yes\n" % (i, media))
    with open(path, "w") as fh:
        fh.write(text)


def run_once(avfused, media, n, warmup, duration, workdir):
    """One daemon with n sources; returns a dict of results."""
    endpoint = "tcp://127.0.0.1:%d" % free_port()
    conf = os.path.join(workdir, "live-%d.conf" % n)
    write_config(conf, endpoint, media, n)
    sub = Subscriber(endpoint)
    errpath = os.path.join(workdir, "avfused-%d.stderr" % n)
    with open(errpath, "w") as err:
        proc = subprocess.Popen([avfused, "-c", conf], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err)
    try:
        time.sleep(warmup)
        if proc.poll() is not None:
            raise RuntimeError("avfused exited (%d) during warm-up" % proc.returncode)
        t_start = time.time()
        cpu0, mach0, self0 = process_cpu(proc.pid), machine_cpu(), time.process_time()
        time.sleep(duration)
        cpu1, mach1, self1 = process_cpu(proc.pid), machine_cpu(), time.process_time()
        t_end = time.time()
        time.sleep(1.5)  # the status after the window, and segments ending in it
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        sub.close()
    with open(errpath) as fh:
        errors = [line.rstrip() for line in fh if line.strip()]

    e2e, own, seqs, statuses = [], [], {}, {}
    for arrival, topic, body in sub.messages:
        m = json.loads(body)
        if topic.startswith(b"status/"):
            statuses[m["source"]] = m
            continue
        if not topic.startswith(b"seg/"):
            continue
        seqs.setdefault(m["source"], []).append(m["seq"])
        if "wallclock" not in m:
            continue
        end = wallclock_seconds(m["wallclock"]) + (m["t1"] - m["t0"])
        if t_start <= end < t_end:
            e2e.append(1000.0 * (arrival - end))
            if "latency_ms" in m:
                own.append(m["latency_ms"])
    drops = {"packets": 0, "frames": 0, "segments": 0}
    publish_drops = 0
    for st in statuses.values():
        for k in drops:
            drops[k] += st["counters"]["drops"][k]
        publish_drops += st["counters"]["publish_drops"]
    gaps = 0
    for s in seqs.values():
        s = sorted(set(s))
        gaps += (s[-1] - s[0] + 1) - len(s)
    window = t_end - t_start
    return {
        "n": n, "cores": (cpu1 - cpu0) / window,
        "machine": (mach1[0] - mach0[0]) / (mach1[1] - mach0[1]) * (os.cpu_count() or 1),
        "sub": (self1 - self0) / window,
        "drops": drops, "publish_drops": publish_drops, "gaps": gaps,
        "sources_seen": len(seqs), "segments": len(e2e), "expected": int(n * window),
        "e2e": e2e, "own": own, "errors": errors,
    }


def fmt_ms(v):
    return "%7.1f" % v if v is not None else "      -"


HEADER = ("  %-9s %6s %7s %6s  %-14s %7s %5s %9s  %7s %7s %7s  %7s %7s" % (
    "N", "cores", "machine", "sub", "drops p/f/s", "publish", "gaps", "segments",
    "p50", "p99", "max", "own p50", "own p99"))


def row(label, r):
    d = r["drops"]
    return "  %-9s %6.2f %7.2f %6.3f  %-14s %7d %5d %4d/%-4d  %s %s %s  %s %s" % (
        label, r["cores"], r["machine"], r["sub"],
        "%d/%d/%d" % (d["packets"], d["frames"], d["segments"]), r["publish_drops"], r["gaps"],
        r["segments"], r["expected"], fmt_ms(percentile(r["e2e"], 50)),
        fmt_ms(percentile(r["e2e"], 99)), fmt_ms(max(r["e2e"]) if r["e2e"] else None),
        fmt_ms(percentile(r["own"], 50)), fmt_ms(percentile(r["own"], 99)))


def total_drops(r):
    return sum(r["drops"].values()) + r["publish_drops"] + r["gaps"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=common.DEFAULT_BUILD,
                    help="build folder (default: build/ of this tree; built when missing)")
    ap.add_argument("--avfused", help="the avfused binary (default: BUILD/daemon/avfused)")
    ap.add_argument("--streams", default="1,4,8,12,16",
                    help="comma-separated stream counts (default %(default)s)")
    ap.add_argument("--duration", type=float, default=30.0,
                    help="seconds measured per run (default %(default)s)")
    ap.add_argument("--warmup", type=float, default=5.0,
                    help="seconds before measuring (default %(default)s)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs per stream count, round-robin (default %(default)s)")
    ap.add_argument("--cache", default=common.DEFAULT_CACHE,
                    help="folder of the generated inputs (default %(default)s)")
    ap.add_argument("--input", default="720p30", choices=sorted(common.SIZES),
                    help="which generated input every source plays (default %(default)s)")
    ap.add_argument("--media", help="play this file instead of a generated input")
    args = ap.parse_args()
    counts = [int(x) for x in args.streams.split(",") if x]
    if not counts or min(counts) < 1 or args.duration < 2 or args.repeat < 1:
        ap.error("need stream counts >= 1, --duration >= 2 and --repeat >= 1")
    avfused = args.avfused or common.build_dir_binaries(args.build)[1]
    avfused = os.path.abspath(common.ensure_built(args.build, avfused))
    media = os.path.abspath(args.media) if args.media else common.make_input(args.cache, args.input)

    print("avfused: %s (build type %s, built %s)" % (avfused, common.build_type(
        os.path.dirname(os.path.dirname(avfused))), common.built_at(avfused)))
    print("machine: %s" % common.machine_line())
    print("input: %s, every source: type = file, realtime = yes, loop = yes, live = yes" % media)
    print("window: %.0f s after %.0f s warm-up, %d run(s) per N; cores = daemon utime+stime / "
          "window; machine = busy cores of the whole machine (2 shared); sub = this "
          "subscriber's cores" % (args.duration, args.warmup, args.repeat))
    print("drops p/f/s = queue drops of packets/frames/segments, publish = publish drops, "
          "gaps = seq gaps seen (whole daemon life); latency ms: end of segment on the media "
          "clock -> arrival here (own = the daemon's latency_ms, to its publishing socket)")
    print(HEADER)
    results = {n: [] for n in counts}
    with tempfile.TemporaryDirectory(prefix="avfuse-live-") as workdir:
        for rep in range(args.repeat):
            for n in counts:
                r = run_once(avfused, media, n, args.warmup, args.duration, workdir)
                results[n].append(r)
                label = "%d" % n if args.repeat == 1 else "%d #%d" % (n, rep + 1)
                print(row(label, r), flush=True)
                for line in r["errors"][:5]:
                    print("      avfused: %s" % line)
                if r["sources_seen"] < n:
                    print("      only %d of %d sources published segments" % (r["sources_seen"], n))
    if args.repeat > 1:
        print("\nmedians over %d runs (spread = (max - min) / median):" % args.repeat)
        for n in counts:
            rs = results[n]
            cores = [r["cores"] for r in rs]
            p99 = [percentile(r["e2e"], 99) for r in rs if r["e2e"]]
            p50 = [percentile(r["e2e"], 50) for r in rs if r["e2e"]]
            print("  N=%-3d cores %.2f (spread %.0f%%)  e2e p50 %s  p99 %s (runs %s)  drops in "
                  "all runs %d" % (
                      n, common.median(cores), common.spread(cores),
                      fmt_ms(common.median(p50)).strip() if p50 else "-",
                      fmt_ms(common.median(p99)).strip() if p99 else "-",
                      ", ".join("%.1f" % x for x in p99), sum(total_drops(r) for r in rs)))
    print()
    if TARGET_STREAMS not in results:
        print("target: %d streams with no drops and p99 <= %.0f ms: not run (add %d to --streams)"
              % (TARGET_STREAMS, TARGET_P99_MS, TARGET_STREAMS))
        return
    rs = results[TARGET_STREAMS]
    p99s = [percentile(r["e2e"], 99) for r in rs if r["e2e"]]
    p99 = common.median(p99s) if p99s else None
    drops = sum(total_drops(r) for r in rs)
    complete = all(r["sources_seen"] == TARGET_STREAMS for r in rs)
    ok = drops == 0 and p99 is not None and p99 <= TARGET_P99_MS and complete
    print("target: %d streams, no drops and end-to-end p99 <= %.0f ms: drops %d, p99 %s ms%s "
          "(2 shared cores, machine busy %.2f cores during the run): %s" % (
              TARGET_STREAMS, TARGET_P99_MS, drops, "%.1f" % p99 if p99 is not None else "-",
              " (median of %d runs)" % len(p99s) if len(p99s) > 1 else "",
              common.median([r["machine"] for r in rs]), "MET" if ok else "NOT MET"))


if __name__ == "__main__":
    main()
