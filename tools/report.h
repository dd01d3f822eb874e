/*
 * report.h - `avfuse report`'s two halves: reading an input into a table of
 * segments, tag events and cuts (tools/report.c), and drawing that table as one
 * SVG or HTML file (tools/report_draw.c). The command (tools/report_cmd.c) joins
 * them.
 */
#ifndef AVF_REPORT_H
#define AVF_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "base/vocab.h"
#include "fusion/message.h"
#include "tools/options.h"

/* Up to this many cuts are marked across the whole chart; beyond, in the cut row
 * only (they would hide the chart). */
#define REPORT_MAX_CUT_MARKS 120
/* The plot's width in pixels; more segments than this are pooled into this many
 * bins, one per pixel. */
#define REPORT_PLOT_W   1040
#define REPORT_MAX_BINS REPORT_PLOT_W

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

/* An empty table; want_source: draw only this source (--source), or NULL. */
void avf_report_init(report *r, const char *want_source);
void avf_report_free(report *r);

/*
 * Reads INPUT into r: JSON lines when its first non-blank character is '{' (or it
 * is empty; "-" is stdin), else a media file analyzed in-process with opt's
 * pipeline, extractors and model, as `avfuse analyze --events` would. A tag event
 * the input ends before its end is drawn up to the last segment. Returns 0 or a
 * negative error (reported).
 */
int avf_report_read(report *r, const char *input, const avf_tool_options *opt);

/* One error line naming what failed on which file, and why (errno err). */
void avf_report_say_errno(const char *what, const char *name, int err);

/*
 * Writes the whole picture of r to f: an SVG image, or with html an HTML page
 * with the SVG inline. Sorts r's tables. Returns 0, -ENOMEM, or -EIO when a
 * write failed (errno says why).
 */
int avf_report_render(FILE *f, report *r, const char *title, int html);

#endif
