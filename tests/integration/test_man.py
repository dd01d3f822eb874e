#!/usr/bin/env python3
"""The man pages: well-formed, complete against the code, installed.

Checks that groff renders each page without a warning, that avfuse.conf(5) names
every configuration key (the keys come from docs/configuration.md's tables, which
test_config.c and the daemon tests hold to the code), that avfuse(1) names every
command `avfuse --help` lists, and that `cmake --install` puts the three pages
under share/man."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AVFUSE = os.environ.get("AVFUSE_BIN", "avfuse")
BUILD = os.environ.get("AVF_BUILD_DIR")
PAGES = ["avfuse.1", "avfused.8", "avfuse.conf.5"]


def page(name):
    with open(os.path.join(ROOT, "man", name)) as fh:
        return fh.read()


def render(name):
    return subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", os.path.join(ROOT, "man", name)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)


class TestManPages(unittest.TestCase):
    @unittest.skipUnless(shutil.which("groff"), "groff is not installed")
    def test_render_without_warnings(self):
        for name in PAGES:
            proc = render(name)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertEqual(proc.stderr, "", name)

    def test_conf_page_names_every_key(self):
        with open(os.path.join(ROOT, "docs", "configuration.md")) as fh:
            keys = set(re.findall(r"^\| `([a-z_]+)` \|", fh.read(), re.M))
        self.assertGreater(len(keys), 20)
        text = page("avfuse.conf.5")
        missing = [k for k in sorted(keys) if not re.search(r"\b%s\b" % k, text)]
        self.assertEqual(missing, [])

    def test_avfuse_page_names_every_command(self):
        out = subprocess.run([AVFUSE, "--help"], stdout=subprocess.PIPE, text=True,
                             timeout=10).stdout
        commands = re.findall(r"^  ([a-z]+)\b", out, re.M)
        self.assertIn("analyze", commands)
        text = page("avfuse.1")
        self.assertEqual([c for c in commands if ".B avfuse %s" % c not in text
                          and ".B %s\n" % c not in text], [])

    def test_installed(self):
        self.assertTrue(BUILD, "AVF_BUILD_DIR must name the build folder (ctest sets it)")
        dest = tempfile.mkdtemp(prefix="avfuse-install-")
        self.addCleanup(shutil.rmtree, dest, True)
        proc = subprocess.run(["cmake", "--install", BUILD, "--prefix", "/usr"],
                              env=dict(os.environ, DESTDIR=dest), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        for sub, name in (("man1", "avfuse.1"), ("man8", "avfused.8"), ("man5", "avfuse.conf.5")):
            self.assertTrue(os.path.isfile(os.path.join(dest, "usr/share/man", sub, name)), name)


if __name__ == "__main__":
    unittest.main(verbosity=2)
