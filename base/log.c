/*
 * log.c - the one logging module: leveled, component-tagged lines on stderr.
 *
 * It exists so that the project's own messages and FFmpeg's share one format and
 * one level switch. Each line is formatted into a local buffer and written with a
 * single fputs() under stderr's own lock, so lines from different threads never
 * interleave. FFmpeg's messages keep their class name as the component ("av:h264")
 * and are demoted (errors to info, warnings to debug, the rest dropped): the
 * pipeline reports the failures that matter itself, naming the input, and a
 * corrupt packet should not flood stderr unless the user asked with -v. Every
 * line, FFmpeg's included, goes through avf_redact(): FFmpeg names its inputs
 * with their passwords.
 */
#include "base/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/log.h>

#include "base/redact.h"

static const char *log_progname = "avfuse"; /* set once before threads start */
static atomic_int log_level = AVF_LOG_WARN;

static const char *const level_names[] = {"error", "warning", "info", "debug"};

void avf_log_set_level(int level)
{
    if (level < AVF_LOG_ERROR)
        level = AVF_LOG_ERROR;
    if (level > AVF_LOG_DEBUG)
        level = AVF_LOG_DEBUG;
    atomic_store(&log_level, level);
}

int avf_log_get_level(void)
{
    return atomic_load(&log_level);
}

static void log_write(int level, const char *component, const char *fmt, va_list ap,
                      const char *suffix) __attribute__((format(printf, 3, 0)));

static void log_write(int level, const char *component, const char *fmt, va_list ap,
                      const char *suffix)
{
    /* the whole line is formatted, then redacted: the component can be an
     * input's URL too (avfuse analyze names its jobs so) */
    char raw[2048], line[1024];
    int n;

    if (level > atomic_load(&log_level))
        return;
    n = snprintf(raw, sizeof(raw), "%s: %s: %s: ", log_progname, component, level_names[level]);
    if (n < 0 || (size_t)n >= sizeof(raw))
        n = 0;
    vsnprintf(raw + n, sizeof(raw) - (size_t)n, fmt, ap);
    n = (int)strlen(raw);
    while (n > 0 && raw[n - 1] == '\n')
        raw[--n] = '\0';
    if (suffix)
        snprintf(raw + n, sizeof(raw) - (size_t)n, ": %s", suffix);
    avf_redact(line, sizeof(line) - 1, raw); /* room for the newline */
    n = (int)strlen(line);
    line[n] = '\n';
    line[n + 1] = '\0';
    fputs(line, stderr);
}

void avf_log(int level, const char *component, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_write(level, component, fmt, ap, NULL);
    va_end(ap);
}

void avf_warn(const char *component, const char *fmt, ...)
{
    char buf[256];
    int saved = errno;
    /* the GNU strerror_r() (the build defines _GNU_SOURCE): it returns the text,
     * which need not be in buf */
    const char *err = strerror_r(saved, buf, sizeof(buf));
    va_list ap;

    va_start(ap, fmt);
    log_write(AVF_LOG_WARN, component, fmt, ap, err);
    va_end(ap);
}

void avf_warnx(const char *component, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_write(AVF_LOG_WARN, component, fmt, ap, NULL);
    va_end(ap);
}

static void av_log_route(void *avcl, int av_level, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void av_log_route(void *avcl, int av_level, const char *fmt, va_list ap)
{
    char component[64];
    AVClass *cls = avcl ? *(AVClass **)avcl : NULL;
    int level;

    if (av_level > AV_LOG_WARNING)
        return;
    level = av_level <= AV_LOG_ERROR ? AVF_LOG_INFO : AVF_LOG_DEBUG;
    snprintf(component, sizeof(component), "av:%s", cls ? cls->item_name(avcl) : "lib");
    log_write(level, component, fmt, ap, NULL);
}

void avf_log_init(const char *progname)
{
    if (progname)
        log_progname = progname;
    av_log_set_callback(av_log_route);
}
