/*
 * beat.c - beat clarity for the built-in audio extractor (plugins/builtin_audio.c).
 *
 * Each window adds one onset strength, how much its log mel bands rose since the
 * last window (positive increments summed over bands), to a 3 s ring. Beat clarity
 * is the highest normalized autocorrelation of that envelope at lags of 0.3..1 s: a
 * steady beat repeats its onsets at one period (and its multiples), speech and
 * most noise do not. The autocorrelation is recomputed every 100 ms once 2 s of
 * envelope exist, so the longest lag still overlaps by a second, and held in
 * between. docs/features-audio.md defines the value.
 */
#include <math.h>

#include <libavutil/mem.h>

#include "plugins/audio/beat.h"
#include "plugins/audio/common.h"
#include "plugins/audio/spectrum.h"

#define NB_MEL           AVF_AUDIO_NB_MEL
#define BEAT_SECS        3.0
#define BEAT_MIN_SECS    2.0
#define BEAT_LAG_LO_SECS 0.3
#define BEAT_LAG_HI_SECS 1.0
#define BEAT_UPDATE_SECS 0.1
/* onset strength: bands count down to 40 dB below the strongest (in nepers of
 * power), and a rise counts above 0.5 dB */
#define ONSET_RANGE    9.21
#define ONSET_DEADZONE 0.115

struct avf_audio_beat {
    /* ring of len onset strengths, oldest at pos once full */
    int len, count, pos, min, lag_lo, lag_hi;
    int step, since;  /* windows between recomputations, and since the last one */
    float *env, *tmp; /* len each */
    float value;      /* the clarity held between recomputations */
    float prev_logmel[NB_MEL];
    int have_prev_mel;
};

void avf_audio_beat_free(avf_audio_beat **pb)
{
    avf_audio_beat *b = *pb;

    if (!b)
        return;
    av_freep(&b->env);
    av_freep(&b->tmp);
    av_freep(pb);
}

avf_audio_beat *avf_audio_beat_new(int sample_rate, int hop)
{
    avf_audio_beat *b = av_mallocz(sizeof(*b));
    double rate = (double)sample_rate / hop;

    if (!b)
        return NULL;
    b->len = (int)lround(rate * BEAT_SECS);
    b->min = (int)lround(rate * BEAT_MIN_SECS);
    b->lag_lo = (int)lround(rate * BEAT_LAG_LO_SECS);
    b->lag_hi = (int)lround(rate * BEAT_LAG_HI_SECS);
    b->step = (int)lround(rate * BEAT_UPDATE_SECS);
    if (b->step < 1)
        b->step = 1;
    b->value = NAN;
    AVF_AUDIO_ALLOC(b->env, b->len);
    AVF_AUDIO_ALLOC(b->tmp, b->len);
    return b;

fail:
    avf_audio_beat_free(&b);
    return NULL;
}

/*
 * How much the bands rose since the last window, counting only bands within
 * ONSET_RANGE of the strongest one and rises above ONSET_DEADZONE, so that the
 * leakage of a held tone (whose far bands flicker with its phase) makes none.
 */
static double onset_strength(avf_audio_beat *b, const double *mel)
{
    double top = mel[0], onset = 0;

    for (int m = 1; m < NB_MEL; m++)
        top = mel[m] > top ? mel[m] : top;
    for (int m = 0; m < NB_MEL; m++) {
        double v = mel[m] > top - ONSET_RANGE ? mel[m] : top - ONSET_RANGE;

        if (b->have_prev_mel && v > b->prev_logmel[m] + ONSET_DEADZONE)
            onset += v - b->prev_logmel[m] - ONSET_DEADZONE;
        b->prev_logmel[m] = (float)v;
    }
    b->have_prev_mel = 1;
    return onset;
}

/* The clarity of the m onsets in the ring. A flat envelope (a held tone, digital
 * silence) has no beat: 0. */
static float clarity(avf_audio_beat *b, int m)
{
    const int n = b->len;
    double mean = 0, r0 = 0, best = 0;
    float *y = b->tmp;

    /* until the ring is full, its oldest entry is at 0 */
    for (int i = 0, j = m < n ? 0 : b->pos; i < m; i++, j = j + 1 < n ? j + 1 : 0)
        y[i] = b->env[j];
    for (int i = 0; i < m; i++)
        mean += y[i];
    mean /= m;
    for (int i = 0; i < m; i++) {
        y[i] -= (float)mean;
        r0 += (double)y[i] * y[i];
    }
    r0 /= m;
    /* onsets are sums of log-band rises beyond the dead zone: a real one is of
     * order 1, a held tone's are all 0 */
    if (r0 > 1e-6) {
        for (int lag = b->lag_lo; lag <= b->lag_hi && lag < m; lag++) {
            double r = 0;

            for (int i = 0; i + lag < m; i++)
                r += (double)y[i] * y[i + lag];
            r /= (m - lag) * r0;
            if (r > best)
                best = r;
        }
    }
    return (float)(best < 1.0 ? best : 1.0);
}

float avf_audio_beat_process(avf_audio_beat *b, const double *logmel)
{
    b->env[b->pos] = (float)onset_strength(b, logmel);
    b->pos = b->pos + 1 < b->len ? b->pos + 1 : 0;
    if (b->count < b->len)
        b->count++;
    if (b->count < b->min)
        return NAN;
    if (b->since + 1 < b->step && !isnan(b->value)) {
        b->since++;
    } else {
        b->value = clarity(b, b->count);
        b->since = 0;
    }
    return b->value;
}
