# Sourced by the valgrind tests: valgrind_preflight BINARY exits 77 (skipped, with
# the reason) when valgrind cannot run BINARY at all on this machine, and returns
# otherwise. The one case known: valgrind 3.19 (Debian 12) decodes RDTSCP only when
# the CPU advertises it, and a virtual machine may hide it (AMD EPYC guests seen
# here: no rdtscp in /proc/cpuinfo) while the instruction still runs natively;
# libhwy, which libavcodec loads through libjxl, executes it in a static
# constructor, so every process linked with libavcodec dies of SIGILL under
# valgrind before main(). Anything else that goes wrong is left to the test.
valgrind_preflight() {
    local out
    out=$(timeout 120 valgrind --error-exitcode=99 "$1" --help 2>&1 >/dev/null || true)
    if grep -q 'unhandled instruction bytes: 0xF 0x1 0xF9' <<<"$out"; then
        echo "skipped: valgrind $(valgrind --version) cannot decode RDTSCP (0F 01 F9), which" \
            "libhwy runs when libavcodec is loaded, on this CPU whose CPUID hides it" \
            "($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)); the ASan build" \
            "checks memory here instead" >&2
        exit 77
    fi
}
