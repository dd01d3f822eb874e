#!/usr/bin/env python3
"""Where the content head errs: confusions per source on a manifest.

Runs `avfuse analyze` (with the default model) on every labelled row of the
manifest, labels each 1-s segment the way `avfuse train`/`eval` do (the row's
content, or silence below -50 dBFS), and prints the most frequent
(source, truth, predicted) confusions with the source's segment count.
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


def source_of(path):
    parts = path.split("/")
    if "avfuse-media" in parts:
        i = parts.index("avfuse-media")
        return "8k copy of " + parts[i + 2] if parts[i + 1] == "bandlimited" else parts[i + 1]
    return parts[parts.index("data") + 1] if "data" in parts else parts[0]


def main():
    folder = os.path.dirname(os.path.abspath(MANIFEST))
    errors, totals = collections.Counter(), collections.Counter()
    for row in csv.DictReader(open(MANIFEST)):
        if not row["content"]:
            continue
        path = os.path.join(folder, row["file"])
        start = float(row["start"] or 0)
        end = float(row["end"] or "inf")
        out = subprocess.run([AVFUSE, "analyze", "-q", path], capture_output=True, text=True,
                             timeout=300).stdout
        for line in out.splitlines():
            seg = json.loads(line)
            if seg["t0"] < start - 1e-6 or seg["t1"] > end + 1e-6 or seg["t1"] - seg["t0"] < 0.25:
                continue
            labels = seg.get("labels")
            if not labels:
                continue
            rms = seg["audio"].get("features", {}).get("rms_dbfs", 0)
            truth = "silence" if rms < -50 else row["content"]
            predicted = max(labels, key=labels.get)
            source = source_of(os.path.normpath(path))
            totals[(source, truth)] += 1
            if predicted != truth:
                errors[(source, truth, predicted)] += 1
    print("%5s  %-28s %-8s -> %-8s %s" % ("count", "source", "truth", "predicted", "of"))
    for (source, truth, predicted), n in errors.most_common(15):
        print("%5d  %-28s %-8s -> %-8s %d" % (n, source, truth, predicted,
                                              totals[(source, truth)]))


if __name__ == "__main__":
    main()
