#!/usr/bin/env python3
"""Builds the training and validation manifests of avfuse's classifier heads.

Usage: models/prepare_data.py [--data DIR] [--cache DIR] [--out DIR] [--force]

  --data   the shared labeled data (default: <repo>/../shared/data)
  --cache  where debian-media.sh unpacks its packages and where the 8 kHz copies
           go (default: $AVFUSE_CACHE, else ~/.cache/avfuse-media)
  --out    where the manifests go (default: <repo>/build/models)
  --force  re-encode the 8 kHz copies even when they exist

Steps (models/README.md explains every choice):
  a. runs `sh DATA/debian-media.sh CACHE` (it skips packages already unpacked);
  b. picks the recordings of every class from every source, deterministically
     (sorted paths; sampling and excerpts by a salted SHA-1 of the path, never
     random()), with a cap on the audio taken per source;
  c. writes 8 kHz mono FLAC copies of ~30 % of the wide-band rows into
     CACHE/bandlimited/ and lists them as extra rows with the labels and the
     group of their original;
  d. splits by group (speaker, device, track, file) into train and validation;
  e. writes OUT/train.csv, OUT/val.csv, OUT/val_emodb.csv (manifest format of
     DESIGN.md: file,start,end,content,valence,arousal; paths relative to OUT)
     and OUT/data_summary.json;
  f. prints a table per split and the totals.

Python 3 standard library and the ffmpeg/ffprobe command-line tools only. Every
file it writes is byte-identical on a second run with the same inputs.
"""
import argparse
import array
import csv
import hashlib
import io
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
import wave
from concurrent.futures import ThreadPoolExecutor

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JOBS = 2                 # the machines this runs on have 2 cores
MIN_MS = 300             # files (and excerpts) shorter than this are skipped
VAL_FRACTION = 0.2       # share of the groups held out where no fixed ids are given
COPY_FRACTION = 0.3      # share of the wide-band rows that get an 8 kHz copy
NARROW_HZ = 8000         # a recording at or below this rate counts as "8 kHz"

# Fixed held-out groups (see models/README.md).
EMODB_VAL_SPEAKERS = ("11", "13")   # one male, one female, all 7 emotions each
FSDD_VAL_SPEAKERS = ("jackson",)    # 1 of the 4 speakers

# Per-source caps, in milliseconds: `cap` bounds the source's total, `item`
# bounds what one file contributes (a longer file gives one excerpt of that
# length at a position chosen by the hash of its path).
CAPS = {
    "emodb": dict(cap=None, item=None),
    "fsdd": dict(cap=300_000, item=None),
    "asterisk-prompts": dict(cap=480_000, item=30_000),
    "asterisk-monkeys": dict(cap=None, item=30_000),
    "librivox": dict(cap=None, item=None),
    "asterisk-moh": dict(cap=None, item=60_000),
    "wesnoth": dict(cap=None, item=20_000),
    "sonic-pi": dict(cap=None, item=None),
    "scratch": dict(cap=None, item=None),
    "donateacry": dict(cap=900_000, item=None),
}

# Where each source lives: ("data", sub) under --data or ("cache", sub) under --cache.
ROOTS = {
    "emodb": ("data", "emodb"),
    "fsdd": ("data", "fsdd"),
    "donateacry": ("data", "donateacry"),
    "asterisk-prompts": ("cache", "asterisk-core-sounds-en-wav/usr/share/asterisk/sounds/en_US_f_Allison"),
    "asterisk-monkeys": ("cache", "asterisk-core-sounds-en-wav/usr/share/asterisk/sounds/en_US_f_Allison"),
    "librivox": ("cache", "pocketsphinx-testdata/usr/share/pocketsphinx/test/data/librivox"),
    "asterisk-moh": ("cache", "asterisk-moh-opsound-wav/usr/share/asterisk/moh"),
    "wesnoth": ("cache", "wesnoth-1.16-music/usr/share/games/wesnoth/1.16/data/core/music"),
    "sonic-pi": ("cache", "sonic-pi-samples/usr/share/sonic-pi/samples"),
    "scratch": ("cache", "scratch/usr/share/scratch/Media/Sounds"),
}

# Titles, licenses and attributions (from shared/data/README.md, the role lines of
# debian-media.sh and the packages' copyright files). Written into data_summary.json.
SOURCES = {
    "emodb": dict(
        title="Berlin Database of Emotional Speech (EmoDB), 8 of 10 speakers, German, 22.05 kHz",
        license="CC0-1.0",
        attribution="Burkhardt et al., \"A Database of German Emotional Speech\", Interspeech 2005; as published by audEERING"),
    "fsdd": dict(
        title="Free Spoken Digit Dataset, 4 English speakers, 8 kHz",
        license="CC-BY-SA-4.0",
        attribution="Jakobovski and contributors"),
    "donateacry": dict(
        title="Donate-a-Cry corpus (cleaned), infant cries, 8 kHz",
        license="ODbL-1.0 + DbCL-1.0",
        attribution="Donate-a-Cry corpus contributors"),
    "asterisk-prompts": dict(
        title="asterisk-core-sounds-en-wav 1.6.1-1: English IVR prompts, one female speaker, 8 kHz",
        license="CC-BY-SA-3.0",
        attribution="Allison Smith (recording), Digium, Inc."),
    "asterisk-monkeys": dict(
        title="asterisk-core-sounds-en-wav 1.6.1-1: tt-monkeys.wav (monkey screeches), 8 kHz",
        license="CC-BY-SA-3.0",
        attribution="Allison Smith, Digium, Inc. (asterisk-core-sounds)"),
    "librivox": dict(
        title="pocketsphinx-testdata 0.8+5prealpha+1-15: LibriVox read speech (Sense and Sensibility ch. 1), 16 kHz",
        license="BSD-2 (package); LibriVox recordings are public domain",
        attribution="Carnegie Mellon University (pocketsphinx); LibriVox volunteer reader"),
    "asterisk-moh": dict(
        title="asterisk-moh-opsound-wav 2.03-1.1: electronic/ambient hold music, 8 kHz",
        license="CC-BY-SA-3.0",
        attribution="Paul Shuler (Macroform), Manolo Camp, Reno Project"),
    "wesnoth": dict(
        title="wesnoth-1.16-music 1:1.16.9-1: orchestral game soundtrack, 44.1 kHz",
        license="GPL-2+",
        attribution="The Battle for Wesnoth project and its composers"),
    "sonic-pi": dict(
        title="sonic-pi-samples 3.2.2~repack-8: musical loops, ambience, glitch and effect samples, 44.1 kHz",
        license="CC0-1.0",
        attribution="freesound.org authors listed in the package's samples/README.md (Sonic Pi, Samuel Aaron)"),
    "scratch": dict(
        title="scratch 1.4.0.6~dfsg1-6.1: Scratch sound library, 11.025-44.1 kHz",
        license="CC-BY-SA-3.0 (Media/* per the package's copyright file; the program is GPL-2)",
        attribution="Massachusetts Institute of Technology (Scratch)"),
}
SOURCE_ORDER = ["emodb", "fsdd", "asterisk-prompts", "librivox", "asterisk-moh", "wesnoth",
                "sonic-pi", "scratch", "donateacry", "asterisk-monkeys"]

# --- class choices for the sound libraries (models/README.md gives the reasons) ---
ASTERISK_NOT_SPEECH = {  # tones and beeps among the prompts
    "ascending-2tone.wav", "descending-2tone.wav", "beep.wav", "beeperr.wav",
    "confbridge-join.wav", "confbridge-leave.wav"}
ASTERISK_NOISE = {"tt-monkeys.wav"}   # monkey screeches, not speech
WESNOTH_SKIP = {"silence.ogg"}        # an empty track
SONICPI_MUSIC = {
    "loop_garzul.flac", "loop_mika.flac", "loop_drone_g_97.flac", "loop_weirdo.flac",
    "guit_e_fifths.flac", "guit_e_slide.flac", "guit_em9.flac", "guit_harmonics.flac",
    "ambi_piano.flac", "ambi_choir.flac"}
SONICPI_NOISE_PREFIXES = ("ambi_", "glitch_", "misc_", "vinyl_", "mehackit_phone", "mehackit_robot")
SONICPI_NOISE = {
    "loop_3d_printer.flac", "perc_bell.flac", "perc_bell2.flac", "perc_door.flac",
    "perc_impact1.flac", "perc_impact2.flac", "perc_snap.flac", "perc_snap2.flac",
    "perc_swash.flac", "perc_swoosh.flac", "perc_till.flac"}
SCRATCH_MUSIC_DIRS = ("Music Loops", "Instruments", "Vocals")
SCRATCH_NOISE_DIRS = ("Animal", "Effects", "Electronic", "Human")
SCRATCH_SKIP = {  # drums-only loops, vocal percussion, a shout, speech babble
    "Music Loops/Drum.mp3", "Music Loops/DrumMachine.mp3", "Music Loops/DrumSet1.mp3",
    "Music Loops/DrumSet2.mp3", "Music Loops/HumanBeatbox1.mp3", "Music Loops/HumanBeatbox2.mp3",
    "Vocals/BeatBox1.wav", "Vocals/BeatBox2.wav", "Vocals/Ya.wav", "Human/PartyNoise.wav"}
SCRATCH_AFFECT = {  # non-speech vocal affect, labeled like donateacry
    "Human/BabyCry.mp3": ("negative", "high"),
    "Human/Laugh-female.wav": ("positive", "high"),
    "Human/Laugh-male1.wav": ("positive", "high"),
    "Human/Laugh-male2.wav": ("positive", "high"),
    "Human/Laugh-male3.mp3": ("positive", "high"),
    "Human/Scream-female.wav": ("negative", "high"),
    "Human/Scream-male1.wav": ("negative", "high"),
    "Human/Scream-male2.mp3": ("negative", "high"),
}
AUDIO_EXT = (".wav", ".flac", ".ogg", ".mp3")
CONTENT = ("speech", "music", "noise", "silence")
VALENCE = ("negative", "neutral", "positive")
AROUSAL = ("low", "medium", "high")


def log(*a):
    print(*a, flush=True)


def die(msg):
    sys.stderr.write("prepare_data: " + msg + "\n")
    sys.exit(1)


def hint(salt, key):
    """A fixed pseudo-random 64-bit number from a salt and a path: no random()."""
    d = hashlib.sha1((salt + "\0" + key).encode("utf-8")).digest()
    return int.from_bytes(d[:8], "big")


def fmt_ms(ms):
    return "" if ms is None else "%d.%03d" % divmod(ms, 1000)


# ---------------------------------------------------------------- probing

def flac_header(path):
    """(rate, channels, samples) from the STREAMINFO block, or None."""
    try:
        with open(path, "rb") as f:
            h = f.read(42)
    except OSError:
        return None
    if len(h) < 42 or h[:4] != b"fLaC" or (h[4] & 0x7F) != 0:
        return None
    si = h[8:42]
    rate = (si[10] << 12) | (si[11] << 4) | (si[12] >> 4)
    ch = ((si[12] >> 1) & 7) + 1
    bits = (((si[12] & 1) << 4) | (si[13] >> 4)) + 1
    n = ((si[13] & 0x0F) << 32) | struct.unpack(">I", si[14:18])[0]
    if rate <= 0 or n <= 0:
        return None
    return rate, ch, n, bits


def wav_header(path):
    try:
        with wave.open(path, "rb") as w:
            rate, ch, n, bits = w.getframerate(), w.getnchannels(), w.getnframes(), 8 * w.getsampwidth()
    except (wave.Error, EOFError, OSError):
        return None
    if rate <= 0 or n <= 0:
        return None
    return rate, ch, n, bits


def ffprobe(path):
    """(rate, channels, duration_ms) of the first audio stream, or None."""
    cmd = ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
           "stream=sample_rate,channels,duration:format=duration", "-of", "json", path]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        return None
    try:
        j = json.loads(p.stdout)
        st = j["streams"][0]
        dur = st.get("duration") or j["format"]["duration"]
        return int(st["sample_rate"]), int(st["channels"]), int(round(float(dur) * 1000))
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def concat_decode(paths):
    """Decodes the files one after the other (ffmpeg's concat demuxer, one process)
    into mono 16-bit samples at their own rate; None on any error."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        for p in paths:
            f.write("file '%s'\n" % p.replace("'", "'\\''"))
        lst = f.name
    try:
        cmd = ["ffmpeg", "-nostdin", "-v", "error", "-f", "concat", "-safe", "0", "-i", lst,
               "-map", "0:a:0", "-ac", "1", "-c:a", "pcm_s16le", "-f", "s16le", "-"]
        p = subprocess.run(cmd, capture_output=True)
    finally:
        os.unlink(lst)
    if p.returncode != 0 or p.stderr.strip():
        return None
    a = array.array("h")
    a.frombytes(p.stdout[: len(p.stdout) // 2 * 2])
    if sys.byteorder == "big":
        a.byteswap()
    return a


class Probe:
    """Rate, channels and duration of every candidate file; drops unreadable files.

    FLAC and PCM WAV durations come from their headers (exact sample counts); each
    group of such files with one format is then decoded in a single ffmpeg process to
    prove that every file decodes and has the samples its header promises (if not,
    each file of the group is checked with ffprobe). Other formats (MP3, Ogg) and
    headers Python cannot read go through ffprobe, one file at a time."""

    def __init__(self, pool):
        self.pool = pool
        self.skipped = []    # (path, reason)

    def run(self, paths, keep_samples=False):
        """Returns {path: dict(rate, ch, ms, samples?)} for the readable files."""
        info, kind, slow = {}, {}, []
        for p in paths:
            h = flac_header(p) if p.endswith(".flac") else wav_header(p) if p.endswith(".wav") else None
            if h:
                info[p] = dict(rate=h[0], ch=h[1], n=h[2], ms=h[2] * 1000 // h[0])
                kind[p] = (os.path.splitext(p)[1], h[0], h[1], h[3])
            else:
                slow.append(p)
        # The concat demuxer needs one codec and one sample format per batch.
        groups = {}
        for p in sorted(info):
            groups.setdefault(kind[p], []).append(p)
        jobs = {k: self.pool.submit(concat_decode, g) for k, g in sorted(groups.items())}
        for k, g in sorted(groups.items()):
            r = k[1]
            a = jobs[k].result()
            if a is not None and len(a) == sum(info[p]["n"] for p in g):
                if keep_samples:
                    off = 0
                    for p in g:
                        info[p]["samples"] = a[off: off + info[p]["n"]]
                        off += info[p]["n"]
                continue
            log("  (batch decode of %d files at %d Hz failed: checking each with ffprobe)" % (len(g), r))
            for p in g:
                del info[p]
                slow.append(p)
        for p, res in zip(slow, self.pool.map(ffprobe, slow)):
            if res is None:
                self.skipped.append((p, "ffprobe cannot read it"))
            else:
                info[p] = dict(rate=res[0], ch=res[1], ms=res[2])
        if keep_samples:
            for p in slow:
                if p in info:   # decode one by one
                    a = concat_decode([p])
                    if a is None:
                        self.skipped.append((p, "cannot be decoded"))
                        del info[p]
                    else:
                        info[p]["samples"] = a
        return info


# ---------------------------------------------------------------- rows

class Row:
    __slots__ = ("source", "path", "key", "rate", "ms", "start", "end", "content",
                 "valence", "arousal", "group", "split", "copy_of")

    def __init__(self, source, path, key, rate, ms, content, valence="", arousal="",
                 group=None, start=None, end=None):
        self.source, self.path, self.key = source, path, key
        self.rate, self.ms = rate, ms
        self.start, self.end = start, end
        self.content, self.valence, self.arousal = content, valence, arousal
        self.group = group if group is not None else key
        self.split = None
        self.copy_of = None

    @property
    def seconds_ms(self):
        return (self.ms if self.end is None else self.end) - (self.start or 0)

    @property
    def narrow(self):
        return self.rate <= NARROW_HZ


def list_audio(root, sub=""):
    base = os.path.join(root, sub) if sub else root
    out = []
    for dp, dn, fn in os.walk(base):
        dn.sort()
        for f in sorted(fn):
            if f.lower().endswith(AUDIO_EXT):
                out.append(os.path.join(dp, f))
    return sorted(out)


def read_manifest(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def excerpt(row, item_ms):
    """Bounds a file to one excerpt of item_ms. By the hash of the path, a quarter
    of the excerpts start at the beginning of the file and a quarter end at its
    end (intros, fade-outs and the pauses around them are real near-silence); the
    rest start at a hashed position."""
    if item_ms is None or row.ms <= item_ms:
        return row
    span = row.ms - item_ms
    h = hint("excerpt", row.key)
    row.start = 0 if h % 4 == 0 else span if h % 4 == 1 else (h // 4) % (span + 1)
    row.end = row.start + item_ms
    return row


def capped(rows, cap_ms, salt):
    """Round robin over the groups (in hashed order; files in hashed order within a
    group) until the source's total reaches cap_ms: every speaker or device gets
    its share before any gets a second file."""
    if cap_ms is None:
        return rows
    groups = {}
    for r in rows:
        groups.setdefault(r.group, []).append(r)
    order = sorted(groups, key=lambda g: (hint(salt + "/group", g), g))
    for g in order:
        groups[g].sort(key=lambda r: (hint(salt, r.key), r.key))
    picked, total, rank = [], 0, 0
    while total < cap_ms:
        took = False
        for g in order:
            if rank < len(groups[g]):
                r = groups[g][rank]
                picked.append(r)
                total += r.seconds_ms
                took = True
                if total >= cap_ms:
                    break
        if not took:
            break
        rank += 1
    return picked


def collect(data, cache, probe):
    """Chooses the rows of every source (step b)."""
    rows = []

    def root(src):
        kind, sub = ROOTS[src]
        return os.path.join(data if kind == "data" else cache, sub)

    def add(src, candidates, keep_samples=False):
        """candidates: [(path, content, valence, arousal, group)]; probes, skips short
        files, bounds excerpts, applies the source cap."""
        info = probe.run([c[0] for c in candidates], keep_samples=keep_samples)
        out = []
        base = root(src)
        for path, content, val, aro, group in candidates:
            if path not in info:
                continue
            i = info[path]
            key = os.path.relpath(path, base)
            out.append((Row(src, path, key, i["rate"], i["ms"], content, val, aro, group), i))
        res = []
        for r, i in out:
            if src == "emodb":
                trim_emodb(r, i)
            excerpt(r, CAPS[src]["item"])
            if r.seconds_ms < MIN_MS:
                probe.skipped.append((r.path, "shorter than 0.3 s"))
                continue
            res.append(r)
        res = capped(res, CAPS[src]["cap"], "cap/" + src)
        res.sort(key=lambda r: (r.key, r.start or 0))
        log("  %-18s %5d files  %7.1f s" % (src, len(res), sum(r.seconds_ms for r in res) / 1000))
        rows.extend(res)

    # speech
    m = read_manifest(os.path.join(root("emodb"), "manifest.csv"))
    add("emodb", [(os.path.join(root("emodb"), x["file"]), "speech", x["valence"], x["arousal"],
                   "speaker " + x["speaker"]) for x in sorted(m, key=lambda x: x["file"])],
        keep_samples=True)
    m = read_manifest(os.path.join(root("fsdd"), "manifest.csv"))
    add("fsdd", [(os.path.join(root("fsdd"), x["file"]), "speech", "neutral", "",
                  "speaker " + x["speaker"]) for x in sorted(m, key=lambda x: x["file"])])
    base = root("asterisk-prompts")
    cands, monkeys = [], []
    for p in list_audio(base):
        k = os.path.relpath(p, base)
        if k.split(os.sep)[0] == "silence" or k in ASTERISK_NOT_SPEECH:
            continue
        if k in ASTERISK_NOISE:
            monkeys.append((p, "noise", "", "", k))
        else:
            cands.append((p, "speech", "neutral", "", k))
    add("asterisk-prompts", cands)
    add("librivox", [(p, "speech", "neutral", "", os.path.basename(p)) for p in list_audio(root("librivox"))])
    # music
    add("asterisk-moh", [(p, "music", "", "", os.path.basename(p)) for p in list_audio(root("asterisk-moh"))])
    add("wesnoth", [(p, "music", "", "", os.path.basename(p)) for p in list_audio(root("wesnoth"))
                    if os.path.basename(p) not in WESNOTH_SKIP])
    # music and noise from the sample libraries
    cands = []
    for p in list_audio(root("sonic-pi")):
        n = os.path.basename(p)
        if n in SONICPI_MUSIC:
            cands.append((p, "music", "", "", n))
        elif n in SONICPI_NOISE or n.startswith(SONICPI_NOISE_PREFIXES):
            cands.append((p, "noise", "", "", n))
    add("sonic-pi", cands)
    base = root("scratch")
    cands = []
    for p in list_audio(base):
        k = os.path.relpath(p, base)
        d = k.split(os.sep)[0]
        if k in SCRATCH_SKIP:
            continue
        if d in SCRATCH_MUSIC_DIRS:
            cands.append((p, "music", "", "", k))
        elif d in SCRATCH_NOISE_DIRS:
            v, a = SCRATCH_AFFECT.get(k, ("", ""))
            cands.append((p, "noise", v, a, k))
    add("scratch", cands)
    # noise
    m = read_manifest(os.path.join(root("donateacry"), "manifest.csv"))
    add("donateacry", [(os.path.join(root("donateacry"), x["file"]), "noise", "negative", "high",
                        "device " + x["file"][:36]) for x in sorted(m, key=lambda x: x["file"])])
    add("asterisk-monkeys", monkeys)
    return rows


def trim_emodb(row, info):
    """EmoDB clips are zero-padded to 2.00 s: end the row at the last non-zero
    sample when the padding is 10 ms or longer, so that "digital silence at the
    end" cannot become a cue."""
    a = info.get("samples")
    if a is None:
        return
    n = len(a)
    j = n
    while j > 0 and a[j - 1] == 0:
        j -= 1
    if n - j >= info["rate"] // 100 and j > 0:
        end = -(-(j * 1000) // info["rate"])     # ceil to the millisecond
        if end < row.ms:
            row.end = end


# ---------------------------------------------------------------- split

def split_rows(rows):
    """Step d: assigns every row to train or val by its group."""
    units = {}
    for r in rows:
        # A split unit is a source (or, for the sample libraries, a source and a
        # class, so that val gets music and noise from each of them).
        u = (r.source, r.content) if r.source in ("sonic-pi", "scratch") else (r.source,)
        units.setdefault(u, set()).add(r.group)
    val_groups = set()
    for u, groups in sorted(units.items()):
        src = u[0]
        if src == "emodb":
            held = {g for g in groups if g.split()[-1] in EMODB_VAL_SPEAKERS}
        elif src == "fsdd":
            held = {g for g in groups if g.split()[-1] in FSDD_VAL_SPEAKERS}
        else:
            order = sorted(groups, key=lambda g: (hint("split/" + src, g), g))
            n = len(order)
            k = max(1, int(round(VAL_FRACTION * n))) if n >= 2 else 0
            held = set(order[:k])
        val_groups |= {(src, g) for g in held}
    for r in rows:
        r.split = "val" if (r.source, r.group) in val_groups else "train"


# ---------------------------------------------------------------- 8 kHz copies

def copy_path(cache, r):
    stem = os.path.splitext(r.key)[0]
    if r.start is not None or r.end is not None:
        stem += "@%d-%dms" % (r.start or 0, r.end if r.end is not None else r.ms)
    return os.path.join(cache, "bandlimited", r.source, stem + ".flac")


def encode_copy(job):
    src, dst, start, end, force = job
    if not force and os.path.exists(dst) and os.path.getmtime(dst) >= os.path.getmtime(src):
        return None
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    tmp = dst + ".tmp"
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y"]
    if start:
        cmd += ["-ss", fmt_ms(start)]
    if end is not None:
        cmd += ["-t", fmt_ms(end - (start or 0))]
    cmd += ["-i", src, "-map", "0:a:0", "-ar", "8000", "-ac", "1", "-c:a", "flac",
            "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact",
            "-f", "flac", tmp]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        if os.path.exists(tmp):
            os.unlink(tmp)
        return "%s: %s" % (src, p.stderr.strip()[-300:])
    os.replace(tmp, dst)
    return None


def bandlimited(rows, cache, pool, force):
    """Step c: an 8 kHz copy for ~30 % of the wide-band rows of every (source,
    class, split), with the labels and group of its original."""
    units = {}
    for r in rows:
        if not r.narrow:
            units.setdefault((r.source, r.content, r.split), []).append(r)
    chosen = []
    for u, rs in sorted(units.items()):
        rs = sorted(rs, key=lambda r: (hint("bandlimit/" + u[0], "%s@%s" % (r.key, r.start)), r.key))
        k = max(1, int(round(COPY_FRACTION * len(rs))))
        chosen.extend(rs[:k])
    chosen.sort(key=lambda r: (SOURCE_ORDER.index(r.source), r.key, r.start or 0))
    copies, jobs = [], []
    for r in chosen:
        dst = copy_path(cache, r)
        jobs.append((r.path, dst, r.start, r.end, force))
        c = Row(r.source, dst, r.key, 8000, r.seconds_ms, r.content, r.valence, r.arousal, r.group)
        c.split, c.copy_of = r.split, r
        copies.append(c)
    errors = [e for e in pool.map(encode_copy, jobs) if e]
    if errors:
        die("8 kHz copies failed:\n" + "\n".join(errors))
    # Drop copies that an earlier run made and this one does not list.
    keep = {c.path for c in copies}
    top = os.path.join(cache, "bandlimited")
    for dp, dn, fn in os.walk(top, topdown=False):
        for f in fn:
            p = os.path.join(dp, f)
            if p not in keep and (f.endswith(".flac") or f.endswith(".tmp")):
                os.unlink(p)
        if dp != top and not os.listdir(dp):
            os.rmdir(dp)
    return copies


# ---------------------------------------------------------------- output

def write_manifest(path, rows, out):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["file", "start", "end", "content", "valence", "arousal"])
    for r in rows:
        rel = os.path.relpath(r.path, out)
        if any(c in rel for c in ',"\n\r'):
            die("a path the manifest cannot hold unquoted: " + rel)
        assert r.content in CONTENT and r.valence in VALENCE + ("",) and r.arousal in AROUSAL + ("",)
        w.writerow([rel, fmt_ms(r.start), fmt_ms(r.end), r.content, r.valence, r.arousal])
    write_if_changed(path, buf.getvalue())


def write_if_changed(path, text):
    data = text.encode("utf-8")
    try:
        with open(path, "rb") as f:
            if f.read() == data:
                return
    except OSError:
        pass
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def stats(rows):
    s = dict(rows=len(rows), seconds=round(sum(r.seconds_ms for r in rows) / 1000, 3),
             content={}, valence={}, arousal={}, sources={})
    for c in CONTENT:
        rc = [r for r in rows if r.content == c]
        s["content"][c] = dict(
            rows=len(rc), seconds=round(sum(r.seconds_ms for r in rc) / 1000, 3),
            rows_8k=sum(1 for r in rc if r.narrow), rows_wide=sum(1 for r in rc if not r.narrow),
            seconds_8k=round(sum(r.seconds_ms for r in rc if r.narrow) / 1000, 3),
            seconds_wide=round(sum(r.seconds_ms for r in rc if not r.narrow) / 1000, 3),
            bandlimited_copies=sum(1 for r in rc if r.copy_of is not None))
    for v in VALENCE + ("",):
        s["valence"][v or "none"] = sum(1 for r in rows if r.valence == v)
    for a in AROUSAL + ("",):
        s["arousal"][a or "none"] = sum(1 for r in rows if r.arousal == a)
    for src in SOURCE_ORDER:
        rs = [r for r in rows if r.source == src]
        if rs:
            s["sources"][src] = dict(
                rows=len(rs), seconds=round(sum(r.seconds_ms for r in rs) / 1000, 3),
                groups=len({r.group for r in rs}),
                bandlimited_copies=sum(1 for r in rs if r.copy_of is not None),
                content=sorted({r.content for r in rs}),
                license=SOURCES[src]["license"])
    s["licenses"] = sorted({SOURCES[src]["license"] for src in s["sources"]})
    return s


def print_table(name, s):
    log("")
    log("%s: %d rows, %.1f s (%.1f min)" % (name, s["rows"], s["seconds"], s["seconds"] / 60))
    log("  %-8s %6s %9s %7s %7s %9s %9s %7s" % ("content", "rows", "seconds", "8k", "wide",
                                               "s 8k", "s wide", "copies"))
    for c in CONTENT:
        x = s["content"][c]
        log("  %-8s %6d %9.1f %7d %7d %9.1f %9.1f %7d" % (
            c, x["rows"], x["seconds"], x["rows_8k"], x["rows_wide"], x["seconds_8k"],
            x["seconds_wide"], x["bandlimited_copies"]))
    log("  valence: " + "  ".join("%s %d" % (k, s["valence"][k]) for k in VALENCE + ("none",)))
    log("  arousal: " + "  ".join("%s %d" % (k, s["arousal"][k]) for k in AROUSAL + ("none",)))
    log("  %-18s %6s %9s %7s %7s  %s" % ("source", "rows", "seconds", "groups", "copies", "content"))
    for src, x in s["sources"].items():
        log("  %-18s %6d %9.1f %7d %7d  %s" % (src, x["rows"], x["seconds"], x["groups"],
                                              x["bandlimited_copies"], ",".join(x["content"])))


def check_sides(train, val):
    """Both sides must hold 8 kHz and wide-band rows of every class that has them,
    and no group may be on both sides."""
    problems = []
    for c in CONTENT:
        for narrow in (True, False):
            t = any(r.content == c and r.narrow == narrow for r in train)
            v = any(r.content == c and r.narrow == narrow for r in val)
            if t != v:
                problems.append("%s %s rows only in %s" % (c, "8 kHz" if narrow else "wide-band",
                                                           "train" if t else "val"))
    tg = {(r.source, r.group) for r in train}
    vg = {(r.source, r.group) for r in val}
    for g in sorted(tg & vg):
        problems.append("group on both sides: %s %s" % g)
    if problems:
        die("split check failed:\n  " + "\n  ".join(problems))


def main():
    t0 = time.monotonic()
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.path.normpath(os.path.join(REPO, "..", "shared", "data")))
    ap.add_argument("--cache", default=os.environ.get("AVFUSE_CACHE")
                    or os.path.join(os.path.expanduser("~"), ".cache", "avfuse-media"))
    ap.add_argument("--out", default=os.path.join(REPO, "build", "models"))
    ap.add_argument("--force", action="store_true", help="re-encode the 8 kHz copies")
    args = ap.parse_args()
    data, cache, out = (os.path.abspath(x) for x in (args.data, args.cache, args.out))
    for d in (data, cache):
        if os.path.commonpath([d, REPO]) == REPO:
            die("%s is inside the repository: recordings must stay out of it" % d)
    script = os.path.join(data, "debian-media.sh")
    if not os.path.isfile(script):
        die("no %s: is --data right?" % script)

    log("a. debian-media.sh -> %s" % cache)
    p = subprocess.run(["sh", script, cache], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in p.stdout.splitlines():
        log("   " + line)
    if p.returncode != 0:
        die("debian-media.sh failed (exit %d)" % p.returncode)

    with ThreadPoolExecutor(JOBS) as pool:
        log("b. choosing recordings")
        probe = Probe(pool)
        rows = collect(data, cache, probe)
        skipped = {}
        for path, why in sorted(probe.skipped):
            base = data if path.startswith(data + os.sep) else cache
            skipped.setdefault(why, []).append(os.path.relpath(path, base))
        for why, paths in sorted(skipped.items()):
            log("   skipped %d files (%s): %s" % (len(paths), why, " ".join(
                paths if len(paths) <= 12 else paths[:12] + ["..."])))
        log("d. splitting by group")
        split_rows(rows)
        log("c. 8 kHz copies -> %s" % os.path.join(cache, "bandlimited"))
        copies = bandlimited(rows, cache, pool, args.force)

    # Each copy follows its original.
    after = {}
    for c in copies:
        after.setdefault(id(c.copy_of), []).append(c)
    rows.sort(key=lambda r: (SOURCE_ORDER.index(r.source), r.key, r.start or 0))
    full = []
    for r in rows:
        full.append(r)
        full.extend(after.get(id(r), []))
    train = [r for r in full if r.split == "train"]
    val = [r for r in full if r.split == "val"]
    val_emodb = [r for r in val if r.source == "emodb" and r.copy_of is None]
    check_sides(train, val)

    log("e. writing %s" % out)
    os.makedirs(out, exist_ok=True)
    write_manifest(os.path.join(out, "train.csv"), train, out)
    write_manifest(os.path.join(out, "val.csv"), val, out)
    write_manifest(os.path.join(out, "val_emodb.csv"), val_emodb, out)
    summary = dict(
        schema="avfuse.data_summary.v1",
        generator="models/prepare_data.py",
        manifest_columns=["file", "start", "end", "content", "valence", "arousal"],
        rules=dict(
            narrow_band_hz=NARROW_HZ, min_seconds=MIN_MS / 1000,
            val_fraction=VAL_FRACTION, bandlimited_fraction=COPY_FRACTION,
            emodb_val_speakers=list(EMODB_VAL_SPEAKERS), fsdd_val_speakers=list(FSDD_VAL_SPEAKERS),
            caps_seconds={s: dict(source=None if c["cap"] is None else c["cap"] / 1000,
                                  per_file=None if c["item"] is None else c["item"] / 1000)
                          for s, c in CAPS.items()},
            split="by group: emodb and fsdd by speaker, donateacry by device, music tracks, "
                  "prompts and samples by file; 8 kHz copies stay with their original",
            silence="no silence rows: the trainer labels near-silent segments itself"),
        sources={s: dict(SOURCES[s]) for s in SOURCE_ORDER},
        splits=dict(train=stats(train), val=stats(val), val_emodb=stats(val_emodb)),
    )
    write_if_changed(os.path.join(out, "data_summary.json"),
                     json.dumps(summary, indent=1, sort_keys=True, ensure_ascii=False) + "\n")

    log("f. tables")
    for name in ("train", "val", "val_emodb"):
        print_table(name, summary["splits"][name])
    tot = summary["splits"]["train"]["seconds"] + summary["splits"]["val"]["seconds"]
    log("")
    log("total: %d rows, %.1f s (%.1f min) = train %.1f min + val %.1f min; %d 8 kHz copies; %.0f s"
        % (len(full), tot, tot / 60, summary["splits"]["train"]["seconds"] / 60,
           summary["splits"]["val"]["seconds"] / 60, len(copies), time.monotonic() - t0))


if __name__ == "__main__":
    main()
