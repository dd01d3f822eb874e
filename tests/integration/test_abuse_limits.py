#!/usr/bin/env python3
"""avfused stays manageable under abuse: slow clients of the metrics page, more
sources than it should run, memory after a burst of sources, absurdly long values.

Usage:
    AVFUSE_BIN=build/tools/avfuse AVFUSED_BIN=build/daemon/avfused \
        python3 tests/integration/test_abuse_limits.py -v

Every client runs on 127.0.0.1, bounded in number and time, and every socket it
opens is closed again. The daemon's memory is VmRSS from /proc/PID/status; under
AddressSanitizer or ThreadSanitizer (their allocators keep freed memory) it is
printed but not judged.
The figures are printed at the end (docs/reliability.md quotes them).
"""
import os
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import media  # noqa: E402
from procinfo import rss_kb, sanitized, threads  # noqa: E402
import test_daemon as td  # noqa: E402

AVFUSE = os.environ.get("AVFUSE_BIN")
AVFUSED = os.environ.get("AVFUSED_BIN")

SLOW_CLIENTS = 200
SLOW_SECONDS = 15
SLOW_BYTE_EVERY = 2.0
SCRAPE_EVERY = 0.5
SCRAPE_TIMEOUT = 2.0
# the slow clients connect during the first moment, when the daemon's one
# metrics thread may be busy accepting them
FIRST_MOMENT = 1.0
# the whole-request deadline of daemon/prometheus.c, and the sweep's lateness
REQUEST_DEADLINE = 5.0

BURST = 80
BURST_RELOADS = 3
RSS_BOUND_KB = 20 * 1024

LONG_URL = 60000

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")

WORKDIR = None
MEDIA = {}
FIGURES = []


def setUpModule():
    global WORKDIR
    WORKDIR = td.setup_workdir("avfuse-abuse-")
    av = ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
          "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    enc = ["-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-c:a", "aac"]
    MEDIA["clip1"] = media.generate(WORKDIR, av + ["-t", "1"] + enc, "clip1.mp4")
    MEDIA["clip6"] = media.generate(WORKDIR, av + ["-t", "6"] + enc, "clip6.mp4")


def tearDownModule():
    if FIGURES:
        sys.stderr.write("\n" + "\n".join(FIGURES) + "\n")


def scrape(port, timeout=SCRAPE_TIMEOUT):
    """The metrics page, or None when it could not be had in time."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                    timeout=timeout) as resp:
            return resp.read().decode() if resp.status == 200 else None
    except OSError:
        return None


def ctl(daemon, *args, timeout=10):
    return subprocess.run([AVFUSE, "ctl", "-s", "ipc://" + daemon.control, "--json"] +
                          list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=timeout)


def check_config(path):
    return subprocess.run([AVFUSED, "-n", "-c", path], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=30)


def write_sources(path, count, daemon_extra=""):
    """A configuration of count file sources; returns the line of each header."""
    lines = ["[daemon]", "control = none", daemon_extra]
    headers = []
    for i in range(count):
        headers.append(len(lines) + 1)
        lines += ["[source s%d]" % i, "type = file", "url = %s" % MEDIA["clip1"]]
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return headers


class SlowClients:
    """count connections to a port, each sending one byte of a request every period
    seconds, never the whole of it; one the daemon closes is opened again at once,
    so that count of them hang on all the time. Notes how long each one lasted."""

    REQUEST = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200

    def __init__(self, testcase, port, count, period):
        self.port = port
        self.period = period
        self.start = time.monotonic()
        self.socks = [None] * count
        self.opened = [0.0] * count
        self.sent = [0] * count
        self.lifetimes = []  # seconds from connect to the daemon's close
        self.failed_connects = 0
        self.stop = threading.Event()
        testcase.addCleanup(self.close)
        for i in range(count):
            self._open(i)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _open(self, i):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", self.port))
            s.setblocking(False)
        except OSError:
            self.failed_connects += 1
            s.close()
            s = None
        self.socks[i] = s
        self.opened[i] = time.monotonic()
        self.sent[i] = 0

    @staticmethod
    def _closed(s):
        try:
            return s.recv(4096, socket.MSG_PEEK) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    def _run(self):
        while not self.stop.is_set():
            for i, s in enumerate(self.socks):
                if s is not None and not self._closed(s):
                    try:
                        s.send(self.REQUEST[self.sent[i] % len(self.REQUEST):][:1])
                        self.sent[i] += 1
                        continue
                    except OSError:
                        pass
                if s is not None:
                    self.lifetimes.append(time.monotonic() - self.opened[i])
                    s.close()
                self._open(i)
            self.stop.wait(self.period)

    def close(self):
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(10)
        for s in self.socks:
            if s is not None:
                s.close()
        self.socks = []


class TestSlowMetricsClients(td.DaemonTestCase):
    def test_scrapes_served_while_200_slow_clients_hang_on(self):
        port = td.free_port()
        d = td.Daemon(self, {"a": td.file_source(MEDIA["clip6"], loop="yes")},
                      "metrics = 127.0.0.1:%d\n" % port)
        deadline = time.monotonic() + 20
        while scrape(port) is None:
            self.assertIsNone(d.proc.poll(), d.stderr())
            self.assertLess(time.monotonic(), deadline, "no metrics page within 20 s")
            time.sleep(0.2)
        slow = SlowClients(self, port, SLOW_CLIENTS, SLOW_BYTE_EVERY)
        results = []  # (seconds since the slow clients connected, ok)
        while time.monotonic() - slow.start < SLOW_SECONDS:
            t = time.monotonic() - slow.start
            results.append((t, scrape(port) is not None))
            time.sleep(max(0.0, SCRAPE_EVERY - (time.monotonic() - slow.start - t)))
        slow.close()
        ok = sum(1 for _, good in results if good)
        late_failures = [round(t, 1) for t, good in results if not good and t >= FIRST_MOMENT]
        lasted = sorted(slow.lifetimes)
        FIGURES.append(
            "metrics: %d slow clients (a byte every %g s, reconnecting when closed) for %d s: "
            "%d of %d scrapes succeeded (%.1f %%), %d failed after the first %g s; the daemon "
            "closed %d slow connections, after %.1f s at most (median %.1f s)"
            % (SLOW_CLIENTS, SLOW_BYTE_EVERY, SLOW_SECONDS, ok, len(results),
               100.0 * ok / len(results), len(late_failures), FIRST_MOMENT, len(lasted),
               lasted[-1] if lasted else float("nan"),
               lasted[len(lasted) // 2] if lasted else float("nan")))
        self.assertIsNone(d.proc.poll(), "the daemon died:\n%s" % d.stderr())
        self.assertEqual(late_failures, [], FIGURES[-1])
        # each slow client is cut at its whole-request deadline, not kept alive by
        # its trickle (the sweep runs a few times a second; the clients look every
        # SLOW_BYTE_EVERY seconds)
        self.assertGreaterEqual(len(lasted), SLOW_CLIENTS, FIGURES[-1])
        self.assertLess(lasted[-1], REQUEST_DEADLINE + SLOW_BYTE_EVERY + 1, FIGURES[-1])
        self.assertIsNotNone(scrape(port))
        rc, _ = d.terminate()
        self.assertEqual(rc, 0, d.stderr())


class TestSourceLimit(td.DaemonTestCase):
    def test_check_refuses_more_sources_than_max_sources(self):
        path = os.path.join(WORKDIR, "many.conf")
        headers = write_sources(path, 65)  # the default max_sources is 64
        proc = check_config(path)
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertIn("%s:%d: " % (path, headers[64]), proc.stderr)
        self.assertIn("max_sources", proc.stderr)
        write_sources(path, 65, "max_sources = 65")
        proc = check_config(path)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("65 sources", proc.stdout)
        headers = write_sources(path, 3, "max_sources = 2")
        proc = check_config(path)
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertIn("%s:%d: " % (path, headers[2]), proc.stderr)
        for bad in ("0", "-1", "1.5", "100000", "many"):
            write_sources(path, 1, "max_sources = %s" % bad)
            proc = check_config(path)
            self.assertEqual(proc.returncode, 1, bad)
            self.assertIn("%s:3: max_sources must be" % path, proc.stderr)

    def test_add_and_reload_beyond_max_sources_are_refused(self):
        src = td.file_source(MEDIA["clip6"], loop="yes")
        d = td.Daemon(self, {"a": src}, "max_sources = 2\n")
        d.wait_ready()
        proc = ctl(d, "add", "b", "type=file", "url=" + MEDIA["clip6"], "loop=true")
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        proc = ctl(d, "add", "c", "type=file", "url=" + MEDIA["clip6"], "loop=true")
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertIn("max_sources", proc.stdout + proc.stderr)
        self.assertIn("2", proc.stdout + proc.stderr)
        reply = d.ctl({"cmd": "sources"})
        self.assertEqual(sorted(s["name"] for s in reply["sources"]), ["a", "b"])
        # a reload to three sources is refused whole, with the line of the third
        d.write_config({"a": src, "b": src, "c": src}, "max_sources = 2\n")
        with open(d.conf) as fh:
            third = fh.read().splitlines().index("[source c]") + 1
        reply = d.ctl({"cmd": "reload"})
        self.assertFalse(reply["ok"], reply)
        self.assertIn("%s:%d: " % (d.conf, third), reply["error"])
        self.assertIn("max_sources", reply["error"])
        reply = d.ctl({"cmd": "sources"})
        self.assertEqual(sorted(s["name"] for s in reply["sources"]), ["a", "b"])
        # raised by a reload, the limit lets the third in
        d.write_config({"a": src, "b": src, "c": src}, "max_sources = 3\n")
        reply = d.ctl({"cmd": "reload"})
        self.assertTrue(reply["ok"], reply)
        reply = d.ctl({"cmd": "sources"})
        self.assertEqual(sorted(s["name"] for s in reply["sources"]), ["a", "b", "c"])
        rc, _ = d.terminate()
        self.assertEqual(rc, 0, d.stderr())


class TestMemoryAfterBurst(td.DaemonTestCase):
    def wait_ended(self, d, names, timeout):
        deadline = time.monotonic() + timeout
        while True:
            reply = d.ctl({"cmd": "sources"}, timeout=10)
            states = {s["name"]: s["state"] for s in reply["sources"]}
            if all(states.get(n) in ("ended", "failed") for n in names):
                failed = [n for n in names if states[n] == "failed"]
                self.assertEqual(failed, [], "burst sources failed:\n%s" % d.stderr()[-3000:])
                return
            self.assertIsNone(d.proc.poll(), "the daemon died:\n%s" % d.stderr()[-3000:])
            self.assertLess(time.monotonic(), deadline,
                            "the burst did not end within %d s: %s" % (timeout, states))
            time.sleep(0.5)

    def settle(self, pid, seconds=2.0):
        """VmRSS after a short settling: the lowest of a few samples."""
        samples = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            samples.append(rss_kb(pid))
            time.sleep(0.25)
        return min(samples)

    def test_rss_returns_after_a_burst_of_sources_ends(self):
        base = {"base": td.file_source(MEDIA["clip6"], loop="yes")}
        burst = {"b%d" % i: {"type": "file", "url": MEDIA["clip1"]} for i in range(BURST)}
        d = td.Daemon(self, base, "max_sources = %d\n" % (BURST + 1))
        sub = self.subscribe(d)
        sub.wait(lambda: len(sub.segments("base")) >= 3, 30, "the baseline source")
        time.sleep(2)
        pid = d.proc.pid
        baseline = self.settle(pid)
        base_threads = threads(pid)
        rows = []
        start = time.monotonic()
        for name in burst:
            proc = ctl(d, "add", name, "type=file", "url=" + MEDIA["clip1"])
            self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.wait_ended(d, burst, 120)
        took = time.monotonic() - start
        ended = self.settle(pid)
        rows.append(("ctl add", took, ended, threads(pid)))
        for k in range(BURST_RELOADS):
            d.write_config(base)  # drops the burst ...
            self.assertTrue(d.ctl({"cmd": "reload"}, timeout=30)["ok"])
            removed = self.settle(pid)
            d.write_config(dict(base, **burst), "max_sources = %d\n" % (BURST + 1))  # ... again
            start = time.monotonic()
            self.assertTrue(d.ctl({"cmd": "reload"}, timeout=30)["ok"])
            self.wait_ended(d, burst, 120)
            took = time.monotonic() - start
            rows.append(("reload %d" % (k + 1), took, self.settle(pid), threads(pid)))
            rows[-1] += (removed,)
        FIGURES.append("memory: %d file sources of a 1 s clip beside a looped one; VmRSS "
                       "before the burst %d kB, %d threads" % (BURST, baseline, base_threads))
        for row in rows:
            FIGURES.append("  %-9s all ended in %5.1f s: VmRSS %d kB (%+d kB), %d threads%s"
                           % (row[0], row[1], row[2], row[2] - baseline, row[3],
                              "; after the previous burst was removed %d kB (%+d kB)"
                              % (row[4], row[4] - baseline) if len(row) > 4 else ""))
        self.assertIsNone(d.proc.poll(), "the daemon died:\n%s" % d.stderr()[-3000:])
        if sanitized(pid):
            FIGURES[-1 - len(rows)] += " [sanitizer build: no bound]"
        else:
            text = "\n".join(FIGURES[-1 - len(rows):])
            for row in rows:
                self.assertLess(row[2] - baseline, RSS_BOUND_KB, text)
                self.assertLessEqual(row[3], base_threads, text)
                if len(row) > 4:
                    self.assertLess(row[4] - baseline, RSS_BOUND_KB, text)
        rc, _ = d.terminate(timeout=10)
        self.assertEqual(rc, 0, d.stderr()[-3000:])
        for mark in SANITIZER_MARKS:
            self.assertNotIn(mark, d.stderr())


class TestLongValues(td.DaemonTestCase):
    def test_a_60000_character_url_is_refused_without_echo(self):
        d = td.Daemon(self, {"a": td.file_source(MEDIA["clip6"], loop="yes")})
        sub = self.subscribe(d)
        sub.wait(lambda: len(sub.segments("a")) >= 1, 30, "the first segment")
        url = "/" + "x" * (LONG_URL - 1)
        for key, kind in (("url", "file"), ("output", "file"), ("device", "camera")):
            source = {"name": "long", "type": kind, key: url}
            if kind == "file" and key != "url":
                source["url"] = MEDIA["clip1"]
            reply = d.ctl({"cmd": "add", "source": source})
            self.assertFalse(reply["ok"], reply)
            self.assertIn(key, reply["error"])
            self.assertIn("bytes", reply["error"])
            self.assertLess(len(reply["error"]), 300, reply["error"][:300])
        # the same through avfuse ctl, whose arguments take it whole
        proc = ctl(d, "add", "long", "type=stream", "url=udp://127.0.0.1:9/" + "x" * LONG_URL)
        self.assertEqual(proc.returncode, 1, proc.stdout[:300] + proc.stderr[:300])
        self.assertLess(len(proc.stdout + proc.stderr), 400, (proc.stdout + proc.stderr)[:400])
        reply = d.ctl({"cmd": "sources"})
        self.assertEqual([s["name"] for s in reply["sources"]], ["a"])
        # a value at the bound is taken
        reply = d.ctl({"cmd": "add", "source": {"name": "edge", "type": "stream",
                                                "url": "udp://127.0.0.1:9/" + "x" * 2000,
                                                "read_timeout": 0.5}})
        self.assertTrue(reply["ok"], reply)
        time.sleep(1.5)  # it fails to read, and says why in its status
        status = {s["source"]: s for s in d.ctl({"cmd": "status"})["sources"]}
        self.assertLess(len(status["edge"]["error"] or ""), 512)
        rc, _ = d.terminate()
        self.assertEqual(rc, 0)
        longest = max(len(line) for line in d.stderr().splitlines())
        FIGURES.append("long values: a %d-character url, output or device refused; the "
                       "longest log line %d characters" % (LONG_URL, longest))
        self.assertLessEqual(longest, 1024)
        self.assertNotIn("x" * 3000, d.stderr())


if __name__ == "__main__":
    unittest.main(verbosity=2)
