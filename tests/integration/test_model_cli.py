#!/usr/bin/env python3
"""avfuse analyze with the default model, --events, a refused model file, and
avfuse train/eval on a small manifest made from generated media: multi-label rows,
runs of rows, eval's mixture and music-onset figures and --floor, train --cv.

Run: AVFUSE_BIN=build/tools/avfuse python3 tests/integration/test_model_cli.py -v
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

BIN = os.environ.get("AVFUSE_BIN")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TMP = None


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True,
                   timeout=60)


def avfuse(*args, ok=True):
    proc = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=300)
    if ok and proc.returncode != 0:
        raise AssertionError("avfuse %s failed (%d):\n%s" % (" ".join(args), proc.returncode,
                                                               proc.stderr))
    return proc


def setUpModule():
    global TMP
    if not BIN or not os.access(BIN, os.X_OK):
        sys.exit("set AVFUSE_BIN to the avfuse binary")
    TMP = tempfile.mkdtemp(prefix="avfuse-model-")
    # 4 s of synthetic speech, then 4 s of a chord, then 4 s of silence
    ffmpeg("-f", "lavfi", "-i",
           "flite=text='The quick brown fox jumps over the lazy dog. One two three four five.'"
           ":voice=slt",
           "-f", "lavfi", "-i",
           "aevalsrc='0.2*(sin(2*PI*261.6*t)+sin(2*PI*329.6*t)+sin(2*PI*392*t))':s=16000:d=4",
           "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono",
           "-filter_complex",
           "[0:a]aresample=16000,atrim=duration=4,apad=whole_dur=4[s];[2:a]atrim=duration=4[z];"
           "[s][1:a][z]concat=n=3:v=0:a=1[a]", "-map", "[a]", os.path.join(TMP, "mix.wav"))
    # the speech over the chord, 4 s: both labels true
    ffmpeg("-i", os.path.join(TMP, "mix.wav"), "-filter_complex",
           "[0:a]atrim=0:4,asetpts=PTS-STARTPTS[s];[0:a]atrim=4:8,asetpts=PTS-STARTPTS,"
           "volume=0.5[m];[s][m]amix=inputs=2:duration=first:normalize=0[a]",
           "-map", "[a]", os.path.join(TMP, "both.wav"))
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30", "-i", os.path.join(TMP, "mix.wav"),
           "-t", "12", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
           "-c:a", "aac", os.path.join(TMP, "mix.mp4"))


def tearDownModule():
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


class TestAnalyzeWithModel(unittest.TestCase):
    def test_labels_sentiment_events(self):
        proc = avfuse("analyze", "--events", os.path.join(TMP, "mix.mp4"))
        segments = []
        events = []
        for line in proc.stdout.splitlines():
            msg = json.loads(line)
            (segments if msg["schema"] == "avfuse.segment.v1" else events).append(msg)
        self.assertEqual(len(segments), 12)
        for seg in segments:
            labels = seg["labels"]
            self.assertEqual(sorted(labels), ["music", "noise", "silence", "speech"])
            for p in labels.values():
                self.assertTrue(0.0 <= p <= 1.0, labels)
            sent = seg["sentiment"]
            if sent["basis"] == "voice":
                self.assertTrue(-1.0 <= sent["valence"] <= 1.0)
                self.assertTrue(-1.0 <= sent["arousal"] <= 1.0)
                self.assertIn(sent["label"], ("negative", "neutral", "positive"))
                # confidence = P(label) x P(speech)
                self.assertTrue(0.0 < sent["confidence"] <= seg["labels"]["speech"] + 1e-6)
            self.assertEqual(seg["model"], "default-3")
        # speech: the voice heads answer; the chord: nobody speaks, and the default
        # model has no affect head, so arousal without valence; silence: nothing
        self.assertEqual([s["sentiment"]["basis"] for s in segments[:3]], ["voice"] * 3)
        for seg in segments[5:8]:
            self.assertEqual(seg["sentiment"]["basis"], "scene", seg)
            self.assertIsNone(seg["sentiment"]["valence"])
            self.assertIsNone(seg["sentiment"]["label"])
            self.assertTrue(-1.0 <= seg["sentiment"]["arousal"] <= 1.0)
        for seg in segments[9:]:
            self.assertEqual(seg["sentiment"], {"basis": "none", "valence": None,
                                                "arousal": None, "label": None,
                                                "confidence": None})
        # the digital silence at the end is silence, by the head and the detector
        for seg in segments[9:]:
            self.assertIn("silence", seg["tags"], seg)
            self.assertGreater(seg["labels"]["silence"], 0.5, seg["labels"])
        # events: schema, one start before each end per tag, ends at or after starts
        self.assertTrue(events, "no events at all")
        open_tags = {}
        for ev in events:
            self.assertEqual(ev["schema"], "avfuse.event.v1")
            self.assertIn(ev["event"], ("start", "end"))
            if ev["event"] == "start":
                self.assertNotIn(ev["tag"], open_tags)
                open_tags[ev["tag"]] = ev["t"]
            else:
                self.assertIn(ev["tag"], open_tags)
                self.assertGreaterEqual(ev["t"], open_tags.pop(ev["tag"]))
                self.assertGreater(ev["duration"], 0)
        self.assertEqual(open_tags, {}, "events left open at the end of input")
        silence = [ev for ev in events if ev["tag"] == "silence" and ev["event"] == "start"]
        self.assertEqual(len(silence), 1)
        self.assertAlmostEqual(silence[0]["t"], 8.0, delta=1.0)

    def test_corrupt_model_refused(self):
        bad = os.path.join(TMP, "bad.model")
        with open(os.path.join(ROOT, "models", "default.model"), "rb") as src:
            data = bytearray(src.read())
        data[len(data) // 2] ^= 0x01
        with open(bad, "wb") as dst:
            dst.write(data)
        proc = avfuse("analyze", "--model", bad, os.path.join(TMP, "mix.mp4"), ok=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertEqual(proc.stdout, "")
        self.assertIn("bad.model", proc.stderr)
        self.assertIn("checksum", proc.stderr)

    @staticmethod
    def head(path, name):
        with open(path) as f:
            f.readline()  # the checksum line
            body = json.load(f)
        return next((h for h in body["heads"] if h["name"] == name), None)

    @classmethod
    def content_head(cls, path):
        return cls.head(path, "content")

    def test_train_and_eval(self):
        # a tiny manifest: the speech part as speech, the chord as music
        manifest = os.path.join(TMP, "m.csv")
        with open(manifest, "w") as f:
            f.write("file,start,end,content,valence,arousal\n")
            f.write("mix.wav,0,4,speech,neutral,low\n")
            f.write("mix.wav,4,8,music,,high\n")
            f.write("mix.mp4,0,4,speech,positive,\n")
        model = os.path.join(TMP, "tiny.model")
        avfuse("train", "--manifest", manifest, "-o", model, "-j", "1")
        proc = avfuse("eval", "--manifest", manifest, "--model", model, "--json")
        scores = json.loads(proc.stdout)
        content = scores["full"]["content"]
        matrix = content["confusion"]
        self.assertEqual(sum(map(sum, matrix)), 12)  # 4 + 4 + 4 labelled segments
        self.assertEqual(content["classes"]["speech"]["support"], 8)
        self.assertEqual(content["classes"]["music"]["support"], 4)
        for ablation in ("audio_only", "video_only"):
            self.assertIn(ablation, scores)
        # named after its file unless --name says otherwise
        self.assertEqual(scores["model"], "tiny")
        # the content head keeps the default smoothing, silence excepted; 0 writes none
        self.assertEqual(self.content_head(model).get("smoothing"), [0.5, 0.5, 0.5, 0.0])
        plain = os.path.join(TMP, "plain.model")
        avfuse("train", "--manifest", manifest, "-o", plain, "-j", "1", "--smoothing", "0")
        self.assertNotIn("smoothing", self.content_head(plain))
        for bad in ("1", "-0.1", "0.5x", "nan"):
            proc = avfuse("train", "--manifest", manifest, "-o", plain, "--smoothing", bad, ok=False)
            self.assertEqual(proc.returncode, 2, bad)
            self.assertIn("--smoothing: a number from 0 to below 1", proc.stderr)
        for bad in ("-1", "x", "inf"):
            proc = avfuse("train", "--manifest", manifest, "-o", plain, "--l2", bad, ok=False)
            self.assertEqual(proc.returncode, 2, bad)
            self.assertIn("--l2: a number of 0 or more", proc.stderr)
        # what the sentiment rests on: the speech rows are voice, the chord scene
        sent = scores["full"]["sentiment"]
        self.assertEqual(sent["segments"], 12)
        self.assertGreater(sent["basis"]["voice"], 0.5)
        self.assertEqual(sent["no_voice_polar"]["of"], 4)  # the chord: music, no valence
        self.assertEqual(sent["neutral_speech_neutral"]["of"], 4)
        self.assertIsNone(sent["affect_negative"]["share"])  # no such segment
        self.assertIsNone(self.head(model, "affect"))  # no non-speech row with a valence
        # a valence-labelled sound nobody speaks in (the chord as a "cry") and one
        # without: the model gets an affect head, and eval counts it
        affect = os.path.join(TMP, "affect.csv")
        with open(affect, "w") as f:
            f.write("file,start,end,content,valence,arousal\n")
            f.write("mix.wav,0,4,speech,neutral,low\n")
            f.write("mix.mp4,4,8,noise,negative,high\n")
            f.write("mix.wav,8,12,silence,,\n")
            f.write("mix.mp4,0,4,music,,\n")
        affect_model = os.path.join(TMP, "affect.model")
        avfuse("train", "--manifest", affect, "-o", affect_model, "-j", "1")
        head = self.head(affect_model, "affect")
        self.assertEqual((head["type"], head["outputs"]), ("logistic", ["affect"]))
        proc = avfuse("eval", "--manifest", affect, "--model", affect_model)
        self.assertIn("sentiment basis (16 segments)", proc.stdout)
        self.assertRegex(proc.stdout, r"non-speech negative affect labelled negative +"
                                      r"[0-9.]+ \(\d+ of 4\)")
        # the same manifest row with a label typo is refused with file:line
        with open(manifest, "a") as f:
            f.write("mix.wav,8,12,quiet,,\n")
        proc = avfuse("eval", "--manifest", manifest, "--model", model, ok=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("m.csv:5:", proc.stderr)


# groups alpha and gamma land in different folds of 2 (FNV-1a 64 of the name, mod 2)
CV_MANIFEST = (
    "file,start,end,content,valence,arousal,group\n"
    "mix.wav,0,4,speech,neutral,low,alpha\n"
    "mix.wav,4,8,music,,high,\n"          # continues alpha's run: one stream
    "mix.mp4,0,4,speech,positive,,gamma\n"
    "mix.mp4,4,8,music,,high,\n"
    "both.wav,0,4,speech+music,,,gamma\n"
)


class TestMultiLabelRunsFloorsCv(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.manifest = os.path.join(TMP, "cv.csv")
        with open(cls.manifest, "w") as f:
            f.write(CV_MANIFEST)
        cls.model = os.path.join(TMP, "cv.model")
        avfuse("train", "--manifest", cls.manifest, "-o", cls.model, "-j", "1")

    def test_eval_mixtures_and_onsets(self):
        proc = avfuse("eval", "--manifest", self.manifest, "--model", self.model, "--json")
        full = json.loads(proc.stdout)["full"]
        # single-class segments only in the confusion matrix: the mixture is apart
        classes = full["content"]["classes"]
        self.assertEqual(classes["speech"]["support"], 8)
        self.assertEqual(classes["music"]["support"], 8)
        self.assertEqual(full["mixtures"]["segments"], 4)
        self.assertEqual(list(full["mixtures"]["combinations"]), ["speech+music"])
        self.assertEqual(full["mixtures"]["combinations"]["speech+music"]["segments"], 4)
        # music starts: after speech in each of the two runs, and both.wav from 0
        onset = full["music_onset"]
        self.assertEqual(onset["starts"], 3)
        reached = onset["starts"] - onset["never"]
        self.assertGreaterEqual(onset["median_delay_s"] or 1.0, 1.0)
        self.assertLessEqual(onset["within_1s"], reached / 3 + 1e-9)
        # a music row after a music row of its run is no new start; after a gap it is
        for rows, starts in ((("0,4,speech", "4,6,music", "6,8,music"), 1),
                             (("0,4,speech", "4,6,music", "7,8,music"), 2)):
            runs = os.path.join(TMP, "runs.csv")
            with open(runs, "w") as f:
                f.write("file,start,end,content,valence,arousal\n")
                f.writelines("mix.wav,%s,,\n" % r for r in rows)
            proc = avfuse("eval", "--manifest", runs, "--model", self.model, "--json")
            self.assertEqual(json.loads(proc.stdout)["full"]["music_onset"]["starts"], starts, rows)
        text = avfuse("eval", "--manifest", self.manifest, "--model", self.model).stdout
        self.assertIn("speech+music", text)
        self.assertIn("music onset (3 music starts)", text)

    def test_floor(self):
        args = ("eval", "--manifest", self.manifest, "--model", self.model)
        full = json.loads(avfuse(*args, "--json").stdout)["full"]
        f1 = full["content"]["macro_f1"]
        # a floor just below the figure passes, one just above fails and says so
        avfuse(*args, "--floor", "content_macro_f1=%.6f" % (f1 - 0.01))
        proc = avfuse(*args, "--floor", "content_macro_f1=%.6f" % (f1 + 0.01),
                      "--floor", "arousal_uar=0", ok=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("content_macro_f1", proc.stderr)
        self.assertIn("under its floor", proc.stderr)
        self.assertNotIn("arousal_uar", proc.stderr)
        self.assertTrue(proc.stdout)  # the scores are printed all the same
        # two floors broken: both named
        proc = avfuse(*args, "--floor", "content_macro_f1=1.01", "--floor", "valence_uar=1.01",
                      ok=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("content_macro_f1", proc.stderr)
        self.assertIn("valence_uar", proc.stderr)
        # no_voice_polar is a ceiling (its music rows are sounds nobody speaks in):
        # a negative one always fails, 1 never does
        self.assertGreater(full["sentiment"]["no_voice_polar"]["of"], 0)
        avfuse(*args, "--floor", "no_voice_polar=1")
        proc = avfuse(*args, "--floor", "no_voice_polar=-0.01", ok=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("no_voice_polar", proc.stderr)
        self.assertIn("over its ceiling", proc.stderr)
        # a figure the manifest cannot measure fails its floor
        plain = os.path.join(TMP, "plain.csv")
        with open(plain, "w") as f:
            f.write("file,start,end,content,valence,arousal\nmix.wav,0,8,speech,,\n")
        proc = avfuse("eval", "--manifest", plain, "--model", self.model,
                      "--floor", "mixture_both=0.5", ok=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("mixture_both has no segment to measure it on", proc.stderr)
        for bad in ("content_f1=0.5", "content_macro_f1", "music_onset_1s=x"):
            proc = avfuse(*args, "--floor", bad, ok=False)
            self.assertEqual(proc.returncode, 2, bad)
            self.assertIn("--floor: NAME=VALUE", proc.stderr)

    def test_cv(self):
        args = ("train", "--manifest", self.manifest, "--cv", "2", "--json", "-j", "1")
        proc = avfuse(*args)
        out = json.loads(proc.stdout)
        self.assertEqual(out["folds"], 2)
        self.assertEqual(out["segments"], 20)
        folds = out["per_fold"]
        self.assertEqual([f["fold"] for f in folds], [1, 2])
        # gamma (fold 1): mix.mp4's 8 segments and both.wav's 4; alpha: mix.wav's 8
        self.assertEqual([f["segments"] for f in folds], [12, 8])
        self.assertEqual([f["groups"] for f in folds], [1, 1])
        pooled = out["pooled"]["full"]
        self.assertEqual(pooled["content"]["classes"]["speech"]["support"], 8)
        self.assertEqual(pooled["mixtures"]["segments"], 4)
        self.assertEqual(pooled["music_onset"]["starts"], 3)
        per_fold_speech = sum(f["full"]["content"]["classes"]["speech"]["support"] for f in folds)
        self.assertEqual(per_fold_speech, 8)
        # deterministic: the same figures again
        self.assertEqual(avfuse(*args).stdout, proc.stdout)
        text = avfuse("train", "--manifest", self.manifest, "--cv", "2", "-j", "1").stdout
        self.assertIn("grouped 2-fold cross-validation: 20 segments, 2 groups", text)
        self.assertIn("pooled out-of-fold scores", text)
        # a fold whose training part has no arousal label cannot be fitted: said so
        nolabel = os.path.join(TMP, "cv-nolabel.csv")
        with open(nolabel, "w") as f:
            f.write(CV_MANIFEST.replace("mix.mp4,4,8,music,,high,", "mix.mp4,4,8,music,,,"))
        proc = avfuse("train", "--manifest", nolabel, "--cv", "2", "-j", "1", ok=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("fold 2: training failed: arousal head", proc.stderr)
        for bad in ("1", "51", "x"):
            proc = avfuse("train", "--manifest", self.manifest, "--cv", bad, ok=False)
            self.assertEqual(proc.returncode, 2, bad)
            self.assertIn("--cv: a number of folds from 2 to 50", proc.stderr)

    def test_smoothing_restart_written(self):
        # the default, 2, is written; another value too; 0 writes none
        self.assertEqual(TestAnalyzeWithModel.content_head(self.model)["smoothing_restart"], 2.0)
        model = os.path.join(TMP, "restart.model")
        avfuse("train", "--manifest", self.manifest, "-o", model, "-j", "1",
               "--smoothing-restart", "3.5")
        self.assertEqual(TestAnalyzeWithModel.content_head(model)["smoothing_restart"], 3.5)
        avfuse("train", "--manifest", self.manifest, "-o", model, "-j", "1",
               "--smoothing-restart", "0")
        self.assertNotIn("smoothing_restart", TestAnalyzeWithModel.content_head(model))
        proc = avfuse("train", "--manifest", self.manifest, "-o", model,
                      "--smoothing-restart", "-1", ok=False)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("--smoothing-restart: a number of 0 or more", proc.stderr)


if __name__ == "__main__":
    unittest.main()
