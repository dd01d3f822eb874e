#!/usr/bin/env bash
# Run `avfuse analyze` on a generated 10 s clip under valgrind.
# Usage: tests/integration/valgrind_analyze.sh path/to/avfuse
# Fails on: valgrind errors / definite leaks (exit 99), a crash, a timeout,
# a non-zero exit, or output other than 10 lines.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 AVFUSE_BINARY" >&2
    exit 2
fi
AVFUSE=$1
if [[ ! -x "$AVFUSE" ]]; then
    echo "error: '$AVFUSE' is not an executable file" >&2
    exit 2
fi
for tool in ffmpeg valgrind timeout; do
    command -v "$tool" >/dev/null || { echo "error: $tool not found on PATH" >&2; exit 2; }
done

. "$(dirname "$0")/valgrind_preflight.sh"
valgrind_preflight "$AVFUSE"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

CLIP="$TMP/clip.mp4"
timeout 60 ffmpeg -hide_banner -loglevel error -y \
    -f lavfi -i testsrc2=size=320x180:rate=30 \
    -f lavfi -i sine=f=440:r=48000 \
    -t 10 -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -ac 2 \
    "$CLIP"

rc=0
timeout 300 valgrind --error-exitcode=99 --leak-check=full \
    --errors-for-leak-kinds=definite --show-leak-kinds=definite \
    "$AVFUSE" analyze "$CLIP" >"$TMP/stdout" 2>"$TMP/valgrind.log" || rc=$?

summary=$(grep -E 'ERROR SUMMARY' "$TMP/valgrind.log" | tail -n 1 || true)
echo "${summary:-valgrind: no ERROR SUMMARY line found}"

lines=$(wc -l <"$TMP/stdout")
fail=0
if [[ $rc -ne 0 ]]; then
    case $rc in
        99)  echo "FAIL: valgrind reported errors (exit 99)" >&2 ;;
        124) echo "FAIL: timed out after 300 s" >&2 ;;
        *)   echo "FAIL: avfuse exited with status $rc" >&2 ;;
    esac
    fail=1
fi
if [[ $lines -ne 10 ]]; then
    echo "FAIL: expected 10 output lines, got $lines" >&2
    fail=1
fi
if [[ $fail -ne 0 ]]; then
    echo "---- valgrind log (last 60 lines) ----" >&2
    tail -n 60 "$TMP/valgrind.log" >&2
    exit 1
fi
echo "OK: 10 lines, exit 0"
