#!/usr/bin/env python3
"""Real output against the JSON Schemas of docs/schema/.

Every message the tests can make is validated: `avfuse analyze --events` on
generated clips (audio and video, audio only, video only, a partial last segment,
features off), and everything a subscriber receives from a running avfused (files
read in real time, a looped file, a file that cannot be read, a UDP stream whose
server goes away) plus the control socket's status reply. The negative tests
take real messages and break them one way at a time, so a schema that accepts
anything fails here too. The schemas are read with Debian's python3-jsonschema.

The daemon helpers below are the few parts of test_daemon.py these tests need,
copied so that this file does not depend on that one's test classes.
"""
import copy
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import jsonschema
import zmq

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from media import generate  # noqa: E402
import test_daemon as td  # noqa: E402  (sigterm)

AVFUSED = os.environ.get("AVFUSED_BIN", "avfused")
AVFUSE = os.environ.get("AVFUSE_BIN", "avfuse")
SCHEMA_DIR = os.path.join(HERE, "..", "..", "docs", "schema")
KINDS = {"seg": "segment", "evt": "event", "status": "status"}
# sentiment as the voice heads give it, and as silence gives it
VOICE = {"basis": "voice", "valence": -0.2, "arousal": 0.4, "label": "neutral",
         "confidence": 0.55}
NONE = {"basis": "none", "valence": None, "arousal": None, "label": None, "confidence": None}
WORKDIR = None
MEDIA = {}
VALIDATORS = {}  # "avfuse.segment.v1" -> validator


def load_validators():
    for kind in KINDS.values():
        with open(os.path.join(SCHEMA_DIR, "%s.v1.json" % kind)) as fh:
            schema = json.load(fh)
        jsonschema.Draft202012Validator.check_schema(schema)
        VALIDATORS["avfuse.%s.v1" % kind] = jsonschema.Draft202012Validator(schema)


def setUpModule():
    global WORKDIR
    load_validators()
    WORKDIR = tempfile.mkdtemp(prefix="avfuse-schema-")
    pattern = ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25"]
    tone = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    h264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    # 4.5 s: four whole segments and a partial one of 0.5 s
    MEDIA["av"] = generate(WORKDIR, pattern + tone + ["-t", "4.5"] + h264 + ["-c:a", "aac"],
                           "av.mp4")
    # a tone, then silence: pitch, then no pitch; a silence event
    MEDIA["audio"] = generate(WORKDIR, [
        "-f", "lavfi", "-i", "sine=frequency=220:sample_rate=48000:duration=2",
        "-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono",
        "-filter_complex", "[1:a]atrim=duration=2.5[s];[0:a][s]concat=n=2:v=0:a=1[a]",
        "-map", "[a]"], "audio.wav")
    # moving, then a hard cut to black: motion, cut and black events
    MEDIA["video"] = generate(WORKDIR, [
        "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=3",
        "-f", "lavfi", "-i", "color=black:size=320x240:rate=25:duration=3",
        "-filter_complex", "[0:v][1:v]concat=n=2:v=1:a=0[v]", "-map", "[v]"] + h264,
        "video.mp4")
    # for the stream: MPEG-TS, short GOPs so that a late joiner decodes at once
    MEDIA["ts"] = generate(WORKDIR, pattern + tone + ["-t", "6"] + h264 +
                           ["-g", "25", "-c:a", "aac"], "clip.ts")


def tearDownModule():
    shutil.rmtree(WORKDIR, ignore_errors=True)


def errors(message):
    """The schema's complaints about message, as text; [] when it validates."""
    validator = VALIDATORS.get(message.get("schema")) if isinstance(message, dict) else None
    if validator is None:
        return ["no schema for %r" % (message.get("schema") if isinstance(message, dict)
                                      else message)]
    return ["%s: %s" % ("/".join(str(p) for p in e.absolute_path) or "(top)", e.message)
            for e in validator.iter_errors(message)]


class SchemaTestCase(unittest.TestCase):
    def assert_valid(self, message, topic=None):
        problems = errors(message)
        # what JSON Schema cannot say: integers are JSON integers (a validator takes
        # 3.0 for an integer), and a segment does not end before it starts
        for key in ("epoch", "seq", "next_seq"):
            if key in message and type(message[key]) is not int:
                problems.append("%s: %r is not a JSON integer" % (key, message[key]))
        if message.get("schema") == "avfuse.segment.v1" and not problems:
            if message["t1"] < message["t0"]:
                problems.append("t1 %r < t0 %r" % (message["t1"], message["t0"]))
        if topic is not None and not problems:
            kind = topic.split("/")[0]
            self.assertEqual(topic, "%s/%s/" % (kind, message["source"]))
            self.assertEqual(message["schema"], "avfuse.%s.v1" % KINDS[kind])
        self.assertFalse(problems, "%s\n%s" % (json.dumps(message), "\n".join(problems)))


# --- avfuse analyze ---------------------------------------------------------------

def analyze(*args):
    proc = subprocess.run([AVFUSE, "analyze", "-q"] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=120)
    if proc.returncode != 0:
        raise AssertionError("avfuse analyze %s: exit %d\n%s" % (" ".join(args), proc.returncode,
                                                                 proc.stderr))
    return [json.loads(line) for line in proc.stdout.splitlines()]


class TestAnalyzeOutput(SchemaTestCase):
    def check_all(self, messages):
        self.assertTrue(messages)
        for m in messages:
            self.assert_valid(m)
        return ([m for m in messages if m["schema"] == "avfuse.segment.v1"],
                [m for m in messages if m["schema"] == "avfuse.event.v1"])

    def test_audio_and_video_with_partial_last_segment(self):
        segs, events = self.check_all(analyze("--events", MEDIA["av"]))
        self.assertEqual(len(segs), 5)
        self.assertTrue(segs[-1]["partial"])
        self.assertFalse(any(s["partial"] for s in segs[:-1]))
        for s in segs:
            self.assertTrue(s["video"]["present"] and s["audio"]["present"])
            self.assertIn("av", s)
            self.assertIn("labels", s)
        self.assertTrue(events)

    def test_file_cut_short(self):
        """A Matroska file cut at 60 %: the last segment is partial with its reason."""
        mkv = generate(WORKDIR, ["-i", MEDIA["av"], "-c", "copy"], "av.mkv")
        with open(mkv, "rb") as fh:
            data = fh.read()
        cut = os.path.join(WORKDIR, "av_cut.mkv")
        with open(cut, "wb") as fh:
            fh.write(data[:len(data) * 6 // 10])
        segs, _ = self.check_all(analyze(cut))
        self.assertEqual(segs[-1]["partial_reason"], "input ended early")
        self.assertFalse(any("partial_reason" in s for s in segs[:-1]))

    def test_audio_only(self):
        segs, events = self.check_all(analyze("--events", MEDIA["audio"]))
        self.assertEqual(len(segs), 5)
        for s in segs:
            self.assertEqual(s["video"], {"present": False})
            self.assertNotIn("av", s)
        self.assertIn("pitch_hz", segs[0]["audio"]["features"])
        self.assertNotIn("pitch_hz", segs[-1]["audio"]["features"])  # silence: no pitch
        self.assertIn(("silence", "start"), [(e["tag"], e["event"]) for e in events])

    def test_video_only(self):
        segs, events = self.check_all(analyze("--events", MEDIA["video"]))
        self.assertEqual(len(segs), 6)
        for s in segs:
            self.assertEqual(s["audio"], {"present": False})
            self.assertNotIn("av", s)
        tags = {(e["tag"], e["event"]) for e in events}
        self.assertTrue({("cut", "start"), ("cut", "end"), ("black", "start"),
                         ("black", "end")} <= tags, tags)

    def test_features_off(self):
        segs, events = self.check_all(analyze("--no-features", MEDIA["av"], MEDIA["audio"]))
        for s in segs:
            self.assertNotIn("features", s["video"])
            self.assertNotIn("features", s["audio"])
            self.assertNotIn("labels", s)


# --- avfused ----------------------------------------------------------------------

def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Subscriber:
    """Collects every message of an endpoint in a thread: (topic, body)."""

    def __init__(self, endpoint):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"")
        self.sock.connect(endpoint)
        self.messages = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            if self.sock.poll(50):
                frames = self.sock.recv_multipart()
                with self.lock:
                    self.messages.append(frames)

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()
        self.ctx.term()

    def snapshot(self):
        """[(topic, parsed body)]; raises when a message is not two frames of JSON."""
        with self.lock:
            raw = list(self.messages)
        out = []
        for frames in raw:
            if len(frames) != 2:
                raise AssertionError("a message of %d frames: %r" % (len(frames), frames))
            out.append((frames[0].decode(), json.loads(frames[1])))
        return out

    def of(self, kind, source):
        prefix = "%s/%s/" % (kind, source)
        return [m for t, m in self.snapshot() if t == prefix]

    def states(self, source):
        return [m["state"] for m in self.of("status", source)]

    def wait(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))


class Daemon:
    """avfused on a config written from sections; stderr goes to a file."""

    def __init__(self, testcase, sources):
        self.endpoint = "tcp://127.0.0.1:%d" % free_port()
        self.dir = tempfile.mkdtemp(dir=WORKDIR)
        self.control = os.path.join(self.dir, "control")
        conf = os.path.join(self.dir, "avfuse.conf")
        text = "[daemon]\npublish = %s\ncontrol = ipc://%s\nstatus_interval = 0.5\n" % (
            self.endpoint, self.control)
        for name, keys in sources.items():
            text += "[source %s]\n" % name + "".join("%s = %s\n" % kv for kv in keys.items())
        with open(conf, "w") as fh:
            fh.write(text)
        self.errpath = os.path.join(self.dir, "stderr")
        self.err = open(self.errpath, "w")
        self.proc = subprocess.Popen([AVFUSED, "-c", conf], stdout=subprocess.DEVNULL,
                                     stderr=self.err)
        testcase.addCleanup(self.kill)

    def terminate(self):
        """SIGTERM; asserts exit status 0 (test_daemon.sigterm); returns 0."""
        td.sigterm(self.proc, 10, lambda: open(self.errpath).read())
        return 0

    def ctl(self, request):
        ctx = zmq.Context()
        sock = ctx.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVTIMEO, 5000)
        sock.connect("ipc://" + self.control)
        try:
            sock.send(json.dumps(request).encode())
            return json.loads(sock.recv())
        finally:
            sock.close()
            ctx.term()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.err.close()


def file_source(path, **extra):
    keys = {"type": "file", "url": path, "realtime": "yes"}
    keys.update({k: str(v) for k, v in extra.items()})
    return keys


class TestDaemonOutput(SchemaTestCase):
    def subscribe(self, daemon):
        sub = Subscriber(daemon.endpoint)
        self.addCleanup(sub.close)
        time.sleep(0.3)  # connected before the first segment: a file in real time waits 1 s
        return sub

    def check_all(self, sub):
        messages = sub.snapshot()
        self.assertTrue(messages)
        for topic, m in messages:
            self.assert_valid(m, topic)
        return messages

    def test_files_looped_file_and_failed_file(self):
        d = Daemon(self, {
            "av": file_source(MEDIA["av"]),
            "audio": file_source(MEDIA["audio"]),
            "video": file_source(MEDIA["video"]),
            "loop": file_source(MEDIA["av"], loop="yes"),
            "missing": file_source(os.path.join(WORKDIR, "missing.mp4")),
        })
        sub = self.subscribe(d)
        sub.wait(lambda: all("ended" in sub.states(s) for s in ("av", "audio", "video")) and
                 any(m["epoch"] >= 1 for m in sub.of("seg", "loop")), 40,
                 "the files to end and the looped one to start its second pass")
        # the control socket's status reply holds status bodies too
        reply = d.ctl({"cmd": "status"})
        self.assertTrue(reply["ok"])
        self.assertEqual(len(reply["sources"]), 5)
        for st in reply["sources"]:
            self.assert_valid(st)
        self.assertEqual(d.terminate(), 0)
        time.sleep(0.3)
        messages = self.check_all(sub)
        topics = {t for t, _ in messages}
        for name in ("av", "audio", "video", "loop"):
            self.assertTrue({"seg/%s/" % name, "evt/%s/" % name} <= topics, name)
        self.assertEqual(len(sub.of("seg", "av")), 5)
        self.assertTrue(sub.of("seg", "av")[-1]["partial"])
        self.assertTrue(all("wallclock" in m and "latency_ms" in m for m in sub.of("seg", "av")))
        self.assertIn("failed", sub.states("missing"))
        self.assertEqual(sub.states("loop")[-1], "ended")

    def test_stream_running_and_reconnecting(self):
        port = free_port(socket.SOCK_DGRAM)
        server = subprocess.Popen(
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1",
             "-i", MEDIA["ts"], "-c", "copy", "-f", "mpegts",
             "udp://127.0.0.1:%d?pkt_size=1316" % port],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def stop_server():
            if server.poll() is None:
                server.kill()
                server.wait(5)
        self.addCleanup(stop_server)
        d = Daemon(self, {"cam": {"type": "stream", "url": "udp://127.0.0.1:%d" % port,
                                  "read_timeout": 1, "backoff_min": 0.2, "backoff_max": 1}})
        sub = self.subscribe(d)
        sub.wait(lambda: len(sub.of("seg", "cam")) >= 3, 30, "the stream's segments")
        stop_server()
        sub.wait(lambda: "reconnecting" in sub.states("cam"), 10, "the source to reconnect")
        self.assertEqual(d.terminate(), 0)
        time.sleep(0.3)
        self.check_all(sub)
        self.assertEqual(sub.of("status", "cam")[0]["type"], "stream")
        self.assertTrue(all("wallclock" in m for m in sub.of("seg", "cam")))


# --- the schemas are not vacuous -------------------------------------------------

class TestSchemasReject(SchemaTestCase):
    """Real messages broken one way at a time must be refused."""

    @classmethod
    def setUpClass(cls):
        messages = analyze("--events", MEDIA["av"])
        cls.segment = messages[0]  # audio and video, labels, sentiment
        cls.audio_segments = analyze(MEDIA["audio"])
        cls.audio_only = cls.audio_segments[0]
        cls.start = next(m for m in messages if m.get("event") == "start")
        cls.end = next(m for m in messages if m.get("event") == "end")
        cls.status = {
            "schema": "avfuse.status.v1", "source": "lobby", "type": "stream",
            "state": "running", "epoch": 2, "next_seq": 118,
            "wallclock": "2026-11-27T12:00:17.000Z",
            "counters": {"frames": 1180, "samples": 1888000, "segments": 118,
                         "drops": {"packets": 0, "frames": 0, "segments": 0},
                         "publish_drops": 0, "reconnects": 2},
            "queues": {"packets": 0, "frames": 1, "segments": 0},
            "latency_ms": {"p50": 12.1, "p99": 40.3},
            "error": "udp://127.0.0.1:5000: stalled: no data for 5 s"}

    def broken(self, message, change):
        m = copy.deepcopy(message)
        change(m)
        return m

    def assert_rejected(self, message, why):
        self.assertTrue(errors(message), "accepted %s: %s" % (why, json.dumps(message)))

    def test_originals_validate(self):
        # the status example of docs/control.md, and the real messages broken below
        for m in (self.segment, self.start, self.end, self.audio_only, self.status):
            self.assert_valid(m)

    def test_every_required_field(self):
        for message in (self.segment, self.start, self.end, self.status):
            schema = VALIDATORS[message["schema"]].schema
            for key in schema["required"]:
                self.assert_rejected(self.broken(message, lambda m: m.pop(key)),
                                     "%s without %s" % (message["schema"], key))
        for key in ("counters", "queues"):
            for sub in list(self.status[key]):
                self.assert_rejected(self.broken(self.status, lambda m: m[key].pop(sub)),
                                     "status without %s.%s" % (key, sub))

    def test_segment(self):
        s = self.segment
        cases = {
            "a label above 1": lambda m: m["labels"].update(speech=1.2),
            "a label below 0": lambda m: m["labels"].update(music=-0.01),
            "a missing label": lambda m: m["labels"].pop("noise"),
            "an unknown label": lambda m: m["labels"].update(applause=0.5),
            "valence beyond 1": lambda m: m["sentiment"].update(VOICE, valence=1.5),
            "arousal below -1": lambda m: m["sentiment"].update(VOICE, arousal=-1.01),
            "an unknown sentiment label": lambda m: m["sentiment"].update(VOICE, label="angry"),
            "sentiment without a basis": lambda m: m["sentiment"].pop("basis"),
            "an unknown basis": lambda m: m["sentiment"].update(basis="face"),
            "sentiment without valence": lambda m: m["sentiment"].pop("valence"),
            "a voice without valence": lambda m: m["sentiment"].update(VOICE, valence=None,
                                                                       label=None,
                                                                       confidence=None),
            "a voice without arousal": lambda m: m["sentiment"].update(VOICE, arousal=None),
            "a valence without its label": lambda m: m["sentiment"].update(VOICE, label=None),
            "a label without its valence": lambda m: m["sentiment"].update(VOICE, valence=None,
                                                                           confidence=None),
            "silence with an arousal": lambda m: m["sentiment"].update(NONE, arousal=0.1),
            "silence with a valence": lambda m: m["sentiment"].update(VOICE, basis="none",
                                                                      arousal=None),
            "an unknown tag": lambda m: m["tags"].append("applause"),
            "a tag twice": lambda m: m["tags"].extend(["cut", "cut"]),
            "a negative seq": lambda m: m.update(seq=-1),
            "a real seq": lambda m: m.update(seq=1.5),
            "a string t0": lambda m: m.update(t0="0.0"),
            "a wrong schema name": lambda m: m.update(schema="avfuse.segment.v2"),
            "a bad source name": lambda m: m.update(source="lobby/1"),
            "a source name of 65": lambda m: m.update(source="a" * 65),
            "a wallclock without zone": lambda m: m.update(wallclock="2026-11-27T12:00:17.000"),
            "a wallclock without ms": lambda m: m.update(wallclock="2026-11-27T12:00:17Z"),
            "a wallclock of month 13": lambda m: m.update(wallclock="2026-13-27T12:00:17.000Z"),
            "absent video with frames": lambda m: m["video"].update(present=False),
            "absent audio with features": lambda m: m["audio"].update(present=False),
            "present video without frames": lambda m: m["video"].pop("frames"),
            "a string feature": lambda m: m["video"]["features"].update(luma="bright"),
            "a feature name in capitals": lambda m: m["audio"]["features"].update(RMS=1.0),
            "luma beyond 1": lambda m: m["video"]["features"].update(luma=1.5),
            "av confidence beyond 1": lambda m: m["av"].update(confidence=1.5),
            "av without confidence": lambda m: m.update(av={"offset_ms": 4.0}),
            "av missing with both present": lambda m: m.pop("av"),
            "model without labels or sentiment": lambda m: [m.pop("labels"),
                                                            m.pop("sentiment")],
            "partial as a string": lambda m: m.update(partial="no"),
            "a reason on a whole segment": lambda m: m.update(partial=False,
                                                              partial_reason="input ended early"),
            "an unknown partial reason": lambda m: m.update(partial=True, partial_reason="bored"),
            "a key added to video": lambda m: m["video"].update(codec="h264"),
        }
        for why, change in cases.items():
            self.assert_rejected(self.broken(s, change), why)
        self.assert_rejected(self.broken(self.audio_only, lambda m: m.update(
            av={"confidence": 0.0})), "av in an audio-only segment")
        self.assert_rejected(self.broken(self.audio_only, lambda m: m["video"].update(
            frames=0)), "frames of absent video")

    def test_sentiment_nulls_are_real_output(self):
        # the tone and pattern: nobody speaks, so arousal without valence; the
        # silence after the tone: no value at all. Both validate (test_originals).
        sent = self.segment["sentiment"]
        self.assertEqual(sent["basis"], "scene")
        self.assertIsNone(sent["valence"])
        self.assertIsInstance(sent["arousal"], float)
        last = self.audio_segments[-1]["sentiment"]
        self.assertEqual(last, dict(NONE))
        for m in self.audio_segments:
            self.assert_valid(m)

    def test_segment_accepts_what_the_contract_allows(self):
        allowed = {
            "a new top-level field": lambda m: m.update(scene="indoor"),
            "no optional fields": lambda m: [m.pop(k, None) for k in (
                "wallclock", "latency_ms", "labels", "sentiment", "model")],
            "features off": lambda m: [m["video"].pop("features"), m["audio"].pop("features")],
            "a plugin's feature": lambda m: m["video"]["features"].update(faces=2.0),
            "an estimated offset": lambda m: m["av"].update(offset_ms=-40.0),
            "a file cut short": lambda m: m.update(partial=True,
                                                   partial_reason="input ended early"),
            "a voice": lambda m: m["sentiment"].update(VOICE),
            "a scene with a valence (an affect head)": lambda m: m["sentiment"].update(
                VOICE, basis="scene"),
            "a scene without arousal": lambda m: m["sentiment"].update(arousal=None),
            "silence": lambda m: m["sentiment"].update(NONE),
        }
        for why, change in allowed.items():
            self.assertEqual(errors(self.broken(self.segment, change)), [], why)

    def test_status(self):
        cases = {
            "an unknown state": lambda m: m.update(state="sleeping"),
            "an unknown type": lambda m: m.update(type="webcam"),
            "a negative counter": lambda m: m["counters"].update(frames=-1),
            "a real counter": lambda m: m["counters"]["drops"].update(frames=0.5),
            "a drop stage unknown": lambda m: m["counters"]["drops"].update(decode=0),
            "latency without p99": lambda m: m["latency_ms"].pop("p99"),
            "latency as a number": lambda m: m.update(latency_ms=12.0),
            "an empty error": lambda m: m.update(error=""),
            "failed without an error": lambda m: m.update(state="failed", error=None),
            "reconnecting without an error": lambda m: m.update(state="reconnecting",
                                                                error=None),
            "a negative next_seq": lambda m: m.update(next_seq=-1),
            "a bad wallclock": lambda m: m.update(wallclock="yesterday"),
        }
        for why, change in cases.items():
            self.assert_rejected(self.broken(self.status, change), why)
        for fine in (lambda m: m.update(latency_ms=None, error=None),
                     lambda m: m.update(state="ended", error=None),
                     lambda m: m.update(uptime_s=3.5)):
            self.assertEqual(errors(self.broken(self.status, fine)), [])

    def test_event(self):
        cases = {
            "an end without duration": (self.end, lambda m: m.pop("duration")),
            "a start with a duration": (self.start, lambda m: m.update(duration=1.0)),
            "an unknown tag": (self.start, lambda m: m.update(tag="applause")),
            "an unknown event": (self.start, lambda m: m.update(event="middle")),
            "a negative duration": (self.end, lambda m: m.update(duration=-1.0)),
            "a negative seq": (self.start, lambda m: m.update(seq=-3)),
            "t as a string": (self.start, lambda m: m.update(t="3.0")),
        }
        for why, (message, change) in cases.items():
            self.assert_rejected(self.broken(message, change), why)


if __name__ == "__main__":
    unittest.main(verbosity=2)
