#!/usr/bin/env bash
# Runs the libFuzzer targets of tests/fuzz (README.md) built in build-fuzz/.
#
#   tests/fuzz/run.sh TARGET [SECONDS]      one target (config, model, control, plugin,
#                                           analyze, redact) for SECONDS (default 60)
#   tests/fuzz/run.sh all [SECONDS] [JOBS]  every target, JOBS at a time (default 2),
#                                           then one summary line per target
#
# Everything it writes stays in the build folder ($AVFUSE_FUZZ_BUILD, default
# build-fuzz/) under fuzz/: corpus/TARGET/ (inputs the fuzzer found, grown run after
# run; the seeds in tests/fuzz/corpus/TARGET/ are only read), crashes/TARGET/
# (crash-*, leak-*, timeout-*, oom-*: inputs to reproduce with
# `build-fuzz/tests/fuzz/fuzz_TARGET FILE`), logs/TARGET.log. The model target also
# saves models in a temporary folder of $TMPDIR (/tmp), removed when it exits.
# Exits non-zero when a target found a crash, leak, timeout or out-of-memory.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${AVFUSE_FUZZ_BUILD:-$repo/build-fuzz}
build=$(cd "$build" 2>/dev/null && pwd) || {
    echo "run.sh: no build folder ${AVFUSE_FUZZ_BUILD:-$repo/build-fuzz}; see tests/fuzz/README.md" >&2
    exit 2
}
targets=(config model control plugin analyze redact)

usage() {
    sed -n '3,7s/^# \{0,1\}//p' "$0" >&2
    exit 2
}

# The per-input time limit: an input that takes longer is reported as a timeout.
timeout_of() {
    case $1 in
    analyze) echo 20 ;;
    *) echo 5 ;;
    esac
}

# run_one TARGET SECONDS: fuzzes, writes the log, prints one summary line.
run_one() {
    local t=$1 secs=$2
    local bin=$build/tests/fuzz/fuzz_$t
    local work=$build/fuzz/corpus/$t crashes=$build/fuzz/crashes/$t
    local log=$build/fuzz/logs/$t.log
    local rc execs corpus found

    if [ ! -x "$bin" ]; then
        echo "fuzz $t: $bin is missing: cmake --build $build --target fuzz"
        return 2
    fi
    mkdir -p "$work" "$crashes" "$(dirname "$log")"
    # libFuzzer writes new inputs into the first folder, only reads the second; the
    # working folder is the current one, so a stray file lands in the build folder
    (cd "$build/fuzz" &&
        ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
        UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        "$bin" -max_total_time="$secs" -timeout="$(timeout_of "$t")" -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$crashes/" "$work" "$here/corpus/$t" \
        >"$log" 2>&1)
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    corpus=$(find "$work" -type f | wc -l)
    found=$(grep -Eo "Test unit written to [^ ]*" "$log" | sed 's/Test unit written to //' | tr '\n' ' ')
    if [ $rc -eq 0 ]; then
        echo "fuzz $t: ${execs:-?} executions in ${secs} s ($(( ${execs:-0} / secs ))/s), corpus $corpus inputs, no crash"
    else
        echo "fuzz $t: FAILED after ${execs:-?} executions (exit $rc): ${found:-see $log}"
        grep -E "^(==[0-9]+==ERROR|SUMMARY|.*runtime error|.*fuzz check failed|==[0-9]+== ERROR: libFuzzer)" "$log" |
            head -n 5 | sed 's/^/    /'
    fi
    return $rc
}

[ $# -ge 1 ] || usage
secs=${2:-60}
case $secs in '' | *[!0-9]* | 0) usage ;; esac
if [ "$1" != all ]; then
    case " ${targets[*]} " in *" $1 "*) ;; *) usage ;; esac
    run_one "$1" "$secs"
    exit
fi

jobs=${3:-2}
case $jobs in '' | *[!0-9]* | 0) usage ;; esac
summary=$build/fuzz/logs/summary
mkdir -p "$build/fuzz/logs"
: >"$summary"
running=0
for t in "${targets[@]}"; do
    if [ $running -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
    (run_one "$t" "$secs" >"$summary.$t" && echo ok >>"$summary.$t.ok") &
    running=$((running + 1))
done
wait
passed=0
failed=0
for t in "${targets[@]}"; do
    cat "$summary.$t" >>"$summary"
    if [ -e "$summary.$t.ok" ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
    rm -f "$summary.$t" "$summary.$t.ok"
done
cat "$summary"
echo "fuzz: $passed passed, $failed failed"
[ $failed -eq 0 ]
