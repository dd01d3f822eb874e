#!/usr/bin/env python3
"""Soak: avfused with four live sources for a long while, checked for leaks and growth.

The sources: three files read as live inputs (realtime, loop, live: an MP4, an MKV
and an audio-only WAV, of different lengths so that their loops never line up) and
an MPEG-TS stream over loopback UDP served by the ffmpeg CLI, which is stopped and
started again every --restart-every seconds (3 s away, longer than the source's
read_timeout, so every restart is a reconnect and a new epoch). A subscriber
checks that each source's seq is contiguous from 0 and its timeline never goes
back; /proc/PID/status gives VmRSS every 2 s. At the end SIGTERM must make the
daemon exit 0 with nothing from the sanitizers on stderr: in the ASan build (where
CI runs it) LeakSanitizer reports any leak at exit and makes the exit non-zero.

RSS growth is measured after a warm-up (the first minute, or a third of a shorter
run) that fills the decoders' and the allocator's pools: growth is the median RSS
of the last restart period minus that of the first one after the warm-up (the
stream's connection holds memory that comes and goes with it, so single samples
depend on where in its period they fall). avfused uses one malloc arena unless
MALLOC_ARENA_MAX says otherwise (daemon/avfused.c): every file loop and every
reconnection starts new threads, and with glibc's per-thread arenas a freed block
stays in the arena of the thread that allocated it, so the RSS creeps up while the
heap in use stays flat (malloc_stats() figures in docs/reliability.md). The limit applies to a build without ASan only:
ASan's own allocator grows by itself under this load, so its figures are printed,
not judged. The full soak therefore runs twice: the ASan build for leaks, the
plain build for RSS (docs/reliability.md). In the ASan build the quarantine of
freed memory is bounded (quarantine_size_mb=16) unless ASAN_OPTIONS says otherwise.

Usage: test_soak.py [--seconds N] [--restart-every N] [--rss-limit-mb N] [--trace]
Environment: AVFUSED_BIN (default avfused on PATH); AVFUSE_SOAK_SECONDS (600 by
default: the full soak, run by hand; CI registers a 60 s run); MALLOC_ARENA_MAX for
the daemon (avfused's own default is 1; 16 is glibc's on 2 cores). Exit 0 when every
check passes, 1 otherwise; the figures go to stdout either way.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from media import generate  # noqa: E402

AVFUSED = os.environ.get("AVFUSED_BIN", "avfused")
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "WARNING: ThreadSanitizer", "SUMMARY: ")
RSS_PERIOD_S = 2.0
RESTART_GAP_S = 3.0
STREAM = "cam"


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_media(workdir):
    def av(seconds, size, freq):
        return ["-f", "lavfi", "-i", "testsrc2=size=%s:rate=25" % size, "-f", "lavfi", "-i",
                "sine=frequency=%d:sample_rate=48000" % freq, "-t", str(seconds)]
    x264 = ["-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p"]
    return {
        "mp4": generate(workdir, av(23, "320x240", 440) + x264 + ["-c:a", "aac"], "a.mp4"),
        "mkv": generate(workdir, av(17, "256x144", 880) + x264 + ["-c:a", "libopus"], "b.mkv"),
        "wav": generate(workdir, ["-f", "lavfi", "-i", "sine=frequency=300:sample_rate=44100",
                                  "-t", "13"], "c.wav"),
        "ts": generate(workdir, av(11, "320x240", 660) + x264 + ["-c:a", "aac"], "d.ts"),
    }


class Server:
    """ffmpeg streaming a looped file to a loopback UDP port in real time."""

    def __init__(self, path, port):
        self.args = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-stream_loop",
                     "-1", "-i", path, "-c", "copy", "-f", "mpegts",
                     "udp://127.0.0.1:%d?pkt_size=1316" % port]
        self.proc = None
        self.restarts = 0

    def start(self):
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None


class Subscriber:
    """Every segment's (epoch, seq, t0) and the last status, per source."""

    def __init__(self, endpoint):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"seg/")
        self.sock.setsockopt(zmq.SUBSCRIBE, b"status/")
        self.sock.connect(endpoint)
        self.segments = {}
        self.status = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            if not self.sock.poll(100):
                continue
            topic, body = self.sock.recv_multipart()
            m = json.loads(body)
            with self.lock:
                if topic.startswith(b"seg/"):
                    self.segments.setdefault(m["source"], []).append(
                        (m["epoch"], m["seq"], m["t0"]))
                else:
                    self.status[m["source"]] = m

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()
        self.ctx.term()


def memory_kb(pid):
    """VmRSS and its anonymous and file-backed parts (RssAnon, RssFile), in kB."""
    got = {}
    with open("/proc/%d/status" % pid) as fh:
        for line in fh:
            key = line.split(":")[0]
            if key in ("VmRSS", "RssAnon", "RssFile"):
                got[key] = int(line.split()[1])
    if "VmRSS" not in got:
        raise RuntimeError("no VmRSS for pid %d" % pid)
    return got["VmRSS"], got.get("RssAnon", 0), got.get("RssFile", 0)


def is_asan(binary):
    """True when the binary links AddressSanitizer's runtime (its leak checker with it)."""
    path = shutil.which(binary) or binary
    out = subprocess.run(["ldd", path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True).stdout
    return "libasan" in out


def daemon_env():
    env = dict(os.environ)
    opts = [o for o in env.get("ASAN_OPTIONS", "").split(":") if o]
    if not any(o.startswith("detect_leaks=") for o in opts):
        opts.append("detect_leaks=1")
    if not any(o.startswith("quarantine_size_mb=") for o in opts):
        opts.append("quarantine_size_mb=16")
    env["ASAN_OPTIONS"] = ":".join(opts)
    return env


def write_config(path, endpoint, control, media, udp_port):
    text = ("[daemon]\npublish = %s\ncontrol = ipc://%s\nstatus_interval = 0.5\n\n"
            % (endpoint, control))
    for name, key in (("mp4", "mp4"), ("mkv", "mkv"), ("wav", "wav")):
        text += ("[source %s]\ntype = file\nurl = %s\nrealtime = yes\nloop = yes\nlive = yes\n\n"
                 % (name, media[key]))
    text += ("[source %s]\ntype = stream\nurl = udp://127.0.0.1:%d\nread_timeout = 1\n"
             "backoff_min = 0.2\nbackoff_max = 1\n" % (STREAM, udp_port))
    with open(path, "w") as fh:
        fh.write(text)


def mb(kb):
    return kb / 1024.0


def median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2.0


def rss_windows(samples, warmup, period, seconds, field=1):
    """The samples after the warm-up in whole windows of one period: (from, to, [kB])."""
    out = []
    lo = warmup
    while lo + period <= seconds + 1e-6:
        kb = [v[field] for v in samples if lo <= v[0] < lo + period]
        if kb:
            out.append((lo, lo + period, kb))
        lo += period
    return out


def run(seconds, restart_every, rss_limit_mb, trace=False):
    failures = []
    workdir = tempfile.mkdtemp(prefix="avfuse-soak-")
    daemon = server = sub = None
    try:
        media = make_media(workdir)
        udp_port = free_port(socket.SOCK_DGRAM)
        endpoint = "tcp://127.0.0.1:%d" % free_port()
        conf = os.path.join(workdir, "avfuse.conf")
        write_config(conf, endpoint, os.path.join(workdir, "control"), media, udp_port)
        server = Server(media["ts"], udp_port)
        server.start()
        sub = Subscriber(endpoint)  # connects as soon as the daemon binds: no seq is missed
        errpath = os.path.join(workdir, "stderr")
        err = open(errpath, "w")
        asan = is_asan(AVFUSED)
        daemon = subprocess.Popen([AVFUSED, "-c", conf], stdout=subprocess.DEVNULL, stderr=err,
                                  env=daemon_env())
        start = time.monotonic()
        warmup = min(60.0, seconds / 3.0)
        samples = []  # (seconds since start, VmRSS, RssAnon, RssFile in kB)
        next_restart = start + restart_every
        next_sample = start
        print("soak: %d s, 4 sources, UDP server restarted every %d s, warm-up %d s, %s build, "
              "MALLOC_ARENA_MAX=%s" % (seconds, restart_every, warmup,
                                       "ASan+LSan" if asan else "non-ASan",
                                       daemon_env().get("MALLOC_ARENA_MAX", "avfused's 1")), flush=True)
        while time.monotonic() - start < seconds:
            now = time.monotonic()
            if daemon.poll() is not None:
                failures.append("avfused exited early with status %d" % daemon.returncode)
                break
            if now >= next_sample:
                samples.append((now - start,) + memory_kb(daemon.pid))
                next_sample += RSS_PERIOD_S
                if trace or len(samples) % 30 == 1:
                    print("  t=%4.0f s  VmRSS %.1f MB (anon %.1f, file %.1f)"
                          % (samples[-1][0], mb(samples[-1][1]), mb(samples[-1][2]),
                             mb(samples[-1][3])), flush=True)
            if now >= next_restart:
                server.stop()
                time.sleep(RESTART_GAP_S)
                server.start()
                server.restarts += 1
                next_restart = time.monotonic() + restart_every
            time.sleep(0.1)
        if daemon.poll() is None:
            samples.append((time.monotonic() - start,) + memory_kb(daemon.pid))
            daemon.send_signal(signal.SIGTERM)
            try:
                rc = daemon.wait(60)  # LeakSanitizer's scan at exit takes a few seconds
            except subprocess.TimeoutExpired:
                daemon.kill()
                rc = daemon.wait(5)
                failures.append("avfused did not exit within 60 s of SIGTERM")
            if rc != 0:
                failures.append("avfused exited with status %d after SIGTERM" % rc)
        err.close()
        time.sleep(0.5)  # the final status messages
        sub.close()
        with open(errpath) as fh:
            stderr = fh.read()
        marks = [line for line in stderr.splitlines() if any(m in line for m in SANITIZER_MARKS)]
        if marks:
            failures.append("sanitizer output on stderr:\n    " + "\n    ".join(marks[:20]))

        # RSS after the warm-up, per restart period: the stream's connection holds
        # memory that grows while it runs (libavformat's UDP ring buffer fills page by
        # page) and goes with the connection, so RSS saw-tooths with the restarts;
        # start and end are medians over the first and last whole period after the
        # warm-up, which a leak would still set apart, and the saw-tooth would not
        windows = rss_windows(samples, warmup, restart_every, seconds)
        anon = rss_windows(samples, warmup, restart_every, seconds, 2)
        files = rss_windows(samples, warmup, restart_every, seconds, 3)
        for (lo, hi, kb), a, f in zip(windows, anon, files):
            print("  RSS %4.0f-%4.0f s: min %.1f, median %.1f, max %.1f MB; median anon %.1f, "
                  "file %.1f MB" % (lo, hi, mb(min(kb)), mb(median(kb)), mb(max(kb)),
                                    mb(median(a[2])), mb(median(f[2]))))
        if len(windows) >= 2:
            rss_start, rss_end = median(windows[0][2]), median(windows[-1][2])
            rss_max = max(max(kb) for _, _, kb in windows)
            growth = rss_end - rss_start
            print("RSS after warm-up: start %.1f MB, end %.1f MB, max %.1f MB, growth %+.2f MB "
                  "(limit %.1f MB%s)" % (mb(rss_start), mb(rss_end), mb(rss_max), mb(growth),
                                         rss_limit_mb, ", not applied to ASan" if asan else ""))
            if not asan and mb(growth) >= rss_limit_mb:
                failures.append("RSS grew by %.2f MB after the warm-up (limit %.1f MB)"
                                % (mb(growth), rss_limit_mb))
        elif not asan:
            failures.append("too few RSS samples after the warm-up")

        # every source: seq contiguous from 0, timeline forward, kept publishing
        for name in ("mp4", "mkv", "wav", STREAM):
            segs = sub.segments.get(name, [])
            seqs = [s for _, s, _ in segs]
            status = sub.status.get(name, {})
            counters = status.get("counters", {})
            drops = counters.get("drops", {})
            epochs = len(set(e for e, _, _ in segs))
            print("  %-4s %4d segments, %3d epochs, reconnects %s, drops packets/frames/"
                  "segments %s/%s/%s, publish drops %s, final state %s"
                  % (name, len(segs), epochs, counters.get("reconnects"), drops.get("packets"),
                     drops.get("frames"), drops.get("segments"), counters.get("publish_drops"),
                     status.get("state")))
            if seqs != list(range(len(seqs))):
                gaps = [(a, b) for a, b in zip(seqs, seqs[1:]) if b != a + 1]
                failures.append("%s: seq not contiguous from 0 (first %s, gaps %s)"
                                % (name, seqs[:1], gaps[:5]))
            back = [(a, b) for a, b in zip(segs, segs[1:]) if b[2] < a[2]]
            if back:
                failures.append("%s: timeline went back: %s" % (name, back[:3]))
            # a file in real time gives a segment a second; the stream loses the restarts
            expected = seconds * (0.5 if name == STREAM else 0.8)
            if len(segs) < expected:
                failures.append("%s: %d segments, expected at least %d"
                                % (name, len(segs), expected))
            if status.get("state") != "ended":
                failures.append("%s: final state %s, not ended" % (name, status.get("state")))
        reconnects = sub.status.get(STREAM, {}).get("counters", {}).get("reconnects", 0)
        print("stream server restarts: %d, reconnects of the stream source: %d"
              % (server.restarts, reconnects))
        if reconnects < server.restarts:
            failures.append("%d server restarts but %d reconnects" % (server.restarts, reconnects))
        if asan:
            print("LeakSanitizer at exit: %s" % ("no leak reported" if not marks else "REPORTED"))
    finally:
        if daemon and daemon.poll() is None:
            daemon.kill()
            daemon.wait(5)
        if server:
            server.stop()
        if sub and not sub.stop.is_set():
            sub.close()
        shutil.rmtree(workdir, ignore_errors=True)
    for f in failures:
        print("FAIL: " + f, file=sys.stderr)
    if not failures:
        print("OK")
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float,
                    default=float(os.environ.get("AVFUSE_SOAK_SECONDS", "600")),
                    help="how long the daemon runs (default: AVFUSE_SOAK_SECONDS or 600)")
    ap.add_argument("--restart-every", type=float, default=None,
                    help="seconds between restarts of the UDP server (default: 60, or a "
                         "third of a shorter run)")
    ap.add_argument("--rss-limit-mb", type=float, default=2.0,
                    help="allowed VmRSS growth after the warm-up (default 2)")
    ap.add_argument("--trace", action="store_true", help="print every RSS sample")
    args = ap.parse_args()
    restart = args.restart_every or min(60.0, args.seconds / 3.0)
    return run(args.seconds, restart, args.rss_limit_mb, args.trace)


if __name__ == "__main__":
    sys.exit(main())
