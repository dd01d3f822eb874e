/*
 * avsync.c - audio-video offset from cross-correlated change envelopes.
 *
 * The audio envelope is dense (one value per 10 ms window) and the video one is
 * sparse (one value per analysis frame), so the correlation at lag L is taken over
 * the video frames: the Pearson correlation between each frame's change and the
 * audio change at the frame's time plus L. That keeps 10 ms lag steps without
 * interpolating the video, and costs frames x lags operations per estimate. The
 * timing resolution of the video side is still one analysis frame period: an
 * event between two analysis frames shows at the later one.
 *
 * Both histories are rings covering the window plus the largest lag.
 */
#include "fusion/avsync.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct vsample {
    int64_t t_us;
    double change;
} vsample;

struct avf_avsync {
    int rate, window, hop;
    /* audio change per window, indexed by window number modulo acap */
    double *achange;
    int acap;
    int64_t a_first, a_next; /* window numbers held: [a_first, a_next) */
    double last_rms;
    /* video samples, a ring of vcap */
    vsample *video;
    int vcap, v_head, v_count;
};

avf_avsync *avf_avsync_new(int rate, int window, int hop)
{
    avf_avsync *a = calloc(1, sizeof(*a));
    int64_t span_us = AVF_AVSYNC_WINDOW_US + 2 * AVF_AVSYNC_MAX_LAG_US;

    if (!a || rate <= 0 || hop <= 0 || window < hop)
        goto fail;
    a->rate = rate;
    a->window = window;
    a->hop = hop;
    a->acap = (int)(span_us * rate / ((int64_t)hop * 1000000)) + 2;
    a->achange = calloc((size_t)a->acap, sizeof(*a->achange));
    a->vcap = 4096; /* up to 400 fps over the window; older frames fall out */
    a->video = calloc((size_t)a->vcap, sizeof(*a->video));
    if (!a->achange || !a->video)
        goto fail;
    a->a_first = a->a_next = -1;
    return a;
fail:
    avf_avsync_free(&a);
    return NULL;
}

void avf_avsync_free(avf_avsync **pa)
{
    if (!pa || !*pa)
        return;
    free((*pa)->achange);
    free((*pa)->video);
    free(*pa);
    *pa = NULL;
}

void avf_avsync_audio(avf_avsync *a, int64_t pos, double rms)
{
    /* a window differs from the previous one by its last hop samples: date the
     * change there, where an onset that caused it lies */
    int64_t w = (pos + a->window - a->hop) / a->hop;

    if (pos < 0 || isnan(rms))
        return;
    if (a->a_next >= 0 && w < a->a_next)
        return; /* already seen (overlapping segments repeat windows) */
    if (a->a_next < 0 || w - a->a_next > a->acap) {
        a->a_first = w; /* first window, or a gap longer than the history */
        a->last_rms = rms;
    }
    for (int64_t i = a->a_next < 0 ? w : a->a_next; i < w; i++)
        a->achange[i % a->acap] = 0; /* missing windows: no change */
    a->achange[w % a->acap] = fabs(rms - a->last_rms);
    a->last_rms = rms;
    a->a_next = w + 1;
    if (a->a_next - a->a_first > a->acap)
        a->a_first = a->a_next - a->acap;
}

void avf_avsync_video(avf_avsync *a, int64_t t_us, double change)
{
    vsample *last = a->v_count ? &a->video[(a->v_head + a->v_count - 1) % a->vcap] : NULL;

    if (isnan(change) || (last && t_us <= last->t_us))
        return;
    if (a->v_count == a->vcap) {
        a->v_head = (a->v_head + 1) % a->vcap;
        a->v_count--;
    }
    a->video[(a->v_head + a->v_count) % a->vcap] = (vsample){t_us, change};
    a->v_count++;
}

/* The audio change of the window holding t_us; -1 when not held. */
static double audio_at(const avf_avsync *a, int64_t t_us)
{
    int64_t w;

    if (t_us < 0)
        return -1;
    w = t_us * a->rate / ((int64_t)a->hop * 1000000);
    if (w < a->a_first || w >= a->a_next)
        return -1;
    return a->achange[w % a->acap];
}

/*
 * Counts events in a sequence of changes: runs of consecutive values above
 * AVF_AVSYNC_EVENT_FACTOR times the median and above min_change. One onset moves
 * the RMS of the two or three overlapping windows that hold it: that is one event.
 */
static int count_events(const double *values, int n, double min_change)
{
    double sorted[4096], threshold;
    int events = 0, above = 0;

    if (n == 0)
        return 0;
    memcpy(sorted, values, (size_t)n * sizeof(*values));
    /* median by partial selection sort: n is a few hundred at most */
    for (int i = 0; i <= n / 2; i++)
        for (int j = i + 1; j < n; j++)
            if (sorted[j] < sorted[i]) {
                double t = sorted[i];

                sorted[i] = sorted[j];
                sorted[j] = t;
            }
    threshold = fmax(min_change, AVF_AVSYNC_EVENT_FACTOR * sorted[n / 2]);
    for (int i = 0; i < n; i++) {
        int now = values[i] > threshold;

        events += now && !above;
        above = now;
    }
    return events;
}

/*
 * Whether both envelopes have enough events in [from_us, to_us) (audio: widened
 * by the lag range). One cut correlates with whatever audio bump lies near it by
 * chance, and continuous motion or a steady tone has nothing to line up: only
 * several distinct events on both sides make a lag meaningful.
 */
static int enough_events(const avf_avsync *a, int64_t from_us, int64_t to_us, int64_t step_us)
{
    double values[4096];
    int n = 0;

    for (int i = 0; i < a->v_count && n < 4096; i++) {
        const vsample *v = &a->video[(a->v_head + i) % a->vcap];

        if (v->t_us >= from_us && v->t_us < to_us)
            values[n++] = v->change;
    }
    if (count_events(values, n, AVF_AVSYNC_VIDEO_EVENT_MIN) < AVF_AVSYNC_MIN_EVENTS)
        return 0;
    n = 0;
    for (int64_t w = (from_us - AVF_AVSYNC_MAX_LAG_US) / step_us;
         w < (to_us + AVF_AVSYNC_MAX_LAG_US) / step_us && n < 4096; w++)
        if (w >= a->a_first && w < a->a_next)
            values[n++] = a->achange[w % a->acap];
    return count_events(values, n, AVF_AVSYNC_AUDIO_EVENT_MIN) >= AVF_AVSYNC_MIN_EVENTS;
}

int avf_avsync_estimate(avf_avsync *a, double *offset_ms, double *confidence)
{
    int64_t step_us = (int64_t)a->hop * 1000000 / a->rate;
    int nb_lags = (int)(AVF_AVSYNC_MAX_LAG_US / step_us);
    int64_t a_end_us, from_us, to_us;
    double best = -2, r_prev = -2, r_next = -2, prev = -2;
    int best_lag = 0, have_next = 0;

    *offset_ms = 0;
    *confidence = 0;
    if (a->a_next < 0 || a->v_count < 3)
        return 0;
    a_end_us = a->a_next * step_us;
    /* frames whose every lagged audio value is held */
    to_us = a_end_us - AVF_AVSYNC_MAX_LAG_US;
    from_us = to_us - AVF_AVSYNC_WINDOW_US;
    if (from_us < a->a_first * step_us + AVF_AVSYNC_MAX_LAG_US)
        from_us = a->a_first * step_us + AVF_AVSYNC_MAX_LAG_US;
    if (to_us - from_us < AVF_AVSYNC_MIN_US)
        return 0;
    if (!enough_events(a, from_us, to_us, step_us))
        return 0;

    for (int l = -nb_lags; l <= nb_lags; l++) {
        double sv = 0, sa = 0, svv = 0, saa = 0, sva = 0, r;
        int n = 0;

        for (int i = 0; i < a->v_count; i++) {
            const vsample *v = &a->video[(a->v_head + i) % a->vcap];
            double av;

            if (v->t_us < from_us || v->t_us >= to_us)
                continue;
            av = audio_at(a, v->t_us + (int64_t)l * step_us);
            if (av < 0)
                continue;
            sv += v->change;
            sa += av;
            svv += v->change * v->change;
            saa += av * av;
            sva += v->change * av;
            n++;
        }
        if (n < 3)
            return 0;
        {
            double cov = sva - sv * sa / n;
            double vv = svv - sv * sv / n, va = saa - sa * sa / n;

            /* a still picture has nothing to line up; audio flat at this lag
             * only says that this lag matches nothing */
            if (vv <= 1e-12 * n)
                return 0;
            r = va > 1e-12 * n ? cov / sqrt(vv * va) : 0;
        }
        if (have_next) {
            r_next = r;
            have_next = 0;
        }
        if (r > best) {
            best = r;
            best_lag = l;
            r_prev = prev;
            have_next = 1;
            r_next = -2;
        }
        prev = r;
    }
    {
        double frac = 0;

        /* parabolic interpolation between the neighbouring lags */
        if (r_prev > -2 && r_next > -2) {
            double den = r_prev - 2 * best + r_next;

            if (den < 0)
                frac = 0.5 * (r_prev - r_next) / den;
        }
        *offset_ms = (best_lag + frac) * (double)step_us / 1000.0;
    }
    *confidence = best > 0 ? best : 0;
    return 1;
}
