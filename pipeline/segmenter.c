/*
 * segmenter.c - assigns frames and samples to segments and decides when a segment
 * is complete.
 *
 * Open segments live in a small array starting at the next index to emit; they are
 * created on demand as data for them arrives. Time comparisons are done in exact
 * integers: a video time t_us lies in segment k when
 *     k * hop * 1e6 <= t_us * rate < (k * hop + len) * 1e6
 * (hop and len in samples), so no rounding of segment bounds to microseconds can
 * move a frame across a boundary. Each modality has a watermark (how far it has
 * delivered) and may end; a segment waits only for modalities still running.
 * The audio has two: its samples, and its feature rows. A window's row comes with
 * the samples that complete it, after those of the window's start, and a segment
 * holds every window starting inside it; so with audio features the segment also
 * waits for the rows of its last windows, else whether they were in would depend
 * on how the video and audio threads interleave. A video row comes with its frame.
 */
#include "segmenter.h"

#include <stdlib.h>
#include <string.h>

#include <libavutil/avutil.h>
#include <libavutil/mathematics.h>

#include "error.h"

struct avf_segmenter {
    avf_segmenter_config cfg;
    int64_t next_k;     /* index of the next segment to emit */
    avf_segment **open; /* open[i] is segment next_k + i, or NULL if not created */
    int nb_open, cap_open;
    int64_t video_wm_us;   /* time of the last video item; INT64_MIN before any */
    int64_t video_done_us; /* the video is complete up to here: wm or a stated frame end */
    int video_ended;
    int64_t video_end_us; /* end of the last frame, once ended */
    int64_t audio_wm;     /* one past the last sample delivered; INT64_MIN before any */
    int64_t rows_wm;      /* start of the next audio window row to come: the rows of
                           * every window starting before it are in; INT64_MIN before any */
    int audio_ended;
    int64_t audio_end; /* one past the last sample, once ended */
    int done;          /* the last segment was emitted */
    avf_segmenter_stats stats;
};

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t samples_to_us(const avf_segmenter *s, int64_t samples)
{
    return av_rescale(samples, AV_TIME_BASE, s->cfg.rate);
}

void avf_segment_free(avf_segment **pseg)
{
    avf_segment *seg;

    if (!pseg || !*pseg)
        return;
    seg = *pseg;
    for (int i = 0; i < seg->nb_frames; i++)
        av_frame_free(&seg->frames[i]);
    free(seg->frames);
    free(seg->audio);
    free(seg->video_rows);
    free(seg->audio_rows);
    free(seg->window_pos);
    free(seg->video_features);
    free(seg->audio_features);
    free(seg->fused);
    free(seg);
    *pseg = NULL;
}

avf_segmenter *avf_segmenter_new(const avf_segmenter_config *cfg)
{
    avf_segmenter *s;

    if (cfg->rate <= 0 || cfg->hop_samples <= 0 || cfg->len_samples < cfg->hop_samples ||
        cfg->len_samples > INT32_MAX || cfg->min_partial_us < 0 || cfg->video_dim < 0 ||
        cfg->audio_dim < 0 || (!cfg->has_video && !cfg->has_audio))
        return NULL;
    s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->cfg = *cfg;
    s->video_wm_us = s->video_done_us = INT64_MIN;
    s->audio_wm = s->rows_wm = INT64_MIN;
    return s;
}

void avf_segmenter_free(avf_segmenter **ps)
{
    avf_segmenter *s;

    if (!ps || !*ps)
        return;
    s = *ps;
    for (int i = 0; i < s->nb_open; i++)
        avf_segment_free(&s->open[i]);
    free(s->open);
    free(s);
    *ps = NULL;
}

/* Returns segment k (k >= next_k), creating it and any before it as needed. */
static avf_segment *get_segment(avf_segmenter *s, int64_t k)
{
    int64_t i = k - s->next_k;
    avf_segment *seg;

    if (i >= s->cap_open) {
        int cap = s->cap_open ? s->cap_open : 4;
        avf_segment **open;

        while (cap <= i)
            cap *= 2;
        open = realloc(s->open, (size_t)cap * sizeof(*open));
        if (!open)
            return NULL;
        memset(open + s->cap_open, 0, (size_t)(cap - s->cap_open) * sizeof(*open));
        s->open = open;
        s->cap_open = cap;
    }
    if (i >= s->nb_open)
        s->nb_open = (int)i + 1;
    if (s->open[i])
        return s->open[i];
    seg = calloc(1, sizeof(*seg));
    if (!seg)
        return NULL;
    seg->index = k;
    seg->audio_start = k * s->cfg.hop_samples;
    seg->t0_us = samples_to_us(s, seg->audio_start);
    seg->t1_us = samples_to_us(s, seg->audio_start + s->cfg.len_samples);
    seg->video_dim = s->cfg.video_dim;
    seg->audio_dim = s->cfg.audio_dim;
    if (s->cfg.has_audio) {
        seg->audio_len = (int)s->cfg.len_samples;
        seg->audio = calloc((size_t)seg->audio_len, sizeof(*seg->audio));
        if (!seg->audio) {
            free(seg);
            return NULL;
        }
    }
    s->open[i] = seg;
    return seg;
}

static int segment_add_frame(avf_segment *seg, const AVFrame *frame, int64_t t_us, const float *row)
{
    AVFrame *ref;

    if (seg->nb_frames == seg->frames_cap) {
        int cap = seg->frames_cap ? seg->frames_cap * 2 : 16;
        AVFrame **frames = realloc(seg->frames, (size_t)cap * sizeof(*frames));

        if (!frames)
            return AVERROR(ENOMEM);
        seg->frames = frames;
        if (seg->video_dim > 0) {
            float *rows =
                realloc(seg->video_rows, (size_t)cap * (size_t)seg->video_dim * sizeof(*rows));

            if (!rows)
                return AVERROR(ENOMEM);
            seg->video_rows = rows;
        }
        seg->frames_cap = cap;
    }
    ref = av_frame_clone(frame);
    if (!ref)
        return AVERROR(ENOMEM);
    ref->pts = t_us;
    if (seg->video_dim > 0)
        memcpy(seg->video_rows + (size_t)seg->nb_frames * (size_t)seg->video_dim, row,
               (size_t)seg->video_dim * sizeof(*row));
    seg->frames[seg->nb_frames++] = ref;
    return 0;
}

static int segment_add_window(avf_segment *seg, int64_t pos, const float *row)
{
    if (seg->nb_windows == seg->windows_cap) {
        int cap = seg->windows_cap ? seg->windows_cap * 2 : 128;
        float *rows =
            realloc(seg->audio_rows, (size_t)cap * (size_t)seg->audio_dim * sizeof(*rows));
        int64_t *positions;

        if (!rows)
            return AVERROR(ENOMEM);
        seg->audio_rows = rows;
        positions = realloc(seg->window_pos, (size_t)cap * sizeof(*positions));
        if (!positions)
            return AVERROR(ENOMEM);
        seg->window_pos = positions;
        seg->windows_cap = cap;
    }
    memcpy(seg->audio_rows + (size_t)seg->nb_windows * (size_t)seg->audio_dim, row,
           (size_t)seg->audio_dim * sizeof(*row));
    seg->window_pos[seg->nb_windows++] = pos;
    return 0;
}

int avf_segmenter_video(avf_segmenter *s, int64_t t_us, int64_t end_us, const AVFrame *frame,
                        const float *row)
{
    int64_t unit = s->cfg.hop_samples * AV_TIME_BASE;
    int64_t scaled, k_lo, k_hi;

    if (s->video_wm_us == INT64_MIN || t_us > s->video_wm_us)
        s->video_wm_us = t_us;
    s->video_done_us = FFMAX(s->video_done_us, FFMAX(t_us, end_us));
    if (!frame)
        return 0;
    if (t_us < 0) {
        s->stats.frames_before_origin++;
        return 0;
    }
    scaled = t_us * s->cfg.rate;
    k_hi = floor_div(scaled, unit);
    k_lo = floor_div(scaled - s->cfg.len_samples * AV_TIME_BASE, unit) + 1;
    if (FFMAX(k_lo, 0) < s->next_k) /* one of its segments is out: late, if only for it */
        s->stats.late_items++;
    k_lo = FFMAX(k_lo, s->next_k);
    if (k_lo > k_hi)
        return 0;
    for (int64_t k = k_lo; k <= k_hi; k++) {
        avf_segment *seg = get_segment(s, k);
        int ret;

        if (!seg)
            return AVERROR(ENOMEM);
        ret = segment_add_frame(seg, frame, t_us, row);
        if (ret < 0)
            return ret;
    }
    return 0;
}

int avf_segmenter_audio(avf_segmenter *s, int64_t pos, const float *samples, int n)
{
    int64_t end = pos + n;
    int64_t k_lo, k_hi;

    if (n <= 0)
        return 0;
    if (s->audio_wm == INT64_MIN || end > s->audio_wm)
        s->audio_wm = end;
    if (pos < 0) {
        int64_t before = end < 0 ? n : -pos;

        s->stats.samples_before_origin += (uint64_t)before;
        samples += before;
        pos += before;
        n -= (int)before;
        if (n == 0)
            return 0;
    }
    k_hi = floor_div(end - 1, s->cfg.hop_samples);
    k_lo = floor_div(pos - s->cfg.len_samples, s->cfg.hop_samples) + 1;
    if (FFMAX(k_lo, 0) < s->next_k) /* one of its segments is out: late, if only for it */
        s->stats.late_items++;
    k_lo = FFMAX(k_lo, s->next_k);
    if (k_lo > k_hi)
        return 0;
    for (int64_t k = k_lo; k <= k_hi; k++) {
        avf_segment *seg = get_segment(s, k);
        int64_t from, to;

        if (!seg)
            return AVERROR(ENOMEM);
        from = FFMAX(pos, seg->audio_start);
        to = FFMIN(end, seg->audio_start + seg->audio_len);
        memcpy(seg->audio + (from - seg->audio_start), samples + (from - pos),
               (size_t)(to - from) * sizeof(*samples));
        seg->nb_samples += (int)(to - from);
    }
    return 0;
}

int avf_segmenter_audio_rows(avf_segmenter *s, int64_t first_pos, int hop, const float *rows, int n)
{
    if (s->cfg.audio_dim <= 0 || n <= 0)
        return 0;
    s->rows_wm = FFMAX(s->rows_wm, first_pos + (int64_t)n * hop);
    for (int i = 0; i < n; i++) {
        int64_t pos = first_pos + (int64_t)i * hop;
        int64_t k_hi = floor_div(pos, s->cfg.hop_samples);
        int64_t k_lo = floor_div(pos - s->cfg.len_samples, s->cfg.hop_samples) + 1;

        if (pos < 0)
            continue;
        if (FFMAX(k_lo, 0) < s->next_k) /* one of its segments is out: late, if only for it */
            s->stats.late_items++;
        k_lo = FFMAX(k_lo, s->next_k);
        if (k_lo > k_hi)
            continue;
        for (int64_t k = k_lo; k <= k_hi; k++) {
            avf_segment *seg = get_segment(s, k);
            int ret;

            if (!seg)
                return AVERROR(ENOMEM);
            ret = segment_add_window(seg, pos, rows + (size_t)i * (size_t)s->cfg.audio_dim);
            if (ret < 0)
                return ret;
        }
    }
    return 0;
}

void avf_segmenter_video_end(avf_segmenter *s, int64_t end_us)
{
    if (s->video_ended)
        return;
    s->video_ended = 1;
    if (s->video_wm_us != INT64_MIN && end_us < s->video_wm_us)
        end_us = s->video_wm_us;
    s->video_end_us = end_us;
}

void avf_segmenter_audio_end(avf_segmenter *s, int64_t end_pos)
{
    if (s->audio_ended)
        return;
    s->audio_ended = 1;
    if (s->audio_wm != INT64_MIN && end_pos < s->audio_wm)
        end_pos = s->audio_wm;
    s->audio_end = end_pos;
}

/* Removes and returns open segment next_k (creating an empty one if needed). */
static avf_segment *take_first(avf_segmenter *s)
{
    avf_segment *seg = get_segment(s, s->next_k);

    if (!seg)
        return NULL;
    memmove(s->open, s->open + 1, (size_t)(s->nb_open - 1) * sizeof(*s->open));
    s->open[--s->nb_open] = NULL;
    s->next_k++;
    return seg;
}

int avf_segmenter_pop(avf_segmenter *s, avf_segment **pseg)
{
    int64_t start = s->next_k * s->cfg.hop_samples;
    int64_t end = start + s->cfg.len_samples;
    int64_t start_us = samples_to_us(s, start), end_us = samples_to_us(s, end);
    int video_running = s->cfg.has_video && !s->video_ended;
    int audio_running = s->cfg.has_audio && !s->audio_ended;
    int partial = 0;
    int64_t content_end_us = 0;
    avf_segment *seg;

    *pseg = NULL;
    if (s->done)
        return AVF_EOS;
    if (video_running && s->video_done_us < end_us)
        return 0;
    if (audio_running && s->audio_wm < end)
        return 0;
    if (audio_running && s->cfg.audio_dim > 0 && s->rows_wm < end)
        return 0;
    if (!video_running && !audio_running) {
        if (s->cfg.has_video && s->video_wm_us != INT64_MIN)
            content_end_us = FFMAX(content_end_us, s->video_end_us);
        if (s->cfg.has_audio && s->audio_wm != INT64_MIN)
            content_end_us = FFMAX(content_end_us, samples_to_us(s, s->audio_end));
        if (start_us >= content_end_us) {
            s->done = 1;
            return AVF_EOS;
        }
        if (end_us > content_end_us) {
            partial = 1;
            if (content_end_us - start_us < s->cfg.min_partial_us) {
                s->stats.tail_dropped_us = content_end_us - start_us;
                s->done = 1;
                return AVF_EOS;
            }
        }
    }
    seg = take_first(s);
    if (!seg)
        return AVERROR(ENOMEM);
    if (partial) {
        seg->partial = 1;
        seg->t1_us = content_end_us;
    }
    seg->video_present = s->cfg.has_video && !(s->video_ended && s->video_end_us <= start_us);
    seg->audio_present =
        s->cfg.has_audio && !(s->audio_ended && samples_to_us(s, s->audio_end) <= start_us);
    *pseg = seg;
    return 1;
}

int avf_segmenter_ended(const avf_segmenter *s)
{
    return (!s->cfg.has_video || s->video_ended) && (!s->cfg.has_audio || s->audio_ended);
}

const avf_segmenter_stats *avf_segmenter_get_stats(const avf_segmenter *s)
{
    return &s->stats;
}
