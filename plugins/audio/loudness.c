/*
 * loudness.c - level and loudness of a window for the built-in audio extractor
 * (plugins/builtin_audio.c): RMS in dBFS, zero-crossing rate, clipped share, and
 * EBU R128 momentary and short-term loudness.
 *
 * The level values need no memory. Loudness comes from one libebur128 meter fed
 * only with each window's new samples, so overlapping windows count every sample
 * once. Its momentary value is read every window; the short-term value sums the
 * meter's whole 3 s buffer, too slow for every window, so it is refreshed at the
 * 10 Hz live-meter rate of EBU Tech 3341 and held in between.
 * docs/features-audio.md defines the values.
 */
#include <math.h>
#include <stdint.h>

#include <ebur128.h>
#include <libavutil/mem.h>

#include "plugins/audio/loudness.h"

#define CLIP_LEVEL             0.999f
#define DB_FLOOR               -120.0
#define SHORT_TERM_UPDATE_SECS 0.1

struct avf_audio_loudness {
    ebur128_state *ebu;
    int64_t fed, momentary_min, short_min, short_next, short_step;
    double short_lufs;
};

static float to_db_floor(double db)
{
    return (float)(db > DB_FLOOR ? db : DB_FLOOR);
}

void avf_audio_level(const float *x, int n, double *mean_square, float *rms_dbfs, float *zcr)
{
    double sum2 = 0;
    int crossings = 0;

    for (int i = 0; i < n; i++)
        sum2 += (double)x[i] * x[i];
    for (int i = 1; i < n; i++)
        crossings += (x[i - 1] >= 0.0f) != (x[i] >= 0.0f);
    *mean_square = sum2 / n;
    *rms_dbfs = to_db_floor(*mean_square > 0 ? 10.0 * log10(*mean_square) : DB_FLOOR);
    *zcr = (float)crossings / (float)(n - 1);
}

float avf_audio_clipped(const float *x, int n)
{
    int clipped = 0;

    for (int i = 0; i < n; i++)
        clipped += fabsf(x[i]) >= CLIP_LEVEL;
    return (float)clipped / (float)n;
}

void avf_audio_loudness_free(avf_audio_loudness **pl)
{
    avf_audio_loudness *l = *pl;

    if (!l)
        return;
    if (l->ebu)
        ebur128_destroy(&l->ebu);
    av_freep(pl);
}

avf_audio_loudness *avf_audio_loudness_new(int sample_rate)
{
    avf_audio_loudness *l = av_mallocz(sizeof(*l));

    if (!l)
        return NULL;
    l->ebu = ebur128_init(1, (unsigned long)sample_rate, EBUR128_MODE_M | EBUR128_MODE_S);
    if (!l->ebu || ebur128_set_channel(l->ebu, 0, EBUR128_DUAL_MONO) != EBUR128_SUCCESS) {
        avf_audio_loudness_free(&l);
        return NULL;
    }
    /* the same 100 ms unit libebur128 counts in, so NaN ends exactly when its
     * buffer holds real audio */
    l->short_step = (int64_t)lround(SHORT_TERM_UPDATE_SECS * sample_rate);
    l->momentary_min = (sample_rate + 5) / 10 * 4;
    l->short_min = (sample_rate + 5) / 10 * 30;
    l->short_next = l->short_min;
    l->short_lufs = NAN;
    return l;
}

void avf_audio_loudness_process(avf_audio_loudness *l, const float *x, int n, float *momentary,
                                float *short_term)
{
    double v;

    *momentary = *short_term = NAN;
    if (ebur128_add_frames_float(l->ebu, x, (size_t)n) != EBUR128_SUCCESS)
        return;
    l->fed += n;
    if (l->fed >= l->momentary_min && ebur128_loudness_momentary(l->ebu, &v) == EBUR128_SUCCESS)
        *momentary = to_db_floor(v);
    if (l->fed >= l->short_next) {
        if (ebur128_loudness_shortterm(l->ebu, &v) == EBUR128_SUCCESS)
            l->short_lufs = to_db_floor(v);
        while (l->short_next <= l->fed)
            l->short_next += l->short_step;
    }
    if (l->fed >= l->short_min)
        *short_term = (float)l->short_lufs;
}
