#!/usr/bin/env bash
# test_systemd.sh - checks what systemd/ installs, without systemd running as PID 1.
#
# - both generated units pass `systemd-analyze verify` with no message at all (it
#   exits 0 even on unknown keys, so its output is what counts), with ExecStart
#   pointed at the built avfused (verify wants an executable there);
# - `systemd-analyze security --offline=true` scores each at most 2.0, and the two
#   units carry the same sandbox;
# - the units' runtime folders hold the default control socket (avfuse.conf sets
#   no `control`), /run/avfuse/control and /run/avfuse/NAME/control;
# - the sysusers and tmpfiles snippets create the avfuse account and /run/avfuse in
#   a scratch root;
# - the default configuration documents every key of docs/configuration.md, and
#   with avfused built: passes `avfused -n`, as do its commented examples, and no
#   library avfused loads needs writable code (MemoryDenyWriteExecute=yes);
# - with $CMAKE_COMMAND and $AVF_BUILD_DIR set: `cmake --install` into a scratch
#   DESTDIR puts the units, snippets and configuration where systemd looks, and the
#   installed units name an avfused and a configuration that were installed.
#
# Usage: test_systemd.sh SRC_SYSTEMD_DIR BUILD_SYSTEMD_DIR [AVFUSED]
# Without AVFUSED (the target does not exist yet) /bin/true stands in for ExecStart
# and the checks that run avfused are skipped. Exit 77 when systemd-analyze is missing.
set -uo pipefail
src=$1
built=$2
avfused=${3:-}
docs=$src/../docs/configuration.md

if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "SKIP: systemd-analyze not found"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}
ok() {
    echo "ok: $*"
}

exe=${avfused:-$(command -v true)}
for unit in avfused.service avfused@.service; do
    if [ ! -f "$built/$unit" ]; then
        fail "$built/$unit was not generated"
        continue
    fi
    if grep -n '@[A-Z_]*@' "$built/$unit"; then
        fail "$unit: placeholders left unsubstituted"
    fi
    grep -q '^ExecStart=/.*/avfused -c /.*/avfuse/' "$built/$unit" ||
        fail "$unit: ExecStart does not run avfused -c with absolute paths"
    sed -E "s|^ExecStart=[^ ]*/avfused |ExecStart=$exe |" "$built/$unit" >"$tmp/$unit"
done

# verify: clean means no output. An instance name makes systemd load the template.
out=$(systemd-analyze verify --man=no --generators=no "$tmp/avfused.service" \
    "$tmp/avfused@studio.service" 2>&1)
rc=$?
if [ $rc -ne 0 ] || [ -n "$out" ]; then
    fail "systemd-analyze verify (exit $rc):"
    echo "$out" >&2
else
    ok "systemd-analyze verify avfused.service avfused@studio.service: no message"
fi

for unit in avfused.service avfused@studio.service; do
    out=$(systemd-analyze security --offline=true --no-pager "$tmp/$unit" 2>&1)
    figure=$(sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p' <<<"$out")
    if [ -z "$figure" ]; then
        fail "systemd-analyze security printed no exposure figure for $unit:"
        echo "$out" >&2
    elif awk -v f="$figure" 'BEGIN { exit !(f <= 2.0) }'; then
        ok "systemd-analyze security --offline=true $unit: exposure $figure (<= 2.0)"
    else
        fail "$unit: exposure $figure > 2.0"
        grep '✗' <<<"$out" >&2
    fi
done

# "change both together": the sandbox sections must not drift apart
if diff <(sed -n '/^# --- sandbox/,$p' "$src/avfused.service.in") \
    <(sed -n '/^# --- sandbox/,$p' "$src/avfused@.service.in") >"$tmp/sandbox.diff"; then
    ok "avfused.service and avfused@.service carry the same sandbox"
else
    fail "the sandboxes of the two units differ:"
    cat "$tmp/sandbox.diff" >&2
fi

# The control socket: avfuse.conf leaves `control` to its default,
# $RUNTIME_DIRECTORY/control, which RuntimeDirectory= makes /run/avfuse/control
# (and /run/avfuse/NAME/control for an instance)
if grep -q '^RuntimeDirectory=avfuse$' "$src/avfused.service.in" &&
    grep -q '^RuntimeDirectory=avfuse/%i$' "$src/avfused@.service.in" &&
    ! grep -q '^control[[:space:]]*=' "$src/avfuse.conf"; then
    ok "the units' RuntimeDirectory= holds the default control socket"
else
    fail "the units need RuntimeDirectory=avfuse (avfuse/%i) and avfuse.conf no control key"
fi

if command -v systemd-sysusers >/dev/null 2>&1 && command -v systemd-tmpfiles >/dev/null 2>&1; then
    root=$tmp/root
    mkdir -p "$root/etc"
    if systemd-sysusers --root="$root" - <"$src/avfuse.sysusers" >"$tmp/sysusers.log" 2>&1 &&
        grep -q '^avfuse:x:[0-9]*:[0-9]*:.*:/usr/sbin/nologin$' "$root/etc/passwd" &&
        grep -q '^video:x:[0-9]*:avfuse$' "$root/etc/group" &&
        grep -q '^audio:x:[0-9]*:avfuse$' "$root/etc/group"; then
        ok "avfuse.sysusers: user avfuse, member of video and audio"
    else
        fail "avfuse.sysusers:"
        cat "$tmp/sysusers.log" "$root/etc/passwd" "$root/etc/group" >&2
    fi
    if systemd-tmpfiles --create --root="$root" - <"$src/avfuse.tmpfiles" >"$tmp/tmpfiles.log" 2>&1 &&
        [ "$(stat -c '%a %u' "$root/run/avfuse")" = "750 $(sed -n 's/^avfuse:x:\([0-9]*\):.*/\1/p' "$root/etc/passwd")" ]; then
        ok "avfuse.tmpfiles: /run/avfuse 0750 avfuse"
    else
        fail "avfuse.tmpfiles:"
        cat "$tmp/tmpfiles.log" >&2
    fi
else
    echo "skipped: systemd-sysusers or systemd-tmpfiles not found"
fi

# Every key of the reference is documented in the default configuration.
missing=""
for key in $(sed -n 's/^| `\([a-z_]*\)` |.*/\1/p' "$docs"); do
    grep -q "^[#;]*[[:space:]]*$key[[:space:]]" "$src/avfuse.conf" || missing="$missing $key"
done
if [ -n "$missing" ]; then
    fail "avfuse.conf does not document:$missing"
else
    ok "avfuse.conf documents every key of docs/configuration.md"
fi

if [ -z "$avfused" ]; then
    echo "skipped: avfused -n (the avfused target does not exist yet)"
else
    if out=$("$avfused" -n -c "$src/avfuse.conf" 2>&1); then
        ok "avfused -n -c systemd/avfuse.conf"
    else
        fail "avfused -n -c systemd/avfuse.conf: $out"
    fi
    # the examples, uncommented, are a valid configuration too
    sed -E 's/^#(\[source |[a-z_]+ = )/\1/' "$src/avfuse.conf" >"$tmp/examples.conf"
    if out=$("$avfused" -n -c "$tmp/examples.conf" 2>&1); then
        ok "avfused -n on avfuse.conf with its examples uncommented"
    else
        fail "the uncommented examples of avfuse.conf: $out"
    fi
    # MemoryDenyWriteExecute=yes: nothing may ask for writable code at load time
    if command -v readelf >/dev/null 2>&1; then
        bad=""
        for lib in "$avfused" $(ldd "$avfused" | awk '$3 ~ /^\// { print $3 }'); do
            readelf -d "$lib" 2>/dev/null | grep -q TEXTREL && bad="$bad $lib(textrel)"
            readelf -lW "$lib" 2>/dev/null | grep GNU_STACK | grep -q RWE && bad="$bad $lib(execstack)"
        done
        if [ -n "$bad" ]; then
            fail "MemoryDenyWriteExecute=yes would break:$bad"
        else
            ok "no text relocations or executable stack in avfused and its libraries"
        fi
    fi
fi

if [ -n "${CMAKE_COMMAND:-}" ] && [ -n "${AVF_BUILD_DIR:-}" ]; then
    dest=$tmp/dest
    if DESTDIR=$dest "$CMAKE_COMMAND" --install "$AVF_BUILD_DIR" >"$tmp/install.log" 2>&1; then
        # where each file went, from the install manifest of this very run
        for f in avfused.service avfused@.service sysusers.d/avfuse.conf tmpfiles.d/avfuse.conf \
            avfuse/avfuse.conf; do
            path=$(grep -m1 "/$f\$" "$tmp/install.log" | sed 's/^-- [A-Za-z]*: //')
            if [ -z "$path" ] || [ ! -f "$path" ]; then
                fail "cmake --install did not install $f"
            else
                echo "installed: ${path#"$dest"}"
            fi
        done
        units=$(find "$dest" -path '*/systemd/system/avfused*.service')
        [ -n "$units" ] || fail "cmake --install installed no unit"
        for unit in $units; do
            exe=$(sed -n 's/^ExecStart=\([^ ]*\) .*/\1/p' "$unit")
            conf=$(sed -n 's/^ExecStart=[^ ]* -c \([^ ]*\).*/\1/p' "$unit")
            # (until the avfused target exists, nothing installs it)
            [ -z "$avfused" ] || [ -x "$dest$exe" ] ||
                fail "${unit#"$dest"}: ExecStart names $exe, which was not installed"
            case $conf in
            *%i.conf) [ -d "$dest$(dirname "$conf")" ] || fail "${unit#"$dest"}: no folder for $conf" ;;
            *) [ -f "$dest$conf" ] || fail "${unit#"$dest"}: -c names $conf, which was not installed" ;;
            esac
            echo "${unit#"$dest"}: ExecStart=$exe -c $conf"
        done
    else
        fail "cmake --install into a scratch DESTDIR:"
        cat "$tmp/install.log" >&2
    fi
else
    echo "skipped: the install check (CMAKE_COMMAND and AVF_BUILD_DIR unset)"
fi

if [ $failures -ne 0 ]; then
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "all systemd checks passed"
