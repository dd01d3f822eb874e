#!/usr/bin/env bash
# Installs the Debian 12 packages that avfuse needs to build, run and test — only
# those missing, so a second run touches nothing. Works as root (containers) and
# as a user with sudo. The package list and the reason for each is in
# docs/dependencies.md.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev
  libebur128-dev
  libjansson-dev
  libavdevice-dev libzmq3-dev portaudio19-dev libinih-dev libsystemd-dev libmicrohttpd-dev
  libasound2-dev
  ffmpeg
)
if [ "${1:-}" = "--test" ]; then
  packages+=(libcmocka-dev python3 python3-zmq python3-jsonschema curl groff-base valgrind clang-format git systemd chromium)
  # the fuzz targets (tests/fuzz): clang, and libFuzzer, which is in compiler-rt
  # (only recommended by clang, and recommends are not installed)
  packages+=(clang libclang-rt-dev)
  # the reference of the voice features (tests/praat, integration.voice_praat)
  packages+=(praat)
  # a real RTSP camera for integration.rtsp: GStreamer's RTSP server driven from Python
  packages+=(python3-gi gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0
    gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good
    gstreamer1.0-plugins-ugly gstreamer1.0-libav)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "setup-deps: these packages are missing and neither root nor sudo is available:" >&2
  echo "  ${missing[*]}" >&2
  exit 1
fi
echo "setup-deps: installing ${missing[*]}" >&2
# apt's progress goes to stderr: stdout of the quick start is the analysis output
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
