/*
 * report.c - the reading half of `avfuse report`: an input becomes the table of
 * segments, tag events and cuts that tools/report_draw.c draws (tools/report.h).
 *
 * - One reader. INPUT is either JSON lines (segment messages, and event messages
 *   when present; told apart from media by a first non-blank '{') or a media file.
 *   A media file is analyzed in-process with the same pipeline calls as `avfuse
 *   analyze --events`, and each segment and event is encoded with the same encoders
 *   and fed through the same JSON reader, so the report of a file and the report of
 *   its `analyze --events` output are the same picture by construction.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libavutil/avutil.h>

#include "tools/report.h"
#include "base/log.h"
#include "fusion/events.h"
#include "fusion/message.h"
#include "base/vocab.h"
#include "fusion/tags.h"
#include "base/error.h"
#include "engine/scheduler.h"
#include "tools/analyze.h"

/* Times beyond this (31 years) are not a timeline but a broken message. */
#define REPORT_T_MAX 1e9

/* One error line naming what failed on which file, and why (errno err). */
void avf_report_say_errno(const char *what, const char *name, int err)
{
    fprintf(stderr, "avfuse: report: %s %s: %s\n", what, name, strerror(err));
}

/* ---- reading messages ---------------------------------------------------- */

static int grow(void **p, size_t *cap, size_t n, size_t size)
{
    void *q;
    size_t c;

    if (n < *cap)
        return 0;
    c = *cap ? *cap * 2 : 256;
    q = realloc(*p, c * size);
    if (!q)
        return -ENOMEM;
    *p = q;
    *cap = c;
    return 0;
}

static int add_cut(report *r, double t)
{
    if (grow((void **)&r->cuts, &r->cap_cuts, r->nb_cuts, sizeof(*r->cuts)) < 0)
        return -ENOMEM;
    r->cuts[r->nb_cuts++] = t;
    return 0;
}

static int add_span(report *r, int tag, double t0, double t1)
{
    if (grow((void **)&r->spans, &r->cap_spans, r->nb_spans, sizeof(*r->spans)) < 0)
        return -ENOMEM;
    r->spans[r->nb_spans++] = (rep_span){tag, t0, t1 < t0 ? t0 : t1};
    return 0;
}

static int tag_from_name(const char *name)
{
    for (int t = 0; t < AVF_TAG_COUNT; t++)
        if (!strcmp(name, avf_tag_name(t)))
            return t;
    return -1;
}

/* The number at obj.a.b.c (NULL-terminated path), or NaN when any part is missing. */
static double number_at(json_t *obj, ...)
{
    va_list ap;
    const char *key;

    va_start(ap, obj);
    while (obj && (key = va_arg(ap, const char *)))
        obj = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    va_end(ap);
    return json_is_number(obj) ? json_number_value(obj) : NAN;
}

static int read_segment(report *r, json_t *msg, const char **why)
{
    rep_segment s = {.order = r->nb_segs};
    json_t *tags = json_object_get(msg, "tags"), *tag;
    json_t *epoch = json_object_get(msg, "epoch");
    const char *model = json_string_value(json_object_get(msg, "model"));
    size_t i;

    s.t0 = number_at(msg, "t0", NULL);
    s.t1 = number_at(msg, "t1", NULL);
    if (!(fabs(s.t0) <= REPORT_T_MAX) || !(fabs(s.t1) <= REPORT_T_MAX)) {
        *why = "a segment without numbers t0 and t1 (at most 1e9 s)";
        return -EINVAL;
    }
    if (s.t1 < s.t0) {
        *why = "a segment whose t1 is before its t0";
        return -EINVAL;
    }
    for (int c = 0; c < 4; c++)
        s.v[S_SPEECH + c] = number_at(msg, "labels", avf_content_names[c], NULL);
    s.v[S_VALENCE] = number_at(msg, "sentiment", "valence", NULL);
    s.v[S_AROUSAL] = number_at(msg, "sentiment", "arousal", NULL);
    s.v[S_LUFS] = number_at(msg, "audio", "features", "loudness_lufs", NULL);
    s.v[S_RMS] = number_at(msg, "audio", "features", "rms_dbfs", NULL);
    json_array_foreach(tags, i, tag)
    {
        int t = json_is_string(tag) ? tag_from_name(json_string_value(tag)) : -1;

        if (t >= 0) /* a tag of a later vocabulary is not drawn */
            s.tags |= 1u << t;
    }
    if (number_at(msg, "video", "features", "cuts", NULL) > 0)
        s.tags |= 1u << AVF_TAG_CUT;
    if ((s.tags & (1u << AVF_TAG_CUT)) && add_cut(r, s.t0) < 0)
        return -ENOMEM;
    if (json_is_true(json_object_get(msg, "partial")))
        r->partial = 1;
    if (json_is_integer(epoch)) {
        long long e = json_integer_value(epoch);

        r->epoch_min = r->have_epoch && r->epoch_min < e ? r->epoch_min : e;
        r->epoch_max = r->have_epoch && r->epoch_max > e ? r->epoch_max : e;
        r->have_epoch = 1;
    }
    if (model && !r->model[0])
        snprintf(r->model, sizeof(r->model), "%s", model);
    if (grow((void **)&r->segs, &r->cap_segs, r->nb_segs, sizeof(*r->segs)) < 0)
        return -ENOMEM;
    r->segs[r->nb_segs++] = s;
    return 0;
}

static int read_event(report *r, json_t *msg, const char **why)
{
    const char *tag_name = json_string_value(json_object_get(msg, "tag"));
    const char *kind = json_string_value(json_object_get(msg, "event"));
    double t = number_at(msg, "t", NULL), duration = number_at(msg, "duration", NULL);
    int tag;

    if (!tag_name || !kind || !(fabs(t) <= REPORT_T_MAX) ||
        (strcmp(kind, "start") != 0 && strcmp(kind, "end") != 0)) {
        *why = "an event without tag, event (start or end) and t (at most 1e9 s)";
        return -EINVAL;
    }
    tag = tag_from_name(tag_name);
    if (tag < 0)
        return 0;
    if (!strcmp(kind, "start")) {
        if (isfinite(r->open_start[tag]) && add_span(r, tag, r->open_start[tag], t) < 0)
            return -ENOMEM;
        r->open_start[tag] = t;
        return tag == AVF_TAG_CUT ? add_cut(r, t) : 0;
    }
    if (isfinite(r->open_start[tag])) {
        int ret = add_span(r, tag, r->open_start[tag], t);

        r->open_start[tag] = NAN;
        return ret;
    }
    /* an end whose start came before the lines we have */
    return add_span(r, tag, isfinite(duration) ? t - duration : t, t);
}

/*
 * Reads one message. Returns 0 (also for a message that is not drawn: a status,
 * another source), -EINVAL after one line on stderr naming where:line, or -ENOMEM.
 */
static int report_add_json(report *r, const char *text, size_t len, const char *where, long line)
{
    json_error_t err;
    json_t *msg = json_loadb(text, len, 0, &err);
    const char *schema, *source, *why = NULL;
    int ret = 0;

    if (!msg) {
        fprintf(stderr, "avfuse: report: %s:%ld: invalid JSON: %s (column %d)\n", where, line,
                err.text, err.column);
        return -EINVAL;
    }
    schema = json_string_value(json_object_get(msg, "schema"));
    source = json_string_value(json_object_get(msg, "source"));
    if (!json_is_object(msg) || !schema) {
        why = "not an avfuse message (no \"schema\")";
        ret = -EINVAL;
        goto done;
    }
    if (strcmp(schema, AVF_SEGMENT_SCHEMA) != 0 && strcmp(schema, AVF_EVENT_SCHEMA) != 0) {
        if (strncmp(schema, "avfuse.", 7) != 0) {
            why = "not an avfuse message (unknown \"schema\")";
            ret = -EINVAL;
        }
        goto done; /* a status message, or a kind this report does not draw */
    }
    if (source && !r->source[0] && (!r->want_source || !strcmp(source, r->want_source)))
        snprintf(r->source, sizeof(r->source), "%s", source);
    if (source ? strcmp(source, r->want_source ? r->want_source : r->source) != 0
               : r->want_source != NULL) {
        r->other_source++;
        goto done;
    }
    ret = strcmp(schema, AVF_SEGMENT_SCHEMA) == 0 ? read_segment(r, msg, &why)
                                                  : read_event(r, msg, &why);
done:
    if (ret == -EINVAL)
        fprintf(stderr, "avfuse: report: %s:%ld: %s\n", where, line, why);
    json_decref(msg);
    return ret;
}

/* Reads JSON lines from f until its end. Returns 0 or a negative error (reported). */
static int read_json_lines(report *r, FILE *f, const char *where)
{
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    long line = 0;
    int ret = 0;

    errno = 0;
    while ((n = getline(&buf, &cap, f)) >= 0) {
        ssize_t i = 0;

        line++;
        while (i < n && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
            i++;
        if (i == n)
            continue;
        ret = report_add_json(r, buf, (size_t)n, where, line);
        if (ret < 0)
            break;
        errno = 0;
    }
    if (ret == 0 && ferror(f)) {
        ret = errno ? -errno : -EIO;
        avf_report_say_errno("cannot read", where, -ret);
    }
    if (ret == -ENOMEM)
        fprintf(stderr, "avfuse: report: out of memory\n");
    free(buf);
    return ret;
}

/* ---- analyzing a media file ---------------------------------------------- */

typedef struct media_opts {
    avf_pipeline_config cfg;
    const avf_tool_options *opt; /* the extractors and the model to load */
} media_opts;

/* avf_analyze_cb: adds the line to the report r, segment lines numbered from 1. */
static int add_line(void *r, char *line, const avf_segment *seg, uint64_t seq)
{
    int ret = report_add_json(r, line, strlen(line), "analysis", seg ? (long)seq + 1 : 0);

    free(line);
    return ret;
}

/*
 * Runs the pipeline of `avfuse analyze --events` on path: the same extractors,
 * model, scheduler, message and event encoders. Each message goes to r as the
 * JSON line analyze would print. Returns 0 or a negative error (reported).
 */
static int analyze_media(report *r, const char *path, media_opts *o)
{
    avf_setup_options so = avf_tool_setup_options(o->opt, AVF_MODEL_OPTIONAL, "report",
                                                  "segments carry no labels or sentiment");
    avf_setup setup;
    avf_pipeline_stats stats;
    avf_sched *s = NULL;
    char source[AVF_SOURCE_NAME_MAX + 1], err[256];
    uint64_t seq = 0;
    int ret;

    avf_source_name_from_path(path, source);
    ret = avf_setup_load(&setup, &so);
    if (ret < 0)
        goto done;
    avf_setup_apply(&setup, &o->cfg);
    ret = avf_sched_open(&s, path, &o->cfg);
    if (ret < 0) {
        avf_log(AVF_LOG_ERROR, path, "%s",
                ret == AVERROR_INVALIDDATA ? "not JSON lines, nor a media file FFmpeg can read"
                                           : avf_strerror(ret, err, sizeof(err)));
        goto done;
    }
    ret = avf_sched_start(s);
    if (ret < 0) {
        avf_log(AVF_LOG_ERROR, path, "cannot start: %s", avf_strerror(ret, err, sizeof(err)));
        goto done;
    }
    ret = avf_analyze_results(s, source, 1, add_line, r, &seq);
    if (ret < 0) {
        avf_log(AVF_LOG_ERROR, path, "%s", avf_strerror(ret, err, sizeof(err)));
        goto done;
    }
    ret = avf_sched_wait(s, &stats);
    if (ret >= 0 && stats.read_error < 0)
        ret = stats.read_error;
    if (ret < 0) {
        avf_log(AVF_LOG_ERROR, path, "analysis failed after %llu segments: %s",
                (unsigned long long)seq, avf_strerror(ret, err, sizeof(err)));
        goto done;
    }
    avf_log(AVF_LOG_INFO, path, "%llu segments analyzed", (unsigned long long)seq);
done:
    avf_sched_free(&s);
    avf_setup_free(&setup);
    o->cfg.plugins = NULL;
    o->cfg.fused = NULL;
    o->cfg.model = NULL;
    return ret;
}

/*
 * Reads INPUT into r: JSON lines when its first non-blank character is '{' (or it
 * is empty), else a media file analyzed in-process. Returns 0 or a negative error
 * (reported).
 */
static int read_input(report *r, const char *input, media_opts *o)
{
    int is_stdin = !strcmp(input, "-"), c, ret;
    const char *name = is_stdin ? "stdin" : input;
    FILE *in = is_stdin ? stdin : fopen(input, "r");

    if (!in) {
        if (strstr(input, "://")) /* a URL: FFmpeg's to open */
            return analyze_media(r, input, o);
        ret = errno ? -errno : -EIO;
        avf_report_say_errno("cannot open", input, -ret);
        return ret;
    }
    errno = 0;
    do
        c = getc(in);
    while (c == ' ' || c == '\t' || c == '\r' || c == '\n');
    if (c == EOF && ferror(in)) {
        ret = errno ? -errno : -EIO;
        avf_report_say_errno("cannot read", name, -ret);
    } else if (c == EOF || c == '{') {
        ungetc(c, in);
        ret = read_json_lines(r, in, name);
    } else if (is_stdin) {
        fprintf(stderr, "avfuse: report: stdin: not JSON lines (give a media file by name)\n");
        ret = -EINVAL;
    } else {
        fclose(in);
        return analyze_media(r, input, o);
    }
    if (!is_stdin)
        fclose(in);
    return ret;
}

void avf_report_init(report *r, const char *want_source)
{
    memset(r, 0, sizeof(*r));
    r->want_source = want_source;
    for (int t = 0; t < AVF_TAG_COUNT; t++)
        r->open_start[t] = NAN;
}

void avf_report_free(report *r)
{
    free(r->segs);
    free(r->spans);
    free(r->cuts);
    memset(r, 0, sizeof(*r));
}

int avf_report_read(report *r, const char *input, const avf_tool_options *opt)
{
    media_opts o = {opt->cfg, opt};
    int ret = read_input(r, input, &o);

    if (ret < 0)
        return ret;
    for (int t = 0; t < AVF_TAG_COUNT; t++) /* a start the input ended before its end */
        if (isfinite(r->open_start[t])) {
            double end = r->open_start[t];

            for (size_t i = 0; i < r->nb_segs; i++)
                end = fmax(end, r->segs[i].t1);
            ret = add_span(r, t, r->open_start[t], end);
            if (ret < 0) {
                fprintf(stderr, "avfuse: report: out of memory\n");
                return ret;
            }
        }
    return 0;
}
