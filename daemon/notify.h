/*
 * notify.h - tells the service manager how the daemon is doing (sd_notify(3)).
 *
 * avfused runs under systemd as Type=notify (systemd/avfused.service). These calls
 * send one datagram each to the socket named by $NOTIFY_SOCKET; when it is unset
 * (a foreground run from a terminal, a test) every call is a no-op that returns 0.
 * With libsystemd at build time (AVFUSE_HAVE_LIBSYSTEMD) they are sd_notify() and
 * sd_watchdog_enabled(); without it notify.c speaks the same datagram protocol.
 *
 * The order the daemon MUST follow (systemd 252 has no Type=notify-reload):
 *   start:  parse and check the config, bind the sockets, start the sources,
 *           then avf_notify_ready(). systemd waits for it before it calls the unit
 *           started; a daemon that exits before READY=1 is a failed start.
 *   reload: on SIGHUP (ExecReload sends it) avf_notify_reloading() first, then parse,
 *           validate and swap, then avf_notify_ready() again - also when the new file
 *           was refused, since the old configuration keeps running.
 *   stop:   avf_notify_stopping() as soon as the stop begins, before draining.
 *   status: avf_notify_status() whenever the one-line summary changes (`systemctl
 *           status` shows it): "3 sources running, 1 reconnecting".
 *
 * Watchdog: avf_notify_watchdog_usec() says whether systemd wants keep-alives
 * (WatchdogSec= in the unit) and at what period. WHEN to call avf_notify_watchdog()
 * is the daemon's policy, not this module's: the daemon MUST send WATCHDOG=1 only
 * while its pipelines make progress (each live source delivered or is reconnecting
 * within its deadlines, the publisher drains its queue), about every half period,
 * so that a wedged daemon stops feeding and systemd restarts it. A timer thread
 * that feeds unconditionally would defeat the watchdog.
 *
 * Every function is thread-safe: each call formats into its own buffer and sends
 * on a socket of its own (no shared state). They read the environment, so nobody
 * may call setenv()/unsetenv() concurrently. Errors are negative errno values
 * (base/error.h); a failed notification never stops the daemon, so callers may
 * ignore them.
 */
#ifndef AVF_NOTIFY_H
#define AVF_NOTIFY_H

#include <stdint.h>

/* READY=1. Returns > 0 when sent, 0 without $NOTIFY_SOCKET, < 0 on failure. */
int avf_notify_ready(void);

/*
 * RELOADING=1 with MONOTONIC_USEC=<CLOCK_MONOTONIC in µs> (ignored by systemd 252,
 * required by Type=notify-reload in later versions). The daemon MUST follow it with
 * avf_notify_ready() when the reload is over, whatever its outcome.
 */
int avf_notify_reloading(void);

/* STOPPING=1. */
int avf_notify_stopping(void);

/*
 * STATUS=<text>, formatted like printf. Control characters (a newline would start
 * a new assignment in the datagram) become spaces; text longer than 511 bytes is cut
 * on a UTF-8 character boundary (systemd drops a status that is not valid UTF-8).
 */
int avf_notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* WATCHDOG=1: one keep-alive. See the policy above. */
int avf_notify_watchdog(void);

/*
 * The watchdog period in microseconds ($WATCHDOG_USEC), or 0 when the watchdog is
 * off: no $NOTIFY_SOCKET, no $WATCHDOG_USEC, a $WATCHDOG_PID that names another
 * process (the variables were inherited), or a value that is not a positive
 * decimal number.
 */
int64_t avf_notify_watchdog_usec(void);

#endif
