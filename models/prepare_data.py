#!/usr/bin/env python3
"""Builds the training and validation manifests of avfuse's classifier heads.

Usage: models/prepare_data.py [--data DIR] [--cache DIR] [--out DIR] [--force]

  --data   the shared labeled data (default: <repo>/../shared/data)
  --cache  where the Debian packages are unpacked and where the 8 kHz copies,
           mixtures and transition files go (default: $AVFUSE_CACHE, else
           ~/.cache/avfuse-media)
  --out    where the manifests go (default: <repo>/build/models)
  --force  re-encode the 8 kHz copies even when they exist

Steps (models/README.md explains every choice):
  a. fetches the pinned Debian 12 packages of PACKAGES (`apt-get download
     name=version`, `dpkg-deb -x`; skips packages already unpacked at that
     version); dies if a package reserved for the independent evaluation is listed;
  b. picks the recordings of every class from every source, deterministically
     (sorted paths; sampling and excerpts by a salted SHA-1 of the path, never
     random()), with a cap on the audio taken per source;
  c. writes 8 kHz mono FLAC copies of ~30 % of the wide-band rows into
     CACHE/bandlimited/ and lists them as extra rows with the labels and the
     group of their original;
  d. splits by group (speaker, device, language, voice pack, track, file) into
     train and validation;
  g. mixes speech over music and over noise at several levels, and h. joins
     "X then music" transition files (X = speech, noise, near-silence), each side
     from its own recordings, into CACHE/mixtures/;
  i. adds short crops (0.5-4 s) of about half the rows of 5 s or more;
  e. writes OUT/train.csv, OUT/val.csv, OUT/val_emodb.csv
     (file,start,end,content,valence,arousal,group; paths relative to OUT;
     content may be `speech+music`/`speech+noise`; a transition file is two
     consecutive rows, the second starting where the first ends) and
     OUT/data_summary.json;
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
import math
import os
import shutil
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
    "asterisk-es": dict(cap=150_000, item=12_000),
    "asterisk-it": dict(cap=150_000, item=12_000),
    "asterisk-ru": dict(cap=150_000, item=12_000),
    "asterisk-es-co": dict(cap=90_000, item=12_000),
    "asterisk-monkeys": dict(cap=None, item=30_000),
    "librivox": dict(cap=None, item=None),
    "alsa": dict(cap=None, item=None),
    "klettres": dict(cap=240_000, item=None),
    "hedgewars-voices": dict(cap=300_000, item=None),
    "pingus": dict(cap=None, item=10_000),
    "asterisk-moh": dict(cap=None, item=60_000),
    "wesnoth": dict(cap=None, item=20_000),
    "hedgewars-music": dict(cap=None, item=10_000),
    "colobot": dict(cap=None, item=10_000),
    "singularity": dict(cap=None, item=12_000),
    "frozen-bubble": dict(cap=None, item=15_000),
    "lmms": dict(cap=None, item=None),
    "sonic-pi": dict(cap=None, item=None),
    "scratch": dict(cap=None, item=None),
    "hedgewars-sfx": dict(cap=None, item=None),
    "desktop-sounds": dict(cap=None, item=None),
    "donateacry": dict(cap=900_000, item=None),
}

# The Debian 12 packages fetched in step a, pinned: (package, version, .deb size in
# MB, role, license of the recordings as the package's copyright file gives it).
PACKAGES = [
    ("asterisk-core-sounds-en-wav", "1.6.1-1", 18.3,
     "speech: one female speaker, English IVR prompts, 8 kHz", "CC-BY-SA-3.0"),
    ("asterisk-core-sounds-es-wav", "1.6.1-1", 23.8,
     "speech: one female speaker, Mexican Spanish IVR prompts, 8 kHz", "CC-BY-SA-3.0"),
    ("asterisk-core-sounds-it-wav", "1.6.1-1", 18.3,
     "speech: one speaker, Italian IVR prompts, 8 kHz", "CC-BY-SA-3.0"),
    ("asterisk-core-sounds-ru-wav", "1.6.1-1", 18.8,
     "speech: one speaker, Russian IVR prompts, 8 kHz", "CC-BY-SA-3.0"),
    ("asterisk-prompt-es-co", "0.20070403-2.1", 1.0,
     "speech: Colombian Spanish IVR prompts, GSM 8 kHz", "GPL-2"),
    ("asterisk-moh-opsound-wav", "2.03-1.1", 14.0,
     "music: electronic/ambient hold music, 8 kHz", "CC-BY-SA-3.0"),
    ("pocketsphinx-testdata", "0.8+5prealpha+1-15", 1.8,
     "speech: LibriVox read speech, 16 kHz", "BSD-2-Clause"),
    ("alsa-utils", "1.2.8-1", 1.1,
     "speech: channel-test words (\"Front Left\" ...), one female speaker, 48 kHz", "GPL-2+"),
    ("klettres-data", "4:22.12.3-1", 39.5,
     "speech: letters and syllables read aloud in 25 languages by many speakers", "GPL-2+"),
    ("hedgewars-data", "1.0.2-6", 145.3,
     "speech, music, noise: game voice packs (acted lines), soundtrack, effects", "GPL-2 / various"),
    ("wesnoth-1.16-music", "1:1.16.9-1", 153.2,
     "music: orchestral game soundtrack, 44.1 kHz", "GPL-2+"),
    ("colobot-common-sounds", "0.2.0-2", 60.7,
     "music and noise: game soundtrack, robot/engine/weapon effects", "GPL-3+"),
    ("singularity-music", "007-2", 51.6,
     "music: electronic/ambient game soundtrack", "CC-BY-SA-3.0"),
    ("frozen-bubble-data", "2.212-11", 21.9,
     "music and noise: game music, effects", "GPL-2+"),
    ("pingus-data", "0.7.6-5.1", 11.7,
     "speech and noise: 3 spoken lines, effects (its tracker music is not used)", "GPL-3+"),
    ("lmms-common", "1.2.2+dfsg1-6", 8.3,
     "music and noise: sampler loops, instrument phrases, effects", "GPL-2+"),
    ("sonic-pi-samples", "3.2.2~repack-8", 21.9,
     "music and noise: loops, drums, ambience, glitches", "CC0-1.0"),
    ("scratch", "1.4.0.6~dfsg1-6.1", 25.7,
     "music and noise: Scratch sound library (animals, effects, instruments, loops, vocals)",
     "CC-BY-SA-3.0"),
    ("sound-theme-freedesktop", "0.8-2", 0.4,
     "noise: desktop alerts, bells, alarms, phone ringing", "GPL-2+ / CC-BY-3.0 / CC-BY-SA-3.0"),
    ("oxygen-sounds", "4:5.27.5-2", 1.9,
     "noise and music: KDE Oxygen notifications, login/logout jingles", "LGPL-3 / CC-BY-SA"),
    ("deepin-sound-theme", "15.10.6-1", 3.8,
     "noise and music: Deepin desktop notifications, startup jingles", "GPL-3+"),
    ("yaru-theme-sound", "22.10.3-1", 0.5,
     "noise and music: Yaru desktop notifications, startup jingle", "CC-BY-SA-4.0"),
    ("sound-icons", "0.1-8", 0.5,
     "noise: short UI sound icons for speech-enabled programs", "GPL-2+"),
    ("psi-plus-sounds", "1.4.554-5", 0.7,
     "noise: chat client alerts", "GPL-2+"),
]
# Reserved for the project's independent evaluation: never fetched nor used, and
# nothing derived from them (the other encodings of the French prompts).
RESERVED = {"asterisk-core-sounds-fr-wav", "minetest-data", "hyperrogue-music",
            "drascula-music", "fillets-ng-data", "ktuberling-data"}
RESERVED_PREFIXES = ("asterisk-core-sounds-fr",)

# Where each source lives: ("data", sub) under --data or ("cache", sub) under --cache.
ROOTS = {
    "emodb": ("data", "emodb"),
    "fsdd": ("data", "fsdd"),
    "donateacry": ("data", "donateacry"),
    "asterisk-prompts": ("cache", "asterisk-core-sounds-en-wav/usr/share/asterisk/sounds/en_US_f_Allison"),
    "asterisk-monkeys": ("cache", "asterisk-core-sounds-en-wav/usr/share/asterisk/sounds/en_US_f_Allison"),
    "asterisk-es": ("cache", "asterisk-core-sounds-es-wav/usr/share/asterisk/sounds/es_MX_f_Allison"),
    "asterisk-it": ("cache", "asterisk-core-sounds-it-wav/usr/share/asterisk/sounds/it_IT_m_Carlo"),
    "asterisk-ru": ("cache", "asterisk-core-sounds-ru-wav/usr/share/asterisk/sounds/ru_RU_f_IvrvoiceRU"),
    "asterisk-es-co": ("cache", "asterisk-prompt-es-co/usr/share/asterisk/sounds"),
    "librivox": ("cache", "pocketsphinx-testdata/usr/share/pocketsphinx/test/data/librivox"),
    "alsa": ("cache", "alsa-utils/usr/share/sounds/alsa"),
    "klettres": ("cache", "klettres-data/usr/share/klettres"),
    "hedgewars-voices": ("cache", "hedgewars-data/usr/share/games/hedgewars/Data/Sounds/voices"),
    "hedgewars-music": ("cache", "hedgewars-data/usr/share/games/hedgewars/Data/Music"),
    "hedgewars-sfx": ("cache", "hedgewars-data/usr/share/games/hedgewars/Data/Sounds"),
    "pingus": ("cache", "pingus-data/usr/share/games/pingus/data"),
    "asterisk-moh": ("cache", "asterisk-moh-opsound-wav/usr/share/asterisk/moh"),
    "wesnoth": ("cache", "wesnoth-1.16-music/usr/share/games/wesnoth/1.16/data/core/music"),
    "colobot": ("cache", "colobot-common-sounds/usr/share/games/colobot"),
    "singularity": ("cache", "singularity-music/usr/share/games/singularity/music"),
    "frozen-bubble": ("cache", "frozen-bubble-data/usr/share/games/frozen-bubble/snd"),
    "lmms": ("cache", "lmms-common/usr/share/lmms/samples"),
    "sonic-pi": ("cache", "sonic-pi-samples/usr/share/sonic-pi/samples"),
    "scratch": ("cache", "scratch/usr/share/scratch/Media/Sounds"),
    "desktop-sounds": ("cache", ""),
}

# Titles, licenses and attributions (from shared/data/README.md and each package's
# /usr/share/doc/PKG/copyright). Written into data_summary.json.
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
SOURCES.update({
    "asterisk-es": dict(
        title="asterisk-core-sounds-es-wav 1.6.1-1: Mexican Spanish IVR prompts, one female speaker (Allison Smith, as in the English prompts), 8 kHz",
        license="CC-BY-SA-3.0",
        attribution="Allison Smith (recording), Digium, Inc."),
    "asterisk-it": dict(
        title="asterisk-core-sounds-it-wav 1.6.1-1: Italian IVR prompts, one male speaker, 8 kHz",
        license="CC-BY-3.0",
        attribution="Carlo Flora, segreterietelefoniche.it (2012)"),
    "asterisk-ru": dict(
        title="asterisk-core-sounds-ru-wav 1.6.1-1: Russian IVR prompts, one female speaker, 8 kHz",
        license="CC-BY-3.0",
        attribution="Maxim (2010), IvrvoiceRU"),
    "asterisk-es-co": dict(
        title="asterisk-prompt-es-co 0.20070403-2.1: Colombian Spanish IVR prompts, one female speaker, GSM 8 kHz",
        license="GPL-2",
        attribution="Avatar Ltda., voice of July E. Jim\u00e9nez (2006)"),
    "alsa": dict(
        title="alsa-utils 1.2.8-1: speaker-test words (\"Front Left\" ...), one female speaker, 48 kHz; Noise.wav",
        license="GPL-2",
        attribution="Jaroslav Kysela and the ALSA developers"),
    "klettres": dict(
        title="klettres-data 4:22.12.3-1: letters and syllables read aloud, 25 languages, one or a few speakers each",
        license="GPL-2+",
        attribution="Anne-Marie Mahfouf and the KLettres contributors (KDE)"),
    "hedgewars-voices": dict(
        title="hedgewars-data 1.0.2-6: voice packs of the game (acted lines, English and Russian/Polish/Spanish/Ukrainian packs)",
        license="GFDL-1.3 (Data/Sounds per the package's copyright file)",
        attribution="The Hedgewars project"),
    "hedgewars-music": dict(
        title="hedgewars-data 1.0.2-6: game soundtrack (Data/Music), 44.1 kHz",
        license="GPL-2",
        attribution="The Hedgewars project; composers in Data/Music/credits.txt"),
    "hedgewars-sfx": dict(
        title="hedgewars-data 1.0.2-6: game sound effects (weapons, engines, water, animals)",
        license="GFDL-1.3 (Droplet*: CC-BY-SA-3.0, saugox on freesound.org)",
        attribution="The Hedgewars project; saugox (Droplet*)"),
    "pingus": dict(
        title="pingus-data 0.7.6-5.1: three spoken game lines and effects",
        license="GPL-3+",
        attribution="Ingo Ruhnke and the Pingus contributors"),
    "colobot": dict(
        title="colobot-common-sounds 0.2.0-2: game soundtrack and effects (robots, engines, weapons)",
        license="GPL-3+",
        attribution="Daniel Roux, EPSITEC SA & TerranovaTeam"),
    "singularity": dict(
        title="singularity-music 007-2: electronic/ambient game soundtrack",
        license="CC-BY-SA-3.0",
        attribution="Max McCracken (Endgame: Singularity)"),
    "frozen-bubble": dict(
        title="frozen-bubble-data 2.212-11: game music and effects",
        license="GPL-2",
        attribution="The Frozen-Bubble Team"),
    "lmms": dict(
        title="lmms-common 1.2.2+dfsg1-6: sampler loops, pads, phrases and effects",
        license="GPL-2+",
        attribution="Tobias Doerffel and the LMMS contributors"),
    "desktop-sounds": dict(
        title="desktop sound themes: sound-theme-freedesktop 0.8-2, oxygen-sounds 4:5.27.5-2, deepin-sound-theme 15.10.6-1, yaru-theme-sound 22.10.3-1, sound-icons 0.1-8, psi-plus-sounds 1.4.554-5",
        license="freedesktop: CC-BY-SA-3.0 / CC-BY-3.0 / GPL-2+ per file; oxygen: LGPL-3+; deepin: GPL-3; yaru sounds: CC-BY-SA-4.0; sound-icons: GPL-2+; psi-plus: GPL-2+",
        attribution="freedesktop.org sound theme authors (per its copyright file), Nuno Povoa (Oxygen), Deepin Technology, Mads Rosendahl (Yaru), Brailcom (sound-icons), Psi+ developers"),
})
SOURCES.update({
    "mixtures": dict(
        title="speech over music and speech over noise, mixed by prepare_data.py from the sources above (same side of the split)",
        license="as the mixed sources",
        attribution="as the mixed sources"),
    "transitions": dict(
        title="\"X then music\" files (X = speech, noise or near-silence), joined by prepare_data.py from the sources above",
        license="as the joined sources",
        attribution="as the joined sources"),
})
SOURCE_ORDER = ["emodb", "fsdd", "asterisk-prompts", "asterisk-es", "asterisk-it", "asterisk-ru",
                "asterisk-es-co", "librivox", "alsa", "klettres", "hedgewars-voices", "pingus",
                "asterisk-moh", "wesnoth", "hedgewars-music", "colobot", "singularity",
                "frozen-bubble", "lmms", "sonic-pi", "scratch", "hedgewars-sfx", "desktop-sounds",
                "donateacry", "asterisk-monkeys", "mixtures", "transitions"]

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
# Other languages' prompts: the same tones and beeps as the English ones are left
# out, and so are their copies of the monkeys.
ASTERISK_OTHER_SKIP = ASTERISK_NOT_SPEECH | {"tt-monkeys.wav", "tt-monkeysintro.wav"}
# Hedgewars voice packs: lines that are words are speech; grunts, cries, laughs,
# coughs, jumps and punches are not words and are left out, and so are the sung
# (Singer) and vocoded (Robot) packs.
HEDGEWARS_NOT_WORDS = ("jump", "ooff", "ow", "ouch", "hmm", "laugh", "nooo", "poison",
                       "firepunch", "uh-oh", "yoohoo")
HEDGEWARS_SKIP_PACKS = {"Singer", "Robot"}
HEDGEWARS_SFX_SKIP = {  # single notes, a tune, vocal sounds, spoken countdowns, jingles
    "1C.ogg", "2D.ogg", "3E.ogg", "4F.ogg", "5G.ogg", "6A.ogg", "7B.ogg", "8C.ogg", "9D.ogg",
    "ride_of_the_valkyries.ogg", "hogchant3.ogg", "Hellish.ogg", "Kiss.ogg", "Yoohoo.ogg",
    "Whistle.ogg", "hell_growl.ogg", "hell_ooff.ogg", "hell_ow.ogg", "hell_ugh.ogg",
    "countdown1.ogg", "countdown2.ogg", "countdown3.ogg", "countdown4.ogg",
    "suddendeath.ogg", "extratime.ogg", "victory.ogg", "homerun.ogg"}
PINGUS_SPEECH = {"sounds/goodidea.wav", "sounds/letsgo.wav", "sounds/ohno.wav"}
PINGUS_SKIP = {"sounds/yipee.wav"}   # a cheer, not a word
FROZEN_MUSIC = {"frozen-mainzik-1p.ogg", "frozen-mainzik-2p.ogg", "introzik.ogg"}
FROZEN_SKIP = {"lose.ogg", "hurry.ogg", "noh.ogg"}   # a jingle and two voices
LMMS_MUSIC_DIRS = ("bassloops", "latin", "stringsnpads")
LMMS_NOISE_DIRS = ("effects", "misc")
LMMS_SKIP = {"misc/raving_crowd01.ogg", "misc/applause01.ogg"}  # crowds may hold voices
# Desktop sound themes: (package folder, sounds folder). Jingles of 3 s or more
# (log-in, log-out, start-up tunes) are music; every other alert, chime, bell,
# ring or click is noise; the spoken channel names and the single instrument notes
# of sound-icons are left out.
DESKTOP_THEMES = (
    ("sound-theme-freedesktop", "usr/share/sounds/freedesktop/stereo"),
    ("oxygen-sounds", "usr/share/sounds"),
    ("deepin-sound-theme", "usr/share/sounds/deepin/stereo"),
    ("yaru-theme-sound", "usr/share/sounds/Yaru/stereo"),
    ("sound-icons", "usr/share/sounds/sound-icons"),
    ("psi-plus-sounds", "usr/share/psi-plus/sound"),
)
DESKTOP_MUSIC_WORDS = ("log-in", "log-out", "login", "logout", "logoff", "system-ready",
                       "system-shutdown")
DESKTOP_MUSIC_MIN_MS = 3000
DESKTOP_SKIP_PREFIXES = ("audio-channel-", "cembalo-", "electric-piano", "guitar-",
                         "klavichord", "piano-", "trumpet-", "violoncello", "xylofon",
                         "percussion-", "chord-")
# Not the tracker modules (.it, .s3m of pingus-data): ffmpeg's libopenmpt renders
# them differently on every decode (the modules' random variations), which would
# break byte-identical outputs and a byte-for-byte rebuild of the model.
AUDIO_EXT = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".gsm")
CONTENT = ("speech", "music", "noise", "silence")
ALL_CONTENT = CONTENT + ("speech+music", "speech+noise")   # as the manifests write them
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


# ---------------------------------------------------------------- fetching

def check_reserved(names):
    """Dies if a reserved package (or one derived from it) would be used."""
    bad = [n for n in names if n in RESERVED or n.startswith(RESERVED_PREFIXES)]
    if bad:
        die("reserved for the independent evaluation, never used here: " + " ".join(bad))


def fetch(cache):
    """Step a: downloads each pinned package (`apt-get download name=version`) into
    CACHE/deb and unpacks it into CACHE/<name>; a package whose folder holds a stamp
    with its version is skipped. Unpacks into a fresh folder (never over existing
    files, which may be hard links shared with another cache)."""
    check_reserved([p[0] for p in PACKAGES])
    debs = os.path.join(cache, "deb")
    os.makedirs(debs, exist_ok=True)
    for name, version, _mb, role, _lic in PACKAGES:
        dest = os.path.join(cache, name)
        stamp = os.path.join(dest, ".avfuse-version")
        try:
            with open(stamp, encoding="utf-8") as f:
                if f.read().strip() == version:
                    continue
        except OSError:
            pass
        # The file name apt-get gives it: an epoch's ':' becomes '%3a'.
        prefix = "%s_%s_" % (name, version.replace(":", "%3a"))
        have = sorted(f for f in os.listdir(debs) if f.startswith(prefix) and f.endswith(".deb"))
        if not have:
            p = subprocess.run(["apt-get", "download", "%s=%s" % (name, version)], cwd=debs,
                               capture_output=True, text=True)
            if p.returncode != 0:
                die("apt-get download %s=%s failed (run apt-get update first?): %s"
                    % (name, version, p.stderr.strip()[-300:]))
            have = sorted(f for f in os.listdir(debs) if f.startswith(prefix) and f.endswith(".deb"))
            if not have:
                die("apt-get download %s=%s left no %s*.deb" % (name, version, prefix))
        if os.path.isdir(dest) and not os.path.exists(stamp) and os.listdir(dest):
            # Unpacked by an earlier script from the same pinned .deb: keep it.
            write_if_changed(stamp, version + "\n")
            continue
        tmp = dest + ".tmp"
        if os.path.isdir(tmp):
            shutil.rmtree(tmp)
        p = subprocess.run(["dpkg-deb", "-x", os.path.join(debs, have[-1]), tmp],
                           capture_output=True, text=True)
        if p.returncode != 0:
            die("dpkg-deb -x %s failed: %s" % (have[-1], p.stderr.strip()[-300:]))
        with open(os.path.join(tmp, ".avfuse-version"), "w", encoding="utf-8") as f:
            f.write(version + "\n")
        if os.path.isdir(dest):
            shutil.rmtree(dest)
        os.replace(tmp, dest)
        log("   %s=%s: %s" % (name, version, role))


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
           "stream=codec_name,sample_rate,channels,duration:format=duration", "-of", "json", path]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        return None
    try:
        j = json.loads(p.stdout)
        st = j["streams"][0]
        if st.get("codec_name") in (None, "", "unknown", "none"):   # no decoder for it
            return None
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

    def __init__(self, pool, memo_path=None):
        self.pool = pool
        self.skipped = []    # (path, reason)
        # ffprobe's answers from earlier runs, by path, size and mtime: the
        # thousands of Ogg files would otherwise cost a process each on every run.
        self.memo_path, self.memo = memo_path, {}
        if memo_path and os.path.exists(memo_path):
            with open(memo_path, encoding="utf-8") as f:
                self.memo = json.load(f)

    def ffprobe(self, path):
        st = os.stat(path)
        m = self.memo.get(path)
        if m and m[0] == st.st_size and m[1] == st.st_mtime_ns:
            return tuple(m[2]) if m[2] else None
        res = ffprobe(path)
        self.memo[path] = [st.st_size, st.st_mtime_ns, list(res) if res else None]
        return res

    def save(self):
        if self.memo_path:
            write_if_changed(self.memo_path, json.dumps(self.memo, sort_keys=True) + "\n")

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
        for p, res in zip(slow, self.pool.map(self.ffprobe, slow)):
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
                 "valence", "arousal", "group", "split", "copy_of", "kind", "gid", "note")

    def __init__(self, source, path, key, rate, ms, content, valence="", arousal="",
                 group=None, start=None, end=None):
        self.source, self.path, self.key = source, path, key
        self.rate, self.ms = rate, ms
        self.start, self.end = start, end
        self.content, self.valence, self.arousal = content, valence, arousal
        self.group = group if group is not None else key
        self.split = None
        self.copy_of = None
        self.kind = ""      # "", "copy", "crop", "mix" or "transition"
        self.gid = "%s:%s" % (source, self.group)   # the manifest's group column
        self.note = ""

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
        return os.path.normpath(os.path.join(data if kind == "data" else cache, sub))

    def add(src, candidates, keep_samples=False):
        """candidates: [(path, content, valence, arousal, group)]; probes, skips short
        files, bounds excerpts, applies the source cap."""
        info = probe.run([c[0] for c in candidates], keep_samples=keep_samples)
        probe.save()
        out = []
        base = root(src)
        for path, content, val, aro, group in candidates:
            if path not in info:
                continue
            i = info[path]
            key = os.path.relpath(path, base)
            if content == "music?":
                content = "music" if i["ms"] >= DESKTOP_MUSIC_MIN_MS else "noise"
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
    collect_new(root, add)
    # noise
    m = read_manifest(os.path.join(root("donateacry"), "manifest.csv"))
    add("donateacry", [(os.path.join(root("donateacry"), x["file"]), "noise", "negative", "high",
                        "device " + x["file"][:36]) for x in sorted(m, key=lambda x: x["file"])])
    add("asterisk-monkeys", monkeys)
    return rows


def prelimit(cands, salt, n):
    """At most n candidates per group, by salted hash, before probing: the capped
    sources with thousands of short files would otherwise cost an ffprobe each."""
    by = {}
    for c in cands:
        by.setdefault(c[4], []).append(c)
    out = []
    for g in sorted(by):
        out.extend(sorted(by[g], key=lambda c: (hint("prelimit/" + salt, c[0]), c[0]))[:n])
    return sorted(out)


def collect_new(root, add):
    """The sources added for broader kinds (models/README.md gives the class choices)."""
    for src in ("asterisk-es", "asterisk-it", "asterisk-ru"):
        base = root(src)
        add(src, [(p, "speech", "neutral", "", os.path.relpath(p, base)) for p in list_audio(base)
                  if os.path.relpath(p, base).split(os.sep)[0] != "silence"
                  and os.path.basename(p) not in ASTERISK_OTHER_SKIP])
    add("asterisk-es-co", [(p, "speech", "neutral", "", os.path.relpath(p, root("asterisk-es-co")))
                           for p in list_audio(root("asterisk-es-co"))])
    add("alsa", [(p, "noise" if os.path.basename(p) == "Noise.wav" else "speech",
                  "" if os.path.basename(p) == "Noise.wav" else "neutral", "",
                  "noise" if os.path.basename(p) == "Noise.wav" else "speaker")
                 for p in list_audio(root("alsa"))])
    # klettres: one group per language folder (its one or few speakers)
    base = root("klettres")
    add("klettres", prelimit([(p, "speech", "neutral", "", "language " + os.path.relpath(p, base).split(os.sep)[0])
                              for p in list_audio(base) if len(os.path.relpath(p, base).split(os.sep)) == 3],
                             "klettres", PRELIMIT_PER_GROUP))
    base = root("hedgewars-voices")
    cands = []
    for p in list_audio(base):
        pack, name = os.path.relpath(p, base).split(os.sep)[0], os.path.basename(p).lower()
        if pack in HEDGEWARS_SKIP_PACKS or name.startswith(HEDGEWARS_NOT_WORDS):
            continue
        cands.append((p, "speech", "", "", "pack " + pack))
    add("hedgewars-voices", prelimit(cands, "hedgewars-voices", PRELIMIT_PER_GROUP))
    base = root("pingus")
    cands = []
    for p in list_audio(base):
        k = os.path.relpath(p, base)
        if k in PINGUS_SKIP:
            continue
        c = "speech" if k in PINGUS_SPEECH else "noise"
        cands.append((p, c, "", "", k))
    add("pingus", cands)
    # music
    add("hedgewars-music", [(p, "music", "", "", os.path.basename(p))
                            for p in list_audio(root("hedgewars-music"))])
    base = root("colobot")
    add("colobot", [(p, "music" if os.path.relpath(p, base).startswith("music") else "noise", "", "",
                     os.path.relpath(p, base)) for p in list_audio(base)])
    add("singularity", [(p, "music", "", "", os.path.relpath(p, root("singularity")))
                        for p in list_audio(root("singularity"))])
    add("frozen-bubble", [(p, "music" if os.path.basename(p) in FROZEN_MUSIC else "noise", "", "",
                           os.path.basename(p)) for p in list_audio(root("frozen-bubble"))
                          if os.path.basename(p) not in FROZEN_SKIP])
    base = root("lmms")
    cands = []
    for p in list_audio(base):
        k = os.path.relpath(p, base)
        d = k.split(os.sep)[0]
        if k in LMMS_SKIP:
            continue
        if d in LMMS_MUSIC_DIRS:
            cands.append((p, "music", "", "", k))
        elif d in LMMS_NOISE_DIRS:
            cands.append((p, "noise", "", "", k))
    add("lmms", cands)
    # noise
    add("hedgewars-sfx", [(p, "noise", "", "", os.path.basename(p))
                          for p in list_audio(root("hedgewars-sfx"))
                          if os.path.dirname(p) == root("hedgewars-sfx")
                          and os.path.basename(p) not in HEDGEWARS_SFX_SKIP])
    cands = []
    for pkg, sub in DESKTOP_THEMES:
        for p in list_audio(os.path.join(root("desktop-sounds"), pkg, sub)):
            n = os.path.basename(p).lower()
            if n.startswith(DESKTOP_SKIP_PREFIXES) or os.path.dirname(p) != os.path.join(
                    root("desktop-sounds"), pkg, sub):
                continue
            music = any(w in n for w in DESKTOP_MUSIC_WORDS)
            cands.append((p, "music?" if music else "noise", "", "",
                          os.path.relpath(p, root("desktop-sounds"))))
    add("desktop-sounds", cands)


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
        # A split unit is a source and a class, so that val gets every class of
        # every source that has several.
        u = (r.source, r.content)
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
        c.split, c.copy_of, c.kind, c.gid = r.split, r, "copy", r.gid
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


# ---------------------------------------------------------------- mixtures, crops, transitions

# Speech over a bed of music or noise (step g). The bed's level relative to the
# speech, by RMS over the whole excerpt: a quarter of the music beds are as loud as
# the speech or louder.
MIX_MUSIC_DB = (-18, -12, -6, -18, -12, -6, 0, 6)
MIX_NOISE_DB = (-18, -12, -6)
MIX_COUNTS = dict(train=dict(music=110, noise=55), val=dict(music=36, noise=18))
MIX_MIN_MS, MIX_MAX_MS = 1500, 8000
# "X then music" files for music onset (step h): X seconds (2-6) of speech, noise
# or near-silence, then 4-8 s of music; the transition at a whole second.
TRANS_COUNTS = dict(train=16, val=12)    # per kind of X
# Crops of long rows (step i): rows of CROP_MIN_MS or more get, by hash, one crop
# of 0.5-4 s at a hashed offset, so that short inputs are not mostly speech.
CROP_MIN_MS = 5000
PRELIMIT_PER_GROUP = 16   # klettres languages, hedgewars voice packs
CROP_SHARE = 2       # one row in CROP_SHARE
MIX_VERSION = "1"    # salts the file names: bump when the recipe changes


def decode_span(path, start_ms, dur_ms, rate):
    """Mono 16-bit samples of [start, start+dur) at `rate`; exactly dur samples."""
    cmd = ["ffmpeg", "-nostdin", "-v", "error"]
    if start_ms:
        cmd += ["-ss", fmt_ms(start_ms)]
    cmd += ["-t", fmt_ms(dur_ms), "-i", path, "-map", "0:a:0", "-ac", "1", "-ar", str(rate),
            "-c:a", "pcm_s16le", "-f", "s16le", "-"]
    p = subprocess.run(cmd, capture_output=True)
    if p.returncode != 0:
        die("cannot decode %s: %s" % (path, p.stderr.decode("utf-8", "replace").strip()[-300:]))
    a = array.array("h")
    a.frombytes(p.stdout[: len(p.stdout) // 2 * 2])
    if sys.byteorder == "big":
        a.byteswap()
    n = dur_ms * rate // 1000
    if len(a) < n:
        a.extend([0] * (n - len(a)))
    return a[:n]


def rms(a):
    return math.sqrt(sum(x * x for x in a) / len(a)) if len(a) else 0.0


def encode_flac(samples, rate, dst):
    """Writes samples (floats or ints) as bit-exact mono FLAC; peaks above full scale
    scale the whole file down."""
    peak = max((abs(x) for x in samples), default=0.0)
    g = 32000.0 / peak if peak > 32000.0 else 1.0
    a = array.array("h", (int(round(x * g)) for x in samples))
    if sys.byteorder == "big":
        a.byteswap()
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    tmp = dst + ".tmp"
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "s16le", "-ar", str(rate), "-ac", "1",
           "-i", "-", "-c:a", "flac", "-map_metadata", "-1", "-fflags", "+bitexact",
           "-flags:a", "+bitexact", "-f", "flac", tmp]
    p = subprocess.run(cmd, input=a.tobytes(), capture_output=True)
    if p.returncode != 0:
        die("cannot encode %s: %s" % (dst, p.stderr.decode("utf-8", "replace").strip()[-300:]))
    os.replace(tmp, dst)


def make_mixture(job):
    dst, rate, sp, s0, dur, bp, b0, level_db = job
    if os.path.exists(dst):
        return
    s = decode_span(sp, s0, dur, rate)
    b = decode_span(bp, b0, dur, rate)
    rs, rb = rms(s), rms(b)
    g = (rs * 10 ** (level_db / 20.0) / rb) if rb > 0 and rs > 0 else 0.0
    encode_flac([x + g * y for x, y in zip(s, b)], rate, dst)


def make_transition(job):
    dst, rate, xp, x0, n_s, mp, m0, m_s, seed = job
    if os.path.exists(dst):
        return
    if xp is None:   # near-silence: deterministic low noise, about -77 dBFS
        x, state = [], seed or 1
        for _ in range(n_s * rate):
            state = (state * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
            x.append(((state >> 33) % 17) - 8)
    else:
        x = list(decode_span(xp, x0, n_s * 1000, rate))
    encode_flac(x + list(decode_span(mp, m0, m_s * 1000, rate)), rate, dst)


def mix_name(cache, sub, *parts):
    h = hashlib.sha1(("\0".join(str(p) for p in (MIX_VERSION,) + parts)).encode("utf-8")).hexdigest()
    return os.path.join(cache, "mixtures", sub, h[:16] + ".flac")


def ident(r):
    """A row's recording, independent of where the data and the cache live (its
    source and its path inside that source's folder): hashes and orders use it,
    never an absolute path, so that every checkout makes the same choices."""
    return r.source + ":" + r.key


def originals(rows, split, content):
    return [r for r in rows if r.split == split and r.content == content and r.kind == ""]


def pick(cands, salt, key, need_ms):
    """The candidate at a hashed place among those at least need_ms long."""
    ok = [r for r in cands if r.seconds_ms >= need_ms]
    if not ok:
        return None
    return ok[hint(salt, key) % len(ok)]


def mixtures(rows, cache):
    """Step g: speech over music and speech over noise, on each side of the split
    from that side's recordings only."""
    out, jobs = [], []
    for split in ("train", "val"):
        speech = sorted((r for r in originals(rows, split, "speech") if r.seconds_ms >= MIX_MIN_MS),
                        key=lambda r: (hint("mix/speech/" + split, "%s@%s" % (ident(r), r.start)), ident(r)))
        beds = dict(music=sorted(originals(rows, split, "music"), key=lambda r: (ident(r), r.start or 0)),
                    noise=sorted((r for r in originals(rows, split, "noise") if not r.valence),
                                 key=lambda r: (ident(r), r.start or 0)))
        i = 0
        for kind in ("music", "noise"):
            for n in range(MIX_COUNTS[split][kind]):
                sp = speech[i % len(speech)]
                i += 1
                dur = min(sp.seconds_ms, MIX_MAX_MS)
                key = "%s@%s#%d" % (ident(sp), sp.start, n)
                bed = pick(beds[kind], "mix/bed/" + kind, key, dur)
                if bed is None:
                    continue
                levels = MIX_MUSIC_DB if kind == "music" else MIX_NOISE_DB
                level = levels[hint("mix/level", key) % len(levels)]
                b0 = (bed.start or 0) + hint("mix/offset", key) % (bed.seconds_ms - dur + 1)
                rate = 8000 if sp.narrow else 16000
                s0 = sp.start or 0
                dst = mix_name(cache, split, ident(sp), s0, dur, ident(bed), b0, level, rate)
                jobs.append((dst, rate, sp.path, s0, dur, bed.path, b0, level))
                m = Row("mixtures", dst, os.path.relpath(dst, cache), rate, dur, "speech+" + kind,
                        sp.valence, sp.arousal, sp.gid)
                m.split, m.kind, m.gid = split, "mix", sp.gid
                m.note = "%s dB" % level
                out.append(m)
    return out, jobs


def transitions(rows, cache):
    """Step h: "X then music" files, each listed as two consecutive rows of one run."""
    out, jobs = [], []
    for split in ("train", "val"):
        music = sorted(originals(rows, split, "music"), key=lambda r: (ident(r), r.start or 0))
        xs = dict(speech=sorted(originals(rows, split, "speech"), key=lambda r: (ident(r), r.start or 0)),
                  noise=sorted((r for r in originals(rows, split, "noise") if not r.valence),
                               key=lambda r: (ident(r), r.start or 0)),
                  silence=[None])
        for kind in ("speech", "noise", "silence"):
            for n in range(TRANS_COUNTS[split]):
                key = "%s/%s/%d" % (split, kind, n)
                n_s = 2 + hint("trans/x", key) % 5
                m_s = 4 + hint("trans/m", key) % 5
                x = None
                if kind != "silence":
                    x = pick(xs[kind], "trans/" + kind, key, 2000)
                    if x is None:
                        continue
                    n_s = min(n_s, x.seconds_ms // 1000)
                mu = pick(music, "trans/music", key, m_s * 1000)
                if mu is None:
                    continue
                x0 = 0
                if x is not None:
                    x0 = (x.start or 0) + hint("trans/xoff", key) % (x.seconds_ms - n_s * 1000 + 1)
                m0 = (mu.start or 0) + hint("trans/moff", key) % (mu.seconds_ms - m_s * 1000 + 1)
                rate = 16000
                xp = None if x is None else x.path
                dst = mix_name(cache, "transitions", None if x is None else ident(x), x0, n_s,
                               ident(mu), m0, m_s, rate)
                jobs.append((dst, rate, xp, x0, n_s, mu.path, m0, m_s, hint("trans/seed", key)))
                src = x if x is not None else mu
                a = Row("transitions", dst, os.path.relpath(dst, cache), rate, (n_s + m_s) * 1000,
                        kind, "" if x is None else x.valence, "" if x is None else x.arousal,
                        src.gid, start=0, end=n_s * 1000)
                b = Row("transitions", dst, os.path.relpath(dst, cache), rate, (n_s + m_s) * 1000,
                        "music", "", "", src.gid, start=n_s * 1000, end=(n_s + m_s) * 1000)
                for r in (a, b):
                    r.split, r.kind, r.gid = split, "transition", src.gid
                out.append((a, b))
    return out, jobs


def crops(rows):
    """Step i: one short crop (0.5-4 s, hashed offset) of about half the long rows."""
    out = {}
    for r in rows:
        if r.kind != "" or r.seconds_ms < CROP_MIN_MS:
            continue
        key = "%s@%s" % (ident(r), r.start)
        if hint("crop/pick", key) % CROP_SHARE:
            continue
        n = 500 + hint("crop/len", key) % 3501
        s = (r.start or 0) + hint("crop/offset", key) % (r.seconds_ms - n + 1)
        c = Row(r.source, r.path, r.key, r.rate, r.ms, r.content, r.valence, r.arousal, r.group,
                start=s, end=s + n)
        c.split, c.kind, c.copy_of = r.split, "crop", None
        c.gid = r.gid
        out[id(r)] = c
    return out


def run_jobs(pool, fn, jobs, cache):
    list(pool.map(fn, jobs))
    keep = {j[0] for j in jobs}
    return keep


def clean_mixtures(cache, keep):
    top = os.path.join(cache, "mixtures")
    for dp, dn, fn in os.walk(top, topdown=False):
        for f in fn:
            p = os.path.join(dp, f)
            if p not in keep and (f.endswith(".flac") or f.endswith(".tmp")):
                os.unlink(p)
        if dp != top and not os.listdir(dp):
            os.rmdir(dp)


# ---------------------------------------------------------------- output

def write_manifest(path, rows, out):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["file", "start", "end", "content", "valence", "arousal", "group"])
    for r in rows:
        rel = os.path.relpath(r.path, out)
        if any(c in rel + r.gid for c in ',"\n\r'):
            die("a path or group the manifest cannot hold unquoted: " + rel + " " + r.gid)
        assert all(c in CONTENT for c in r.content.split("+"))
        assert r.valence in VALENCE + ("",) and r.arousal in AROUSAL + ("",)
        w.writerow([rel, fmt_ms(r.start), fmt_ms(r.end), r.content, r.valence, r.arousal, r.gid])
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
    for c in ALL_CONTENT:
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
                crops=sum(1 for r in rs if r.kind == "crop"),
                content=sorted({r.content for r in rs}),
                license=SOURCES[src]["license"])
    s["licenses"] = sorted({SOURCES[src]["license"] for src in s["sources"]})
    return s


def print_table(name, s):
    log("")
    log("%s: %d rows, %.1f s (%.1f min)" % (name, s["rows"], s["seconds"], s["seconds"] / 60))
    log("  %-12s %6s %9s %7s %7s %9s %9s %7s" % ("content", "rows", "seconds", "8k", "wide",
                                               "s 8k", "s wide", "copies"))
    for c in ALL_CONTENT:
        x = s["content"][c]
        log("  %-12s %6d %9.1f %7d %7d %9.1f %9.1f %7d" % (
            c, x["rows"], x["seconds"], x["rows_8k"], x["rows_wide"], x["seconds_8k"],
            x["seconds_wide"], x["bandlimited_copies"]))
    log("  valence: " + "  ".join("%s %d" % (k, s["valence"][k]) for k in VALENCE + ("none",)))
    log("  arousal: " + "  ".join("%s %d" % (k, s["arousal"][k]) for k in AROUSAL + ("none",)))
    log("  %-18s %6s %9s %7s %7s %6s  %s" % ("source", "rows", "seconds", "groups", "copies",
                                              "crops", "content"))
    for src, x in s["sources"].items():
        log("  %-18s %6d %9.1f %7d %7d %6d  %s" % (src, x["rows"], x["seconds"], x["groups"],
                                                   x["bandlimited_copies"], x["crops"],
                                                   ",".join(x["content"])))


def check_sides(train, val):
    """Both sides must hold 8 kHz and wide-band rows of every class that has them,
    and no group may be on both sides."""
    problems = []
    for c in CONTENT[:3]:
        for narrow in (True, False):
            t = any(r.content == c and r.narrow == narrow for r in train)
            v = any(r.content == c and r.narrow == narrow for r in val)
            if t != v:
                problems.append("%s %s rows only in %s" % (c, "8 kHz" if narrow else "wide-band",
                                                           "train" if t else "val"))
    for c in ALL_CONTENT:
        if c != "silence" and not (any(r.content == c for r in train) and any(r.content == c for r in val)):
            problems.append("no %s rows on one side" % c)
    tg = {r.gid for r in train} | {(r.source, r.group) for r in train}
    vg = {r.gid for r in val} | {(r.source, r.group) for r in val}
    for g in sorted(tg & vg, key=str):
        problems.append("group on both sides: %s" % (g,))
    # Consecutive rows of one file whose start is the previous row's end form one
    # continuous run: only the transition files may do that.
    for rs in (train, val):
        for a, b in zip(rs, rs[1:]):
            if a.path == b.path and b.start is not None and b.start == (a.end if a.end is not None else a.ms) \
                    and not (a.kind == b.kind == "transition"):
                problems.append("unintended run: %s at %s" % (a.path, fmt_ms(b.start)))
    used = {p for p in (r.path for r in train + val)}
    for p in sorted(used):
        if any(("%s%s%s" % (os.sep, n, os.sep)) in p for n in RESERVED):
            problems.append("a reserved package's file: " + p)
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
    log("a. Debian packages -> %s" % cache)
    fetch(cache)

    with ThreadPoolExecutor(JOBS) as pool:
        log("b. choosing recordings")
        probe = Probe(pool, os.path.join(cache, "probe-memo.json"))
        rows = collect(data, cache, probe)
        probe.save()
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
        log("g. mixtures and h. transitions -> %s" % os.path.join(cache, "mixtures"))
        mixes, mix_jobs = mixtures(rows, cache)
        trans, trans_jobs = transitions(rows, cache)
        list(pool.map(make_mixture, mix_jobs))
        list(pool.map(make_transition, trans_jobs))
        clean_mixtures(cache, {j[0] for j in mix_jobs} | {j[0] for j in trans_jobs})
    log("i. crops")
    cropped = crops(rows)

    # Each copy and crop follows its original; then the mixtures; then the
    # transition files, two rows each.
    after = {}
    for c in copies:
        after.setdefault(id(c.copy_of), []).append(c)
    rows.sort(key=lambda r: (SOURCE_ORDER.index(r.source), r.key, r.start or 0))
    full = []
    for r in rows:
        full.append(r)
        full.extend(after.get(id(r), []))
        if id(r) in cropped:
            full.append(cropped[id(r)])
    full.extend(sorted(mixes, key=lambda r: r.path))
    for a, b in sorted(trans, key=lambda ab: ab[0].path):
        full.extend((a, b))
    train = [r for r in full if r.split == "train"]
    val = [r for r in full if r.split == "val"]
    val_emodb = [r for r in val if r.source == "emodb" and r.kind == ""]
    check_sides(train, val)

    log("e. writing %s" % out)
    os.makedirs(out, exist_ok=True)
    write_manifest(os.path.join(out, "train.csv"), train, out)
    write_manifest(os.path.join(out, "val.csv"), val, out)
    write_manifest(os.path.join(out, "val_emodb.csv"), val_emodb, out)
    summary = dict(
        schema="avfuse.data_summary.v1",
        generator="models/prepare_data.py",
        manifest_columns=["file", "start", "end", "content", "valence", "arousal", "group"],
        rules=dict(
            narrow_band_hz=NARROW_HZ, min_seconds=MIN_MS / 1000,
            val_fraction=VAL_FRACTION, bandlimited_fraction=COPY_FRACTION,
            emodb_val_speakers=list(EMODB_VAL_SPEAKERS), fsdd_val_speakers=list(FSDD_VAL_SPEAKERS),
            caps_seconds={s: dict(source=None if c["cap"] is None else c["cap"] / 1000,
                                  per_file=None if c["item"] is None else c["item"] / 1000)
                          for s, c in CAPS.items()},
            split="by group: emodb and fsdd by speaker, donateacry by device, klettres by "
                  "language, hedgewars voices by voice pack, music tracks, prompts and samples "
                  "by file; 8 kHz copies, crops, mixtures and transitions stay with their "
                  "original (a mixture's or transition's sources all come from its side)",
            group_column="source:group of the row's original (a mixture's or transition's: "
                         "its speech's, else its X's, else its music's)",
            mixtures=dict(music_bed_db=list(MIX_MUSIC_DB), noise_bed_db=list(MIX_NOISE_DB),
                          counts=MIX_COUNTS, min_seconds=MIX_MIN_MS / 1000,
                          max_seconds=MIX_MAX_MS / 1000,
                          level="bed RMS relative to the speech excerpt's RMS"),
            transitions=dict(per_kind=TRANS_COUNTS, x_seconds=[2, 6], music_seconds=[4, 8],
                             kinds=["speech", "noise", "silence"]),
            crops=dict(min_row_seconds=CROP_MIN_MS / 1000, share=1 / CROP_SHARE,
                       seconds=[0.5, 4.0]),
            silence="no silence rows except the near-silent part of transition files: "
                    "the trainer labels near-silent segments itself"),
        packages=[dict(package=n, version=v, deb_mb=mb, role=role, license=lic)
                  for n, v, mb, role, lic in PACKAGES],
        reserved_packages=sorted(RESERVED),
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
