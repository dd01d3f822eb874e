#!/usr/bin/env python3
"""Where the content head errs: confusions per source on a manifest.

Runs `avfuse analyze` (with the default model) once on every file of the
manifest, labels each 1-s segment inside a row the way `avfuse train`/`eval` do
(the row's content, or silence below -50 dBFS), and prints the most frequent
(source, truth, predicted) confusions with the source's segment count.

The source is the part before ':' of the row's `group` column (7th column, as
prepare_data.py writes it), else a guess from the path; 8 kHz copies, crops,
mixtures and transitions are named as such. A multi-label row (`speech+music`)
is right on a segment when every one of its labels scores 0.5 or more; a miss
is printed as "speech+music -> missing music". A crop is scored on the analysis
of its whole file (segments inside the crop), not as a short input of its own.
Usage: models/errors_by_source.py [MANIFEST] [AVFUSE]
(defaults: build/models/val.csv, build/tools/avfuse)
"""
import collections
import csv
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MANIFEST = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build/models/val.csv")
AVFUSE = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "build/tools/avfuse")


def source_of(row, path, crop):
    parts = path.split(os.sep)
    group = row.get("group") or ""
    if "mixtures" in parts:
        return "transitions" if "transitions" in parts else "mixtures"
    src = group.split(":")[0] if ":" in group else None
    if src is None:   # a manifest without groups: guess from the folders
        if "bandlimited" in parts:
            src = parts[parts.index("bandlimited") + 1]
        elif "data" in parts:
            src = parts[parts.index("data") + 1]
        else:
            src = parts[-2]
    if "bandlimited" in parts:
        return "8k copy of " + src
    return "crop of " + src if crop else src


def analyze(path, memo={}):
    if path not in memo:
        out = subprocess.run([AVFUSE, "analyze", "-q", path], capture_output=True, text=True,
                             timeout=300).stdout
        memo[path] = [json.loads(line) for line in out.splitlines() if line.strip()]
    return memo[path]


def main():
    folder = os.path.dirname(os.path.abspath(MANIFEST))
    errors, totals = collections.Counter(), collections.Counter()
    with open(MANIFEST, newline="") as f:
        rows = list(csv.DictReader(f))
    spans = collections.defaultdict(list)
    for row in rows:
        spans[row["file"]].append((float(row["start"] or 0), float(row["end"] or "inf")))
    for row in rows:
        if not row["content"]:
            continue
        path = os.path.normpath(os.path.join(folder, row["file"]))
        start = float(row["start"] or 0)
        end = float(row["end"] or "inf")
        # A crop: a row inside another row of the same file.
        crop = any((s, e) != (start, end) and s <= start and e >= end
                   for s, e in spans[row["file"]])
        source = source_of(row, path, crop)
        labels_true = row["content"].split("+")
        for seg in analyze(path):
            if seg["t0"] < start - 1e-6 or seg["t1"] > end + 1e-6 or seg["t1"] - seg["t0"] < 0.25:
                continue
            labels = seg.get("labels")
            if not labels:
                continue
            rms = seg["audio"].get("features", {}).get("rms_dbfs", 0)
            if rms < -50:
                truth = "silence"
            else:
                truth = row["content"]
            predicted = max(labels, key=labels.get)
            totals[(source, truth)] += 1
            if truth == "silence" or len(labels_true) == 1:
                if predicted != truth:
                    errors[(source, truth, predicted)] += 1
            else:
                missing = [c for c in labels_true if labels.get(c, 0) < 0.5]
                if missing:
                    errors[(source, truth, "missing " + "+".join(missing))] += 1
    print("%5s  %-28s %-12s -> %-14s %s" % ("count", "source", "truth", "predicted", "of"))
    for (source, truth, predicted), n in errors.most_common(25):
        print("%5d  %-28s %-12s -> %-14s %d" % (n, source, truth, predicted,
                                                totals[(source, truth)]))


if __name__ == "__main__":
    main()
