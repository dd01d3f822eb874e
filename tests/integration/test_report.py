#!/usr/bin/env python3
"""Integration tests for `avfuse report`.

Usage:
    AVFUSE_BIN=/path/to/avfuse python3 tests/integration/test_report.py -v

A demo-like clip (speech, a tone, silence, a moving pattern, a hard cut at 6 s) is
made with the ffmpeg CLI; the report of it (SVG and HTML, from the file and from
its `avfuse analyze --events` JSON lines) must parse as XML, hold the lanes, tag
rows, curves, cut marks, axis and legend, and render in headless Chromium to a
picture that is not blank. Synthetic JSON lines cover what a clip cannot: no
segments, missing values, epochs, 10 hours. The rendering tests are skipped when
Debian's `chromium` is not installed; the rest uses the standard library only.
"""

import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET
import zlib

import media  # tests/integration/media.py

AVFUSE_TIMEOUT = 120
CHROMIUM_TIMEOUT = 60
SVG_NS = "{http://www.w3.org/2000/svg}"

AVFUSE = None
WORKDIR = None
CLIP = None
CLIP_JSONL = None
CHROMIUM = shutil.which("chromium")

# The plot area of the picture (tools/report.c: PLOT_X, PLOT_W, the lanes' top).
PLOT_X0, PLOT_X1, PLOT_Y0 = 130, 1170, 64
SPEECH_RGB = (0x1f, 0x77, 0xb4)


def _remove_workdir():
    global WORKDIR
    if WORKDIR is not None:
        shutil.rmtree(WORKDIR, ignore_errors=True)
        WORKDIR = None


def setUpModule():
    global AVFUSE, WORKDIR, CLIP, CLIP_JSONL
    AVFUSE = os.environ.get("AVFUSE_BIN")
    if not AVFUSE or not os.access(AVFUSE, os.X_OK):
        raise RuntimeError("AVFUSE_BIN must name the avfuse binary, e.g. "
                           "AVFUSE_BIN=build/tools/avfuse python3 %s" % __file__)
    if shutil.which("ffmpeg") is None:
        raise RuntimeError("ffmpeg CLI not found on PATH")
    WORKDIR = tempfile.mkdtemp(prefix="avfuse_report_")
    unittest.addModuleCleanup(_remove_workdir)
    # as tools/demo.sh: 5 s speech, 3 s of 440 Hz, 4 s silence; a pattern, a cut at 6 s
    CLIP = media.generate(WORKDIR, [
        "-f", "lavfi", "-i",
        "flite=text='Hello. This is avfuse. It cuts sound and picture into aligned "
        "segments.':voice=slt",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=3",
        "-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono",
        "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=6",
        "-f", "lavfi", "-i", "smptehdbars=size=640x360:rate=30:duration=6",
        "-filter_complex",
        "[0:a]aresample=48000,atrim=duration=5,apad=whole_dur=5[speech];"
        "[2:a]atrim=duration=4[silence];[speech][1:a][silence]concat=n=3:v=0:a=1[a];"
        "[3:v][4:v]concat=n=2:v=1:a=0[v]",
        "-map", "[v]", "-map", "[a]", "-c:v", "libx264", "-preset", "veryfast",
        "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k"], "clip.mp4")
    CLIP_JSONL = os.path.join(WORKDIR, "clip.jsonl")
    proc = run_avfuse("analyze", "--events", "-q", CLIP, "-o", CLIP_JSONL)
    if proc.returncode != 0:
        raise RuntimeError("avfuse analyze failed: %s" % proc.stderr)


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def run_avfuse(*args, stdin=None):
    return subprocess.run([AVFUSE] + list(args), input=stdin, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=AVFUSE_TIMEOUT)


def path(name):
    return os.path.join(WORKDIR, name)


def report(input_path, out_name, *extra, stdin=None):
    """Runs avfuse report; returns (process, output path)."""
    out = path(out_name)
    return run_avfuse("report", *extra, input_path, "-o", out, stdin=stdin), out


def parse_svg(out):
    """The <svg> root of an .svg file, or of the one inlined in an .html file."""
    with open(out, encoding="utf-8") as fh:
        text = fh.read()
    if out.endswith(".html"):
        m = re.search(r"<svg\b.*</svg>", text, re.S)
        assert m, "no inline <svg> in %s" % out
        text = m.group(0)
    root = ET.fromstring(text)
    assert root.tag == SVG_NS + "svg", root.tag
    return root


def ids(root):
    return {e.get("id") for e in root.iter() if e.get("id")}


def texts(root):
    return ["".join(e.itertext()) for e in root.iter(SVG_NS + "text")]


def segment(t0, t1, **kw):
    """A synthetic avfuse.segment.v1 message."""
    msg = {"schema": "avfuse.segment.v1", "source": kw.pop("source", "syn"),
           "epoch": kw.pop("epoch", 0), "seq": kw.pop("seq", 0), "t0": t0, "t1": t1,
           "partial": kw.pop("partial", False),
           "video": {"present": True, "frames": 10, "features": {"motion": 0.01, "cuts": 0}},
           "audio": {"present": True, "samples": 16000,
                     "features": {"rms_dbfs": -30.0, "loudness_lufs": -28.0}},
           "tags": [], "model": "default-2"}
    msg.update(kw)
    return msg


def write_lines(name, msgs):
    p = path(name)
    with open(p, "w") as fh:
        for m in msgs:
            fh.write((m if isinstance(m, str) else json.dumps(m)) + "\n")
    return p


def read_png(png):
    """Decodes an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes).
    Returns (width, height, rows), rows a list of bytes with 3 bytes per pixel."""
    with open(png, "rb") as fh:
        data = fh.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, hdr = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, ctype, _, _, interlace = hdr
    assert depth == 8 and ctype in (2, 6) and interlace == 0, hdr
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        prev = line
        rows.append(bytes(line) if bpp == 3 else
                    bytes(v for k, v in enumerate(line) if k % 4 != 3))
    return width, height, rows


def render(page, height):
    """Screenshots page (file path) in headless Chromium; returns the PNG's path."""
    png = page + ".png"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--no-first-run", "--hide-scrollbars", "--force-device-scale-factor=1",
           "--force-color-profile=srgb", "--user-data-dir=" + path("chromium-profile"),
           "--window-size=1200,%d" % height, "--screenshot=" + png, "file://" + page]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=CHROMIUM_TIMEOUT, env=dict(os.environ, HOME=WORKDIR))
    assert proc.returncode == 0 and os.path.isfile(png), \
        "chromium failed (rc=%d): %s" % (proc.returncode, proc.stderr[-2000:])
    return png


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------

class ReportOfClip(unittest.TestCase):
    """The demo-like clip, as a media file and as JSON lines."""

    def check_chart(self, out, title):
        root = parse_svg(out)
        found = ids(root)
        for want in ("title", "lanes", "lane-speech", "lane-music", "lane-noise", "lane-silence",
                     "tags", "sentiment", "loudness", "axis", "grid", "legend", "cuts"):
            self.assertIn(want, found, "%s has no element id=%s" % (out, want))
        words = texts(root)
        self.assertIn("avfuse report: " + title, words)
        self.assertTrue(any(w.startswith("duration 00:12 (12.0 s), 12 segments") for w in words),
                        words[:3])
        for label in ("00:00", "00:05", "00:10", "00:12"):
            self.assertIn(label, words)
        # tag rows of what the clip holds: speech early, silence at the end, the cut
        for tag in ("tag-speech", "tag-silence", "tag-cut"):
            self.assertIn(tag, found)
        self.assertIn("event", {e.get("class") for e in root.iter()})
        # the cut mark at 6 s: x = 130 + 6/12 * 1040
        cuts = next(e for e in root.iter() if e.get("id") == "cuts")
        self.assertIn("M650.0 ", "".join(p.get("d") for p in cuts.iter(SVG_NS + "path")))
        # curves and filled lanes are paths with data
        lane = next(e for e in root.iter() if e.get("id") == "lane-speech")
        self.assertTrue(any(p.get("d") for p in lane.iter(SVG_NS + "path")))
        return root

    def test_media_svg(self):
        proc, out = report(CLIP, "clip.svg")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.check_chart(out, "clip.mp4")

    def test_media_html(self):
        proc, out = report(CLIP, "clip.html")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        with open(out) as fh:
            text = fh.read()
        self.assertTrue(text.startswith("<!DOCTYPE html>"))
        self.check_chart(out, "clip.mp4")

    def test_jsonl_is_the_same_picture(self):
        """In-process analysis and `analyze --events` output give the same bytes."""
        proc, a = report(CLIP, "same_a.svg", "--title", "clip")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        proc, b = report(CLIP_JSONL, "same_b.svg", "--title", "clip")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        with open(a, "rb") as fa, open(b, "rb") as fb:
            self.assertEqual(fa.read(), fb.read())

    def test_stdin(self):
        with open(CLIP_JSONL) as fh:
            proc, out = report("-", "stdin.svg", stdin=fh.read())
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.check_chart(out, "stdin")

    def test_self_contained(self):
        for name in ("self.svg", "self.html"):
            proc, out = report(CLIP_JSONL, name)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            with open(out) as fh:
                text = fh.read()
            for bad in ("href", "<script", "url(", "@import", "<link", "<img", "@font-face"):
                self.assertNotIn(bad, text, "%s refers outside itself" % name)
            self.assertEqual(re.findall(r"https?://[^\"]*", text), ["http://www.w3.org/2000/svg"])

    @unittest.skipIf(CHROMIUM is None, "chromium is not installed (tools/setup-deps.sh --test)")
    def test_renders_in_chromium(self):
        for name in ("render.svg", "render.html"):
            proc, out = report(CLIP, name)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            height = int(float(parse_svg(out).get("height")))
            width, h, rows = read_png(render(out, height))
            self.assertEqual((width, h), (1200, height))
            # the plot area, above the axis
            area = [row[PLOT_X0 * 3:PLOT_X1 * 3] for row in rows[PLOT_Y0:height - 100]]
            pixels = [bytes(r[i:i + 3]) for r in area for i in range(0, len(r), 3)]
            colours = set(pixels)
            white = sum(1 for p in pixels if p == b"\xff\xff\xff")
            speech = sum(1 for p in pixels
                         if all(abs(p[k] - SPEECH_RGB[k]) <= 3 for k in range(3)))
            self.assertGreater(len(colours), 40, "%s: %d colours" % (name, len(colours)))
            self.assertLess(white / len(pixels), 0.8, "%s: mostly white" % name)
            # the speech lane is drawn: 5 s of 12 at about 30 px high
            self.assertGreater(speech, 5000, "%s: %d speech-blue pixels" % (name, speech))


class ReportOfSyntheticLines(unittest.TestCase):

    def test_zero_segments(self):
        for name, content in (("empty.jsonl", ""), ("blank.jsonl", "\n  \n")):
            p = write_lines(name, [content] if content else [])
            proc, out = report(p, name + ".svg")
            self.assertEqual(proc.returncode, 0, proc.stderr)
            root = parse_svg(out)
            self.assertIn("empty-note", ids(root))
            self.assertIn("no segments in this input: nothing to draw", texts(root))

    def test_zero_segment_media(self):
        tiny = media.generate(WORKDIR, ["-f", "lavfi", "-i", "sine=f=440:r=48000", "-t", "0.02",
                                        "-c:a", "pcm_s16le"], "tiny.wav")
        proc, out = report(tiny, "tiny.svg")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("empty-note", ids(parse_svg(out)))

    def test_missing_values_partial_epochs(self):
        msgs = [segment(0, 1, labels={"speech": 0.9, "music": 0.1, "noise": 0.0,
                                      "silence": 0.0},
                        sentiment={"valence": 0.5, "arousal": -0.5}, tags=["speech", "cut"]),
                # no model outputs, no video, no audio features
                segment(1, 2, video={"present": False},
                        audio={"present": True, "samples": 16000, "features": {}}),
                # only rms, a tag of a later vocabulary, out-of-range values
                segment(2, 3, audio={"present": True, "features": {"rms_dbfs": -120}},
                        tags=["motion", "some_future_tag"],
                        sentiment={"valence": 7, "arousal": -3}),
                # an epoch that starts the timeline again, and a partial end
                segment(0.5, 1.5, epoch=1, tags=["black"]),
                segment(3, 3.4, partial=True, tags=["loud"]),
                {"schema": "avfuse.status.v1", "source": "syn", "state": "running"},
                {"schema": "avfuse.event.v1", "source": "syn", "epoch": 0, "seq": 2,
                 "tag": "motion", "event": "start", "t": 2.0},
                {"schema": "avfuse.event.v1", "source": "syn", "epoch": 0, "seq": 1,
                 "tag": "speech", "event": "end", "t": 1.0, "duration": 1.0}]
        p = write_lines("missing.jsonl", msgs)
        proc, out = report(p, "missing.svg")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        root = parse_svg(out)
        found = ids(root)
        for tag in ("tag-speech", "tag-cut", "tag-motion", "tag-black", "tag-loud"):
            self.assertIn(tag, found)
        words = texts(root)
        self.assertTrue(any("the last partial" in w and "epochs 0 to 1" in w for w in words),
                        words[:3])
        d = " ".join(e.get("d") or "" for e in root.iter())
        self.assertNotIn("nan", d.lower())
        self.assertNotIn("inf", d.lower())

    def test_no_valence_where_the_basis_gives_none(self):
        """Speech, then silence (every value null), then music (arousal only): the
        valence curve covers the speech alone, the arousal curve speech and music."""
        voice = {"basis": "voice", "valence": 0.5, "arousal": 0.2, "label": "positive",
                 "confidence": 0.7}
        none = {"basis": "none", "valence": None, "arousal": None, "label": None,
                "confidence": None}
        scene = {"basis": "scene", "valence": None, "arousal": -0.4, "label": None,
                 "confidence": None}
        msgs = [segment(float(t), float(t + 1), seq=t,
                        sentiment=voice if t < 3 else none if t < 6 else scene)
                for t in range(9)]
        proc, out = report(write_lines("basis.jsonl", msgs), "basis.svg")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        root = parse_svg(out)
        group = next(e for e in root.iter() if e.get("id") == "sentiment")
        curves = {e.get("stroke"): e.get("d") for e in group.iter()
                  if e.tag.endswith("path") and e.get("fill") == "none"}
        valence, arousal = curves["#2ca02c"], curves["#ff7f0e"]

        def runs(d):
            return [[float(v) for v in run.replace("L", " ").split()[0::2]]
                    for run in d.split("M")[1:]]
        self.assertEqual(len(runs(valence)), 1, valence)
        self.assertEqual(len(runs(arousal)), 2, arousal)
        # the valence run ends where the silence begins, before the music's arousal
        self.assertAlmostEqual(max(runs(valence)[0]), max(runs(arousal)[0]), places=1)
        self.assertLess(max(runs(valence)[0]), min(runs(arousal)[1]))
        self.assertNotIn("no sentiment in the input", texts(root))

    def test_other_sources_left_out(self):
        p = write_lines("two.jsonl", [segment(0, 1, source="a", tags=["speech"]),
                                      segment(0, 1, source="b", tags=["music"])])
        proc, out = report(p, "two_a.svg")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("left out", proc.stderr)
        self.assertNotIn("tag-music", ids(parse_svg(out)))
        proc, out = report(p, "two_b.svg", "--source", "b")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("tag-music", ids(parse_svg(out)))
        self.assertNotIn("tag-speech", ids(parse_svg(out)))

    def test_ten_hours(self):
        """36000 one-second segments: a bounded file, h:mm:ss axis, made quickly."""
        msgs = []
        for k in range(36000):
            tags = ["speech"] if (k // 7) % 3 else ["music"]
            if k % 97 == 0:
                tags.append("cut")
            msgs.append(json.dumps(segment(
                float(k), float(k + 1), seq=k, tags=tags,
                labels={"speech": (k % 10) / 10, "music": 0.2, "noise": 0.1, "silence": 0.0},
                sentiment={"valence": ((k % 200) - 100) / 100, "arousal": 0.3})))
            if k % 7 == 0:
                msgs.append(json.dumps({"schema": "avfuse.event.v1", "source": "syn",
                                        "epoch": 0, "seq": k, "tag": "speech",
                                        "event": "start" if (k // 7) % 2 else "end",
                                        "t": float(k), "duration": 7.0}))
        p = write_lines("ten_hours.jsonl", msgs)
        start = time.monotonic()
        proc, out = report(p, "ten_hours.svg")
        took = time.monotonic() - start
        self.assertEqual(proc.returncode, 0, proc.stderr)
        size = os.path.getsize(out)
        print("\n10 h report: %d bytes, %.2f s" % (size, took))
        self.assertLess(size, 1_000_000)
        self.assertLess(took, 20)
        words = texts(parse_svg(out))
        for label in ("0:00:00", "5:00:00", "10:00:00"):
            self.assertIn(label, words)
        self.assertTrue(any("duration 10:00:00" in w and "pooled into" in w for w in words))

    def test_xml_escaping(self):
        title = "a <b> & \"c\" 'd' \x01 \xe9"
        proc, out = report(CLIP_JSONL, "esc.svg", "--title", title)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("avfuse report: " + title.replace("\x01", "?"), texts(parse_svg(out)))


class ReportErrors(unittest.TestCase):

    def test_invalid_json_names_the_line(self):
        p = write_lines("bad.jsonl", [segment(0, 1), "", '{"schema": oops'])
        proc, out = report(p, "bad.svg")
        self.assertEqual(proc.returncode, 1)
        self.assertRegex(proc.stderr, r"bad\.jsonl:3: invalid JSON")
        self.assertFalse(os.path.exists(out), "a failed report leaves no file")

    def test_not_a_message(self):
        p = write_lines("nomsg.jsonl", [segment(0, 1), '{"t0": 1}'])
        proc, _ = report(p, "nomsg.svg")
        self.assertEqual(proc.returncode, 1)
        self.assertRegex(proc.stderr, r"nomsg\.jsonl:2: not an avfuse message")
        p = write_lines("badseg.jsonl", [segment(0, 1), segment(2, 1)])
        proc, _ = report(p, "badseg.svg")
        self.assertEqual(proc.returncode, 1)
        self.assertRegex(proc.stderr, r"badseg\.jsonl:2: .*t1 is before its t0")

    def test_unknown_extension_is_a_usage_error(self):
        for name in ("out.png", "out", "out.svg.txt"):
            proc, out = report(CLIP_JSONL, name)
            self.assertEqual(proc.returncode, 2, name)
            self.assertIn(".svg or .html", proc.stderr)
            self.assertFalse(os.path.exists(out))

    def test_usage_errors(self):
        self.assertEqual(run_avfuse("report", CLIP_JSONL).returncode, 2)   # no -o
        self.assertEqual(run_avfuse("report", "-o", path("x.svg")).returncode, 2)
        self.assertEqual(run_avfuse("report", "--bogus", CLIP_JSONL, "-o",
                                    path("x.svg")).returncode, 2)

    def test_unreadable_input(self):
        proc, out = report(path("does_not_exist.jsonl"), "missing_in.svg")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("does_not_exist.jsonl: No such file or directory", proc.stderr)
        self.assertFalse(os.path.exists(out))
        notmedia = write_lines("notmedia.mp4", ["plain text, not media"])
        proc, _ = report(notmedia, "notmedia.svg")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("not JSON lines, nor a media file", proc.stderr)

    def test_unwritable_output(self):
        proc = run_avfuse("report", CLIP_JSONL, "-o", path("no/such/dir/out.svg"))
        self.assertEqual(proc.returncode, 1)
        self.assertIn("cannot create", proc.stderr)
        if os.path.exists("/dev/full"):
            full = path("full.svg")
            os.symlink("/dev/full", full)
            proc = run_avfuse("report", CLIP_JSONL, "-o", full)
            self.assertEqual(proc.returncode, 1)
            self.assertIn("cannot write", proc.stderr)
            self.assertTrue(os.path.exists("/dev/full"), "a device is never removed")

    def test_help(self):
        proc = run_avfuse("report", "--help")
        self.assertEqual(proc.returncode, 0)
        for word in ("-o, --output", ".svg", ".html", "JSON lines", "Exit status"):
            self.assertIn(word, proc.stdout)
        self.assertIn("report", run_avfuse("--help").stdout)


if __name__ == "__main__":
    unittest.main()
