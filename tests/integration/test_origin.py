#!/usr/bin/env python3
"""What an input may open: an HLS playlist or an ffconcat list stays within its
source's folder or host.

A playlist names further resources that libavformat opens on the source's
behalf; pipeline/source.c allows a local playlist (or concat list) files in its
own folder only, and a network playlist resources on its own host only. A refusal
is what the user reads, from `avfuse analyze` and in the daemon's status, not the
errno it travels as. The servers run on 127.0.0.1 and stop with the test."""
import functools
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from media import generate  # noqa: E402

try:  # the daemon's helpers (Daemon, Subscriber); they need python3-zmq
    import test_daemon as td  # noqa: E402
except ImportError:
    td = None

AVFUSE = os.environ.get("AVFUSE_BIN", "avfuse")
AVFUSED = os.environ.get("AVFUSED_BIN")
WORKDIR = None


def setUpModule():
    global WORKDIR
    WORKDIR = tempfile.mkdtemp(prefix="avfuse-origin-")
    os.mkdir(os.path.join(WORKDIR, "site"))
    generate(os.path.join(WORKDIR, "site"),
             ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000", "-t", "3",
              "-c:a", "aac", "-f", "mpegts"], "seg.ts")
    shutil.copy(os.path.join(WORKDIR, "site", "seg.ts"), os.path.join(WORKDIR, "outside.ts"))
    # a name inside the folder for a file outside it
    os.symlink("../outside.ts", os.path.join(WORKDIR, "site", "link.ts"))
    if td is not None:
        td.WORKDIR = WORKDIR


def tearDownModule():
    shutil.rmtree(WORKDIR, ignore_errors=True)


def playlist(path, segment):
    with open(path, "w") as fh:
        fh.write("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:3\n"
                 "#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:3.0,\n%s\n#EXT-X-ENDLIST\n" % segment)
    return path


def concat_list(path, *entries):
    with open(path, "w") as fh:
        fh.write("ffconcat version 1.0\n")
        for entry in entries:
            fh.write("file '%s'\n" % entry)
    return path


def error_line(proc, path):
    """The one error line that names the input."""
    lines = [line for line in proc.stderr.splitlines()
             if "error" in line and path in line]
    if len(lines) != 1:
        raise AssertionError("not one error line naming %s:\n%s" % (path, proc.stderr))
    return lines[0]


def analyze(url):
    return subprocess.run([AVFUSE, "analyze", "--no-features", url], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=60)


class TestLocalPlaylist(unittest.TestCase):
    def test_segment_in_its_folder_is_read(self):
        proc = analyze(playlist(os.path.join(WORKDIR, "site", "ok.m3u8"), "seg.ts"))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertGreaterEqual(len(proc.stdout.splitlines()), 3)  # 3 s (and AAC padding)

    def test_segment_outside_its_folder_is_refused(self):
        for target in ("../outside.ts", os.path.join(WORKDIR, "outside.ts")):
            proc = analyze(playlist(os.path.join(WORKDIR, "site", "bad.m3u8"), target))
            self.assertNotEqual(proc.returncode, 0, target)
            self.assertEqual(proc.stdout, "")
            self.assertIn("refused to open", proc.stderr)
            self.assertIn("outside the source's folder", proc.stderr)
            # the input's own error line says why, not the errno or its consequence
            line = error_line(proc, os.path.join(WORKDIR, "site", "bad.m3u8"))
            self.assertIn("refused to open ", line)
            self.assertIn("outside.ts: outside the source's folder", line)
        # libavformat's HLS demuxer refuses a file without a media extension itself
        proc = analyze(playlist(os.path.join(WORKDIR, "site", "bad.m3u8"), "/etc/passwd"))
        self.assertNotEqual(proc.returncode, 0)
        self.assertEqual(proc.stdout, "")


    def test_concat_entry_in_its_folder_is_read(self):
        proc = analyze(concat_list(os.path.join(WORKDIR, "site", "ok.ffconcat"), "seg.ts"))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertGreaterEqual(len(proc.stdout.splitlines()), 3)

    def test_concat_entry_outside_its_folder_is_refused(self):
        """A relative path out of the folder, an absolute one, and a name inside the
        folder that is a symbolic link to a file outside it (libavformat's concat
        demuxer opens its entries itself, not through the source's guard)."""
        path = os.path.join(WORKDIR, "site", "bad.ffconcat")
        for target in ("../outside.ts", os.path.join(WORKDIR, "outside.ts"), "link.ts"):
            with self.subTest(target):
                proc = analyze(concat_list(path, "seg.ts", target))
                self.assertEqual(proc.returncode, 1, proc.stderr)
                self.assertEqual(proc.stdout, "")
                line = error_line(proc, path)
                self.assertIn("refused to open ", line)
                self.assertIn(": outside the source's folder", line)
                self.assertNotIn("Operation not permitted", line)


class TestDaemonStatus(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # the daemon and python3-zmq are what these tests are made of: without
        # them the tests fail, they are not skipped
        if td is None or not AVFUSED:
            raise RuntimeError("needs AVFUSED_BIN (the avfused binary) and python3-zmq")
        super().setUpClass()

    def test_refusal_is_the_status_error(self):
        """A file source whose playlist or concat list reaches outside its folder
        fails, and its status says why."""
        td.AVFUSED = AVFUSED
        site = os.path.join(WORKDIR, "site")
        files = {
            "hls": playlist(os.path.join(site, "d_bad.m3u8"), "../outside.ts"),
            "concat": concat_list(os.path.join(site, "d_bad.ffconcat"), "link.ts"),
        }
        d = td.Daemon(self, {name: {"type": "file", "url": path}
                             for name, path in files.items()})
        sub = td.Subscriber(d.endpoint)
        self.addCleanup(sub.close)
        sub.wait(lambda: all(sub.states(n) and sub.states(n)[-1] == "failed" for n in files),
                 20, "both sources to fail")
        for name, path in files.items():
            error = sub.of("status", name)[-1]["error"]
            self.assertIn(path, error)
            self.assertIn("refused to open ", error)
            # the entry as the list names it (a link to outside.ts, for concat)
            entry = "outside.ts" if name == "hls" else "link.ts"
            self.assertIn("%s: outside the source's folder" % entry, error)
        self.assertEqual(d.terminate()[0], 0, d.stderr())


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class TestNetworkPlaylist(unittest.TestCase):
    def setUp(self):
        handler = functools.partial(Quiet, directory=os.path.join(WORKDIR, "site"))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.addCleanup(self.server.server_close)
        self.addCleanup(self.server.shutdown)

    def test_same_host_is_read_other_host_refused(self):
        site = os.path.join(WORKDIR, "site")
        playlist(os.path.join(site, "same.m3u8"), "seg.ts")
        proc = analyze("http://127.0.0.1:%d/same.m3u8" % self.port)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertGreaterEqual(len(proc.stdout.splitlines()), 3)  # 3 s (and AAC padding)
        # the same server under another name is another host
        playlist(os.path.join(site, "other.m3u8"), "http://localhost:%d/seg.ts" % self.port)
        proc = analyze("http://127.0.0.1:%d/other.m3u8" % self.port)
        self.assertNotEqual(proc.returncode, 0)
        self.assertEqual(proc.stdout, "")
        self.assertIn("outside the source's host", proc.stderr)
        # a local file is refused too (by the protocol whitelist)
        playlist(os.path.join(site, "local.m3u8"), "file://%s/outside.ts" % WORKDIR)
        proc = analyze("http://127.0.0.1:%d/local.m3u8" % self.port)
        self.assertNotEqual(proc.returncode, 0)
        self.assertEqual(proc.stdout, "")


if __name__ == "__main__":
    unittest.main(verbosity=2)
