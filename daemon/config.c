/*
 * config.c - parses and checks the daemon's INI file with libinih.
 *
 * inih calls back once per key; it knows nothing of sections that have no keys
 * and reports no line numbers to the handler. So the line reader given to
 * ini_parse_stream() counts lines and sees every section header itself: a
 * `[source NAME]` creates its source there (with the header's line, for errors
 * about keys that are missing), and any error stops the parse with the line
 * where it happened. Keys are described once, in the tables below, for the file
 * and for the control socket's `add` alike.
 */
#include "daemon/config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <unistd.h>

#include <ini.h>

#include "base/why.h"
#include "base/log.h"
#include "base/redact.h"
#include "base/error.h"
#include "base/url.h"
#include "pipeline/source.h"

#define LINE_MAX_BYTES 4096

static const char *const type_names[] = {"file", "stream", "camera", "microphone", "av"};

#define T_FILE   (1u << AVF_TYPE_FILE)
#define T_STREAM (1u << AVF_TYPE_STREAM)
#define T_CAMERA (1u << AVF_TYPE_CAMERA)
#define T_MIC    (1u << AVF_TYPE_MICROPHONE)
#define T_AV     (1u << AVF_TYPE_AV)
#define T_ALL    (T_FILE | T_STREAM | T_CAMERA | T_MIC | T_AV)
#define T_LIVE   (T_STREAM | T_CAMERA | T_MIC | T_AV)

enum value_kind { V_TYPE, V_STRING, V_BOOL, V_DOUBLE, V_INT, V_TRANSPORT };

typedef struct key_desc {
    const char *name;
    enum value_kind kind;
    unsigned types; /* the source types it applies to */
    size_t offset;
    double min, max; /* a number's range; a string's longest length in bytes (0: the line's) */
} key_desc;

#define F(field) offsetof(avf_source_conf, field)
static const key_desc source_keys[] = {
    {"type", V_TYPE, T_ALL, F(type), 0, 0},
    {"url", V_STRING, T_FILE | T_STREAM, F(url), 0, AVF_URL_MAX},
    {"password_file", V_STRING, T_STREAM, F(password_file), 0, PATH_MAX - 1},
    {"device", V_STRING, T_CAMERA | T_MIC | T_AV, F(device), 0, PATH_MAX - 1},
    {"microphone", V_STRING, T_AV, F(microphone), 0, PATH_MAX - 1},
    {"format", V_STRING, T_CAMERA | T_AV, F(format), 0, AVF_FORMAT_MAX},
    {"output", V_STRING, T_ALL, F(output), 0, PATH_MAX - 1},
    {"realtime", V_BOOL, T_FILE | T_CAMERA | T_AV, F(realtime), 0, 1},
    {"loop", V_BOOL, T_FILE, F(loop), 0, 1},
    {"live", V_BOOL, T_FILE, F(live), 0, 1},
    {"read_timeout", V_DOUBLE, T_ALL, F(read_timeout), 0.1, 600},
    {"backoff_min", V_DOUBLE, T_ALL, F(backoff_min), 0.01, 600},
    {"backoff_max", V_DOUBLE, T_ALL, F(backoff_max), 0.01, 3600},
    {"hop", V_DOUBLE, T_ALL, F(hop), 0.01, 3600},
    {"len", V_DOUBLE, T_ALL, F(len), 0.01, 3600},
    {"fps", V_DOUBLE, T_ALL, F(fps), 0.1, 1000},
    {"width", V_INT, T_ALL, F(width), 16, 8192},
    {"rate", V_INT, T_ALL, F(rate), 8000, 192000},
    {"rtsp_transport", V_TRANSPORT, T_STREAM, F(rtsp_transport), 0, 0},
};
#undef F

#define F(field) offsetof(avf_config, field)
static const key_desc daemon_keys[] = {
    {"publish", V_STRING, 0, F(publish), 0, 0},
    {"control", V_STRING, 0, F(control), 0, 0},
    {"status_interval", V_DOUBLE, 0, F(status_interval), 0.1, 60},
    {"sndhwm", V_INT, 0, F(sndhwm), 1, 1000000},
    {"linger", V_DOUBLE, 0, F(linger), 0, 60},
    {"model", V_STRING, 0, F(model), 0, 0},
    {"plugin_dirs", V_STRING, 0, F(plugin_dirs), 0, 0},
    {"metrics", V_STRING, 0, F(metrics), 0, 0},
    {"curve_key", V_STRING, 0, F(curve_key), 0, 0},
    {"curve_allow", V_STRING, 0, F(curve_allow), 0, 0},
    {"log_level", V_INT, 0, F(log_level), 0, 0}, /* parsed by name below */
    {"max_sources", V_INT, 0, F(max_sources), 1, 4096},
};
#undef F

#define NB_SOURCE_KEYS (int)(sizeof(source_keys) / sizeof(source_keys[0]))
#define NB_DAEMON_KEYS (int)(sizeof(daemon_keys) / sizeof(daemon_keys[0]))

const char *avf_source_type_name(enum avf_source_type type)
{
    return type >= 0 && type <= AVF_TYPE_AV ? type_names[type] : "none";
}

const char *avf_rtsp_transport_name(enum avf_rtsp_transport transport)
{
    return transport == AVF_RTSP_UDP ? "udp" : "tcp";
}

void avf_source_conf_init(avf_source_conf *sc, const char *name)
{
    *sc = (avf_source_conf){
        .type = AVF_TYPE_NONE,
        .read_timeout = 5,
        .backoff_min = 0.5,
        .backoff_max = 30,
        .hop = 1,
        .len = 1,
        .fps = 10,
        .width = 320,
        .rate = 16000,
    };
    snprintf(sc->name, sizeof(sc->name), "%s", name);
}

void avf_source_conf_clear(avf_source_conf *sc)
{
    free(sc->url);
    free(sc->password_file);
    free(sc->device);
    free(sc->microphone);
    free(sc->format);
    free(sc->output);
    *sc = (avf_source_conf){.type = AVF_TYPE_NONE};
}

static int copy_string(char **dst, const char *src)
{
    *dst = NULL;
    if (src && !(*dst = strdup(src)))
        return AVERROR(ENOMEM);
    return 0;
}

int avf_source_conf_copy(avf_source_conf *dst, const avf_source_conf *src)
{
    *dst = *src;
    if (copy_string(&dst->url, src->url) < 0 ||
        copy_string(&dst->password_file, src->password_file) < 0 ||
        copy_string(&dst->device, src->device) < 0 ||
        copy_string(&dst->microphone, src->microphone) < 0 ||
        copy_string(&dst->format, src->format) < 0 || copy_string(&dst->output, src->output) < 0) {
        avf_source_conf_clear(dst);
        return AVERROR(ENOMEM);
    }
    return 0;
}

static int parse_bool(const char *v, int *out)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};

    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(v, yes[i]))
            return *out = 1, 0;
        if (!strcasecmp(v, no[i]))
            return *out = 0, 0;
    }
    return AVERROR(EINVAL);
}

static int parse_double(const char *v, double *out)
{
    char *end;

    errno = 0;
    *out = strtod(v, &end);
    return end == v || *end || errno || !isfinite(*out) ? AVERROR(EINVAL) : 0;
}

/* Parses value into the field that d describes, within base (a source or the daemon). */
static int set_value(void *base, const key_desc *d, const char *value, char *why, size_t why_size)
{
    char *field = (char *)base + d->offset;
    double x;

    switch (d->kind) {
    case V_TYPE:
        for (int t = 0; t <= AVF_TYPE_AV; t++)
            if (!strcmp(value, type_names[t]))
                return *(enum avf_source_type *)(void *)field = t, 0;
        return avf_why(why, why_size, AVF_ERR_CONFIG,
                       "type '%s' is not one of file, stream, camera, microphone, av", value);
    case V_STRING:
        if (!*value)
            return avf_why(why, why_size, AVF_ERR_CONFIG, "%s is empty", d->name);
        /* a length, never the value: a long one would flood replies and logs */
        if (d->max > 0 && strlen(value) > (size_t)d->max)
            return avf_why(why, why_size, AVF_ERR_CONFIG,
                           "%s is %zu bytes long, over the %.0f bytes it may be", d->name,
                           strlen(value), d->max);
        free(*(char **)(void *)field);
        *(char **)(void *)field = strdup(value);
        return *(char **)(void *)field ? 0 : AVERROR(ENOMEM);
    case V_BOOL:
        if (parse_bool(value, (int *)(void *)field) < 0)
            return avf_why(why, why_size, AVF_ERR_CONFIG, "%s must be yes or no, not '%s'", d->name,
                           value);
        return 0;
    case V_DOUBLE:
    case V_INT:
        if (parse_double(value, &x) < 0 || x < d->min || x > d->max ||
            (d->kind == V_INT && x != floor(x)))
            return avf_why(why, why_size, AVF_ERR_CONFIG, "%s must be %s from %g to %g, not '%s'",
                           d->name, d->kind == V_INT ? "a whole number" : "a number", d->min,
                           d->max, value);
        if (d->kind == V_INT)
            *(int *)(void *)field = (int)x;
        else
            *(double *)(void *)field = x;
        return 0;
    case V_TRANSPORT:
        for (int t = AVF_RTSP_TCP; t <= AVF_RTSP_UDP; t++)
            if (!strcmp(value, avf_rtsp_transport_name(t)))
                return *(enum avf_rtsp_transport *)(void *)field = t, 0;
        return avf_why(why, why_size, AVF_ERR_CONFIG, "%s must be tcp or udp, not '%s'", d->name,
                       value);
    }
    return AVERROR_BUG;
}

int avf_source_conf_set(avf_source_conf *sc, const char *key, const char *value, char *why,
                        size_t why_size)
{
    for (int i = 0; i < NB_SOURCE_KEYS; i++) {
        if (strcmp(key, source_keys[i].name))
            continue;
        if (sc->given & (1u << i))
            return avf_why(why, why_size, AVF_ERR_CONFIG, "%s is set twice", key);
        sc->given |= 1u << i;
        return set_value(sc, &source_keys[i], value, why, why_size);
    }
    return avf_why(why, why_size, AVF_ERR_CONFIG, "unknown key '%s' in a source", key);
}

/*
 * Stray text in a url: libavformat would take `rtsp://cam/stream  extra` whole and
 * fail at run time with a message about a stream that is not there. A control
 * character (a tab, an escape) is never part of a URL or a path; whitespace is
 * never part of a network URL (RFC 3986 spells it %20), while a file name may hold
 * spaces. The url itself is not repeated in the reason: it may carry a password.
 */
static int url_stray_text(const avf_source_conf *sc, char *why, size_t why_size)
{
    for (const char *c = sc->url; c && *c; c++) {
        unsigned char ch = (unsigned char)*c;

        if (ch < 0x20 || ch == 0x7F)
            return avf_why(why, why_size, AVF_ERR_CONFIG,
                           "source %s: url holds a control character (0x%02X at byte %d)", sc->name,
                           ch, (int)(c - sc->url) + 1);
        if (ch == ' ' && sc->type == AVF_TYPE_STREAM)
            return avf_why(why, why_size, AVF_ERR_CONFIG,
                           "source %s: url has stray text after a space at byte %d (a URL holds "
                           "no spaces: write one as %%20)",
                           sc->name, (int)(c - sc->url) + 1);
    }
    return 0;
}

/* 1 when the key was set (in the file or by `add`), not left at its default. */
static int key_given(const avf_source_conf *sc, const char *key)
{
    for (int i = 0; i < NB_SOURCE_KEYS; i++)
        if (!strcmp(source_keys[i].name, key))
            return sc->given >> i & 1;
    return 0;
}

/* The userinfo of url (what precedes the host's '@'), n bytes; NULL when none. */
static const char *url_userinfo(const char *url, size_t *n)
{
    const char *a = strstr(url, "://");

    if (!a || !avf_url_userinfo(a + 3, strlen(a + 3), n))
        return NULL;
    return a + 3;
}

/* 1 when the userinfo (n bytes) holds a password, even an empty one ("user:@"). */
static int has_password(const char *user, size_t n)
{
    size_t at;

    return avf_url_password(user, n, &at);
}

int avf_source_conf_check(const avf_source_conf *sc, char *why, size_t why_size)
{
    char shown[AVF_URL_SHOWN];
    size_t n = 0;

    if (!avf_source_name_valid(sc->name))
        return avf_why(why, why_size, AVF_ERR_CONFIG,
                       "source name '%s' must match [A-Za-z0-9_-]{1,64}", sc->name);
    if (sc->type == AVF_TYPE_NONE)
        return avf_why(why, why_size, AVF_ERR_CONFIG, "source %s: type is missing", sc->name);
    for (int i = 0; i < NB_SOURCE_KEYS; i++)
        if ((sc->given >> i & 1) && !(source_keys[i].types & (1u << sc->type)))
            return avf_why(why, why_size, AVF_ERR_CONFIG,
                           "source %s: %s does not apply to a %s source", sc->name,
                           source_keys[i].name, type_names[sc->type]);
    if ((sc->type == AVF_TYPE_FILE || sc->type == AVF_TYPE_STREAM) && !sc->url)
        return avf_why(why, why_size, AVF_ERR_CONFIG, "source %s: url is missing", sc->name);
    if (url_stray_text(sc, why, why_size) < 0)
        return AVF_ERR_CONFIG;
    if (sc->type == AVF_TYPE_FILE && !avf_url_is_local(sc->url))
        return avf_why(why, why_size, AVF_ERR_CONFIG,
                       "source %s: '%s' is not a local file (use type = stream)", sc->name,
                       avf_redact(shown, sizeof(shown), sc->url));
    /* a pipe's read blocks where no read_timeout reaches, and the daemon's own
     * descriptors are no media source */
    if (sc->type == AVF_TYPE_FILE && !strncmp(sc->url, "pipe:", 5))
        return avf_why(why, why_size, AVF_ERR_CONFIG,
                       "source %s: pipe: URLs are not accepted (a file source reads a file by its "
                       "path)",
                       sc->name);
    if (sc->type == AVF_TYPE_STREAM && avf_url_is_local(sc->url))
        return avf_why(why, why_size, AVF_ERR_CONFIG,
                       "source %s: '%s' is not a network URL (rtsp, http, srt, udp, ...; use "
                       "type = file for files)",
                       sc->name, avf_redact(shown, sizeof(shown), sc->url));
    if (key_given(sc, "rtsp_transport") && !avf_url_is_rtsp(sc->url))
        return avf_why(why, why_size, AVF_ERR_CONFIG,
                       "source %s: rtsp_transport applies to rtsp:// and rtsps:// URLs only",
                       sc->name);
    /* libavformat carries rtsps:// over TLS on TCP whatever it is told */
    if (sc->rtsp_transport == AVF_RTSP_UDP && sc->url && !strncasecmp(sc->url, "rtsps://", 8))
        return avf_why(why, why_size, AVF_ERR_CONFIG,
                       "source %s: rtsp_transport = udp is not possible with rtsps://", sc->name);
    if (sc->password_file) {
        const char *user = url_userinfo(sc->url, &n);

        if (!user || !n)
            return avf_why(why, why_size, AVF_ERR_CONFIG,
                           "source %s: password_file needs a user in the url "
                           "(rtsp://USER@host/...), to give the password to",
                           sc->name);
        if (has_password(user, n))
            return avf_why(why, why_size, AVF_ERR_CONFIG,
                           "source %s: the url has a password and password_file gives one: "
                           "remove the password from the url (the configuration file is "
                           "readable by more than the daemon)",
                           sc->name);
    }
    if (sc->len < sc->hop)
        return avf_why(why, why_size, AVF_ERR_CONFIG,
                       "source %s: len (%g) must be at least hop (%g)", sc->name, sc->len, sc->hop);
    if (sc->backoff_max < sc->backoff_min)
        return avf_why(why, why_size, AVF_ERR_CONFIG,
                       "source %s: backoff_max must be at least backoff_min", sc->name);
    if (sc->hop * sc->rate < 1)
        return avf_why(why, why_size, AVF_ERR_CONFIG,
                       "source %s: hop must hold at least one sample", sc->name);
    return 0;
}

static int same_string(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

int avf_source_conf_equal(const avf_source_conf *a, const avf_source_conf *b)
{
    return !strcmp(a->name, b->name) && a->type == b->type && same_string(a->url, b->url) &&
           same_string(a->password_file, b->password_file) && same_string(a->device, b->device) &&
           same_string(a->microphone, b->microphone) && same_string(a->format, b->format) &&
           same_string(a->output, b->output) && a->realtime == b->realtime && a->loop == b->loop &&
           a->live == b->live && a->read_timeout == b->read_timeout &&
           a->backoff_min == b->backoff_min && a->backoff_max == b->backoff_max &&
           a->hop == b->hop && a->len == b->len && a->fps == b->fps && a->width == b->width &&
           a->rate == b->rate && a->rtsp_transport == b->rtsp_transport;
}

int avf_password_file_is_credential(const char *name)
{
    const char *dir = getenv("CREDENTIALS_DIRECTORY");

    return dir && *dir && !strchr(name, '/');
}

/* Where password_file is: in $CREDENTIALS_DIRECTORY for a bare name. */
static int password_path(const char *name, char *path, size_t size)
{
    int n;

    if (avf_password_file_is_credential(name))
        n = snprintf(path, size, "%s/%s", getenv("CREDENTIALS_DIRECTORY"), name);
    else
        n = snprintf(path, size, "%s", name);
    return n < 0 || (size_t)n >= size ? AVERROR(ENAMETOOLONG) : 0;
}

/* Reads the first line of the password file into pw (NUL-terminated). */
static int read_password(const char *path, char *pw, size_t size, char *why, size_t why_size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK), err;
    ssize_t got;
    size_t len;

    if (fd < 0) {
        err = errno;
        avf_why(why, why_size, AVF_ERR_CONFIG, "password_file %s: cannot read: %s", path,
                strerror(err));
        return AVERROR(err);
    }
    got = read(fd, pw, size - 1);
    err = errno;
    close(fd);
    if (got < 0) {
        avf_why(why, why_size, AVF_ERR_CONFIG, "password_file %s: cannot read: %s", path,
                strerror(err));
        return AVERROR(err);
    }
    pw[got] = '\0';
    len = strcspn(pw, "\r\n");
    if (len == (size_t)got && (size_t)got == size - 1) {
        explicit_bzero(pw, size);
        avf_why(why, why_size, AVF_ERR_CONFIG,
                "password_file %s: the first line is longer than %zu bytes", path, size - 2);
        return AVF_ERR_CONFIG;
    }
    pw[len] = '\0';
    if (!len) {
        explicit_bzero(pw, size);
        avf_why(why, why_size, AVF_ERR_CONFIG, "password_file %s: the first line is empty", path);
        return AVF_ERR_CONFIG;
    }
    return 0;
}

int avf_source_conf_url(const avf_source_conf *sc, char **url, char *why, size_t why_size)
{
    static const char unreserved[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789-._~";
    char path[4096], pw[1024];
    const char *user;
    size_t n = 0, len, at;
    char *out, *p;
    int ret;

    *url = NULL;
    if (!sc->url)
        return avf_why(why, why_size, AVF_ERR_CONFIG, "source %s: no url", sc->name),
               AVERROR(EINVAL);
    if (!sc->password_file) {
        *url = strdup(sc->url);
        return *url ? 0 : AVERROR(ENOMEM);
    }
    user = url_userinfo(sc->url, &n);
    if (!user || !n || has_password(user, n))
        return avf_why(why, why_size, AVF_ERR_CONFIG,
                       "source %s: password_file needs a user and no password in the url",
                       sc->name);
    if ((ret = password_path(sc->password_file, path, sizeof(path))) < 0)
        return avf_why(why, why_size, AVF_ERR_CONFIG, "password_file %s: the path is too long",
                       sc->password_file),
               ret;
    ret = read_password(path, pw, sizeof(pw), why, why_size);
    if (ret < 0)
        return ret;
    len = strlen(sc->url);
    at = (size_t)(user - sc->url) + n;
    out = malloc(len + 1 + 3 * strlen(pw) + 1);
    if (!out) {
        explicit_bzero(pw, sizeof(pw));
        return AVERROR(ENOMEM);
    }
    memcpy(out, sc->url, at);
    p = out + at;
    *p++ = ':';
    for (const unsigned char *c = (const unsigned char *)pw; *c; c++) {
        if (strchr(unreserved, *c)) {
            *p++ = (char)*c;
        } else {
            *p++ = '%';
            *p++ = "0123456789ABCDEF"[*c >> 4];
            *p++ = "0123456789ABCDEF"[*c & 15];
        }
    }
    memcpy(p, sc->url + at, len - at + 1);
    explicit_bzero(pw, sizeof(pw));
    *url = out;
    return 0;
}

void avf_source_conf_url_free(char **url)
{
    if (!url || !*url)
        return;
    explicit_bzero(*url, strlen(*url));
    free(*url);
    *url = NULL;
}

int avf_source_conf_is_live(const avf_source_conf *sc)
{
    return sc->type != AVF_TYPE_FILE || sc->live;
}

/* Parsing state shared by the line reader and the key handler. */
typedef struct parse_ctx {
    avf_config *c;
    FILE *f;
    int line;
    enum { SEC_NONE, SEC_DAEMON, SEC_SOURCE } section;
    unsigned daemon_given;
    int error; /* 0 or the first error; why holds the reason */
    char why[512];
} parse_ctx;

static int parse_error(parse_ctx *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int parse_error(parse_ctx *p, const char *fmt, ...)
{
    va_list ap;

    if (p->error)
        return 0;
    va_start(ap, fmt);
    vsnprintf(p->why, sizeof(p->why), fmt, ap);
    va_end(ap);
    p->error = AVF_ERR_CONFIG;
    return 0;
}

/* A section header: [daemon] or [source NAME]. */
static void begin_section(parse_ctx *p, const char *text)
{
    avf_config *c = p->c;
    char name[256];
    const char *rest;
    size_t n;
    avf_source_conf *grown;

    n = strcspn(text, "]");
    if (text[n] != ']' || n >= sizeof(name)) {
        parse_error(p, "a section header needs a closing ']'");
        return;
    }
    memcpy(name, text, n);
    name[n] = 0;
    if (!strcmp(name, "daemon")) {
        if (p->daemon_given & 0x80000000u) {
            parse_error(p, "[daemon] appears twice");
            return;
        }
        p->daemon_given |= 0x80000000u;
        p->section = SEC_DAEMON;
        return;
    }
    if (strncmp(name, "source", 6) || (name[6] != ' ' && name[6] != '\t')) {
        parse_error(p, "unknown section [%s] (sections are [daemon] and [source NAME])", name);
        return;
    }
    rest = name + 6;
    while (*rest == ' ' || *rest == '\t')
        rest++;
    n = strlen(rest);
    while (n && (rest[n - 1] == ' ' || rest[n - 1] == '\t'))
        n--;
    if (n == 0 || n > AVF_SOURCE_NAME_MAX) {
        parse_error(p, "source name must match [A-Za-z0-9_-]{1,64}");
        return;
    }
    grown = realloc(c->sources, (c->nb_sources + 1) * sizeof(*c->sources));
    if (!grown) {
        p->error = AVERROR(ENOMEM);
        return;
    }
    c->sources = grown;
    avf_source_conf_init(&c->sources[c->nb_sources], "");
    memcpy(c->sources[c->nb_sources].name, rest, n);
    c->sources[c->nb_sources].name[n] = 0;
    c->sources[c->nb_sources].line = p->line;
    if (!avf_source_name_valid(c->sources[c->nb_sources].name)) {
        parse_error(p, "source name '%s' must match [A-Za-z0-9_-]{1,64}",
                    c->sources[c->nb_sources].name);
        avf_source_conf_clear(&c->sources[c->nb_sources]);
        return;
    }
    for (int i = 0; i < c->nb_sources; i++)
        if (!strcmp(c->sources[i].name, c->sources[c->nb_sources].name)) {
            parse_error(p, "source %s is already defined on line %d", c->sources[i].name,
                        c->sources[i].line);
            avf_source_conf_clear(&c->sources[c->nb_sources]);
            return;
        }
    c->nb_sources++;
    p->section = SEC_SOURCE;
}

/* inih's line reader: counts lines and handles section headers itself. */
static char *read_line(char *str, int num, void *stream)
{
    parse_ctx *p = stream;
    const char *s;
    size_t len;

    if (p->error || !fgets(str, num, p->f))
        return NULL;
    p->line++;
    len = strlen(str);
    if (len == (size_t)num - 1 && str[len - 1] != '\n' && !feof(p->f)) {
        parse_error(p, "line longer than %d bytes", num - 2);
        return NULL;
    }
    for (s = str; *s == ' ' || *s == '\t'; s++)
        ;
    if (*s == '[')
        begin_section(p, s + 1);
    return p->error ? NULL : str;
}

static int parse_log_level(const char *v, int *level)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};

    for (int i = 0; i < 4; i++)
        if (!strcmp(v, names[i]))
            return *level = i, 0;
    return AVERROR(EINVAL);
}

static int set_daemon_key(parse_ctx *p, const char *key, const char *value)
{
    for (int i = 0; i < NB_DAEMON_KEYS; i++) {
        const key_desc *d = &daemon_keys[i];

        if (strcmp(key, d->name))
            continue;
        if (p->daemon_given & (1u << i))
            return parse_error(p, "%s is set twice", key);
        p->daemon_given |= 1u << i;
        if (!strcmp(key, "log_level")) {
            if (parse_log_level(value, &p->c->log_level) < 0)
                return parse_error(p, "log_level must be error, warn, info or debug, not '%s'",
                                   value);
            return 1;
        }
        if (set_value(p->c, d, value, p->why, sizeof(p->why)) < 0)
            p->error = AVF_ERR_CONFIG;
        if (d->offset == offsetof(avf_config, control))
            p->c->control_per_user = 0; /* the folder of a given path is the user's affair */
        return !p->error;
    }
    return parse_error(p, "unknown key '%s' in [daemon]", key);
}

static int handle_key(void *user, const char *section, const char *key, const char *value)
{
    parse_ctx *p = user;
    int ret;

    (void)section;
    if (p->error)
        return 0;
    switch (p->section) {
    case SEC_NONE:
        return parse_error(p, "'%s' is outside any section", key);
    case SEC_DAEMON:
        return set_daemon_key(p, key, value);
    case SEC_SOURCE:
        ret = avf_source_conf_set(&p->c->sources[p->c->nb_sources - 1], key, value, p->why,
                                  sizeof(p->why));
        if (ret < 0)
            p->error = ret;
        return ret >= 0;
    }
    return 0;
}

int avf_control_default(char *buf, size_t size)
{
    const char *runtime = getenv("RUNTIME_DIRECTORY"), *xdg = getenv("XDG_RUNTIME_DIR");
    int n, kind = AVF_CONTROL_PER_USER;

    if (runtime && *runtime) {
        /* systemd joins several RuntimeDirectory= folders with ':' */
        n = snprintf(buf, size, "ipc://%.*s/control", (int)strcspn(runtime, ":"), runtime);
        kind = AVF_CONTROL_RUNTIME_DIRECTORY;
    } else if (xdg && *xdg) {
        n = snprintf(buf, size, "ipc://%s/avfuse/control", xdg);
    } else {
        n = snprintf(buf, size, "ipc:///tmp/avfuse-%u/control", (unsigned)geteuid());
    }
    if (n < 0 || (size_t)n >= size) {
        if (size > 0)
            buf[0] = 0;
        return AVERROR(ENAMETOOLONG);
    }
    return kind;
}

static int config_defaults(avf_config *c, const char *path)
{
    char control[4096 + 32];
    int kind = avf_control_default(control, sizeof(control));

    *c = (avf_config){
        .status_interval = 1,
        .linger = 1,
        .sndhwm = 1000,
        .log_level = AVF_LOG_WARN,
        .control_per_user = kind == AVF_CONTROL_PER_USER,
        .max_sources = AVF_MAX_SOURCES_DEFAULT,
    };
    c->path = strdup(path);
    c->publish = strdup("tcp://127.0.0.1:5560");
    /* a default too long to be a path is refused when the daemon checks its folder */
    c->control = strdup(kind < 0 ? "ipc://" : control);
    return c->path && c->publish && c->control ? 0 : AVERROR(ENOMEM);
}

int avf_config_load(avf_config **pc, const char *path, char *why, size_t why_size)
{
    parse_ctx p = {0};
    int ret;

    p.c = calloc(1, sizeof(*p.c));
    if (!p.c || config_defaults(p.c, path) < 0) {
        avf_config_free(&p.c);
        return avf_why(why, why_size, AVF_ERR_CONFIG, "%s: out of memory", path), AVERROR(ENOMEM);
    }
    p.f = fopen(path, "r");
    if (!p.f) {
        ret = AVERROR(errno);
        avf_why(why, why_size, AVF_ERR_CONFIG, "%s: cannot open: %s", path, strerror(errno));
        avf_config_free(&p.c);
        return ret;
    }
    ini_use_stack = false;
    ini_allow_realloc = false;
    ini_initial_alloc = LINE_MAX_BYTES;
    ini_max_line = LINE_MAX_BYTES;
    ini_allow_multiline = false;
    ini_stop_on_first_error = true;
    ret = ini_parse_stream(read_line, &p, handle_key, &p);
    if (ret > 0 && !p.error)
        parse_error(&p, "not a 'key = value' line or a [section]");
    if (!p.error && ferror(p.f))
        p.error = avf_why(p.why, sizeof(p.why), AVF_ERR_CONFIG, "read error");
    fclose(p.f);
    if (p.error) {
        avf_why(why, why_size, AVF_ERR_CONFIG, "%s:%d: %s", path, p.line, p.why);
        avf_config_free(&p.c);
        return p.error;
    }
    if (p.c->metrics && !strcmp(p.c->metrics, "none")) {
        free(p.c->metrics);
        p.c->metrics = NULL;
    }
    if (p.c->control && !strcmp(p.c->control, "none")) {
        free(p.c->control);
        p.c->control = NULL;
    }
    if ((p.c->curve_key != NULL) != (p.c->curve_allow != NULL)) {
        avf_why(why, why_size, AVF_ERR_CONFIG,
                "%s: curve_key and curve_allow go together (CURVE without an allow-list would "
                "accept any client)",
                path);
        avf_config_free(&p.c);
        return AVF_ERR_CONFIG;
    }
    if (p.c->control && strncmp(p.c->control, "ipc://", 6)) {
        avf_why(why, why_size, AVF_ERR_CONFIG,
                "%s: control must be an ipc:// path or none, not '%s'", path, p.c->control);
        avf_config_free(&p.c);
        return AVF_ERR_CONFIG;
    }
    if (p.c->nb_sources > p.c->max_sources) {
        const avf_source_conf *first = &p.c->sources[p.c->max_sources];

        avf_why(why, why_size, AVF_ERR_CONFIG,
                "%s:%d: %d sources, over max_sources = %d from source %s on (raise max_sources "
                "in [daemon]; each source costs up to eight threads and a few MB)",
                path, first->line, p.c->nb_sources, p.c->max_sources, first->name);
        avf_config_free(&p.c);
        return AVF_ERR_CONFIG;
    }
    for (int i = 0; i < p.c->nb_sources; i++) {
        char reason[400];

        if (avf_source_conf_check(&p.c->sources[i], reason, sizeof(reason)) < 0) {
            avf_why(why, why_size, AVF_ERR_CONFIG, "%s:%d: %s", path, p.c->sources[i].line, reason);
            avf_config_free(&p.c);
            return AVF_ERR_CONFIG;
        }
    }
    *pc = p.c;
    return 0;
}

int avf_config_check_files(const avf_config *c, char *why, size_t why_size)
{
    for (int i = 0; i < c->nb_sources; i++) {
        char reason[400], *url = NULL;

        if (!c->sources[i].password_file)
            continue;
        if (avf_source_conf_url(&c->sources[i], &url, reason, sizeof(reason)) < 0)
            return avf_why(why, why_size, AVF_ERR_CONFIG, "%s:%d: source %s: %s", c->path,
                           c->sources[i].line, c->sources[i].name, reason);
        avf_source_conf_url_free(&url);
    }
    return 0;
}

void avf_config_free(avf_config **pc)
{
    avf_config *c;

    if (!pc || !*pc)
        return;
    c = *pc;
    for (int i = 0; i < c->nb_sources; i++)
        avf_source_conf_clear(&c->sources[i]);
    free(c->sources);
    free(c->path);
    free(c->publish);
    free(c->control);
    free(c->model);
    free(c->plugin_dirs);
    free(c->metrics);
    free(c->curve_key);
    free(c->curve_allow);
    free(c);
    *pc = NULL;
}

const avf_source_conf *avf_config_find(const avf_config *c, const char *name)
{
    for (int i = 0; i < c->nb_sources; i++)
        if (!strcmp(c->sources[i].name, name))
            return &c->sources[i];
    return NULL;
}
