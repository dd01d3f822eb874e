/*
 * notify.c - the daemon's sd_notify(3) messages: READY, RELOADING, STOPPING, STATUS
 * and WATCHDOG, plus the watchdog period the service manager asked for.
 *
 * It exists so that the daemon says "ready", "reloading" and "alive" in one place
 * and the rest of the code never tests for systemd. libsystemd is optional at build
 * time: with it (AVFUSE_HAVE_LIBSYSTEMD) the module calls sd_notify() and
 * sd_watchdog_enabled(); without it, it speaks the protocol itself, which is one
 * datagram of newline-separated KEY=VALUE assignments to the AF_UNIX socket named
 * by $NOTIFY_SOCKET (a path, or an abstract name written with a leading '@'), and
 * reads $WATCHDOG_USEC/$WATCHDOG_PID the way sd_watchdog_enabled() does. Like
 * sd_notify(), each message opens its own socket, so there is no shared state and
 * no lock. When to feed the watchdog is the daemon's decision (see notify.h).
 */
#include "daemon/notify.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef AVFUSE_HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#else
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#endif

#ifdef AVFUSE_HAVE_LIBSYSTEMD

static int notify_send(const char *msg)
{
    return sd_notify(0, msg);
}

static int watchdog_enabled(uint64_t *usec)
{
    return sd_watchdog_enabled(0, usec);
}

#else

static int notify_send(const char *msg)
{
    const char *name = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len;
    ssize_t sent;
    int fd, err;

    if (!name || !*name)
        return 0;
    len = strlen(name);
    if ((name[0] != '/' && name[0] != '@') || len < 2 || len >= sizeof(sa.sun_path))
        return -EINVAL;
    memcpy(sa.sun_path, name, len);
    if (name[0] == '@')
        sa.sun_path[0] = '\0'; /* abstract: the name is the bytes after the NUL, unterminated */
    else
        len++; /* a path: count its terminating NUL, as sd_notify() does */
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    sent = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (const struct sockaddr *)&sa,
                  (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
    err = sent < 0 ? -errno : 1;
    close(fd);
    return err;
}

/* A whole, unsigned decimal number: no sign, no spaces, no trailing text. */
static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (*s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end)
        return -EINVAL;
    *out = v;
    return 0;
}

static int watchdog_enabled(uint64_t *usec)
{
    const char *s = getenv("WATCHDOG_USEC");
    const char *p = getenv("WATCHDOG_PID");
    uint64_t u, pid;

    if (!s)
        return 0;
    if (parse_u64(s, &u) < 0 || u == 0 || u == UINT64_MAX)
        return -EINVAL;
    if (p) {
        if (parse_u64(p, &pid) < 0 || pid == 0)
            return -EINVAL;
        if (pid != (uint64_t)getpid())
            return 0; /* inherited from a parent that systemd watches */
    }
    *usec = u;
    return 1;
}

#endif

int avf_notify_ready(void)
{
    return notify_send("READY=1");
}

int avf_notify_reloading(void)
{
    struct timespec ts;
    char msg[64];

    clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
             (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u);
    return notify_send(msg);
}

int avf_notify_stopping(void)
{
    return notify_send("STOPPING=1");
}

int avf_notify_watchdog(void)
{
    return notify_send("WATCHDOG=1");
}

/* Cuts an incomplete UTF-8 sequence off the end of s (len bytes). */
static size_t utf8_trim(const char *s, size_t len)
{
    size_t lead = len, need;
    unsigned char c;

    while (lead > 0 && len - lead < 4 && ((unsigned char)s[lead - 1] & 0xC0) == 0x80)
        lead--;
    if (lead == 0)
        return len;
    c = (unsigned char)s[lead - 1];
    need = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return lead - 1 + need > len ? lead - 1 : len;
}

int avf_notify_status(const char *fmt, ...)
{
    static const char key[] = "STATUS=";
    char msg[sizeof(key) - 1 + 512];
    size_t len;
    va_list ap;
    int n;

    if (!getenv("NOTIFY_SOCKET"))
        return 0;
    memcpy(msg, key, sizeof(key));
    va_start(ap, fmt);
    n = vsnprintf(msg + sizeof(key) - 1, sizeof(msg) - (sizeof(key) - 1), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    len = strlen(msg);
    if ((size_t)n > len - (sizeof(key) - 1)) /* vsnprintf() cut it */
        msg[utf8_trim(msg, len)] = '\0';
    for (char *c = msg + sizeof(key) - 1; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7F)
            *c = ' ';
    return notify_send(msg);
}

int64_t avf_notify_watchdog_usec(void)
{
    uint64_t usec = 0;

    if (!getenv("NOTIFY_SOCKET"))
        return 0;
    if (watchdog_enabled(&usec) <= 0 || usec > INT64_MAX)
        return 0;
    return (int64_t)usec;
}
