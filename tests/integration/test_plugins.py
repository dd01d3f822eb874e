#!/usr/bin/env python3
"""Integration tests for `avfuse analyze --plugin-dir`, with the example plugin.

Usage:
    AVFUSE_BIN=build/tools/avfuse \
    AVFUSE_EXAMPLE_PLUGIN_DIR=build/plugins/example \
    AVFUSE_BAD_PLUGIN=build/tests/plugins/libbad_abi_plugin.so \
        python3 tests/integration/test_plugins.py -v

AVFUSE_EXAMPLE_PLUGIN_DIR is the folder holding libavfuse_example.so;
AVFUSE_BAD_PLUGIN is the built test plugin that claims plugin ABI 2. ctest sets
all three (tests/plugins.cmake).

The plugins are copied into private temporary folders before use: the loader
refuses a folder or a file that group or others may write, and whether the build
folder is such depends on the umask of whoever built it, not on avfuse. The clip
is generated once per run with the ffmpeg CLI into a temporary directory that is
removed at the end. Only the Python standard library is used.
"""

import json
import os
import shutil
import stat
import subprocess
import tempfile
import unittest

import media  # tests/integration/media.py

FFMPEG_TIMEOUT = 60
AVFUSE_TIMEOUT = 120

SCHEMA = "avfuse.segment.v1"
EXAMPLE_SO = "libavfuse_example.so"

AVFUSE = None
EXAMPLE_SO_PATH = None
BAD_SO_PATH = None
WORKDIR = None
CLIP = None

# 5 s, 320x180 testsrc2 at 30 fps + a 440 Hz sine (amplitude 1/8), MP4.
CLIP_ARGS = ["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30",
             "-f", "lavfi", "-i", "sine=f=440:r=48000",
             "-t", "5",
             "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
             "-c:a", "aac", "-ac", "2"]


# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------

def _ffmpeg(args, out_name):
    return media.generate(WORKDIR, args, out_name, FFMPEG_TIMEOUT)


def _remove_workdir():
    global WORKDIR
    if WORKDIR is not None:
        shutil.rmtree(WORKDIR, ignore_errors=True)
        WORKDIR = None


def _require_env(name, example):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError("%s is not set: %s (ctest sets it; see the usage at the top of %s)"
                           % (name, example, os.path.basename(__file__)))
    return value


def setUpModule():
    global AVFUSE, EXAMPLE_SO_PATH, BAD_SO_PATH, WORKDIR, CLIP
    AVFUSE = _require_env("AVFUSE_BIN", "point it at the avfuse binary")
    if not (os.path.isfile(AVFUSE) and os.access(AVFUSE, os.X_OK)):
        raise RuntimeError("AVFUSE_BIN=%r is not an executable file" % AVFUSE)
    plugin_dir = _require_env("AVFUSE_EXAMPLE_PLUGIN_DIR",
                              "point it at the folder holding " + EXAMPLE_SO)
    EXAMPLE_SO_PATH = os.path.join(plugin_dir, EXAMPLE_SO)
    if not os.path.isfile(EXAMPLE_SO_PATH):
        raise RuntimeError("AVFUSE_EXAMPLE_PLUGIN_DIR=%r holds no %s" % (plugin_dir, EXAMPLE_SO))
    BAD_SO_PATH = _require_env("AVFUSE_BAD_PLUGIN", "point it at the built bad-ABI test plugin")
    if not os.path.isfile(BAD_SO_PATH):
        raise RuntimeError("AVFUSE_BAD_PLUGIN=%r is not a file" % BAD_SO_PATH)
    if shutil.which("ffmpeg") is None:
        raise RuntimeError("ffmpeg CLI not found on PATH")

    WORKDIR = tempfile.mkdtemp(prefix="avfuse_plugins_it_")
    # Module cleanups run even if setUpModule fails half-way.
    unittest.addModuleCleanup(_remove_workdir)
    CLIP = _ffmpeg(CLIP_ARGS, "clip_5s.mp4")


def make_plugin_dir(*so_paths):
    """A fresh folder (mode 0700) holding copies of so_paths, each mode 0755."""
    folder = tempfile.mkdtemp(prefix="plugins_", dir=WORKDIR)
    for src in so_paths:
        dst = os.path.join(folder, os.path.basename(src))
        shutil.copyfile(src, dst)
        os.chmod(dst, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    return folder


def run_avfuse(*args):
    cmd = [AVFUSE, "analyze"] + [str(a) for a in args]
    try:
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=AVFUSE_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError("avfuse timed out after %ds: %s" % (AVFUSE_TIMEOUT, " ".join(cmd))) \
            from exc


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------

class PluginTestCase(unittest.TestCase):
    maxDiff = None

    def analyze_ok(self, plugin_dir):
        """Run avfuse on the clip with --plugin-dir; expect success; return the segments."""
        proc = run_avfuse("--plugin-dir", plugin_dir, CLIP)
        self.assertEqual(proc.returncode, 0, "avfuse exited %d; stderr:\n%s"
                         % (proc.returncode, proc.stderr))
        segs = []
        for lineno, line in enumerate(proc.stdout.splitlines(), 1):
            try:
                obj = json.loads(line)
            except ValueError as exc:
                self.fail("stdout line %d does not parse as JSON: %s: %r" % (lineno, exc, line))
            self.assertIsInstance(obj, dict, "stdout line %d" % lineno)
            self.assertEqual(obj.get("schema"), SCHEMA, "stdout line %d" % lineno)
            segs.append(obj)
        self.assertTrue(segs, "no segments on stdout; stderr:\n%s" % proc.stderr)
        return segs, proc

    def assert_example_features(self, segs):
        for s in segs:
            ctx = "segment seq=%s t0=%s" % (s.get("seq"), s.get("t0"))
            video, audio = s.get("video"), s.get("audio")
            self.assertIsInstance(video, dict, ctx)
            self.assertIsInstance(audio, dict, ctx)
            # The clip has both modalities from start to end.
            self.assertIs(video.get("present"), True, "%s: video.present" % ctx)
            self.assertIs(audio.get("present"), True, "%s: audio.present" % ctx)

            vf = video.get("features")
            self.assertIsInstance(vf, dict, "%s: video.features must be an object" % ctx)
            green = vf.get("example_green")
            self.assertTrue(_is_num(green), "%s: video.features.example_green must be a number, "
                            "got %r" % (ctx, green))
            self.assertGreaterEqual(green, 0.0, "%s: example_green" % ctx)
            self.assertLessEqual(green, 1.0, "%s: example_green" % ctx)
            frames = video.get("frames")
            count = vf.get("example_frames")
            self.assertTrue(_is_num(count), "%s: video.features.example_frames must be a number, "
                            "got %r" % (ctx, count))
            # SUM of 1.0 per frame: the segment's frame count, whole.
            self.assertEqual(count, frames, "%s: example_frames must equal video.frames" % ctx)

            af = audio.get("features")
            self.assertIsInstance(af, dict, "%s: audio.features must be an object" % ctx)
            peak = af.get("example_peak")
            self.assertTrue(_is_num(peak), "%s: audio.features.example_peak must be a number, "
                            "got %r" % (ctx, peak))
            self.assertGreater(peak, 0.0, "%s: example_peak" % ctx)
            self.assertLessEqual(peak, 1.0, "%s: example_peak" % ctx)


class TestExamplePlugin(PluginTestCase):
    def test_example_features(self):
        segs, _ = self.analyze_ok(make_plugin_dir(EXAMPLE_SO_PATH))
        self.assertGreaterEqual(len(segs), 5, "a 5 s clip gives at least 5 segments")
        self.assert_example_features(segs)


class TestBadPlugin(PluginTestCase):
    def test_bad_abi_plugin_is_skipped(self):
        bad_name = os.path.basename(BAD_SO_PATH)
        segs, proc = self.analyze_ok(make_plugin_dir(EXAMPLE_SO_PATH, BAD_SO_PATH))
        self.assert_example_features(segs)
        lines = [l for l in proc.stderr.splitlines() if bad_name in l and "ABI" in l]
        self.assertTrue(lines, "no stderr line names %s and the ABI; stderr:\n%s"
                        % (bad_name, proc.stderr))
        # the refused plugin contributes nothing
        for s in segs:
            self.assertNotIn("bad_abi_value", s["video"].get("features", {}))


if __name__ == "__main__":
    unittest.main()
