"""What /proc tells of a running process (the daemon under test): figures from
/proc/PID/status, whether a sanitizer runtime is mapped into it, whether its
threads have gone idle."""
import os
import time


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


def thread_states(pid):
    """The state letter (R, S, D, ...) of each thread of the process."""
    states = []
    task = "/proc/%d/task" % pid
    for tid in os.listdir(task):
        try:
            with open("%s/%s/stat" % (task, tid)) as fh:
                states.append(fh.read().rsplit(")", 1)[1].split()[0])
        except OSError:  # the thread ended meanwhile
            pass
    return states


def wait_idle(pid, timeout, quiet=0.3):
    """Waits until no thread of the process has run (R) or waited on the disk (D)
    for quiet seconds in a row, sampled every 20 ms: the process has done all it
    could with its input. Fails after timeout seconds."""
    deadline = time.monotonic() + timeout
    since = None
    while time.monotonic() < deadline:
        busy = any(s in "RD" for s in thread_states(pid))
        now = time.monotonic()
        if busy:
            since = None
        elif since is None:
            since = now
        elif now - since >= quiet:
            return
        time.sleep(0.02)
    raise AssertionError("pid %d still busy after %.0f s" % (pid, timeout))
