/*
 * pitch.c - YIN pitch and voicing for the built-in audio extractor
 * (plugins/builtin_audio.c).
 *
 * YIN (de Cheveigne & Kawahara 2002) runs on the last 45 ms of samples, a frame
 * longer than the analysis window, so this file keeps a history of the new samples
 * of each window; a hole in the timeline starts it over. The difference function
 * takes its cross term from one spectral product (Wiener-Khinchin, libavutil av_tx
 * real transforms) and its energy terms from a running sum, so a frame costs
 * O(n log n) instead of O(W * tau_max). docs/features-audio.md defines the values.
 */
#include <math.h>
#include <string.h>

#include <libavutil/mem.h>
#include <libavutil/tx.h>

#include "plugins/audio/common.h"
#include "plugins/audio/pitch.h"

/* Search range and absolute threshold (step 4 of the paper). A 45 ms frame holds
 * 2.7 periods of 60 Hz, so at the longest lag (1/60 s) the integration window that
 * is left (28 ms) still spans more than one period. */
#define PITCH_MIN_HZ   60.0
#define PITCH_MAX_HZ   500.0
#define YIN_THRESHOLD  0.15
#define YIN_FRAME_SECS 0.045

struct avf_audio_pitch {
    int sample_rate;

    /* YIN over the last yin_len samples: integration window yin_w, dips searched
     * from tau_lo (an octave above the range) to tau_max, the function computed up
     * to tau_top = tau_max + 1 for the parabola */
    int yin_len, yin_w, tau_lo, tau_min, tau_max, tau_top, yin_nfft;
    AVTXContext *yin_fwd, *yin_inv;
    av_tx_fn yin_fwd_fn, yin_inv_fn;
    float *yin_a, *yin_b, *yin_r;  /* yin_nfft + 2 */
    AVComplexFloat *yin_A, *yin_B; /* yin_nfft / 2 + 1 */
    float *yin_cmnd;               /* tau_top + 1 */
    float *hist;                   /* yin_len, newest sample last */
    int hist_valid;                /* real samples in hist since the start or a gap */
    int have_cmnd;                 /* yin_cmnd holds the last call's frame */
};

void avf_audio_pitch_free(avf_audio_pitch **pp)
{
    avf_audio_pitch *p = *pp;

    if (!p)
        return;
    av_tx_uninit(&p->yin_fwd);
    av_tx_uninit(&p->yin_inv);
    av_freep(&p->yin_a);
    av_freep(&p->yin_b);
    av_freep(&p->yin_r);
    av_freep(&p->yin_A);
    av_freep(&p->yin_B);
    av_freep(&p->yin_cmnd);
    av_freep(&p->hist);
    av_freep(pp);
}

avf_audio_pitch *avf_audio_pitch_new(int sample_rate)
{
    avf_audio_pitch *p = av_mallocz(sizeof(*p));
    float one = 1.0f, inv_scale;

    if (!p)
        return NULL;
    p->sample_rate = sample_rate;
    p->tau_min = (int)floor(sample_rate / PITCH_MAX_HZ);
    p->tau_lo = p->tau_min / 2 > 2 ? p->tau_min / 2 : 2;
    p->tau_max = (int)ceil(sample_rate / PITCH_MIN_HZ);
    p->tau_top = p->tau_max + 1;
    p->yin_len = (int)lround(YIN_FRAME_SECS * sample_rate);
    p->yin_w = p->yin_len - p->tau_top;
    /* a circular correlation of length >= yin_len never wraps for lags <= tau_top,
     * because the first operand is zero past yin_w */
    p->yin_nfft = avf_audio_next_pow2(p->yin_len);
    inv_scale = 1.0f / p->yin_nfft;
    AVF_AUDIO_ALLOC(p->yin_a, p->yin_nfft + 2);
    AVF_AUDIO_ALLOC(p->yin_b, p->yin_nfft + 2);
    AVF_AUDIO_ALLOC(p->yin_r, p->yin_nfft + 2);
    AVF_AUDIO_ALLOC(p->yin_A, p->yin_nfft / 2 + 1);
    AVF_AUDIO_ALLOC(p->yin_B, p->yin_nfft / 2 + 1);
    AVF_AUDIO_ALLOC(p->yin_cmnd, p->tau_top + 1);
    AVF_AUDIO_ALLOC(p->hist, p->yin_len);
    if (av_tx_init(&p->yin_fwd, &p->yin_fwd_fn, AV_TX_FLOAT_RDFT, 0, p->yin_nfft, &one, 0) < 0)
        goto fail;
    if (av_tx_init(&p->yin_inv, &p->yin_inv_fn, AV_TX_FLOAT_RDFT, 1, p->yin_nfft, &inv_scale, 0))
        goto fail;
    return p;

fail:
    avf_audio_pitch_free(&p);
    return NULL;
}

void avf_audio_pitch_frame(const avf_audio_pitch *p, int *len, int *nfft)
{
    *len = p->yin_len;
    *nfft = p->yin_nfft;
}

const float *avf_audio_pitch_samples(const avf_audio_pitch *p)
{
    return p->hist_valid < p->yin_len ? NULL : p->hist;
}

static void history_push(avf_audio_pitch *p, const float *x, int n)
{
    const int len = p->yin_len;

    if (n >= len) {
        memcpy(p->hist, x + n - len, sizeof(float) * (size_t)len);
    } else {
        memmove(p->hist, p->hist + n, sizeof(float) * (size_t)(len - n));
        memcpy(p->hist + len - n, x, sizeof(float) * (size_t)n);
    }
    p->hist_valid = p->hist_valid + n < len ? p->hist_valid + n : len;
}

/*
 * The cumulative mean normalized difference of the frame into p->yin_cmnd, up to
 * tau_top. The difference function
 *   d(t) = sum_{j<W} (x_j - x_{j+t})^2 = e(0) + e(t) - 2 r(t)
 * takes its cross term r from one spectral product and its energy terms
 * e(t) = sum_{t<=j<t+W} x_j^2 from a running sum.
 */
static void yin_cmnd(avf_audio_pitch *p)
{
    const int n = p->yin_len, w = p->yin_w, half = p->yin_nfft / 2;
    const float *x = p->hist;
    float *cmnd = p->yin_cmnd;
    double e0 = 0, et, run = 0;

    memcpy(p->yin_a, x, sizeof(float) * (size_t)w);
    memset(p->yin_a + w, 0, sizeof(float) * (size_t)(p->yin_nfft - w));
    memcpy(p->yin_b, x, sizeof(float) * (size_t)n);
    memset(p->yin_b + n, 0, sizeof(float) * (size_t)(p->yin_nfft - n));
    p->yin_fwd_fn(p->yin_fwd, p->yin_A, p->yin_a, sizeof(float));
    p->yin_fwd_fn(p->yin_fwd, p->yin_B, p->yin_b, sizeof(float));
    for (int k = 0; k <= half; k++) {
        AVComplexFloat a = p->yin_A[k], b = p->yin_B[k];

        /* conj(A) * B: r(t) = sum_j a_j b_{j+t} */
        p->yin_A[k].re = a.re * b.re + a.im * b.im;
        p->yin_A[k].im = a.re * b.im - a.im * b.re;
    }
    p->yin_inv_fn(p->yin_inv, p->yin_r, p->yin_A, sizeof(AVComplexFloat));

    for (int j = 0; j < w; j++)
        e0 += (double)x[j] * x[j];
    et = e0;
    cmnd[0] = 1.0f;
    for (int t = 1; t <= p->tau_top; t++) {
        double d;

        et += (double)x[t + w - 1] * x[t + w - 1] - (double)x[t - 1] * x[t - 1];
        d = e0 + et - 2.0 * p->yin_r[t];
        if (d < 0) /* rounding in the float FFT */
            d = 0;
        run += d;
        cmnd[t] = run > 0 ? (float)(d * t / run) : 1.0f;
    }
}

/* The lag of the first dip under the threshold, or of the deepest dip when none
 * is; *voiced says which. */
static int yin_dip(const avf_audio_pitch *p, int from, double threshold, int *voiced)
{
    const float *cmnd = p->yin_cmnd;
    int tau;

    /* The search starts an octave above the range: any tone above PITCH_MAX_HZ has
     * a period multiple in [tau_min / 2, tau_min) and is caught there, instead of
     * being reported as its subharmonic inside the range. */
    for (int t = from; t <= p->tau_max; t++) {
        if (cmnd[t] < threshold) {
            while (t + 1 <= p->tau_max && cmnd[t + 1] < cmnd[t])
                t++;
            *voiced = 1;
            return t;
        }
    }
    /* no dip under the threshold: the best one says how unvoiced */
    *voiced = 0;
    tau = p->tau_lo;
    for (int t = p->tau_lo + 1; t <= p->tau_max; t++)
        if (cmnd[t] < cmnd[tau])
            tau = t;
    return tau;
}

/* The frequency of the dip at tau, refined by a parabola through its neighbours. */
static float yin_refine(const avf_audio_pitch *p, int tau)
{
    const float *cmnd = p->yin_cmnd;
    double a = cmnd[tau - 1], b = cmnd[tau], cc = cmnd[tau + 1];
    double den = a - 2 * b + cc, shift = 0, f0;

    if (den > 0)
        shift = 0.5 * (a - cc) / den;
    if (shift > 0.5)
        shift = 0.5;
    else if (shift < -0.5)
        shift = -0.5;
    /* the lag range is the pitch range: interpolation may not step out of it */
    f0 = p->sample_rate / (tau + shift);
    return (float)fmin(fmax(f0, PITCH_MIN_HZ), PITCH_MAX_HZ);
}

void avf_audio_pitch_process(avf_audio_pitch *p, const float *x, int n, int restart,
                             float *pitch_hz, float *voicing)
{
    const int len = p->yin_len;
    const float *frame = p->hist;
    double frame_energy = 0;
    int tau, voiced;

    if (restart)
        p->hist_valid = 0;
    history_push(p, x, n);
    *pitch_hz = NAN;
    p->have_cmnd = 0;
    if (p->hist_valid < len) {
        *voicing = NAN;
        return;
    }
    for (int j = 0; j < len; j++)
        frame_energy += (double)frame[j] * frame[j];
    if (frame_energy / len < AVF_AUDIO_SILENCE_POWER) {
        *voicing = 0;
        return;
    }
    yin_cmnd(p);
    p->have_cmnd = 1;
    tau = yin_dip(p, p->tau_lo, YIN_THRESHOLD, &voiced);
    *voicing = fminf(fmaxf(1.0f - p->yin_cmnd[tau], 0.0f), 1.0f);
    if (tau < p->tau_min) /* periodic, but above the pitch range */
        voiced = 0;
    if (voiced)
        *pitch_hz = yin_refine(p, tau);
}

float avf_audio_pitch_at(const avf_audio_pitch *p, double threshold)
{
    int tau, voiced;

    if (!p->have_cmnd)
        return NAN;
    tau = yin_dip(p, p->tau_min, threshold, &voiced);
    return voiced ? yin_refine(p, tau) : NAN;
}
