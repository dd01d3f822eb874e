/*
 * fusion.c - pools each segment's feature rows, feeds the offset estimator with
 * the rows it has not seen (overlapping segments share rows), runs the tag
 * detectors and the heads, and last the events' hysteresis on the finished
 * segment's tag scores. Features the detectors need are found by name once, at
 * creation, so a plugin set without them simply yields no such tags.
 */
#include "fusion/fusion.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/error.h>

#include "fusion/avsync.h"
#include "fusion/heads.h"
#include "fusion/pooling.h"
#include "fusion/tags.h"

struct avf_fusion {
    const avf_feature_layout *video, *audio; /* borrowed */
    const avf_fused_layout *fused;           /* borrowed; NULL without a model */
    const avf_model *model;                  /* borrowed */
    avf_heads *heads;
    int *map;  /* fused entry -> extractor column */
    double *x; /* the imputed copy the heads work on */
    avf_avsync *avsync;
    avf_events *events;
    int window;            /* audio window length, in samples */
    int64_t last_frame_us; /* newest frame given to avsync */
    int64_t last_window;   /* newest window position given to avsync */
    /* column of each feature the detectors read, -1 when absent */
    int v_black, v_frozen, v_cuts, v_motion;
    int a_rms, a_loud_max, a_clipped;
};

avf_fusion *avf_fusion_new(const avf_feature_layout *video, const avf_feature_layout *audio,
                           int rate, int window, int hop, const avf_fused_layout *fused,
                           const avf_model *model)
{
    avf_fusion *f = calloc(1, sizeof(*f));

    if (!f)
        return NULL;
    f->video = video && video->dim > 0 ? video : NULL;
    f->audio = audio && audio->dim > 0 ? audio : NULL;
    f->window = window;
    f->last_frame_us = INT64_MIN;
    f->last_window = INT64_MIN;
    f->events = avf_events_new(NULL);
    if (!f->events)
        goto fail;
    f->v_black = avf_feature_layout_find(f->video, "black");
    f->v_frozen = avf_feature_layout_find(f->video, "frozen");
    f->v_cuts = avf_feature_layout_find(f->video, "cuts");
    f->v_motion = avf_feature_layout_find(f->video, "motion");
    f->a_rms = avf_feature_layout_find(f->audio, "rms_dbfs");
    f->a_loud_max = avf_feature_layout_find(f->audio, "loudness_max_lufs");
    f->a_clipped = avf_feature_layout_find(f->audio, "clipped");
    if (f->v_motion >= 0 && f->a_rms >= 0) {
        f->avsync = avf_avsync_new(rate, window, hop);
        if (!f->avsync)
            goto fail;
    }
    if (fused) {
        f->fused = fused;
        f->map = avf_fused_map(fused, f->video, f->audio);
        f->x = malloc((size_t)fused->dim * sizeof(*f->x));
        if (!f->map || !f->x)
            goto fail;
    }
    if (fused && model) {
        char why[256];

        f->model = model;
        f->heads = avf_heads_new(model, fused, why, sizeof(why));
        if (!f->heads)
            goto fail;
    }
    return f;
fail:
    avf_fusion_free(&f);
    return NULL;
}

void avf_fusion_free(avf_fusion **pf)
{
    if (!pf || !*pf)
        return;
    avf_avsync_free(&(*pf)->avsync);
    avf_events_free(&(*pf)->events);
    avf_heads_free(&(*pf)->heads);
    free((*pf)->map);
    free((*pf)->x);
    free(*pf);
    *pf = NULL;
}

static double value(const double *features, int col)
{
    return features && col >= 0 ? features[col] : NAN;
}

static void feed_avsync(avf_fusion *f, const avf_segment *seg)
{
    for (int i = 0; i < seg->nb_frames; i++) {
        int64_t t = seg->frames[i]->pts;

        if (t <= f->last_frame_us)
            continue;
        f->last_frame_us = t;
        avf_avsync_video(f->avsync, t, seg->video_rows[(size_t)i * seg->video_dim + f->v_motion]);
    }
    for (int i = 0; i < seg->nb_windows; i++) {
        int64_t pos = seg->window_pos[i];
        double db = seg->audio_rows[(size_t)i * seg->audio_dim + f->a_rms];

        if (pos <= f->last_window)
            continue;
        f->last_window = pos;
        avf_avsync_audio(f->avsync, pos, isnan(db) ? NAN : pow(10.0, db / 20.0));
    }
}

/*
 * The windows to pool: those that end inside the segment. The segment holds every
 * window that starts inside it (the offset estimator wants them all), but the
 * last few reach up to one window length past its end, and a segment's features
 * must describe its own audio: silence that ends at 11.0 s must not read as sound
 * in the segment [10, 11). Windows are in time order, so they are a prefix.
 */
static int windows_inside(const avf_fusion *f, const avf_segment *seg)
{
    int64_t end = seg->audio_start + seg->audio_len;
    int n = seg->nb_windows;

    while (n > 0 && seg->window_pos[n - 1] + f->window > end)
        n--;
    return n;
}

/* Content probabilities (and their tags at 0.5) and sentiment from the model. */
static void apply_heads(avf_fusion *f, avf_fusion_out *out)
{
    avf_head_result r;

    memcpy(f->x, out->fused, (size_t)out->fused_dim * sizeof(*f->x));
    avf_heads_apply(f->heads, f->x, &r);
    out->model_name = f->model->name;
    if (r.content_valid) {
        out->labels_valid = 1;
        for (int c = 0; c < AVF_CONTENT_COUNT; c++) {
            out->labels[c] = r.content[c];
            /* the content tags share their enum order with the classes */
            if (r.content[c] >= 0.5)
                out->tags |= 1u << (AVF_TAG_SPEECH + c);
        }
    }
    if (r.sentiment_valid) {
        out->sentiment_valid = 1;
        out->sentiment_basis = r.basis;
        out->valence_valid = r.valence_valid;
        out->arousal_valid = r.arousal_valid;
        out->valence = r.valence;
        out->arousal = r.arousal;
        out->sentiment_label = r.label;
        out->sentiment_confidence = r.confidence;
    }
}

/* Fills out with seg's features, offset, tags, labels and sentiment. */
static int fuse(avf_fusion *f, const avf_segment *seg, avf_fusion_out *out)
{
    avf_tag_inputs in;
    double *vf = NULL, *af = NULL;

    if (f->video && seg->video_present) {
        vf = out->video_features = malloc((size_t)f->video->dim * sizeof(*vf));
        if (!vf)
            return AVERROR(ENOMEM);
        avf_pool_rows(seg->video_rows, seg->nb_frames, f->video->dim, f->video->pools, vf);
        out->video_names = f->video->names;
    }
    if (f->audio && seg->audio_present) {
        af = out->audio_features = malloc((size_t)f->audio->dim * sizeof(*af));
        if (!af)
            return AVERROR(ENOMEM);
        avf_pool_rows(seg->audio_rows, windows_inside(f, seg), f->audio->dim, f->audio->pools, af);
        out->audio_names = f->audio->names;
    }

    if (f->avsync) {
        feed_avsync(f, seg);
        if (seg->video_present && seg->audio_present)
            out->av_valid = avf_avsync_estimate(f->avsync, &out->av_offset_ms, &out->av_confidence);
    }
    in = (avf_tag_inputs){
        .black_share = value(vf, f->v_black),
        .frozen_share = value(vf, f->v_frozen),
        .cuts = value(vf, f->v_cuts),
        .motion = value(vf, f->v_motion),
        .loudness_max_lufs = value(af, f->a_loud_max),
        .clipped_share = value(af, f->a_clipped),
        .rms_dbfs = value(af, f->a_rms),
        .av_valid = out->av_valid,
        .av_offset_ms = out->av_offset_ms,
        .av_confidence = out->av_confidence,
    };
    out->tags |= avf_tags_detect(&in);
    if (f->fused) {
        out->fused = malloc((size_t)f->fused->dim * sizeof(*out->fused));
        if (!out->fused)
            return AVERROR(ENOMEM);
        out->fused_dim = f->fused->dim;
        avf_fused_vector(f->fused, f->map, seg, out, out->fused);
        if (f->heads)
            apply_heads(f, out);
    }
    return 0;
}

/* Each tag's score: the head's probability for the content tags, 1 or 0 for the
 * detectors' tags (silence: the stronger of the two). */
static void tag_scores(const avf_fusion_out *out, double scores[AVF_TAG_COUNT])
{
    for (int t = 0; t < AVF_TAG_COUNT; t++)
        scores[t] = (out->tags >> t) & 1;
    if (out->labels_valid)
        for (int c = 0; c < AVF_CONTENT_COUNT; c++)
            scores[AVF_TAG_SPEECH + c] =
                c == AVF_SILENCE ? fmax(scores[AVF_TAG_SILENCE], out->labels[c]) : out->labels[c];
}

int avf_fusion_segment(avf_fusion *f, const avf_segment *seg, avf_fusion_out *out, avf_event *ev)
{
    double scores[AVF_TAG_COUNT];
    int ret;

    *out = (avf_fusion_out){0};
    ret = fuse(f, seg, out);
    if (ret < 0)
        return ret;
    tag_scores(out, scores);
    return avf_events_push(f->events, seg->t0_us, seg->t1_us, scores, ev);
}

int avf_fusion_finish(avf_fusion *f, avf_event *ev)
{
    return avf_events_flush(f->events, ev);
}

void avf_fusion_out_clear(avf_fusion_out *out)
{
    if (!out)
        return;
    free(out->video_features);
    free(out->audio_features);
    free(out->fused);
    *out = (avf_fusion_out){0};
}
