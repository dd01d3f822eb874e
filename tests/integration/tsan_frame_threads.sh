#!/usr/bin/env bash
# For the ThreadSanitizer build: `avfuse analyze` on a 2560x1440 60 fps clip, which
# is over the pixel rate one core decodes in real time, so libavcodec decodes it
# with frame threads (pipeline/decode.c, set_threads()); the other tsan-labelled
# tests decode on one thread. It checks the frames those threads hand to ours:
# the run must exit 0 (TSan exits 66 after a report) with both segments, each with
# video. Usage: tests/integration/tsan_frame_threads.sh path/to/avfuse
set -euo pipefail

if [[ $# -ne 1 || ! -x $1 ]]; then
    echo "usage: $0 AVFUSE_BINARY" >&2
    exit 2
fi
AVFUSE=$1
command -v ffmpeg >/dev/null || { echo "error: ffmpeg not found on PATH" >&2; exit 2; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

timeout 120 ffmpeg -hide_banner -loglevel error -y \
    -f lavfi -i testsrc2=size=2560x1440:rate=60 -f lavfi -i sine=f=440:r=48000 \
    -t 2 -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac "$TMP/big.mp4"

rc=0
timeout 300 "$AVFUSE" analyze "$TMP/big.mp4" >"$TMP/out.jsonl" || rc=$?
if [[ $rc -ne 0 ]]; then
    echo "FAIL: avfuse analyze exited with $rc (ThreadSanitizer exits with 66 after a report)" >&2
    exit 1
fi
segments=$(grep -c '"schema":"avfuse.segment.v1"' "$TMP/out.jsonl" || true)
with_video=$(grep -c '"video":{"present":true' "$TMP/out.jsonl" || true)
echo "segments: $segments, with video: $with_video"
if [[ $segments -ne 2 || $with_video -ne 2 ]]; then
    echo "FAIL: expected 2 segments, both with video" >&2
    exit 1
fi
echo "OK"
