/*
 * report.c - `avfuse report INPUT -o OUT.svg|OUT.html`: one picture of a whole input.
 *
 * A media engineer who ran `avfuse analyze` over a recording wants to see it at a
 * glance: where the speech is, where the picture went black, where it got loud.
 * The report draws one timeline, as a single self-contained SVG (or an HTML page
 * with that SVG inline): no scripts, fonts, styles or images from anywhere else.
 *
 * Design:
 * - One reader. INPUT is either JSON lines (segment messages, and event messages
 *   when present; told apart from media by a first non-blank '{') or a media file.
 *   A media file is analyzed in-process with the same pipeline calls as `avfuse
 *   analyze --events`, and each segment and event is encoded with the same encoders
 *   and fed through the same JSON reader, so the report of a file and the report of
 *   its `analyze --events` output are the same picture by construction.
 * - Bounded size. Up to one bin per horizontal pixel: with more segments than that
 *   (17 minutes of 1 s segments), segments are pooled into equal time bins (mean, and
 *   the min-max range as a band) and tag rows show the share of a bin's segments
 *   holding the tag. Every lane and curve is one <path>, so the file size depends on
 *   the plot width, not the input length.
 * - Missing is not zero: a value a segment lacks (no model, an absent modality)
 *   breaks the curve or area instead of drawing 0.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <jansson.h>
#include <libavutil/avutil.h>

#include "tools/commands.h"
#include "base/log.h"
#include "fusion/events.h"
#include "fusion/message.h"
#include "base/vocab.h"
#include "fusion/tags.h"
#include "base/error.h"
#include "engine/scheduler.h"
#include "tools/analyze.h"

/* Geometry of the picture, in SVG user units (pixels at 100 %). */
#define REPORT_W    1200
#define PLOT_X      130 /* left edge of the plot; names and scales sit left of it */
#define PLOT_W      1040
#define LANE_H      30
#define LANE_GAP    4
#define TAG_ROW_H   18
#define SENT_H      120
#define LEVEL_H     90
#define SECTION_GAP 16
/* Tag bars are this opaque (times the share in quarters); event strips are solid. */
#define BAR_OPACITY 0.5
/* Loudness below the BS.1770 absolute gate is not worth axis space: drawn at -70. */
#define LEVEL_FLOOR (-70.0)
/* With more cuts than this, full-height marks would hide the chart: the cut row
 * alone shows them. */
#define MAX_CUT_MARKS 120
/* Times beyond this (31 years) are not a timeline but a broken message. */
#define REPORT_T_MAX 1e9
/* More segments than this are pooled into this many bins: one per pixel. */
#define MAX_BINS PLOT_W

/* The per-segment values the report draws. */
enum series {
    S_SPEECH,
    S_MUSIC,
    S_NOISE,
    S_SILENCE,
    S_VALENCE,
    S_AROUSAL,
    S_LUFS, /* audio.features.loudness_lufs */
    S_RMS,  /* audio.features.rms_dbfs */
    S_COUNT
};

static const char *const content_colours[4] = {"#1f77b4", "#9467bd", "#8c564b", "#7f7f7f"};
static const char *const tag_colours[AVF_TAG_COUNT] = {
    "#1f77b4", "#9467bd", "#8c564b", "#7f7f7f", "#000000", "#17becf",
    "#d62728", "#bcbd22", "#e377c2", "#e6550d", "#a50f15", "#6b6ecf",
};
#define VALENCE_COLOUR "#2ca02c"
#define AROUSAL_COLOUR "#ff7f0e"
#define LEVEL_COLOUR   "#008b8b"
#define CUT_COLOUR     "#d62728"

typedef struct rep_segment {
    double t0, t1;
    double v[S_COUNT]; /* NaN: not in the message */
    uint32_t tags;     /* 1u << AVF_TAG_*; cut also from video.features.cuts */
    size_t order;      /* input order: sorting by t0 stays stable */
} rep_segment;

/* The extent of one tag event: a start paired with its end. */
typedef struct rep_span {
    int tag;
    double t0, t1;
} rep_span;

typedef struct report {
    rep_segment *segs;
    size_t nb_segs, cap_segs;
    rep_span *spans;
    size_t nb_spans, cap_spans;
    double *cuts; /* times of cuts: a cut segment's t0, a cut event's start */
    size_t nb_cuts, cap_cuts;
    double open_start[AVF_TAG_COUNT]; /* t of an event start not yet ended, or NaN */
    const char *want_source;          /* --source, or NULL: the first message's */
    char source[AVF_SOURCE_NAME_MAX + 1];
    char model[64];
    long long epoch_min, epoch_max;
    int have_epoch, partial;
    size_t other_source; /* messages of other sources, skipped */
} report;

/* One column of the picture: a segment, or with many segments a pool of them. */
typedef struct rep_bin {
    double t0, t1; /* the time span it draws over */
    int n;         /* segments in it */
    double sum[S_COUNT], lo[S_COUNT], hi[S_COUNT];
    int cnt[S_COUNT];
    int tag_cnt[AVF_TAG_COUNT];
} rep_bin;

/* What render() needs besides the data. */
typedef struct rep_view {
    double ts, te; /* the time range of the plot */
    rep_bin *bins;
    size_t nb_bins;
    int pooled; /* bins hold several segments each */
} rep_view;

static void report_usage(FILE *f)
{
    fprintf(f,
            "usage: avfuse report [options] INPUT -o OUT.svg|OUT.html\n"
            "\n"
            "Draws the timeline of one input as a single self-contained file (no\n"
            "scripts, fonts or styles from elsewhere): content probabilities (speech,\n"
            "music, noise, silence) as lanes, one row per tag that occurs (tag events\n"
            "as a thin strip under it), valence and arousal as curves, loudness as a\n"
            "curve, and cuts as vertical marks (up to %d; beyond, in the cut row only),\n"
            "over an mm:ss (h:mm:ss) time axis.\n"
            "\n"
            "INPUT is either JSON lines as 'avfuse analyze [--events]' writes them\n"
            "(segment messages, and event messages if present; status lines are\n"
            "skipped; '-' reads them from stdin) or a media file, which is then analyzed\n"
            "first, in-process, as 'avfuse analyze --events' would. An input whose first\n"
            "non-blank character is '{' is JSON lines; an empty one gives a chart with\n"
            "no segments.\n"
            "\n"
            "options:\n"
            "  -o, --output FILE    the report: FILE.svg is an SVG image, FILE.html (or\n"
            "                       .htm) an HTML page with the SVG inline (required)\n"
            "  --source NAME        JSON lines of several sources: draw this one\n"
            "                       (default: the source of the first message)\n"
            "  --title TEXT         the title (default: the input's file name)\n"
            "  -v, --verbose        more log lines on stderr (repeat for debug)\n"
            "  -q, --quiet          only errors on stderr\n"
            "  -h, --help           show this help\n"
            "media input only, as in analyze:\n"
            "  --hop SECONDS        start of one segment to the next (default 1.0)\n"
            "  --len SECONDS        segment length, at least --hop (default 1.0)\n"
            "  --plugin-dir DIR     also load the feature plugins (*.so) in DIR; the\n"
            "                       folder must not be writable by others (repeatable)\n"
            "  --model FILE         the model of the heads (default: $AVFUSE_MODEL, else\n"
            "                       the installed default model, else the source tree's)\n"
            "\n"
            "With more than %d segments (one per pixel across the plot), segments are\n"
            "pooled into %d equal time bins: lanes and curves show each bin's mean\n"
            "(curves with a min-max band), tag rows the share of its segments with the\n"
            "tag. A value a segment lacks (no model, an absent modality) is a gap, not 0.\n"
            "\n"
            "Exit status: 0 when the report was written, 1 when the input could not be\n"
            "read or analyzed (an invalid JSON line is named by its number) or the\n"
            "output could not be written (a regular OUT file is then removed), 2 on a\n"
            "usage error, such as an OUT that ends neither in .svg nor in .html.\n",
            MAX_CUT_MARKS, MAX_BINS, MAX_BINS);
}

/* One error line naming what failed on which file, and why (errno err). */
static void say_errno(const char *what, const char *name, int err)
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
        say_errno("cannot read", where, -ret);
    }
    if (ret == -ENOMEM)
        fprintf(stderr, "avfuse: report: out of memory\n");
    free(buf);
    return ret;
}

/* ---- analyzing a media file ---------------------------------------------- */

typedef struct media_opts {
    avf_pipeline_config cfg;
    const char **plugin_dirs;
    int nb_plugin_dirs;
    const char *model_path;
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
    const avf_plugin_descriptor **plugins = NULL;
    avf_plugin_registry *registry = NULL;
    avf_fused_layout *layout = NULL, *model_layout = NULL;
    avf_model *model = NULL;
    avf_pipeline_stats stats;
    avf_sched *s = NULL;
    char source[AVF_SOURCE_NAME_MAX + 1], err[256];
    uint64_t seq = 0;
    int ret, nb_plugins;

    avf_source_name_from_path(path, source);
    ret = nb_plugins = avf_load_plugins(&registry, o->plugin_dirs, o->nb_plugin_dirs, &plugins);
    if (ret < 0)
        goto done;
    o->cfg.plugins = plugins;
    o->cfg.nb_plugins = nb_plugins;
    layout = avf_fused_layout_new(plugins, nb_plugins);
    if (!layout) {
        ret = AVERROR(ENOMEM);
        goto done;
    }
    ret = avf_load_model(&model, &model_layout, o->model_path, layout);
    if (ret < 0)
        goto done;
    if (ret > 0)
        avf_log(AVF_LOG_WARN, "report", "no model found: segments carry no labels or sentiment");
    o->cfg.fused = model_layout;
    o->cfg.model = model;
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
    avf_model_free(&model);
    avf_fused_layout_free(&model_layout);
    avf_fused_layout_free(&layout);
    free(plugins);
    avf_plugin_registry_free(&registry);
    o->cfg.plugins = NULL;
    o->cfg.fused = NULL;
    o->cfg.model = NULL;
    return ret;
}

/* ---- binning ------------------------------------------------------------- */

static int by_time(const void *a, const void *b)
{
    const rep_segment *x = a, *y = b;

    if (x->t0 != y->t0)
        return x->t0 < y->t0 ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static void bin_add(rep_bin *b, const rep_segment *s)
{
    b->n++;
    for (int k = 0; k < S_COUNT; k++) {
        double v = s->v[k];

        if (isnan(v))
            continue;
        b->lo[k] = b->cnt[k] && b->lo[k] < v ? b->lo[k] : v;
        b->hi[k] = b->cnt[k] && b->hi[k] > v ? b->hi[k] : v;
        b->sum[k] += v;
        b->cnt[k]++;
    }
    for (int t = 0; t < AVF_TAG_COUNT; t++)
        b->tag_cnt[t] += !!(s->tags & (1u << t));
}

/* Sorts the segments by time and fills v: its range and one bin per segment, or
 * MAX_BINS equal bins when there are more segments than that. */
static int make_view(report *r, rep_view *v)
{
    memset(v, 0, sizeof(*v));
    if (r->nb_segs)
        qsort(r->segs, r->nb_segs, sizeof(*r->segs), by_time);
    if (r->nb_segs == 0) {
        v->ts = 0;
        v->te = 10; /* an empty chart still gets an axis */
        return 0;
    }
    v->ts = r->segs[0].t0;
    v->te = r->segs[0].t1;
    for (size_t i = 0; i < r->nb_segs; i++)
        v->te = r->segs[i].t1 > v->te ? r->segs[i].t1 : v->te;
    if (v->te <= v->ts)
        v->te = v->ts + 1;
    v->pooled = r->nb_segs > MAX_BINS;
    v->nb_bins = v->pooled ? MAX_BINS : r->nb_segs;
    v->bins = calloc(v->nb_bins, sizeof(*v->bins));
    if (!v->bins)
        return -ENOMEM;
    if (!v->pooled) {
        for (size_t i = 0; i < r->nb_segs; i++) {
            const rep_segment *s = &r->segs[i];
            rep_bin *b = &v->bins[i];

            b->t0 = s->t0;
            /* overlapping segments (hop < len): each draws up to the next one */
            b->t1 = i + 1 < r->nb_segs && r->segs[i + 1].t0 > s->t0 && r->segs[i + 1].t0 < s->t1
                        ? r->segs[i + 1].t0
                        : s->t1;
            bin_add(b, s);
        }
        return 0;
    }
    for (size_t k = 0; k < v->nb_bins; k++) {
        v->bins[k].t0 = v->ts + (v->te - v->ts) * (double)k / (double)v->nb_bins;
        v->bins[k].t1 = v->ts + (v->te - v->ts) * (double)(k + 1) / (double)v->nb_bins;
    }
    for (size_t i = 0; i < r->nb_segs; i++) {
        const rep_segment *s = &r->segs[i];
        double mid = (s->t0 + s->t1) / 2;
        long k = (long)((mid - v->ts) / (v->te - v->ts) * (double)v->nb_bins);

        k = k < 0 ? 0 : k >= (long)v->nb_bins ? (long)v->nb_bins - 1 : k;
        bin_add(&v->bins[k], s);
    }
    return 0;
}

static double bin_mean(const rep_bin *b, int k)
{
    return b->cnt[k] ? b->sum[k] / b->cnt[k] : NAN;
}

/* Whether bin i+1 continues bin i without a gap in time. */
static int contiguous(const rep_view *v, size_t i)
{
    double eps = (v->te - v->ts) * 1e-6;

    return v->bins[i + 1].t0 <= v->bins[i].t1 + eps;
}

/* ---- drawing ------------------------------------------------------------- */

static double clampd(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

/* Segments lie inside [ts, te] by construction; event times need not. */
static double x_of(const rep_view *v, double t)
{
    return PLOT_X + clampd((t - v->ts) / (v->te - v->ts), 0, 1) * PLOT_W;
}

/* The length of the UTF-8 sequence at p when it is valid and a character XML 1.0
 * allows (no C0 control but tab, no surrogate, no U+FFFE/U+FFFF), else 0. */
static int xml_char_len(const unsigned char *p)
{
    unsigned c = p[0];
    unsigned lo = 0x80, hi = 0xbf; /* the range of the second byte */
    int len;

    if (c < 0x80)
        return c >= 0x20 || c == '\t' ? 1 : 0;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (int i = 2; i < len; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    if (c == 0xef && p[1] == 0xbf && (p[2] == 0xbe || p[2] == 0xbf))
        return 0;
    return len;
}

/* Writes s as XML character data: markup escaped, anything that XML does not allow
 * (bytes that are not UTF-8, control characters) as '?', so any file name works. */
static void xml_text(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        int len = xml_char_len(p);

        if (!len)
            fputc('?', f);
        else if (*p == '&')
            fputs("&amp;", f);
        else if (*p == '<')
            fputs("&lt;", f);
        else if (*p == '>')
            fputs("&gt;", f);
        else if (*p == '"')
            fputs("&quot;", f);
        else if (*p == '\'')
            fputs("&apos;", f);
        else
            fwrite(p, 1, (size_t)len, f);
        p += len ? len : 1;
    }
}

/* mm:ss, or h:mm:ss when hours; with one decimal when tenths. */
static void format_time(double t, int hours, int tenths, char *buf, size_t size)
{
    const char *sign = t < 0 ? "-" : "";
    long long d = llround(fabs(t) * 10); /* tenths of a second */
    long long s = tenths ? d / 10 : (d + 5) / 10;

    if (hours && tenths)
        snprintf(buf, size, "%s%lld:%02lld:%02lld.%lld", sign, s / 3600, s / 60 % 60, s % 60,
                 d % 10);
    else if (hours)
        snprintf(buf, size, "%s%lld:%02lld:%02lld", sign, s / 3600, s / 60 % 60, s % 60);
    else if (tenths)
        snprintf(buf, size, "%s%02lld:%02lld.%lld", sign, s / 60, s % 60, d % 10);
    else
        snprintf(buf, size, "%s%02lld:%02lld", sign, s / 60, s % 60);
}

/* The tick spacing: the smallest round step that keeps labels min_px apart. */
static double tick_step(double span, double min_px)
{
    static const double steps[] = {0.1,  0.2,   0.5,   1,     2,     5,    10,   15,
                                   30,   60,    120,   300,   600,   900,  1800, 3600,
                                   7200, 10800, 14400, 21600, 43200, 86400};
    double max_ticks = PLOT_W / min_px, step = 86400;

    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
        if (span / steps[i] <= max_ticks)
            return steps[i];
    while (span / step > max_ticks)
        step *= 2;
    return step;
}

/* Light vertical grid lines and the labelled time axis at y. */
static void draw_axis(FILE *f, const rep_view *v, double top, double y)
{
    int hours = v->te >= 3600 || v->ts <= -3600;
    double step = tick_step(v->te - v->ts, hours ? 75 : 60);
    int tenths;

    if (step < 1) /* "00:01.2" is wider than "00:01" */
        step = tick_step(v->te - v->ts, 75);
    tenths = step < 1;
    long long k0 = (long long)ceil(v->ts / step - 1e-9), k1 = (long long)floor(v->te / step + 1e-9);
    char label[32];

    fprintf(f, "<g id=\"grid\" stroke=\"#e4e4e4\" stroke-width=\"1\">\n");
    for (long long k = k0; k <= k1; k++)
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                x_of(v, (double)k * step), top, x_of(v, (double)k * step), y);
    fprintf(f, "</g>\n");
    fprintf(f,
            "<g id=\"axis\" font-size=\"12\" fill=\"#333\">\n"
            "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#333\"/>\n"
            "<text x=\"12\" y=\"%.1f\">time</text>\n"
            "<text x=\"12\" y=\"%.1f\" font-size=\"11\" fill=\"#888\">%s</text>\n",
            PLOT_X, y, PLOT_X + PLOT_W, y, y + 18, y + 31, hours ? "h:mm:ss" : "mm:ss");
    for (long long k = k0; k <= k1; k++) {
        double x = x_of(v, (double)k * step);

        format_time((double)k * step, hours, tenths, label, sizeof(label));
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>"
                "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
                x, y, x, y + 5, x, y + 18, label);
    }
    fprintf(f, "</g>\n");
}

/* A run of bins [a, b) holding series k, as a step area from base up by h per unit. */
static void area_run(FILE *f, const rep_view *v, int k, size_t a, size_t b, double base, double h)
{
    fprintf(f, "M%.1f %.1f", x_of(v, v->bins[a].t0), base);
    for (size_t i = a; i < b; i++) {
        double y = base - clampd(bin_mean(&v->bins[i], k), 0, 1) * h;

        fprintf(f, "L%.1f %.1fL%.1f %.1f", x_of(v, v->bins[i].t0), y, x_of(v, v->bins[i].t1), y);
    }
    fprintf(f, "L%.1f %.1fZ", x_of(v, v->bins[b - 1].t1), base);
}

/*
 * Finds the next maximal run [*a, *b) of contiguous bins that have series k,
 * searching from *b; returns 0 when there is none. Start with *a = *b = 0.
 */
static int next_run(const rep_view *v, int k, size_t *a, size_t *b)
{
    size_t i = *b;

    while (i < v->nb_bins && !v->bins[i].cnt[k])
        i++;
    if (i >= v->nb_bins)
        return 0;
    *a = i;
    for (i++; i < v->nb_bins && v->bins[i].cnt[k] && contiguous(v, i - 1); i++)
        ;
    *b = i;
    return 1;
}

static int has_series(const rep_view *v, int k)
{
    for (size_t i = 0; i < v->nb_bins; i++)
        if (v->bins[i].cnt[k])
            return 1;
    return 0;
}

static void note(FILE *f, double x, double y, const char *text)
{
    fprintf(f,
            "<text class=\"note\" x=\"%.1f\" y=\"%.1f\" font-size=\"12\" fill=\"#888\">%s</text>\n",
            x, y, text);
}

static double draw_lanes(FILE *f, const rep_view *v, double y)
{
    fprintf(f, "<g id=\"lanes\">\n");
    for (int c = 0; c < 4; c++) {
        double base = y + LANE_H;

        fprintf(f,
                "<g class=\"lane\" id=\"lane-%s\">\n"
                "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%d\" fill=\"#f6f6f6\"/>\n"
                "<text x=\"12\" y=\"%.1f\" font-size=\"12\" fill=\"%s\">%s</text>\n",
                avf_content_names[c], PLOT_X, y, PLOT_W, LANE_H, base - LANE_H / 2.0 + 4,
                content_colours[c], avf_content_names[c]);
        if (c == 0)
            fprintf(f,
                    "<text x=\"%d\" y=\"%.1f\" font-size=\"10\" fill=\"#888\" "
                    "text-anchor=\"end\">p=1</text>\n",
                    PLOT_X - 6, y + 9);
        if (has_series(v, S_SPEECH + c)) {
            fprintf(f, "<path fill=\"%s\" d=\"", content_colours[c]);
            for (size_t a = 0, b = 0; next_run(v, S_SPEECH + c, &a, &b);)
                area_run(f, v, S_SPEECH + c, a, b, base, LANE_H);
            fprintf(f, "\"/>\n");
        } else if (v->nb_bins) {
            note(f, PLOT_X + 8, base - LANE_H / 2.0 + 4, "no probabilities in the input");
        }
        fprintf(f, "</g>\n");
        y = base + LANE_GAP;
    }
    fprintf(f, "</g>\n");
    return y;
}

/* Draws a vertical mark per time in x (sorted), merging those within half a pixel, so
 * at most one per pixel column; f NULL only counts. Returns the number of marks. */
static size_t cut_marks(FILE *f, const double *x, size_t n, double y0, double y1)
{
    double last = -1e9;
    size_t marks = 0;

    for (size_t i = 0; i < n; i++) {
        double xi = round(x[i] * 2) / 2;

        if (xi - last < 0.5)
            continue;
        if (f)
            fprintf(f, "M%.1f %.1fV%.1f", xi, y0, y1);
        last = xi;
        marks++;
    }
    return marks;
}

static int by_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static int by_span(const void *a, const void *b)
{
    const rep_span *x = a, *y = b;

    if (x->tag != y->tag)
        return x->tag - y->tag;
    return x->t0 < y->t0 ? -1 : x->t0 > y->t0;
}

static uint32_t tags_present(const report *r)
{
    uint32_t present = 0;

    for (size_t i = 0; i < r->nb_segs; i++)
        present |= r->segs[i].tags;
    for (size_t i = 0; i < r->nb_spans; i++)
        present |= 1u << r->spans[i].tag;
    if (r->nb_cuts)
        present |= 1u << AVF_TAG_CUT;
    return present;
}

/* Tag rows: per-segment (or per-bin share) bars, event strips, cut ticks. */
static double draw_tags(FILE *f, const report *r, const rep_view *v, const double *cut_x, double y)
{
    uint32_t present = tags_present(r);

    fprintf(f, "<g id=\"tags\">\n");
    if (!present) {
        fprintf(f, "<text x=\"12\" y=\"%.1f\" font-size=\"12\" fill=\"#333\">tags</text>\n",
                y + 13);
        if (v->nb_bins)
            note(f, PLOT_X + 8, y + 13, "no tags in the input");
        fprintf(f, "</g>\n");
        return y + TAG_ROW_H;
    }
    for (int t = 0; t < AVF_TAG_COUNT; t++) {
        const char *colour = tag_colours[t];

        if (!(present & (1u << t)))
            continue;
        fprintf(f,
                "<g class=\"tag\" id=\"tag-%s\">\n"
                "<text x=\"12\" y=\"%.1f\" font-size=\"12\" fill=\"#333\">%s</text>\n"
                "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#eee\"/>\n",
                avf_tag_name(t), y + 12, avf_tag_name(t), PLOT_X, y + TAG_ROW_H - 0.5,
                PLOT_X + PLOT_W, y + TAG_ROW_H - 0.5);
        if (t == AVF_TAG_CUT) {
            fprintf(f, "<path stroke=\"%s\" stroke-width=\"2\" d=\"", colour);
            cut_marks(f, cut_x, r->nb_cuts, y + 1, y + TAG_ROW_H - 2);
            fprintf(f, "\"/>\n");
        } else {
            /* runs of contiguous bins with the same share, in quarters */
            size_t a = 0;
            int qa = 0;

            for (size_t i = 0; i <= v->nb_bins; i++) {
                const rep_bin *b = i < v->nb_bins ? &v->bins[i] : NULL;
                int q = b && b->n ? (int)ceil(4.0 * b->tag_cnt[t] / b->n) : 0;

                if (i > a && (!b || q != qa || !contiguous(v, i - 1))) {
                    if (qa > 0) {
                        double x0 = x_of(v, v->bins[a].t0), x1 = x_of(v, v->bins[i - 1].t1);

                        fprintf(f,
                                "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"11\" "
                                "fill=\"%s\" fill-opacity=\"%.3f\"/>\n",
                                x0, y + 1, x1 - x0 < 1 ? 1 : x1 - x0, colour, qa * BAR_OPACITY / 4);
                    }
                    a = i;
                }
                if (i == a)
                    qa = q;
            }
        }
        /* events: a thin solid strip under the bars, merged within half a pixel */
        for (size_t i = 0; i < r->nb_spans;) {
            double x0, x1;

            if (r->spans[i].tag != t || t == AVF_TAG_CUT) {
                i++;
                continue;
            }
            x0 = x_of(v, r->spans[i].t0);
            x1 = x_of(v, r->spans[i].t1);
            for (i++;
                 i < r->nb_spans && r->spans[i].tag == t && x_of(v, r->spans[i].t0) <= x1 + 0.5;
                 i++)
                x1 = fmax(x1, x_of(v, r->spans[i].t1));
            fprintf(f,
                    "<rect class=\"event\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"4\" "
                    "fill=\"%s\"/>\n",
                    x0, y + 13, x1 - x0 < 1 ? 1 : x1 - x0, colour);
        }
        fprintf(f, "</g>\n");
        y += TAG_ROW_H;
    }
    fprintf(f, "</g>\n");
    return y;
}

/* A curve through the bins' means (extended to the run's edges), with the pooled
 * min-max range as a band; y(value) = mid - value * scale. */
static void curve(FILE *f, const rep_view *v, int k, const char *colour, double mid, double scale,
                  double lo, double hi)
{
    size_t a, b;

#define X_MID(j) x_of(v, (v->bins[j].t0 + v->bins[j].t1) / 2)
#define Y(val)   (mid - clampd((val), lo, hi) * scale)
    if (v->pooled) {
        fprintf(f, "<path fill=\"%s\" fill-opacity=\"0.18\" d=\"", colour);
        for (a = b = 0; next_run(v, k, &a, &b);) {
            for (size_t j = a; j < b; j++)
                fprintf(f, "%c%.1f %.1f", j == a ? 'M' : 'L', X_MID(j), Y(v->bins[j].hi[k]));
            for (size_t j = b; j-- > a;)
                fprintf(f, "L%.1f %.1f", X_MID(j), Y(v->bins[j].lo[k]));
            fprintf(f, "Z");
        }
        fprintf(f, "\"/>\n");
    }
    fprintf(f,
            "<path fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\" stroke-linejoin=\"round\" "
            "d=\"",
            colour);
    for (a = b = 0; next_run(v, k, &a, &b);) {
        fprintf(f, "M%.1f %.1f", x_of(v, v->bins[a].t0), Y(bin_mean(&v->bins[a], k)));
        for (size_t j = a; j < b; j++)
            fprintf(f, "L%.1f %.1f", X_MID(j), Y(bin_mean(&v->bins[j], k)));
        fprintf(f, "L%.1f %.1f", x_of(v, v->bins[b - 1].t1), Y(bin_mean(&v->bins[b - 1], k)));
    }
    fprintf(f, "\"/>\n");
#undef Y
#undef X_MID
}

static double draw_sentiment(FILE *f, const rep_view *v, double y)
{
    double mid = y + SENT_H / 2.0, scale = SENT_H / 2.0;

    fprintf(f,
            "<g id=\"sentiment\">\n"
            "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%d\" fill=\"#fafafa\" "
            "stroke=\"#ddd\"/>\n"
            "<line class=\"zero\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#999\" "
            "stroke-dasharray=\"4 3\"/>\n"
            "<text x=\"12\" y=\"%.1f\" font-size=\"12\" fill=\"%s\">valence</text>\n"
            "<text x=\"12\" y=\"%.1f\" font-size=\"12\" fill=\"%s\">arousal</text>\n"
            "<g font-size=\"10\" fill=\"#888\" text-anchor=\"end\">"
            "<text x=\"%d\" y=\"%.1f\">+1</text><text x=\"%d\" y=\"%.1f\">0</text>"
            "<text x=\"%d\" y=\"%.1f\">-1</text></g>\n",
            PLOT_X, y, PLOT_W, SENT_H, PLOT_X, mid, PLOT_X + PLOT_W, mid, mid - 4, VALENCE_COLOUR,
            mid + 12, AROUSAL_COLOUR, PLOT_X - 6, y + 9, PLOT_X - 6, mid + 3, PLOT_X - 6,
            y + SENT_H - 2);
    if (has_series(v, S_VALENCE))
        curve(f, v, S_VALENCE, VALENCE_COLOUR, mid, scale, -1, 1);
    if (has_series(v, S_AROUSAL))
        curve(f, v, S_AROUSAL, AROUSAL_COLOUR, mid, scale, -1, 1);
    if (v->nb_bins && !has_series(v, S_VALENCE) && !has_series(v, S_AROUSAL))
        note(f, PLOT_X + 8, y + 16, "no sentiment in the input");
    fprintf(f, "</g>\n");
    return y + SENT_H;
}

static double draw_level(FILE *f, const rep_view *v, double y)
{
    int k = has_series(v, S_LUFS) || !has_series(v, S_RMS) ? S_LUFS : S_RMS;
    double lo = INFINITY, hi = -INFINITY;
    char range[64];

    for (size_t i = 0; i < v->nb_bins; i++)
        if (v->bins[i].cnt[k]) {
            lo = fmin(lo, v->bins[i].lo[k]);
            hi = fmax(hi, v->bins[i].hi[k]);
        }
    if (!isfinite(lo)) {
        lo = LEVEL_FLOOR;
        hi = 0;
    }
    lo = fmax(floor(lo / 10) * 10, LEVEL_FLOOR);
    hi = fmax(ceil(hi / 10) * 10, lo + 10);
    fprintf(f,
            "<g id=\"loudness\">\n"
            "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%d\" fill=\"#fafafa\" "
            "stroke=\"#ddd\"/>\n"
            "<text x=\"12\" y=\"%.1f\" font-size=\"12\" fill=\"%s\">%s</text>\n"
            "<text x=\"12\" y=\"%.1f\" font-size=\"11\" fill=\"#888\">%s</text>\n",
            PLOT_X, y, PLOT_W, LEVEL_H, y + LEVEL_H / 2.0 - 2, LEVEL_COLOUR,
            k == S_LUFS ? "loudness" : "RMS level", y + LEVEL_H / 2.0 + 12,
            k == S_LUFS ? "LUFS" : "dBFS");
    snprintf(range, sizeof(range), "<text x=\"%d\" y=\"%.1f\">%.0f</text>", PLOT_X - 6, y + 9, hi);
    fprintf(f, "<g font-size=\"10\" fill=\"#888\" text-anchor=\"end\">%s", range);
    fprintf(f, "<text x=\"%d\" y=\"%.1f\">%.0f</text></g>\n", PLOT_X - 6, y + LEVEL_H - 2, lo);
    if (has_series(v, k))
        curve(f, v, k, LEVEL_COLOUR, y + LEVEL_H + lo * LEVEL_H / (hi - lo), LEVEL_H / (hi - lo),
              lo, hi);
    else if (v->nb_bins)
        note(f, PLOT_X + 8, y + 16, "no audio level in the input");
    fprintf(f, "</g>\n");
    return y + LEVEL_H;
}

/* One legend entry at x; returns the x of the next. kind: 0 box, 1 line, 2 dashed mark. */
static double legend_item(FILE *f, double x, double y, int kind, const char *colour,
                          const char *opacity, const char *text)
{
    if (kind == 0)
        fprintf(f,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"10\" fill=\"%s\" "
                "fill-opacity=\"%s\"/>",
                x, y - 9, colour, opacity);
    else if (kind == 1)
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                "stroke-width=\"2\"/>",
                x, y - 4, x + 14, y - 4, colour);
    else if (kind == 2)
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                "stroke-width=\"1.5\" stroke-dasharray=\"3 2\"/>",
                x + 7, y - 11, x + 7, y + 2, colour);
    else
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"4\" fill=\"%s\"/>", x, y - 6,
                colour);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", x + 19, y, text);
    return x + 19 + 6.6 * (double)strlen(text) + 18;
}

static double draw_legend(FILE *f, const rep_view *v, const char *level_name, double y)
{
    double x = PLOT_X;

    fprintf(f,
            "<g id=\"legend\" font-size=\"12\" fill=\"#333\">\n"
            "<text x=\"12\" y=\"%.1f\">legend</text>\n",
            y);
    for (int c = 0; c < 4; c++)
        x = legend_item(f, x, y, 0, content_colours[c], "1", avf_content_names[c]);
    x = legend_item(f, x, y, 1, VALENCE_COLOUR, "1", "valence");
    x = legend_item(f, x, y, 1, AROUSAL_COLOUR, "1", "arousal");
    x = legend_item(f, x, y, 1, LEVEL_COLOUR, "1", level_name);
    legend_item(f, x, y, 2, CUT_COLOUR, "1", "cut");
    x = PLOT_X;
    y += 20;
    x = legend_item(f, x, y, 0, "#555", "0.5",
                    v->pooled ? "tag held (opacity: share of the bin)" : "tag held in the segment");
    x = legend_item(f, x, y, 3, "#555", "1", "tag event (start to end)");
    if (v->pooled)
        legend_item(f, x, y, 0, "#555", "0.18", "min-max of the bin");
    fprintf(f, "</g>\n");
    return y;
}

static void draw_title(FILE *f, const report *r, const rep_view *v, const double *cut_x,
                       const char *title)
{
    double dur = r->nb_segs ? v->te - v->ts : 0;
    char dur_text[32];

    format_time(dur, dur >= 3600, 0, dur_text, sizeof(dur_text));
    fprintf(f, "<g id=\"title\">\n<text x=\"12\" y=\"26\" font-size=\"18\" font-weight=\"bold\" "
               "fill=\"#111\">avfuse report: ");
    xml_text(f, title);
    fprintf(f,
            "</text>\n<text x=\"12\" y=\"46\" font-size=\"12\" fill=\"#555\">"
            "duration %s (%.1f s), %zu segment%s%s",
            dur_text, dur, r->nb_segs, r->nb_segs == 1 ? "" : "s",
            r->partial ? ", the last partial" : "");
    if (r->source[0]) {
        fprintf(f, ", source ");
        xml_text(f, r->source);
    }
    if (r->model[0]) {
        fprintf(f, ", model ");
        xml_text(f, r->model);
    }
    if (r->have_epoch && r->epoch_max > r->epoch_min)
        fprintf(f, ", epochs %lld to %lld", r->epoch_min, r->epoch_max);
    if (v->pooled)
        fprintf(f, ", pooled into %zu bins of %.1f s", v->nb_bins,
                (v->te - v->ts) / (double)v->nb_bins);
    if (cut_marks(NULL, cut_x, r->nb_cuts, 0, 0) > MAX_CUT_MARKS)
        fprintf(f, ", %zu cuts (too many to mark across the chart: see the cut row)", r->nb_cuts);
    fprintf(f, "</text>\n</g>\n");
}

/* Writes the whole picture; returns 0, -ENOMEM, or -EIO when a write failed (errno says why). */
static int render(FILE *f, report *r, const char *title, int html)
{
    rep_view v;
    double *cut_x;
    int rows = 0, ret = make_view(r, &v);
    /* top to bottom: title, lanes, tag rows, sentiment, level, axis, legend */
    double lanes_top = 64, tags_top, sent_top, level_top, axis_y, legend_y, height;

    if (ret < 0)
        return ret;
    cut_x = malloc((r->nb_cuts ? r->nb_cuts : 1) * sizeof(*cut_x));
    if (!cut_x) {
        free(v.bins);
        return -ENOMEM;
    }
    if (r->nb_cuts) {
        size_t n = 1;

        qsort(r->cuts, r->nb_cuts, sizeof(*r->cuts), by_double);
        /* a cut segment and its cut event (analyze --events) are one cut */
        for (size_t i = 1; i < r->nb_cuts; i++)
            if (r->cuts[i] != r->cuts[n - 1])
                r->cuts[n++] = r->cuts[i];
        r->nb_cuts = n;
    }
    for (size_t i = 0; i < r->nb_cuts; i++)
        cut_x[i] = x_of(&v, r->cuts[i]);
    if (r->nb_spans)
        qsort(r->spans, r->nb_spans, sizeof(*r->spans), by_span);
    for (int t = 0; t < AVF_TAG_COUNT; t++)
        rows += !!(tags_present(r) & (1u << t));
    tags_top = lanes_top + 4 * LANE_H + 3 * LANE_GAP + SECTION_GAP;
    sent_top = tags_top + (rows ? rows : 1) * TAG_ROW_H + SECTION_GAP;
    level_top = sent_top + SENT_H + SECTION_GAP;
    axis_y = level_top + LEVEL_H + 8;
    legend_y = axis_y + 52;
    height = legend_y + 36;

    if (html) {
        fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                   "<title>avfuse report: ");
        xml_text(f, title);
        fprintf(f, "</title>\n</head>\n<body style=\"margin:0;background:#fff\">\n");
    } else {
        fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    }
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%.0f\" "
            "viewBox=\"0 0 %d %.0f\" font-family=\"DejaVu Sans, Verdana, Arial, sans-serif\">\n"
            "<rect id=\"background\" width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n",
            REPORT_W, height, REPORT_W, height);
    draw_title(f, r, &v, cut_x, title);
    draw_axis(f, &v, lanes_top, axis_y); /* first: the grid lies under everything */
    draw_lanes(f, &v, lanes_top);
    draw_tags(f, r, &v, cut_x, tags_top);
    draw_sentiment(f, &v, sent_top);
    draw_level(f, &v, level_top);
    if (r->nb_cuts && cut_marks(NULL, cut_x, r->nb_cuts, 0, 0) <= MAX_CUT_MARKS) {
        fprintf(f,
                "<g id=\"cuts\"><path stroke=\"%s\" stroke-width=\"1.2\" "
                "stroke-dasharray=\"3 2\" stroke-opacity=\"0.8\" d=\"",
                CUT_COLOUR);
        cut_marks(f, cut_x, r->nb_cuts, lanes_top, axis_y);
        fprintf(f, "\"/></g>\n");
    }
    if (!r->nb_segs)
        fprintf(f,
                "<text id=\"empty-note\" x=\"%.1f\" y=\"%.1f\" font-size=\"16\" fill=\"#555\" "
                "text-anchor=\"middle\">no segments in this input: nothing to draw</text>\n",
                PLOT_X + PLOT_W / 2.0, lanes_top + 2 * (LANE_H + LANE_GAP));
    draw_legend(f, &v, has_series(&v, S_LUFS) || !has_series(&v, S_RMS) ? "loudness" : "RMS level",
                legend_y);
    fprintf(f, "</svg>\n");
    if (html)
        fprintf(f, "</body>\n</html>\n");
    free(cut_x);
    free(v.bins);
    return ferror(f) ? -EIO : 0;
}

/* ---- the command --------------------------------------------------------- */

/* 1: HTML, 0: SVG, -1: neither (by the extension, case-insensitive). */
static int output_format(const char *path)
{
    const char *dot = strrchr(path, '.');

    if (!dot || strchr(dot, '/'))
        return -1;
    if (!strcasecmp(dot, ".svg"))
        return 0;
    if (!strcasecmp(dot, ".html") || !strcasecmp(dot, ".htm"))
        return 1;
    return -1;
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
        say_errno("cannot open", input, -ret);
        return ret;
    }
    errno = 0;
    do
        c = getc(in);
    while (c == ' ' || c == '\t' || c == '\r' || c == '\n');
    if (c == EOF && ferror(in)) {
        ret = errno ? -errno : -EIO;
        say_errno("cannot read", name, -ret);
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

int avf_cmd_report(int argc, char **argv)
{
    enum { OPT_HOP = 256, OPT_LEN, OPT_PLUGIN_DIR, OPT_MODEL, OPT_SOURCE, OPT_TITLE };
    static const struct option options[] = {
        {"hop", required_argument, NULL, OPT_HOP},
        {"len", required_argument, NULL, OPT_LEN},
        {"plugin-dir", required_argument, NULL, OPT_PLUGIN_DIR},
        {"model", required_argument, NULL, OPT_MODEL},
        {"source", required_argument, NULL, OPT_SOURCE},
        {"title", required_argument, NULL, OPT_TITLE},
        {"output", required_argument, NULL, 'o'},
        {"verbose", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    report r = {.epoch_min = 0};
    media_opts o = {.nb_plugin_dirs = 0};
    const char *output = NULL, *title = NULL, *input;
    int level = AVF_LOG_WARN, status = EXIT_USAGE, html, opt, ret, created = 0;
    struct stat st;
    char why[128];
    FILE *out = NULL;

    for (int t = 0; t < AVF_TAG_COUNT; t++)
        r.open_start[t] = NAN;
    avf_pipeline_config_default(&o.cfg);
    while ((opt = getopt_long(argc, argv, "o:vqh", options, NULL)) != -1) {
        switch (opt) {
        case OPT_HOP:
            if (avf_parse_seconds("--hop", optarg, &o.cfg.hop_s) < 0)
                goto done;
            break;
        case OPT_LEN:
            if (avf_parse_seconds("--len", optarg, &o.cfg.len_s) < 0)
                goto done;
            break;
        case OPT_PLUGIN_DIR: {
            const char **dirs =
                realloc(o.plugin_dirs, (size_t)(o.nb_plugin_dirs + 1) * sizeof(*dirs));

            if (!dirs) {
                status = EXIT_INPUT_FAILED;
                goto done;
            }
            o.plugin_dirs = dirs;
            o.plugin_dirs[o.nb_plugin_dirs++] = optarg;
            break;
        }
        case OPT_MODEL:
            o.model_path = optarg;
            break;
        case OPT_SOURCE:
            if (!avf_source_name_valid(optarg)) {
                fprintf(stderr, "avfuse: --source: '%s' does not match [A-Za-z0-9_-]{1,64}\n",
                        optarg);
                goto done;
            }
            r.want_source = optarg;
            break;
        case OPT_TITLE:
            title = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case 'v':
            level++;
            break;
        case 'q':
            level = AVF_LOG_ERROR;
            break;
        case 'h':
            report_usage(stdout);
            status = 0;
            goto done;
        default:
            report_usage(stderr);
            goto done;
        }
    }
    avf_log_set_level(level);
    if (optind != argc - 1) {
        fprintf(stderr, "avfuse: report: %s\n",
                optind >= argc ? "no input" : "one input only, not several");
        report_usage(stderr);
        goto done;
    }
    input = argv[optind];
    if (!output) {
        fprintf(stderr, "avfuse: report: no output: give -o OUT.svg or -o OUT.html\n");
        goto done;
    }
    html = output_format(output);
    if (html < 0) {
        fprintf(stderr, "avfuse: report: %s: the output must end in .svg or .html\n", output);
        goto done;
    }
    if (avf_pipeline_config_check(&o.cfg, why, sizeof(why)) < 0) {
        fprintf(stderr, "avfuse: report: %s\n", why);
        goto done;
    }
    status = EXIT_INPUT_FAILED;
    /* opened before the analysis, which can take long, so a bad path fails at once */
    out = fopen(output, "w");
    if (!out) {
        say_errno("cannot create", output, errno);
        goto done;
    }
    /* only a regular file is removed again on failure, never /dev/stdout or a FIFO */
    created = fstat(fileno(out), &st) == 0 && S_ISREG(st.st_mode);
    if (read_input(&r, input, &o) < 0)
        goto done;
    for (int t = 0; t < AVF_TAG_COUNT; t++) /* a start the input ended before its end */
        if (isfinite(r.open_start[t])) {
            double end = r.open_start[t];

            for (size_t i = 0; i < r.nb_segs; i++)
                end = fmax(end, r.segs[i].t1);
            if (add_span(&r, t, r.open_start[t], end) < 0)
                goto done;
        }
    if (r.other_source)
        avf_log(AVF_LOG_WARN, "report", "%zu messages of sources other than '%s' left out",
                r.other_source, r.source[0] ? r.source : "(none)");
    if (!title) {
        const char *slash = strrchr(input, '/');

        title = !strcmp(input, "-") ? "stdin" : slash && slash[1] ? slash + 1 : input;
    }
    errno = 0;
    ret = render(out, &r, title, html);
    if (ret == -ENOMEM) {
        fprintf(stderr, "avfuse: report: out of memory\n");
        goto done;
    }
    if (ret < 0 || fflush(out) == EOF) {
        say_errno("cannot write", output, errno ? errno : EIO);
        goto done;
    }
    ret = fclose(out);
    out = NULL;
    if (ret == EOF) {
        say_errno("cannot write", output, errno);
        goto done;
    }
    status = 0;
done:
    if (out)
        fclose(out);
    if (status != 0 && created)
        remove(output); /* no empty or half-written report */
    free(r.segs);
    free(r.spans);
    free(r.cuts);
    free(o.plugin_dirs);
    return status;
}
