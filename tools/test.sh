#!/usr/bin/env bash
# Quick start, command 2: installs what is missing, then builds and runs every
# test twice — a normal build (warnings are errors) that also runs valgrind and
# compares what avfuse analyze prints with a reference revision's, and
# an AddressSanitizer + UndefinedBehaviorSanitizer build that also runs a minute of
# the soak — then the threaded tests in a ThreadSanitizer build, and runs the fuzz
# targets for 30 s each (clang, libFuzzer). .ci/run runs this.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup-deps.sh --test

status=0
run_suite() {
  local dir=$1
  shift
  echo "== $dir: configure and build ($*)"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAVFUSE_WERROR=ON -DAVFUSE_TESTS=ON "$@" >/dev/null
  cmake --build "$dir" -j"$(nproc)"
  echo "== $dir: ctest"
  # tests run $(nproc) at a time: most wait on media played in real time; the few
  # that must not share the machine are RUN_SERIAL (tests/CMakeLists.txt)
  if ! (cd "$dir" && ctest --output-on-failure --timeout 900 -j"$(nproc)" ${CTEST_ARGS:-}); then
    status=1
  fi
}

echo "== format: clang-format --dry-run"
if ! git ls-files -z '*.c' '*.h' '*.cpp' | xargs -0 -r clang-format --dry-run -Werror; then
  echo "format: files above differ from .clang-format" >&2
  status=1
fi

run_suite build

# A refactor must not change what avfuse analyze prints: build/ against the reference
# revision, built into ~/.cache/avfuse-bench (bench/same_output.py; about 2 minutes the
# first time, then less than one); output that varies from run to run fails too
# (--strict). It needs the git history: a shallow clone fails.
echo "== same output: avfuse analyze of build/ against bench/same_output.py's reference"
if ! python3 bench/same_output.py --build build --strict; then
  status=1
fi

ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  run_suite build-asan -DAVFUSE_SANITIZE=ON

# ThreadSanitizer: only the threaded pipeline and daemon tests (label tsan, a few
# minutes; docs/reliability.md). Their TSAN_OPTIONS (tests/CMakeLists.txt) send the
# reports to build-tsan/tsan/, shown here.
rm -rf build-tsan/tsan
CTEST_ARGS="-L tsan" run_suite build-tsan -DAVFUSE_TSAN=ON
if compgen -G "build-tsan/tsan/report.*" >/dev/null; then
  echo "== build-tsan: ThreadSanitizer reports" >&2
  cat build-tsan/tsan/report.* >&2
  status=1
fi

# libFuzzer (tests/fuzz/README.md): clang builds the fuzz targets with ASan + UBSan,
# and each fuzzes for AVFUSE_FUZZ_SECONDS (30 s: the whole run stays near the ~10 minute
# budget; longer runs by hand), two at a time, one summary line each.
fuzz_seconds=${AVFUSE_FUZZ_SECONDS:-30}
echo "== build-fuzz: configure and build (clang, libFuzzer)"
if cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DAVFUSE_WERROR=ON -DAVFUSE_TESTS=OFF -DAVFUSE_SANITIZE=ON -DAVFUSE_FUZZ=ON >/dev/null &&
  cmake --build build-fuzz --target fuzz -j"$(nproc)"; then
  echo "== build-fuzz: every target for ${fuzz_seconds} s, two at a time"
  if ! tests/fuzz/run.sh all "$fuzz_seconds" 2; then
    status=1
  fi
else
  status=1
fi

if [ $status -eq 0 ]; then
  echo "== all suites passed"
else
  echo "== FAILED" >&2
fi
exit $status
