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
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "daemon/log.h"
#include "pipeline/error.h"
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

enum value_kind { V_TYPE, V_STRING, V_BOOL, V_DOUBLE, V_INT };

typedef struct key_desc {
    const char *name;
    enum value_kind kind;
    unsigned types; /* the source types it applies to */
    size_t offset;
    double min, max;
} key_desc;

#define F(field) offsetof(avf_source_conf, field)
static const key_desc source_keys[] = {
    {"type", V_TYPE, T_ALL, F(type), 0, 0},
    {"url", V_STRING, T_FILE | T_STREAM, F(url), 0, 0},
    {"device", V_STRING, T_CAMERA | T_MIC | T_AV, F(device), 0, 0},
    {"microphone", V_STRING, T_AV, F(microphone), 0, 0},
    {"format", V_STRING, T_CAMERA | T_AV, F(format), 0, 0},
    {"output", V_STRING, T_ALL, F(output), 0, 0},
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
};
#undef F

#define NB_SOURCE_KEYS (int)(sizeof(source_keys) / sizeof(source_keys[0]))
#define NB_DAEMON_KEYS (int)(sizeof(daemon_keys) / sizeof(daemon_keys[0]))

static int fail(char *why, size_t why_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *why, size_t why_size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, why_size, fmt, ap);
    va_end(ap);
    return AVF_ERR_CONFIG;
}

const char *avf_source_type_name(enum avf_source_type type)
{
    return type >= 0 && type <= AVF_TYPE_AV ? type_names[type] : "none";
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
    if (copy_string(&dst->url, src->url) < 0 || copy_string(&dst->device, src->device) < 0 ||
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
    return -1;
}

static int parse_double(const char *v, double *out)
{
    char *end;

    errno = 0;
    *out = strtod(v, &end);
    return end == v || *end || errno || !isfinite(*out) ? -1 : 0;
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
        return fail(why, why_size, "type '%s' is not one of file, stream, camera, microphone, av",
                    value);
    case V_STRING:
        if (!*value)
            return fail(why, why_size, "%s is empty", d->name);
        free(*(char **)(void *)field);
        *(char **)(void *)field = strdup(value);
        return *(char **)(void *)field ? 0 : AVERROR(ENOMEM);
    case V_BOOL:
        if (parse_bool(value, (int *)(void *)field) < 0)
            return fail(why, why_size, "%s must be yes or no, not '%s'", d->name, value);
        return 0;
    case V_DOUBLE:
    case V_INT:
        if (parse_double(value, &x) < 0 || x < d->min || x > d->max ||
            (d->kind == V_INT && x != floor(x)))
            return fail(why, why_size, "%s must be %s from %g to %g, not '%s'", d->name,
                        d->kind == V_INT ? "a whole number" : "a number", d->min, d->max, value);
        if (d->kind == V_INT)
            *(int *)(void *)field = (int)x;
        else
            *(double *)(void *)field = x;
        return 0;
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
            return fail(why, why_size, "%s is set twice", key);
        sc->given |= 1u << i;
        return set_value(sc, &source_keys[i], value, why, why_size);
    }
    return fail(why, why_size, "unknown key '%s' in a source", key);
}

int avf_source_conf_check(const avf_source_conf *sc, char *why, size_t why_size)
{
    if (!avf_source_name_valid(sc->name))
        return fail(why, why_size, "source name '%s' must match [A-Za-z0-9_-]{1,64}", sc->name);
    if (sc->type == AVF_TYPE_NONE)
        return fail(why, why_size, "source %s: type is missing", sc->name);
    for (int i = 0; i < NB_SOURCE_KEYS; i++)
        if ((sc->given >> i & 1) && !(source_keys[i].types & (1u << sc->type)))
            return fail(why, why_size, "source %s: %s does not apply to a %s source", sc->name,
                        source_keys[i].name, type_names[sc->type]);
    if ((sc->type == AVF_TYPE_FILE || sc->type == AVF_TYPE_STREAM) && !sc->url)
        return fail(why, why_size, "source %s: url is missing", sc->name);
    if (sc->type == AVF_TYPE_FILE && !avf_url_is_local(sc->url))
        return fail(why, why_size, "source %s: '%s' is not a local file (use type = stream)",
                    sc->name, sc->url);
    /* a pipe's read blocks where no read_timeout reaches, and the daemon's own
     * descriptors are no media source */
    if (sc->type == AVF_TYPE_FILE && !strncmp(sc->url, "pipe:", 5))
        return fail(why, why_size,
                    "source %s: pipe: URLs are not accepted (a file source reads a file by its "
                    "path)",
                    sc->name);
    if (sc->type == AVF_TYPE_STREAM && avf_url_is_local(sc->url))
        return fail(why, why_size,
                    "source %s: '%s' is not a network URL (rtsp, http, srt, udp, ...; use "
                    "type = file for files)",
                    sc->name, sc->url);
    if (sc->len < sc->hop)
        return fail(why, why_size, "source %s: len (%g) must be at least hop (%g)", sc->name,
                    sc->len, sc->hop);
    if (sc->backoff_max < sc->backoff_min)
        return fail(why, why_size, "source %s: backoff_max must be at least backoff_min", sc->name);
    if (sc->hop * sc->rate < 1)
        return fail(why, why_size, "source %s: hop must hold at least one sample", sc->name);
    return 0;
}

static int same_string(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

int avf_source_conf_equal(const avf_source_conf *a, const avf_source_conf *b)
{
    return !strcmp(a->name, b->name) && a->type == b->type && same_string(a->url, b->url) &&
           same_string(a->device, b->device) && same_string(a->microphone, b->microphone) &&
           same_string(a->format, b->format) && same_string(a->output, b->output) &&
           a->realtime == b->realtime && a->loop == b->loop && a->live == b->live &&
           a->read_timeout == b->read_timeout && a->backoff_min == b->backoff_min &&
           a->backoff_max == b->backoff_max && a->hop == b->hop && a->len == b->len &&
           a->fps == b->fps && a->width == b->width && a->rate == b->rate;
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

static int parse_log_level(const char *v)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};

    for (int i = 0; i < 4; i++)
        if (!strcmp(v, names[i]))
            return i;
    return -1;
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
            p->c->log_level = parse_log_level(value);
            if (p->c->log_level < 0)
                return parse_error(p, "log_level must be error, warn, info or debug, not '%s'",
                                   value);
            return 1;
        }
        if (set_value(p->c, d, value, p->why, sizeof(p->why)) < 0)
            p->error = AVF_ERR_CONFIG;
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

static int config_defaults(avf_config *c, const char *path)
{
    *c = (avf_config){
        .status_interval = 1,
        .linger = 1,
        .sndhwm = 1000,
        .log_level = AVF_LOG_WARN,
    };
    c->path = strdup(path);
    c->publish = strdup("tcp://127.0.0.1:5560");
    c->control = strdup("ipc:///run/avfuse/control");
    return c->path && c->publish && c->control ? 0 : AVERROR(ENOMEM);
}

int avf_config_load(avf_config **pc, const char *path, char *why, size_t why_size)
{
    parse_ctx p = {0};
    int ret;

    p.c = calloc(1, sizeof(*p.c));
    if (!p.c || config_defaults(p.c, path) < 0) {
        avf_config_free(&p.c);
        return fail(why, why_size, "%s: out of memory", path), AVERROR(ENOMEM);
    }
    p.f = fopen(path, "r");
    if (!p.f) {
        ret = AVERROR(errno);
        fail(why, why_size, "%s: cannot open: %s", path, strerror(errno));
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
        p.error = fail(p.why, sizeof(p.why), "read error");
    fclose(p.f);
    if (p.error) {
        snprintf(why, why_size, "%s:%d: %s", path, p.line, p.why);
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
        fail(why, why_size,
             "%s: curve_key and curve_allow go together (CURVE without an allow-list would "
             "accept any client)",
             path);
        avf_config_free(&p.c);
        return AVF_ERR_CONFIG;
    }
    if (p.c->control && strncmp(p.c->control, "ipc://", 6)) {
        fail(why, why_size, "%s: control must be an ipc:// path or none, not '%s'", path,
             p.c->control);
        avf_config_free(&p.c);
        return AVF_ERR_CONFIG;
    }
    for (int i = 0; i < p.c->nb_sources; i++) {
        char reason[400];

        if (avf_source_conf_check(&p.c->sources[i], reason, sizeof(reason)) < 0) {
            snprintf(why, why_size, "%s:%d: %s", path, p.c->sources[i].line, reason);
            avf_config_free(&p.c);
            return AVF_ERR_CONFIG;
        }
    }
    *pc = p.c;
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
