#!/usr/bin/env bash
# Quick start, command 1: installs what is missing, builds avfuse, makes a sample
# clip with the ffmpeg CLI (speech, a tone, silence, a moving test pattern and a
# hard cut), runs the daemon avfused on it (read in real time, as a camera would
# deliver it) and shows what it publishes with `avfuse watch`: one line per
# one-second segment, the tag events and the status changes. Set AVFUSE_DEMO_PORT
# when port 5560 is taken.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAVFUSE_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" >/dev/null

mkdir -p build/demo
clip=build/demo/sample.mp4
if [ ! -s "$clip" ]; then
  # audio: 5 s of synthetic speech, 3 s of 440 Hz, 4 s of silence (12 s)
  # video: 6 s of a moving pattern, then a hard cut to 6 s of static bars
  ffmpeg -hide_banner -loglevel error -y \
    -f lavfi -i "flite=text='Hello. This is avfuse. It cuts sound and picture into aligned segments.':voice=slt" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=3" \
    -f lavfi -i "anullsrc=r=48000:cl=mono" \
    -f lavfi -i "testsrc2=size=640x360:rate=30:duration=6" \
    -f lavfi -i "smptehdbars=size=640x360:rate=30:duration=6" \
    -filter_complex "[0:a]aresample=48000,atrim=duration=5,apad=whole_dur=5[speech];\
[2:a]atrim=duration=4[silence];[speech][1:a][silence]concat=n=3:v=0:a=1[a];\
[3:v][4:v]concat=n=2:v=1:a=0[v]" \
    -map "[v]" -map "[a]" -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -b:a 96k \
    "$clip"
fi

port=${AVFUSE_DEMO_PORT:-5560}
conf=build/demo/avfuse.conf
cat >"$conf" <<EOF
[daemon]
publish = tcp://127.0.0.1:$port
control = ipc://$PWD/build/demo/control

[source demo]
type = file
url = $PWD/$clip
realtime = yes
EOF
build/daemon/avfused -n -c "$conf" >&2

echo "avfused -c $conf, watched by: avfuse watch tcp://127.0.0.1:$port (12 s, in real time)" >&2
build/tools/avfuse watch "tcp://127.0.0.1:$port" --source demo --count 12 --timeout 30 &
watch_pid=$!
sleep 0.3 # the watcher subscribes before the first segment is published
build/daemon/avfused -c "$conf" &
daemon_pid=$!
trap 'kill "$daemon_pid" "$watch_pid" 2>/dev/null || true' EXIT
status=0
wait "$watch_pid" || status=$?
kill -TERM "$daemon_pid"
wait "$daemon_pid" || status=$?
trap - EXIT
exit "$status"
