#!/usr/bin/env python3
"""What an input may open: an HLS playlist stays within its source's folder or host.

A playlist names further resources that libavformat opens on the source's
behalf; pipeline/source.c allows a local playlist files in its own folder only,
and a network playlist resources on its own host only. The servers run on
127.0.0.1 and stop with the test."""
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

AVFUSE = os.environ.get("AVFUSE_BIN", "avfuse")
WORKDIR = None


def setUpModule():
    global WORKDIR
    WORKDIR = tempfile.mkdtemp(prefix="avfuse-origin-")
    os.mkdir(os.path.join(WORKDIR, "site"))
    generate(os.path.join(WORKDIR, "site"),
             ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000", "-t", "3",
              "-c:a", "aac", "-f", "mpegts"], "seg.ts")
    shutil.copy(os.path.join(WORKDIR, "site", "seg.ts"), os.path.join(WORKDIR, "outside.ts"))


def tearDownModule():
    shutil.rmtree(WORKDIR, ignore_errors=True)


def playlist(path, segment):
    with open(path, "w") as fh:
        fh.write("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:3\n"
                 "#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:3.0,\n%s\n#EXT-X-ENDLIST\n" % segment)
    return path


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
        # libavformat's HLS demuxer refuses a file without a media extension itself
        proc = analyze(playlist(os.path.join(WORKDIR, "site", "bad.m3u8"), "/etc/passwd"))
        self.assertNotEqual(proc.returncode, 0)
        self.assertEqual(proc.stdout, "")


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
