#!/usr/bin/env python3
"""Damaged media: `avfuse analyze` and `avfused` on files broken on purpose.

Usage:
    AVFUSE_BIN=build/tools/avfuse AVFUSED_BIN=build/daemon/avfused \
        python3 tests/integration/test_corrupt.py -v

Good clips are made once with the ffmpeg CLI (one H.264 + AAC encode, remuxed to
MP4, MP4 with its index first, Matroska, MPEG-TS and raw H.264; a PCM WAV), then
damaged here: cut at 10, 50 and 90 % of their bytes; 100 bytes flipped in the media
payload (fixed seed), or 10 in the header; an empty file; text named .mp4; headers
claiming 65535x65535 pictures (MP4 tkhd/avc1, Matroska PixelWidth/PixelHeight, a
raw H.264 SPS rewritten bit by bit); a picture size that libavcodec would accept but
that no camera makes (16000x16000); streams that disagree on their length.

For every case: the run ends within its time limit (no hang), exits 0 or 1 (never
a signal, no sanitizer report), an input that fails is named in an error line, and
what comes before the damage is there: every segment of the intact file that
ends before the first damaged packet (ffprobe says where that is) is published,
identical in every field but the source name, and the published timeline reaches
the last packet that survived. The daemon runs the truncated and flipped files
as file sources beside a source that must go on, and publishes the same.

Only the Python standard library, ffmpeg/ffprobe and (for the daemon) python3-zmq.
"""
import json
import os
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import media  # noqa: E402  tests/integration/media.py

try:  # the daemon's helpers (Daemon, Subscriber); they need python3-zmq
    import test_daemon as td  # noqa: E402
except ImportError:
    td = None

AVFUSE = os.environ.get("AVFUSE_BIN")
AVFUSED = os.environ.get("AVFUSED_BIN")
# Generous for a sanitizer build on two busy cores: an intact 10 s clip takes about
# 1.5 s plain and 10 s under ASan. A run that hits this limit is a hang.
ANALYZE_TIMEOUT = 90
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "ThreadSanitizer")
CUT_MARGIN = 0.05   # s before the first damaged packet: decoder and resampler delays
REACH_MARGIN = 0.15  # s the timeline may stop short of the last surviving packet:
#                     a tail under --min-partial (0.05 s) and one analysis frame (0.1 s)

WORKDIR = None
MEDIA = {}
INTACT = {}    # clip key -> its segments
OUTCOMES = []  # (case, exit status, segments, seconds, first stderr line): the summary

VIDEO = ["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30"]
AUDIO = ["-f", "lavfi", "-i", "sine=f=440:r=48000"]
H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "30"]


# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------

def ffmpeg(args, name):
    return media.generate(WORKDIR, args, name)


def setUpModule():
    global WORKDIR
    if not AVFUSE or not os.access(AVFUSE, os.X_OK):
        raise RuntimeError("AVFUSE_BIN must name the avfuse binary, e.g. "
                           "AVFUSE_BIN=build/tools/avfuse python3 %s" % sys.argv[0])
    for tool in ("ffmpeg", "ffprobe"):
        if shutil.which(tool) is None:
            raise RuntimeError("%s not found on PATH" % tool)
    WORKDIR = tempfile.mkdtemp(prefix="avfuse-corrupt-")
    unittest.addModuleCleanup(shutil.rmtree, WORKDIR, True)

    mkv = ffmpeg(VIDEO + AUDIO + ["-t", "10"] + H264 + ["-c:a", "aac", "-ac", "2"], "clip.mkv")
    MEDIA["mkv"] = mkv
    MEDIA["mp4"] = ffmpeg(["-i", mkv, "-c", "copy"], "clip.mp4")  # index (moov) last
    MEDIA["mp4fast"] = ffmpeg(["-i", mkv, "-c", "copy", "-movflags", "+faststart"],
                              "clipfast.mp4")  # index first
    MEDIA["ts"] = ffmpeg(["-i", mkv, "-c", "copy"], "clip.ts")
    MEDIA["h264"] = ffmpeg(["-i", mkv, "-map", "0:v", "-c", "copy", "-bsf:v",
                            "h264_mp4toannexb", "-f", "h264"], "clip.h264")
    MEDIA["wav"] = ffmpeg(AUDIO + ["-t", "10", "-c:a", "pcm_s16le", "-ac", "2"], "clip.wav")
    # 10 s of video, 3 s of audio
    for ext in ("mkv", "mp4"):
        MEDIA["short_audio_" + ext] = ffmpeg(
            ["-i", mkv, "-t", "3", "-i", mkv, "-map", "0:v", "-map", "1:a", "-c", "copy"],
            "short_audio.%s" % ext)
    # a 2-byte PixelHeight to patch: 256 lines
    MEDIA["mkv256"] = ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=320x256:rate=30"] + AUDIO +
                             ["-t", "3"] + H264 + ["-c:a", "aac"], "clip256.mkv")
    # two recordings joined end to end: the timestamps go back 10 s half-way
    MEDIA["ts_twice"] = write("twice.ts", read(MEDIA["ts"]) * 2)
    # a picture size libavcodec accepts but no camera makes, with sound beside it
    MEDIA["h264_16000"] = write("dims16000.h264",
                                patch_h264_size(read(MEDIA["h264"]), 1000, 1000))
    # (-max_pixels: ffmpeg's own probing would decode 16000x16000 pictures, 15 s and
    # 800 MB, to learn what -c copy does not need)
    MEDIA["mkv_16000"] = ffmpeg(["-max_pixels", "1000000", "-framerate", "30", "-i",
                                 MEDIA["h264_16000"], "-i", MEDIA["wav"], "-map", "0:v",
                                 "-map", "1:a", "-c", "copy"], "dims16000.mkv")
    if td is not None:
        td.WORKDIR = WORKDIR  # the daemons' folders go with this module's


def write(name, data):
    path = os.path.join(WORKDIR, name)
    with open(path, "wb") as fh:
        fh.write(data)
    return path


def read(path):
    with open(path, "rb") as fh:
        return fh.read()


# ---------------------------------------------------------------------------
# Damage
# ---------------------------------------------------------------------------

def mp4_boxes(data, start, end):
    """(type, offset, header size, size) of each box in data[start:end]."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        hdr = 8
        if size == 1:
            size, hdr = struct.unpack(">Q", data[pos + 8:pos + 16])[0], 16
        elif size == 0:
            size = end - pos
        if size < hdr or pos + size > end:
            return
        yield kind.decode("latin-1"), pos, hdr, size
        pos += size


def mp4_find(data, path, start=0, end=None):
    """Offsets (offset, header size, size) of every box at path, e.g. moov/trak/tkhd."""
    end = len(data) if end is None else end
    first, rest = path.split("/", 1) if "/" in path else (path, None)
    found = []
    for kind, off, hdr, size in mp4_boxes(data, start, end):
        if kind != first:
            continue
        if rest is None:
            found.append((off, hdr, size))
        else:
            body = off + hdr + (8 if kind == "stsd" else 0)  # stsd: version, flags, count
            found += mp4_find(data, rest, body, off + size)
    return found


MKV_CLUSTER = b"\x1f\x43\xb6\x75"


def regions(key, data):
    """(header, payload) byte ranges of a clip: where its structure is, where its
    coded media is."""
    if key.startswith("mp4"):
        (moov, _, moov_size), = mp4_find(data, "moov")
        (mdat, hdr, mdat_size), = mp4_find(data, "mdat")
        return (moov, moov + moov_size), (mdat + hdr, mdat + mdat_size)
    if key == "mkv":
        cluster = data.index(MKV_CLUSTER)
        return (0, cluster), (cluster + 64, len(data))
    if key == "ts":
        return (0, 188 * 4), (188 * 8, len(data))  # PAT and PMT first (and repeated)
    if key == "wav":
        body = data.index(b"data") + 8
        return (0, body), (body, len(data))
    raise KeyError(key)


def flip(data, n, lo, hi, seed):
    """data with n bytes in [lo, hi) XORed with random non-zero values; also the
    offsets, in order."""
    rng = random.Random(seed)
    out = bytearray(data)
    offsets = sorted(rng.sample(range(lo, hi), n))
    for off in offsets:
        out[off] ^= rng.randrange(1, 256)
    return bytes(out), offsets


def patch_mp4_dimensions(data):
    """tkhd width/height (16.16 fixed point) and the avc1 sample entry's width/height
    set to 65535, in place: no box changes size."""
    out = bytearray(data)
    patched = 0
    for off, hdr, size in mp4_find(data, "moov/trak/tkhd"):
        if struct.unpack(">I", data[off + size - 8:off + size - 4])[0]:  # a video track
            out[off + size - 8:off + size] = struct.pack(">II", 0xFFFF0000, 0xFFFF0000)
            patched += 1
    for off, hdr, size in mp4_find(data, "moov/trak/mdia/minf/stbl/stsd/avc1"):
        out[off + 32:off + 36] = struct.pack(">HH", 0xFFFF, 0xFFFF)
        patched += 1
    assert patched == 2, patched
    return bytes(out)


def patch_mkv_dimensions(data):
    """Matroska PixelWidth (0xB0) and PixelHeight (0xBA), both written in 2 bytes
    for a 320x256 clip, set to 65535."""
    out = bytearray(data)
    for element in (b"\xb0\x82\x01\x40", b"\xba\x82\x01\x00"):
        off = data.index(element)
        out[off + 2:off + 4] = b"\xff\xff"
    return bytes(out)


def ts_shift_pts(data, nth, seconds):
    """The nth video PES (stream 0xE0) of an MPEG-TS claims to be `seconds` later:
    its PTS (and DTS) move, nothing else."""
    out = bytearray(data)
    seen = 0
    for off in range(0, len(data) - 187, 188):
        pkt = data[off:off + 188]
        if pkt[0] != 0x47 or not pkt[1] & 0x40:  # sync byte, payload unit start
            continue
        start = 4 + (1 + pkt[4] if pkt[3] & 0x20 else 0)  # after the adaptation field
        if pkt[start:start + 4] != b"\x00\x00\x01\xe0":
            continue
        if seen < nth:
            seen += 1
            continue
        for k in range(2 if pkt[start + 7] >> 6 == 3 else 1):
            p = off + start + 9 + 5 * k
            b = out[p:p + 5]
            ts = ((b[0] >> 1) & 7) << 30 | b[1] << 22 | (b[2] >> 1) << 15 | b[3] << 7 | b[4] >> 1
            ts = (ts + int(seconds * 90000)) % (1 << 33)
            out[p:p + 5] = bytes([(b[0] & 0xf1) | ((ts >> 29) & 0x0e), (ts >> 22) & 0xff,
                                  ((ts >> 14) & 0xfe) | 1, (ts >> 7) & 0xff,
                                  ((ts << 1) & 0xfe) | 1])
        return bytes(out)
    raise AssertionError("fewer than %d video PES" % (nth + 1))


def patch_mdhd_duration(data, handler, seconds):
    """The media header (mdhd) of the track whose handler is `handler` ('vide' or
    'soun') claims `seconds`; no box changes size."""
    out = bytearray(data)
    for trak, hdr, size in mp4_find(data, "moov/trak"):
        (hdlr, hhdr, _), = mp4_find(data, "mdia/hdlr", trak + hdr, trak + size)
        if data[hdlr + hhdr + 8:hdlr + hhdr + 12] != handler.encode():
            continue
        (mdhd, mhdr, _), = mp4_find(data, "mdia/mdhd", trak + hdr, trak + size)
        body = mdhd + mhdr
        assert data[body] == 0, "mdhd version 1"
        timescale = struct.unpack(">I", data[body + 12:body + 16])[0]
        out[body + 16:body + 20] = struct.pack(">I", int(seconds * timescale))
        return bytes(out)
    raise AssertionError("no %s track" % handler)


class BitReader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def u(self, n):
        v = 0
        for _ in range(n):
            v = (v << 1) | (self.data[self.pos >> 3] >> (7 - (self.pos & 7))) & 1
            self.pos += 1
        return v

    def ue(self):
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
        return (1 << zeros) - 1 + self.u(zeros)


class BitWriter:
    def __init__(self):
        self.bits = []

    def u(self, n, v):
        self.bits += [(v >> k) & 1 for k in range(n - 1, -1, -1)]

    def ue(self, v):
        n = (v + 1).bit_length()
        self.u(n - 1, 0)
        self.u(n, v + 1)

    def rbsp(self):
        bits = self.bits + [1]  # rbsp_stop_one_bit, then zeros to a byte
        bits += [0] * (-len(bits) % 8)
        return bytes(int("".join(map(str, bits[i:i + 8])), 2) for i in range(0, len(bits), 8))


def nal_unescape(b):
    out, zeros = bytearray(), 0
    for x in b:
        if zeros >= 2 and x == 3:
            zeros = 0
            continue
        out.append(x)
        zeros = zeros + 1 if x == 0 else 0
    return bytes(out)


def nal_escape(b):
    out, zeros = bytearray(), 0
    for x in b:
        if zeros >= 2 and x <= 3:
            out.append(3)
            zeros = 0
        out.append(x)
        zeros = zeros + 1 if x == 0 else 0
    return bytes(out)


def huge_sps(nal, mbs_w, mbs_h):
    """The SPS NAL unit nal (a constrained-baseline one, as x264's ultrafast writes)
    rewritten to claim mbs_w x mbs_h macroblocks, no cropping and no VUI; what the
    slices depend on (ids, frame_num and POC sizes, reference count) is kept."""
    r = BitReader(nal_unescape(nal[1:]))
    profile, constraints, level = r.u(8), r.u(8), r.u(8)
    assert profile in (66, 77, 88), "profile %d has more SPS fields" % profile
    sps_id, log2_frame_num, poc_type = r.ue(), r.ue(), r.ue()
    assert poc_type in (0, 2), poc_type
    log2_poc = r.ue() if poc_type == 0 else None
    refs, gaps = r.ue(), r.u(1)
    w = BitWriter()
    w.u(8, profile)
    w.u(8, constraints)
    w.u(8, level)
    for v in (sps_id, log2_frame_num, poc_type):
        w.ue(v)
    if poc_type == 0:
        w.ue(log2_poc)
    w.ue(refs)
    w.u(1, gaps)
    w.ue(mbs_w - 1)
    w.ue(mbs_h - 1)
    w.u(4, 0b1100)  # frame_mbs_only, direct_8x8_inference, no cropping, no VUI
    return nal[:1] + nal_escape(w.rbsp())


def patch_h264_size(data, mbs_w, mbs_h):
    """Every SPS of an Annex B stream claims mbs_w x mbs_h macroblocks."""
    parts = data.split(b"\x00\x00\x01")
    for i, part in enumerate(parts):
        if part and part[0] & 0x1f == 7:
            body = part.rstrip(b"\x00")
            parts[i] = huge_sps(body, mbs_w, mbs_h) + part[len(body):]
    return b"\x00\x00\x01".join(parts)


# ---------------------------------------------------------------------------
# What survived: ffprobe on the damaged file
# ---------------------------------------------------------------------------

def probe(path):
    proc = subprocess.run(["ffprobe", "-v", "quiet", "-of", "json", "-show_entries",
                           "stream=index,codec_type,start_time:packet=stream_index,pts_time,"
                           "dts_time,pos,size", path],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                          timeout=60)
    return json.loads(proc.stdout or "{}")


def origin_of(info):
    """avfuse's origin: the earliest start of the audio and video streams."""
    starts = [float(s["start_time"]) for s in info.get("streams", [])
              if s.get("codec_type") in ("audio", "video") and "start_time" in s]
    return min(starts) if starts else 0.0


def packet_time(p):
    t = p.get("pts_time", p.get("dts_time"))
    return None if t is None else float(t)


def surviving(path, origin):
    """(cut, reach) of a truncated file on avfuse's timeline: cut is where the first
    stream to break off has its last packet (that packet may be cut short, so it does
    not count); reach is the latest such packet start over the streams."""
    last = {}
    for p in probe(path).get("packets", []):
        t = packet_time(p)
        if t is not None:
            last[p["stream_index"]] = max(last.get(p["stream_index"], t), t)
    if not last:
        return 0.0, 0.0
    return min(last.values()) - origin, max(last.values()) - origin


def first_damaged_time(info, offset, origin, window=65536):
    """The earliest media time a change at byte offset can touch: the earliest packet
    that starts after offset - window (a packet, or a PES spread over MPEG-TS packets,
    begins before the byte that breaks it)."""
    times = [packet_time(p) for p in info.get("packets", [])
             if "pos" in p and int(p["pos"]) + int(p["size"]) > offset - window]
    times = [t for t in times if t is not None]
    return (min(times) - origin) if times else float("inf")


# ---------------------------------------------------------------------------
# Running avfuse
# ---------------------------------------------------------------------------

def analyze(case, path, *args):
    """avfuse analyze ARGS PATH; returns (exit status, segments, stderr)."""
    cmd = [AVFUSE, "analyze"] + [str(a) for a in args] + [path]
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=ANALYZE_TIMEOUT,
                              errors="replace")
    except subprocess.TimeoutExpired:
        OUTCOMES.append((case, "hang", 0, ANALYZE_TIMEOUT, ""))
        raise AssertionError("%s: avfuse did not finish within %d s: %s"
                             % (case, ANALYZE_TIMEOUT, " ".join(cmd)))
    took = time.monotonic() - start
    segs = [json.loads(line) for line in proc.stdout.splitlines()]
    first = (proc.stderr.splitlines() or [""])[0]
    OUTCOMES.append((case, proc.returncode, len(segs), took, first))
    return proc.returncode, segs, proc.stderr


def jump_seconds(line):
    """The size of the timestamp jump a discontinuity warning states."""
    m = re.search(r"jumped ([0-9.]+) s ahead", line)
    return float(m.group(1)) if m else float("nan")


def without_source(seg):
    return {k: v for k, v in seg.items() if k != "source"}


def intact(key):
    if key not in INTACT:
        rc, segs, err = analyze("intact " + key, MEDIA[key])
        assert rc == 0 and segs, "%s: the intact clip fails: %s" % (key, err)
        INTACT[key] = segs
    return INTACT[key]


class CorruptTestCase(unittest.TestCase):
    maxDiff = None

    def check_run(self, case, path, rc, segs, stderr):
        """No crash, no sanitizer report, a well-formed timeline, a failure named."""
        self.assertGreaterEqual(rc, 0, "%s: killed by signal %d\n%s" % (case, -rc, stderr))
        self.assertIn(rc, (0, 1), "%s: exit status %d\n%s" % (case, rc, stderr))
        for mark in SANITIZER_MARKS:
            self.assertNotIn(mark, stderr, "%s: sanitizer report\n%s" % (case, stderr))
        if rc == 1:
            errors = [line for line in stderr.splitlines() if "error" in line]
            self.assertTrue(errors, "%s: exit status 1 without an error line:\n%s"
                            % (case, stderr))
            self.assertIn(os.path.basename(path), errors[0], "%s: the error does not name "
                          "the file: %s" % (case, errors[0]))
        self.assertEqual([s["seq"] for s in segs], list(range(len(segs))), case)
        for a, b in zip(segs, segs[1:]):
            self.assertLessEqual(a["t0"], b["t0"], "%s: timeline went back" % case)
        for s in segs[:-1]:
            self.assertFalse(s["partial"], "%s: a partial segment before the last: %s"
                             % (case, s["seq"]))
        for s in segs:
            self.assertEqual(s["schema"], "avfuse.segment.v1")
            self.assertLess(s["t0"], s["t1"], case)

    def check_prefix(self, case, key, segs, cut):
        """Every segment of the intact clip that ends by `cut` is there, identical."""
        want = [s for s in intact(key) if s["t1"] <= cut - CUT_MARGIN]
        got = segs[:len(want)]
        self.assertEqual([without_source(s) for s in got], [without_source(s) for s in want],
                         "%s: the %d segments before the damage at %.3f s differ from the "
                         "intact file's" % (case, len(want), cut))
        return len(want)

    def assert_fails_cleanly(self, case, path, *args):
        rc, segs, err = analyze(case, path, *args)
        self.check_run(case, path, rc, segs, err)
        self.assertEqual(rc, 1, "%s: expected a failure\n%s" % (case, err))
        self.assertEqual(segs, [], case)
        lines = err.splitlines()
        self.assertEqual(len(lines), 1, "%s: one error line, not:\n%s" % (case, err))
        return lines[0]


# ---------------------------------------------------------------------------
# avfuse analyze
# ---------------------------------------------------------------------------

class TestTruncated(CorruptTestCase):
    """Cut at 10, 50 and 90 % of the bytes: what was whole before the cut is
    published as the intact file has it, up to the last packet that survived."""

    def _truncate(self, key):
        data = read(MEDIA[key])
        origin = origin_of(probe(MEDIA[key]))
        ext = os.path.splitext(MEDIA[key])[1]
        for pct in (10, 50, 90):
            case = "%s cut at %d%%" % (key, pct)
            with self.subTest(case):
                path = write("cut%d_%s%s" % (pct, key, ext), data[:len(data) * pct // 100])
                rc, segs, err = analyze(case, path)
                self.check_run(case, path, rc, segs, err)
                cut, reach = surviving(path, origin)
                kept = self.check_prefix(case, key, segs, cut)
                self.assertGreaterEqual(kept, int(cut) - 1, case)  # the prefix is not empty
                self.assertTrue(segs, "%s: nothing published\n%s" % (case, err))
                self.assertGreaterEqual(segs[-1]["t1"], reach - REACH_MARGIN,
                                        "%s: the packets up to %.3f s were readable, the "
                                        "segments end at %.3f s" % (case, reach, segs[-1]["t1"]))
                if key in ("mkv", "mp4fast"):  # they declare 10 s: the cut is told
                    self.assertIn("the input ended early", err, case)
                    self.assertEqual(segs[-1].get("partial_reason"), "input ended early", case)

    def test_matroska(self):
        self._truncate("mkv")

    def test_mpegts(self):
        self._truncate("ts")

    def test_mp4_index_first(self):
        self._truncate("mp4fast")

    def test_wav(self):
        self._truncate("wav")

    def test_raw_h264(self):
        self._truncate("h264")

    def test_mp4_index_last(self):
        """An MP4 whose index (moov) comes last has none once cut: nothing in it can be
        located (FFmpeg cannot either), so the whole file is one error line."""
        data = read(MEDIA["mp4"])
        for pct in (10, 50, 90):
            case = "mp4 (index last) cut at %d%%" % pct
            with self.subTest(case):
                path = write("cut%d_mp4.mp4" % pct, data[:len(data) * pct // 100])
                line = self.assert_fails_cleanly(case, path)
                self.assertIn("not a media file FFmpeg can read", line)


class TestEndedEarly(CorruptTestCase):
    """A file cut short whose container declares its length (Matroska's duration, an
    MP4 index) says so: a warning naming the file, where it ended and what it
    declared; the last segment is partial with the reason. Exit status 0: what was
    readable is analyzed (docs/reliability.md). MPEG-TS and WAV declare nothing
    that survives the cut (FFmpeg estimates their length from what is there)."""

    def test_cut_at_60_percent(self):
        for key in ("mkv", "mp4fast"):
            data = read(MEDIA[key])
            ext = os.path.splitext(MEDIA[key])[1]
            case = "%s cut at 60%%, ended early" % key
            with self.subTest(case):
                path = write("cut60_%s%s" % (key, ext), data[:len(data) * 6 // 10])
                rc, segs, err = analyze(case, path)
                self.check_run(case, path, rc, segs, err)
                self.assertEqual(rc, 0, err)
                self.assertTrue(segs, case)
                last = segs[-1]
                self.assertTrue(last["partial"], last)
                self.assertEqual(last.get("partial_reason"), "input ended early", case)
                for s in segs[:-1]:
                    self.assertNotIn("partial_reason", s, case)
                warnings = [line for line in err.splitlines() if "ended early" in line]
                self.assertEqual(len(warnings), 1, "%s:\n%s" % (case, err))
                self.assertIn(path, warnings[0])
                self.assertIn("warning", warnings[0])
                m = re.search(r"at ([0-9.]+) s of ([0-9.]+) s", warnings[0])
                self.assertTrue(m, warnings[0])
                self.assertAlmostEqual(float(m.group(1)), last["t1"], delta=0.001)
                self.assertAlmostEqual(float(m.group(2)), 10.0, delta=0.1)

    def test_whole_files_say_nothing(self):
        """The intact clips, a cut MPEG-TS (no declared length) and a file whose
        audio stops long before its video (content to the end): no such word."""
        data = read(MEDIA["ts"])
        cut_ts = write("cut60_ts.ts", data[:len(data) * 6 // 10])
        for key, path in (("mkv", MEDIA["mkv"]), ("mp4fast", MEDIA["mp4fast"]),
                          ("ts", MEDIA["ts"]), ("cut ts", cut_ts),
                          ("short_audio_mkv", MEDIA["short_audio_mkv"]),
                          ("short_audio_mp4", MEDIA["short_audio_mp4"])):
            with self.subTest(key):
                rc, segs, err = analyze(key + ", not ended early", path)
                self.assertEqual(rc, 0, err)
                self.assertNotIn("ended early", err, key)
                self.assertEqual([s for s in segs if "partial_reason" in s], [], key)


class TestFlipped(CorruptTestCase):
    """100 bytes flipped in the coded media (fixed seeds): the decoders conceal and
    go on, nothing before the first damaged packet changes, the timeline keeps its
    length. 10 bytes flipped in the header: whatever comes of it, no crash and a
    clear error."""

    def _flip(self, key, where, n):
        data = read(MEDIA[key])
        header, payload = regions(key, data)
        lo, hi = payload if where == "payload" else header
        damaged, offsets = flip(data, n, lo, hi, seed="%s/%s" % (key, where))
        ext = os.path.splitext(MEDIA[key])[1]
        path = write("flip_%s_%s%s" % (where, key, ext), damaged)
        case = "%s: %d bytes flipped in the %s" % (key, n, where)
        rc, segs, err = analyze(case, path)
        self.check_run(case, path, rc, segs, err)
        return case, path, offsets, rc, segs, err

    def test_payload(self):
        for key in ("mp4", "mkv", "ts", "wav"):
            with self.subTest(key):
                case, path, offsets, rc, segs, err = self._flip(key, "payload", 100)
                self.assertEqual(rc, 0, "%s\n%s" % (case, err))
                info = probe(MEDIA[key])
                self.check_prefix(case, key, segs, first_damaged_time(info, offsets[0],
                                                                      origin_of(info)))
                self.assertEqual([(s["t0"], s["t1"]) for s in segs],
                                 [(s["t0"], s["t1"]) for s in intact(key)], case)

    def test_header(self):
        # an MP4's header is its index, last in the file: every packet depends on it
        for key in ("mp4", "mkv", "ts", "wav"):
            with self.subTest(key):
                case, path, offsets, rc, segs, err = self._flip(key, "header", 10)
                if rc == 1:
                    self.assertNotIn("patches welcome", err, case)  # FFmpeg's own words

    def test_timestamp_hours_ahead(self):
        """One video timestamp of an MPEG-TS damaged to read an hour later (as a
        flipped PTS byte does) must cost that frame, not add an hour of empty
        segments: see docs/reliability.md, 'Known limits'."""
        path = write("pts_hour.ts", ts_shift_pts(read(MEDIA["ts"]), 150, 3600))
        case = "ts: one video PTS an hour ahead"
        rc, segs, err = analyze(case, path)
        self.check_run(case, path, rc, segs, err)
        self.check_prefix(case, "ts", segs, 150 / 30.0)
        self.assertLessEqual(len(segs), 11, "%s: %d segments for 10 s of media"
                             % (case, len(segs)))
        self.assertEqual([(s["t0"], s["t1"]) for s in segs],
                         [(s["t0"], s["t1"]) for s in intact("ts")], case)
        warnings = [line for line in err.splitlines() if "discontinuity" in line]
        self.assertTrue(warnings, "%s: no warning of the jump:\n%s" % (case, err))
        self.assertIn(os.path.basename(path), warnings[0])
        self.assertAlmostEqual(jump_seconds(warnings[0]), 3600, delta=1, msg=warnings[0])


class TestNotMedia(CorruptTestCase):
    def test_empty_file(self):
        self.assert_fails_cleanly("empty file", write("empty.mp4", b""))

    def test_text_named_mp4(self):
        path = write("notes.mp4", b"these are meeting notes, not a video\n" * 40)
        line = self.assert_fails_cleanly("text named .mp4", path)
        self.assertIn("not a media file FFmpeg can read", line)


class TestAbsurdDimensions(CorruptTestCase):
    def test_mp4_tkhd_and_avc1_65535(self):
        """The container's size fields are not what the decoder goes by: the SPS is."""
        path = write("dims.mp4", patch_mp4_dimensions(read(MEDIA["mp4"])))
        case = "mp4 tkhd+avc1 65535x65535"
        rc, segs, err = analyze(case, path)
        self.check_run(case, path, rc, segs, err)
        self.assertEqual([without_source(s) for s in segs],
                         [without_source(s) for s in intact("mp4")], case)

    def test_matroska_pixel_size_65535(self):
        path = write("dims.mkv", patch_mkv_dimensions(read(MEDIA["mkv256"])))
        case = "mkv PixelWidth/Height 65535"
        rc, segs, err = analyze(case, path)
        self.check_run(case, path, rc, segs, err)
        self.assertEqual([without_source(s) for s in segs],
                         [without_source(s) for s in intact("mkv256")], case)

    def test_h264_sps_65536(self):
        """Beyond libavcodec's own limit: every packet is refused. That is an error,
        not an empty success."""
        path = write("dims65536.h264", patch_h264_size(read(MEDIA["h264"]), 4096, 4096))
        line = self.assert_fails_cleanly("h264 SPS 65536x65536", path)
        self.assertIn("nothing could be decoded", line)

    def test_h264_sps_16000(self):
        """16000x16000 passes libavcodec's checks: decoding it took minutes and 3 GB
        for 10 s. The stream is left out when the input is opened."""
        case = "h264 SPS 16000x16000"
        rc, segs, err = analyze(case, MEDIA["h264_16000"])
        self.check_run(case, MEDIA["h264_16000"], rc, segs, err)
        self.assertEqual(rc, 1, err)
        self.assertEqual(segs, [])
        self.assertIn("16000x16000 video is over avfuse's limit", err)
        self.assertIn("no decodable audio or video stream", err)

    def test_h264_sps_16000_beside_audio(self):
        """The same stream beside sound: the sound is analyzed."""
        case = "mkv: 16000x16000 video + audio"
        rc, segs, err = analyze(case, MEDIA["mkv_16000"])
        self.check_run(case, MEDIA["mkv_16000"], rc, segs, err)
        self.assertEqual(rc, 0, err)
        self.assertEqual([without_source(s) for s in segs],
                         [without_source(s) for s in intact("wav")], case)

    def test_h264_sps_16000_mid_stream(self):
        """The size grows to 16000x16000 from the second GOP on, after the input was
        opened at 320x180: the decoder refuses those pictures as the open refused them
        (in seconds, not minutes), and the first GOP is analyzed as the intact file's."""
        data = read(MEDIA["h264"])
        first = data.index(b"\x00\x00\x01\x68")  # the first PPS: after the first SPS
        path = write("dims_mid.h264", data[:first] + patch_h264_size(data[first:], 1000, 1000))
        case = "h264 SPS 16000x16000 from the 2nd GOP"
        start = time.monotonic()
        rc, segs, err = analyze(case, path)
        took = time.monotonic() - start
        self.check_run(case, path, rc, segs, err)
        self.assertEqual(rc, 0, err)
        self.assertGreaterEqual(len(segs), 1, case)
        # the first GOP is whole (its end rounds to 0.99999 s: partial)
        self.assertEqual(segs[0]["video"], intact("h264")[0]["video"], case)
        self.assertLess(took, 30, "%s: %.1f s: the big pictures were decoded" % (case, took))


    def test_h264_size_change_within_limit(self):
        """A camera that switches from 320x180 to 640x360 mid-stream (two raw H.264
        streams, one after the other): both halves are decoded and analyzed, each at
        its own size."""
        big = ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-t", "10"] +
                     H264 + ["-bsf:v", "h264_mp4toannexb", "-f", "h264"], "clip640.h264")
        path = write("size_change.h264", read(MEDIA["h264"]) + read(big))
        case = "h264 320x180 then 640x360"
        rc, segs, err = analyze(case, path)
        self.check_run(case, path, rc, segs, err)
        self.assertEqual(rc, 0, err)
        self.check_prefix(case, "h264", segs, 10.0)
        # (the raw stream's timestamps round its end to 19.9998 s: the last is partial)
        self.assertEqual(len(segs), 20, [(s["t0"], s["t1"]) for s in segs])
        self.assertAlmostEqual(segs[-1]["t1"], 20.0, delta=0.01)
        self.assertEqual([s["video"]["frames"] for s in segs], [10] * 20, case)


class TestDurations(CorruptTestCase):
    def test_audio_shorter_than_video(self):
        """10 s of video muxed with 3 s of audio: 10 segments, the audio absent after
        its end; the video is the intact file's throughout."""
        for ext in ("mkv", "mp4"):
            key = "short_audio_" + ext
            with self.subTest(key):
                rc, segs, err = analyze(key, MEDIA[key])
                self.check_run(key, MEDIA[key], rc, segs, err)
                self.assertEqual(rc, 0, err)
                self.check_prefix(key, "mkv", segs, 3.0)
                full = intact("mkv")
                self.assertEqual(len(segs), len(full), key)
                self.assertEqual([s["video"] for s in segs], [s["video"] for s in full], key)
                self.assertEqual([s["audio"].get("samples") for s in segs[:3]], [16000] * 3)
                self.assertTrue(0 < segs[3]["audio"]["samples"] < 1600, segs[3]["audio"])
                self.assertEqual({s["audio"]["present"] for s in segs[4:]}, {False}, key)

    def test_mdhd_durations_disagree_with_the_samples(self):
        """A track header (mdhd) that claims 3 s or 30 s over 10 s of samples: the
        samples are what is there, and all of them are analyzed."""
        data = read(MEDIA["mp4"])
        for handler, seconds in (("soun", 3), ("vide", 3), ("soun", 30), ("vide", 30)):
            case = "mp4 %s mdhd claims %d s" % (handler, seconds)
            with self.subTest(case):
                path = write("mdhd_%s_%d.mp4" % (handler, seconds),
                             patch_mdhd_duration(data, handler, seconds))
                rc, segs, err = analyze(case, path)
                self.check_run(case, path, rc, segs, err)
                self.assertEqual([without_source(s) for s in segs],
                                 [without_source(s) for s in intact("mp4")], case)

    def test_timestamps_jump_hours_ahead(self):
        """Two MPEG-TS recordings joined with cat, the second one stamped two hours
        later (-output_ts_offset): both halves are analyzed one after the other, about
        20 segments for 20 s of media instead of 7200 empty ones, and a warning says
        where the timestamps jumped and by how much."""
        later = ffmpeg(["-i", MEDIA["ts"], "-c", "copy", "-output_ts_offset", "7200"],
                       "clip_later.ts")
        path = write("jump_ahead.ts", read(MEDIA["ts"]) + read(later))
        case = "ts joined with a 2-hour jump"
        rc, segs, err = analyze(case, path)
        self.check_run(case, path, rc, segs, err)
        self.assertEqual(rc, 0, err)
        self.check_prefix(case, "ts", segs, 10.0)
        self.assertLessEqual(len(segs), 21, "%s: %d segments for 20 s of media"
                             % (case, len(segs)))
        full = [s for s in segs if not s["partial"]]
        self.assertEqual(len(full), 20, [(s["t0"], s["t1"]) for s in segs])
        for s in full:
            self.assertEqual((s["video"]["frames"], s["audio"]["samples"]), (10, 16000),
                             "%s: segment %d" % (case, s["seq"]))
        warnings = [line for line in err.splitlines() if "discontinuity" in line]
        self.assertTrue(warnings, "%s: no warning of the jump:\n%s" % (case, err))
        self.assertIn(os.path.basename(path), warnings[0])
        self.assertAlmostEqual(jump_seconds(warnings[0]), 7190, delta=1, msg=warnings[0])

    def test_timestamps_go_back(self):
        """Two MPEG-TS recordings joined with cat: half-way the timestamps go back
        10 s. Both halves are analyzed, audio and video, one after the other."""
        case = "ts joined twice"
        rc, segs, err = analyze(case, MEDIA["ts_twice"])
        self.check_run(case, MEDIA["ts_twice"], rc, segs, err)
        self.check_prefix(case, "ts", segs, 10.0)
        full = [s for s in segs if not s["partial"]]
        self.assertEqual(len(full), 20, [(s["t0"], s["t1"]) for s in segs])
        for s in full:
            self.assertEqual((s["video"]["frames"], s["audio"]["samples"]), (10, 16000),
                             "%s: segment %d" % (case, s["seq"]))


# ---------------------------------------------------------------------------
# avfused: damaged files as file sources
# ---------------------------------------------------------------------------

class TestDaemon(CorruptTestCase):
    @classmethod
    def setUpClass(cls):
        # the daemon and python3-zmq are what these tests are made of: without
        # them the tests fail, they are not skipped
        if td is None or not AVFUSED:
            raise RuntimeError("needs AVFUSED_BIN (the avfused binary) and python3-zmq")
        super().setUpClass()

    def test_damaged_file_sources(self):
        """Damaged files added to a running daemon beside a looped file: each one
        publishes what it holds and ends (or fails with an error naming it); the
        daemon and the other source go on."""
        td.AVFUSED = AVFUSED
        mkv, ts, mp4 = read(MEDIA["mkv"]), read(MEDIA["ts"]), read(MEDIA["mp4"])
        _, payload = regions("ts", ts)
        header, _ = regions("mkv", mkv)
        files = {
            "intact_mkv": MEDIA["mkv"],
            "intact_ts": MEDIA["ts"],
            "cut50_mkv": write("d_cut50.mkv", mkv[:len(mkv) // 2]),
            "cut90_ts": write("d_cut90.ts", ts[:len(ts) * 9 // 10]),
            "flip_ts": write("d_flip.ts", flip(ts, 100, payload[0], payload[1], "ts/payload")[0]),
            "flip_header_mkv": write("d_flip_header.mkv",
                                     flip(mkv, 10, header[0], header[1], "mkv/header")[0]),
            "cut50_mp4": write("d_cut50.mp4", mp4[:len(mp4) // 2]),
            "empty": write("d_empty.mkv", b""),
            "dims": write("d_dims.h264", patch_h264_size(read(MEDIA["h264"]), 4096, 4096)),
        }
        d = td.Daemon(self, {"other": {"type": "file", "url": MEDIA["mkv"], "realtime": "yes",
                                       "loop": "yes"}})
        sub = td.Subscriber(d.endpoint)
        self.addCleanup(sub.close)
        sub.wait(lambda: sub.segments("other"), 20, "the looped file's first segment")
        for name, path in files.items():
            reply = d.ctl({"cmd": "add", "source": {"name": name, "type": "file", "url": path}})
            self.assertEqual(reply, {"ok": True, "added": name})
        done = ("ended", "failed")
        sub.wait(lambda: all(sub.states(n) and sub.states(n)[-1] in done for n in files), 60,
                 "every damaged file to end or fail")
        n_other = len(sub.segments("other"))
        sub.wait(lambda: len(sub.segments("other")) >= n_other + 2, 10, "the looped file to go on")
        self.assertIsNone(d.proc.poll(), "the daemon died:\n%s" % d.stderr())

        def final(name):
            return sub.of("status", name)[-1]

        for name in files:
            segs = sub.segments(name)
            self.assertEqual([s["seq"] for s in segs], list(range(len(segs))), name)
            self.assertEqual(final(name)["next_seq"], len(segs), name)
        # what a cut or flipped file holds is published, as from the intact file
        for name, key, cut in (("cut50_mkv", "mkv", None), ("cut90_ts", "ts", None),
                               ("flip_ts", "ts", None)):
            intact_segs = sub.segments("intact_" + key)
            if cut is None and name.startswith("cut"):
                cut, _ = surviving(files[name], origin_of(probe(MEDIA[key])))
            elif cut is None:
                info = probe(MEDIA[key])
                cut = first_damaged_time(info, flip(ts, 100, payload[0], payload[1],
                                                    "ts/payload")[1][0], origin_of(info))
            want = [without_source(s) for s in intact_segs if s["t1"] <= cut - CUT_MARGIN]
            got = [without_source(s) for s in sub.segments(name)[:len(want)]]
            self.assertEqual(got, want, name)
            self.assertEqual(final(name)["state"], "ended", final(name))
            self.assertGreater(len(sub.segments(name)), 0, name)
        # the cut Matroska declares 10 s: its status says it ended early
        status = final("cut50_mkv")
        self.assertIn("ended early at", status["error"] or "", status)
        self.assertIn(files["cut50_mkv"], status["error"])
        self.assertEqual(sub.segments("cut50_mkv")[-1].get("partial_reason"),
                         "input ended early")
        for name in ("intact_mkv", "intact_ts", "cut90_ts", "flip_ts"):
            self.assertIsNone(final(name)["error"], final(name))
        self.assertEqual(len(sub.segments("flip_ts")), len(sub.segments("intact_ts")))
        # the rest fail, with the file and the reason in the status and the log
        for name, reason in (("flip_header_mkv", "damaged, or uses a feature"),
                             ("cut50_mp4", "not a media file FFmpeg can read"),
                             ("empty", "not a media file FFmpeg can read"),
                             ("dims", "nothing could be decoded")):
            status = final(name)
            self.assertEqual(status["state"], "failed", status)
            self.assertIn(files[name], status["error"])
            self.assertIn(reason, status["error"])
            self.assertEqual(sub.segments(name), [], name)
            self.assertIn(files[name], d.stderr())
        self.assertNotIn("reconnecting", sub.states("other"))
        other = sub.segments("other")
        self.assertEqual([s["seq"] for s in other], list(range(len(other))))
        rc, _ = d.terminate()
        self.assertEqual(rc, 0, d.stderr())
        for mark in SANITIZER_MARKS:
            self.assertNotIn(mark, d.stderr())


    def test_realtime_file_with_a_pts_an_hour_ahead(self):
        """A file played in real time whose one video PTS reads an hour later: the
        pacing goes by the packets' timestamps, and must not wait an hour for that
        one; the file plays in about its 10 s and ends, as the analysis does."""
        td.AVFUSED = AVFUSED
        path = write("rt_pts_hour.ts", ts_shift_pts(read(MEDIA["ts"]), 150, 3600))
        d = td.Daemon(self, {"rt": {"type": "file", "url": path, "realtime": "yes"}})
        sub = td.Subscriber(d.endpoint)
        self.addCleanup(sub.close)
        sub.wait(lambda: sub.states("rt") and sub.states("rt")[-1] == "ended", 30,
                 "the file to end")
        segs = sub.segments("rt")
        self.assertEqual([(s["t0"], s["t1"]) for s in segs],
                         [(s["t0"], s["t1"]) for s in intact("ts")])
        status = sub.of("status", "rt")[-1]
        self.assertEqual(status["counters"]["discontinuities"], 2, status)
        self.assertEqual(d.terminate()[0], 0, d.stderr())


def tearDownModule():
    if OUTCOMES:
        sys.stderr.write("\n%-44s %5s %5s %7s  %s\n" % ("case", "exit", "segs", "seconds",
                                                      "first stderr line"))
        for case, rc, n, took, line in OUTCOMES:
            sys.stderr.write("%-44s %5s %5d %7.2f  %s\n" % (case, rc, n, took, line[:100]))


if __name__ == "__main__":
    unittest.main(verbosity=2)
