#!/usr/bin/env bash
# Run avfused under valgrind memcheck for a few seconds: two file sources (one
# read in real time and looped, one as fast as it goes), the metrics endpoint
# scraped once, `avfuse watch` subscribed; then SIGTERM, which must publish the
# final status and exit 0 with no valgrind error and nothing definitely lost.
# Usage: tests/integration/valgrind_daemon.sh path/to/avfused path/to/avfuse
# Fails on: valgrind errors or definite leaks (exit 99), a crash, a timeout, a
# non-zero exit, no segment of either source, or a seq gap reported by watch.
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 AVFUSED_BINARY AVFUSE_BINARY" >&2
    exit 2
fi
AVFUSED=$1
AVFUSE=$2
for bin in "$AVFUSED" "$AVFUSE"; do
    if [[ ! -x "$bin" ]]; then
        echo "error: '$bin' is not an executable file" >&2
        exit 2
    fi
done
for tool in ffmpeg valgrind timeout python3 curl; do
    command -v "$tool" >/dev/null || { echo "error: $tool not found on PATH" >&2; exit 2; }
done
. "$(dirname "$0")/valgrind_preflight.sh"
valgrind_preflight "$AVFUSED"

RUN_S=${AVFUSE_VALGRIND_SECONDS:-5}

TMP=$(mktemp -d)
daemon_pid=
watch_pid=
cleanup() {
    [[ -n $watch_pid ]] && kill "$watch_pid" 2>/dev/null || true
    [[ -n $daemon_pid ]] && kill -KILL "$daemon_pid" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

# small clips: valgrind runs the decoders some 30 times slower
for ext in ts mp4; do
    timeout 60 ffmpeg -hide_banner -loglevel error -y \
        -f lavfi -i testsrc2=size=160x120:rate=25 \
        -f lavfi -i sine=f=440:r=48000 \
        -t 3 -c:v libx264 -preset ultrafast -g 25 -pix_fmt yuv420p -c:a aac \
        "$TMP/clip.$ext"
done

free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}
port=$(free_port)
metrics_port=$(free_port)
cat >"$TMP/avfuse.conf" <<EOF
[daemon]
publish = tcp://127.0.0.1:$port
control = ipc://$TMP/control
status_interval = 0.5
metrics = 127.0.0.1:$metrics_port

[source paced]
type = file
url = $TMP/clip.ts
realtime = yes
loop = yes
live = yes

[source fast]
type = file
url = $TMP/clip.mp4
EOF

"$AVFUSE" watch --json "tcp://127.0.0.1:$port" >"$TMP/watch.out" 2>"$TMP/watch.err" &
watch_pid=$!

valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
    --show-leak-kinds=definite --track-origins=yes --num-callers=30 \
    --log-file="$TMP/valgrind.log" \
    "$AVFUSED" -v -c "$TMP/avfuse.conf" >/dev/null 2>"$TMP/stderr" &
daemon_pid=$!

# valgrind takes a while to start the daemon: the clock starts at its first segment
started=0
for _ in $(seq 1 1200); do
    if [[ $(grep -c '"schema":"avfuse.segment.v1"' "$TMP/watch.out" || true) -gt 0 ]]; then
        started=1
        break
    fi
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.1
done
fail=0
if [[ $started -eq 0 ]]; then
    echo "FAIL: no segment within 120 s" >&2
    fail=1
else
    sleep "$RUN_S"
    if ! curl -sS -o "$TMP/metrics" "http://127.0.0.1:$metrics_port/metrics"; then
        echo "FAIL: the metrics endpoint did not answer" >&2
        fail=1
    fi
fi

kill -TERM "$daemon_pid" 2>/dev/null || true
rc=0
# valgrind's leak check at exit takes a while; 120 s bound it
for _ in $(seq 1 1200); do
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$daemon_pid" 2>/dev/null; then
    echo "FAIL: avfused did not exit within 120 s of SIGTERM" >&2
    kill -KILL "$daemon_pid" 2>/dev/null || true
    fail=1
fi
wait "$daemon_pid" || rc=$?
daemon_pid=
sleep 0.5 # the last messages reach watch
kill "$watch_pid" 2>/dev/null || true
wait "$watch_pid" 2>/dev/null || true
watch_pid=

summary=$(grep -E 'ERROR SUMMARY' "$TMP/valgrind.log" | tail -n 1 || true)
definite=$(grep -E 'definitely lost:' "$TMP/valgrind.log" | tail -n 1 || true)
echo "${summary:-valgrind: no ERROR SUMMARY line found}"
# the whole leak summary, for the record (only "definitely lost" fails the test)
grep -E 'in use at exit|(definitely|indirectly|possibly) lost:|still reachable:' \
    "$TMP/valgrind.log" || echo "valgrind: no leak summary (nothing allocated at exit)"
paced=$(grep -c '"schema":"avfuse.segment.v1","source":"paced"' "$TMP/watch.out" || true)
fast=$(grep -c '"schema":"avfuse.segment.v1","source":"fast"' "$TMP/watch.out" || true)
echo "segments: paced $paced, fast $fast"

if [[ $rc -ne 0 ]]; then
    case $rc in
        99) echo "FAIL: valgrind reported errors (exit 99)" >&2 ;;
        *) echo "FAIL: avfused exited with status $rc" >&2 ;;
    esac
    fail=1
fi
if [[ $summary != *"ERROR SUMMARY: 0 errors"* ]]; then
    echo "FAIL: valgrind: ${summary:-no summary}" >&2
    fail=1
fi
if [[ -n $definite && $definite != *"definitely lost: 0 bytes"* ]]; then
    echo "FAIL: valgrind: $definite" >&2
    fail=1
fi
if [[ $paced -lt 1 || $fast -lt 1 ]]; then
    echo "FAIL: expected segments of both sources" >&2
    fail=1
fi
if ! grep -q '"schema":"avfuse.status.v1","source":"paced".*"state":"ended"' "$TMP/watch.out"; then
    echo "FAIL: no final status of the paced source" >&2
    fail=1
fi
if [[ -s $TMP/watch.err ]]; then
    echo "FAIL: avfuse watch complained:" >&2
    cat "$TMP/watch.err" >&2
    fail=1
fi
if [[ $fail -ne 0 ]]; then
    echo "---- valgrind log (last 80 lines) ----" >&2
    tail -n 80 "$TMP/valgrind.log" >&2
    echo "---- avfused stderr (last 20 lines) ----" >&2
    tail -n 20 "$TMP/stderr" >&2
    exit 1
fi
echo "OK: exit 0, segments of both sources, final status, no seq gap"
