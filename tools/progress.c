/*
 * progress.c - the progress bar of `avfuse analyze` (tools/progress.h), apart from
 * the batch it shows: the batch counts, this file draws and keeps the terminal
 * line clean.
 */
#include "tools/progress.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static int64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * The bar is one line on stderr, redrawn by its own thread at most 10 times a
 * second with '\r' and spaces (no escape sequences, so any terminal will do).
 * stderr and, when it is a terminal, stdout are replaced by line-buffered
 * fopencookie() streams whose writes take the bar's lock, wipe the bar, write
 * the line and redraw the bar under it: error lines from any thread never share
 * the bar's line, and the log module needs no hook. The streams stay in place
 * until exit; once the bar is gone they only write.
 *
 * Percent: the share of the work done, as the owner counts it. Speed: media
 * seconds analyzed per wall second over the whole run; ETA: the time so far times
 * what is left over what is done.
 */
typedef struct progress_stream {
    int fd;
    int mid_line; /* protected by progress.lock: the last write did not end a line */
} progress_stream;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* avf_progress_stop() to the thread */
    pthread_t thread;
    int up;    /* protected by lock: the bar is drawn */
    int quit;  /* protected by lock */
    int shown; /* protected by lock: columns the bar covers on the terminal now */
    char text[512];
    int text_cols;
    progress_stream err, out;    /* protected by lock */
    const char *times;           /* set before the thread starts: "×" or "x" */
    avf_progress_count_fn count; /* set before the thread starts */
    void *opaque;                /* set before the thread starts */
    int64_t start_us;            /* set before the thread starts */
} progress = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .err = {STDERR_FILENO, 0},
    .out = {STDOUT_FILENO, 0},
};

static int write_all(int fd, const char *buf, size_t size)
{
    while (size > 0) {
        ssize_t n = write(fd, buf, size);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        buf += n;
        size -= (size_t)n;
    }
    return 0;
}

static void bar_wipe_locked(void)
{
    char blank[600];
    int n = progress.shown < (int)sizeof(blank) - 2 ? progress.shown : (int)sizeof(blank) - 2;

    if (!progress.shown)
        return;
    blank[0] = '\r';
    memset(blank + 1, ' ', (size_t)n);
    blank[n + 1] = '\r';
    write_all(STDERR_FILENO, blank, (size_t)n + 2);
    progress.shown = 0;
}

static void bar_draw_locked(void)
{
    char line[sizeof(progress.text) + 80];
    int len, pad;

    if (!progress.up || progress.err.mid_line || progress.out.mid_line || !progress.text[0])
        return;
    len = snprintf(line, sizeof(line), "\r%s", progress.text);
    pad = progress.shown - progress.text_cols; /* what the last bar drew beyond this one */
    while (pad-- > 0 && len < (int)sizeof(line) - 1)
        line[len++] = ' ';
    write_all(STDERR_FILENO, line, (size_t)len);
    progress.shown = progress.text_cols;
}

static ssize_t progress_stream_write(void *cookie, const char *buf, size_t size)
{
    progress_stream *ps = cookie;
    int ret;

    pthread_mutex_lock(&progress.lock);
    bar_wipe_locked();
    ret = write_all(ps->fd, buf, size);
    ps->mid_line = size > 0 && buf[size - 1] != '\n';
    bar_draw_locked();
    pthread_mutex_unlock(&progress.lock);
    if (ret < 0) {
        errno = -ret;
        return -1; /* fopencookie()'s contract: -1 with errno set */
    }
    return (ssize_t)size;
}

/* Replaces *stream (stderr or stdout) by a stream through progress_stream_write(). */
static void progress_wrap(FILE **stream, progress_stream *ps)
{
    FILE *f = fopencookie(ps, "w", (cookie_io_functions_t){.write = progress_stream_write});

    if (!f)
        return; /* the bar may then share its line with a message; nothing worse */
    setvbuf(f, NULL, _IOLBF, 4096);
    fflush(*stream);
    *stream = f;
}

static void format_hms(char *buf, size_t size, double s)
{
    long t = lround(s);

    if (t >= 3600)
        snprintf(buf, size, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, size, "%ld:%02ld", t / 60, t % 60);
}

/* Columns a UTF-8 string takes (one per character). */
static int text_columns(const char *s)
{
    int n = 0;

    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static void progress_compose_locked(void)
{
    avf_progress_counts c = {0};
    double elapsed, frac;
    int cols = 80, bar;
    char speed[32] = "--", eta[32] = "--:--", tail[160], failures[32] = "";
    struct winsize ws;

    progress.count(progress.opaque, &c);
    frac = c.done;
    frac = frac < 0 ? 0 : frac > 1 ? 1 : frac;
    elapsed = (now_us() - progress.start_us) / 1e6;
    if (c.media_s > 0 && elapsed > 0.2)
        snprintf(speed, sizeof(speed), "%.1f", c.media_s / elapsed);
    if (frac > 0.001 && elapsed > 0.2)
        format_hms(eta, sizeof(eta), elapsed * (1 - frac) / frac);
    if (c.failed)
        snprintf(failures, sizeof(failures), " (%d failed)", c.failed);
    snprintf(tail, sizeof(tail), " %d/%d files%s  %s%s real time  ETA %s", c.finished, c.total,
             failures, speed, progress.times, eta);
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        cols = ws.ws_col;
    /* "100% [" + bar + "]" + tail, one column short of the edge so it never wraps */
    bar = cols - 1 - 7 - text_columns(tail);
    if (bar > 40)
        bar = 40;
    if (bar >= 10) {
        int fill = (int)(frac * bar);
        char cells[48];

        memset(cells, '#', (size_t)fill);
        memset(cells + fill, ' ', (size_t)(bar - fill));
        cells[bar] = '\0';
        snprintf(progress.text, sizeof(progress.text), "%3d%% [%s]%s", (int)(frac * 100), cells,
                 tail);
    } else {
        snprintf(progress.text, sizeof(progress.text), "%3d%%%s", (int)(frac * 100), tail);
    }
    progress.text_cols = text_columns(progress.text);
    if (progress.text_cols > cols - 1) { /* a very narrow terminal: cut the line */
        int keep = 0, n = 0;

        for (const char *p = progress.text; *p; p++) {
            if (((unsigned char)*p & 0xc0) != 0x80 && ++n > cols - 1)
                break;
            keep++;
        }
        progress.text[keep] = '\0';
        progress.text_cols = text_columns(progress.text);
    }
}

static void *progress_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&progress.lock);
    while (!progress.quit) {
        struct timespec until;

        progress_compose_locked();
        bar_draw_locked();
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += 100 * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        while (!progress.quit &&
               pthread_cond_timedwait(&progress.wake, &progress.lock, &until) != ETIMEDOUT)
            ;
    }
    bar_wipe_locked();
    progress.up = 0;
    pthread_mutex_unlock(&progress.lock);
    return NULL;
}

/* "×" where the locale's characters are UTF-8 (the way setlocale() would see it). */
static const char *times_sign(void)
{
    const char *names[] = {"LC_ALL", "LC_CTYPE", "LANG"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *v = getenv(names[i]);

        if (v && *v)
            return strcasestr(v, "utf-8") || strcasestr(v, "utf8") ? "\xc3\x97" : "x";
    }
    return "x";
}

int avf_progress_start(avf_progress_count_fn count, void *opaque)
{
    pthread_condattr_t attr;

    progress.count = count;
    progress.opaque = opaque;
    progress.times = times_sign();
    progress.start_us = now_us();
    if (pthread_condattr_init(&attr) != 0)
        return -ENOMEM;
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (pthread_cond_init(&progress.wake, &attr) != 0) {
        pthread_condattr_destroy(&attr);
        return -ENOMEM;
    }
    pthread_condattr_destroy(&attr);
    progress_wrap(&stderr, &progress.err);
    if (isatty(STDOUT_FILENO))
        progress_wrap(&stdout, &progress.out);
    progress.up = 1;
    if (pthread_create(&progress.thread, NULL, progress_main, NULL) != 0) {
        progress.up = 0;
        pthread_cond_destroy(&progress.wake);
        return -EAGAIN;
    }
    return 0;
}

void avf_progress_stop(void)
{
    pthread_mutex_lock(&progress.lock);
    progress.quit = 1;
    pthread_cond_signal(&progress.wake);
    pthread_mutex_unlock(&progress.lock);
    pthread_join(progress.thread, NULL);
    pthread_cond_destroy(&progress.wake);
}

void avf_progress_abandon(void)
{
    if (pthread_mutex_trylock(&progress.lock) == 0) {
        bar_wipe_locked();
        pthread_mutex_unlock(&progress.lock);
    }
}
