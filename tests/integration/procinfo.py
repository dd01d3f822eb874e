"""What /proc tells of a running process (the daemon under test): figures from
/proc/PID/status and whether a sanitizer runtime is mapped into it."""


def status_field(pid, key):
    """The number of a /proc/PID/status line ("VmRSS:     1234 kB" gives 1234)."""
    with open("/proc/%d/status" % pid) as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s for pid %d" % (key, pid))


def rss_kb(pid):
    return status_field(pid, "VmRSS")


def threads(pid):
    return status_field(pid, "Threads")


def sanitized(pid, runtimes=("libasan", "libtsan")):
    """Whether one of the sanitizer runtimes is mapped into the process: by default
    AddressSanitizer or ThreadSanitizer, whose allocators keep what is freed."""
    with open("/proc/%d/maps" % pid) as fh:
        return any(runtime in line for line in fh for runtime in runtimes)
