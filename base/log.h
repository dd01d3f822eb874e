/*
 * log.h - the one logging module.
 *
 * Every line names its component ("dec0", "demux", "sync", "analyze"). Lines go to
 * stderr; FFmpeg's own log is routed here by avf_log_init(). avf_warn() appends
 * strerror(errno), avf_warnx() does not. All functions are thread-safe: a line is
 * formatted whole and written with one call.
 */
#ifndef AVF_LOG_H
#define AVF_LOG_H

enum avf_log_level {
    AVF_LOG_ERROR = 0,
    AVF_LOG_WARN = 1,
    AVF_LOG_INFO = 2,
    AVF_LOG_DEBUG = 3,
};

/* Sets the program name used as the line prefix and routes av_log() here. */
void avf_log_init(const char *progname);
/* Lines above this level are not written. Default: AVF_LOG_WARN. */
void avf_log_set_level(int level);
int avf_log_get_level(void);

void avf_log(int level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A warning followed by ": strerror(errno)". */
void avf_warn(const char *component, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void avf_warnx(const char *component, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
