/*
 * spectrum.c - spectral shape, MFCCs, spectral contrast and log mel bands of one
 * audio window, for the built-in audio extractor (plugins/builtin_audio.c).
 *
 * The window is Hann-tapered, zero-padded to a power of two and transformed with a
 * libavutil av_tx real FFT; the power spectrum is normalized so that its bins sum
 * to the window's Hann-weighted mean square. Everything else reads that power
 * spectrum: centroid, spread, 85 % rolloff, flatness and flux (CUIDADO), 26
 * triangular mel bands and their DCT (13 MFCCs, and their deltas), and the
 * peak-to-valley contrast of five octave bands (Jiang et al. 2002). The state kept
 * across windows is the last window's unit-sum magnitudes and MFCCs.
 * docs/features-audio.md defines each value.
 */
#include <math.h>
#include <string.h>

#include <libavutil/mem.h>
#include <libavutil/tx.h>

#include "plugins/audio/common.h"
#include "plugins/audio/spectrum.h"

#define NB_MEL        AVF_AUDIO_NB_MEL
#define NB_MFCC       AVF_AUDIO_NB_MFCC
#define NB_CONTRAST   AVF_AUDIO_NB_CONTRAST
#define MEL_LOG_FLOOR 1e-10
#define ROLLOFF_SHARE 0.85

/* Spectral contrast in octave bands from 125 Hz to 4 kHz: all below the 4 kHz
 * Nyquist of telephone-band audio, so 8 kHz recordings have every band. Peak and
 * valley are the mean powers of the strongest and weakest fifth of a band's bins. */
#define CONTRAST_LO_HZ    125.0
#define CONTRAST_QUANTILE 0.2

struct avf_audio_spectrum {
    int sample_rate, window;

    /* Hann window, zero-padded to nfft, power normalized so that its bins sum to
     * the window's Hann-weighted mean square */
    int nfft, nb_bins;
    AVTXContext *fft;
    av_tx_fn fft_fn;
    float *fft_in;           /* nfft + 2 */
    AVComplexFloat *fft_out; /* nb_bins */
    float *hann;             /* window */
    float *power;            /* nb_bins */
    float *bin_hz;           /* nb_bins */
    float power_scale;
    float *prev_mag; /* nb_bins: last window's unit-sum magnitudes, 0 when silent */
    int have_prev;   /* flux and deltas are 0 on the first window */

    /* mel filterbank: bin k lies in edge interval mel_seg[k], rising weight
     * mel_rise[k] for filter mel_seg[k], falling 1 - mel_rise[k] for the one below */
    int *mel_seg;
    float *mel_rise;
    double dct[NB_MFCC][NB_MEL];
    float prev_mfcc[NB_MFCC];

    /* spectral contrast: band b covers bins contrast_bin[b] .. contrast_bin[b + 1] - 1 */
    int contrast_bin[NB_CONTRAST + 1];
    float *sorted; /* nb_bins */
};

void avf_audio_spectrum_free(avf_audio_spectrum **ps)
{
    avf_audio_spectrum *s = *ps;

    if (!s)
        return;
    av_tx_uninit(&s->fft);
    av_freep(&s->fft_in);
    av_freep(&s->fft_out);
    av_freep(&s->hann);
    av_freep(&s->power);
    av_freep(&s->bin_hz);
    av_freep(&s->prev_mag);
    av_freep(&s->mel_seg);
    av_freep(&s->mel_rise);
    av_freep(&s->sorted);
    av_freep(ps);
}

static double hz_to_mel(double hz)
{
    return 2595.0 * log10(1.0 + hz / 700.0);
}

static double mel_to_hz(double mel)
{
    return 700.0 * (pow(10.0, mel / 2595.0) - 1.0);
}

static void init_mel(avf_audio_spectrum *s)
{
    double edge[NB_MEL + 2];
    double top = hz_to_mel(s->sample_rate / 2.0);

    for (int i = 0; i < NB_MEL + 2; i++)
        edge[i] = mel_to_hz(top * i / (NB_MEL + 1));
    for (int k = 0; k < s->nb_bins; k++) {
        double f = s->bin_hz[k];
        int j = 0;

        while (j < NB_MEL + 1 && f >= edge[j + 1])
            j++;
        if (j >= NB_MEL + 1) { /* Nyquist: the top edge, weight 0 everywhere */
            s->mel_seg[k] = -1;
            s->mel_rise[k] = 0;
            continue;
        }
        s->mel_seg[k] = j;
        s->mel_rise[k] = (float)((f - edge[j]) / (edge[j + 1] - edge[j]));
    }
    for (int i = 0; i < NB_MFCC; i++) {
        double v = sqrt((i ? 2.0 : 1.0) / NB_MEL);

        for (int m = 0; m < NB_MEL; m++)
            s->dct[i][m] = v * cos(M_PI * i * (2 * m + 1) / (2.0 * NB_MEL));
    }
}

static void init_contrast(avf_audio_spectrum *s)
{
    double hz = CONTRAST_LO_HZ;

    for (int b = 0; b <= NB_CONTRAST; b++, hz *= 2) {
        int k = (int)ceil(hz * s->nfft / s->sample_rate - 1e-9);

        s->contrast_bin[b] = k < s->nb_bins ? k : s->nb_bins;
    }
}

avf_audio_spectrum *avf_audio_spectrum_new(int sample_rate, int window)
{
    avf_audio_spectrum *s = av_mallocz(sizeof(*s));
    float one = 1.0f;
    double wsum2 = 0;

    if (!s)
        return NULL;
    s->sample_rate = sample_rate;
    s->window = window;
    s->nfft = avf_audio_next_pow2(window);
    s->nb_bins = s->nfft / 2 + 1;
    AVF_AUDIO_ALLOC(s->fft_in, s->nfft + 2);
    AVF_AUDIO_ALLOC(s->fft_out, s->nb_bins);
    AVF_AUDIO_ALLOC(s->hann, window);
    AVF_AUDIO_ALLOC(s->power, s->nb_bins);
    AVF_AUDIO_ALLOC(s->bin_hz, s->nb_bins);
    AVF_AUDIO_ALLOC(s->prev_mag, s->nb_bins);
    AVF_AUDIO_ALLOC(s->mel_seg, s->nb_bins);
    AVF_AUDIO_ALLOC(s->mel_rise, s->nb_bins);
    AVF_AUDIO_ALLOC(s->sorted, s->nb_bins);
    if (av_tx_init(&s->fft, &s->fft_fn, AV_TX_FLOAT_RDFT, 0, s->nfft, &one, 0) < 0)
        goto fail;
    for (int i = 0; i < window; i++) {
        s->hann[i] = (float)(0.5 - 0.5 * cos(2.0 * M_PI * i / window));
        wsum2 += (double)s->hann[i] * s->hann[i];
    }
    /* one-sided: the bins sum to the Hann-weighted mean square (Parseval) */
    s->power_scale = (float)(2.0 / (s->nfft * wsum2));
    for (int k = 0; k < s->nb_bins; k++)
        s->bin_hz[k] = (float)((double)k * sample_rate / s->nfft);
    init_mel(s);
    init_contrast(s);
    return s;

fail:
    avf_audio_spectrum_free(&s);
    return NULL;
}

int avf_audio_spectrum_nfft(const avf_audio_spectrum *s)
{
    return s->nfft;
}

/* Fills s->power from the window x; returns its total and, in *centroid_sum, the
 * sum of power times bin frequency. */
static double power_spectrum(avf_audio_spectrum *s, const float *x, double *centroid_sum)
{
    const int nb = s->nb_bins;
    const float scale = s->power_scale, *hz = s->bin_hz;
    const AVComplexFloat *X = s->fft_out;
    float *p = s->power;
    double total = 0, centroid = 0;

    for (int i = 0; i < s->window; i++)
        s->fft_in[i] = x[i] * s->hann[i];
    memset(s->fft_in + s->window, 0, sizeof(float) * (size_t)(s->nfft - s->window));
    s->fft_fn(s->fft, s->fft_out, s->fft_in, sizeof(float));

    for (int k = 0; k < nb; k++) {
        float re = X[k].re, im = X[k].im;

        p[k] = (re * re + im * im) * scale;
        total += p[k];
        centroid += (double)p[k] * hz[k];
    }
    *centroid_sum = centroid;
    return total;
}

static void log_mel_bands(const avf_audio_spectrum *s, double *out)
{
    const int nb = s->nb_bins, *seg = s->mel_seg;
    const float *p = s->power, *rise = s->mel_rise;
    double mel[NB_MEL] = {0};

    for (int k = 0; k < nb; k++) {
        if (seg[k] < 0)
            continue;
        if (seg[k] < NB_MEL)
            mel[seg[k]] += (double)p[k] * rise[k];
        if (seg[k] > 0)
            mel[seg[k] - 1] += (double)p[k] * (1.0f - rise[k]);
    }
    for (int m = 0; m < NB_MEL; m++)
        out[m] = log(mel[m] > MEL_LOG_FLOOR ? mel[m] : MEL_LOG_FLOOR);
}

/* The DCT of the log mel bands, and its change since the last window. */
static void mfcc(avf_audio_spectrum *s, const double *mel, avf_audio_spectrum_out *out)
{
    for (int i = 0; i < NB_MFCC; i++) {
        double v = 0;

        for (int m = 0; m < NB_MEL; m++)
            v += s->dct[i][m] * mel[m];
        out->mfcc[i] = (float)v;
        out->dmfcc[i] = s->have_prev ? (float)v - s->prev_mfcc[i] : 0.0f;
        s->prev_mfcc[i] = (float)v;
    }
}

/*
 * Spectral contrast per octave band (Jiang et al. 2002): the level difference in
 * dB between the mean power of the strongest fifth of the band's bins (its peaks)
 * and that of the weakest fifth (its valleys). Harmonic sound has deep valleys
 * between its partials, noise has none. Reads the power spectrum left in s->power.
 */
static void contrast(avf_audio_spectrum *s, int silent, float *out)
{
    for (int b = 0; b < NB_CONTRAST; b++) {
        int lo = s->contrast_bin[b], n = s->contrast_bin[b + 1] - lo, q;
        double peak = 0, valley = 0;

        out[b] = NAN;
        if (silent || n < 2)
            continue;
        memcpy(s->sorted, s->power + lo, sizeof(float) * (size_t)n);
        /* insertion sort: a band holds at most a few hundred bins */
        for (int i = 1; i < n; i++) {
            float v = s->sorted[i];
            int j = i - 1;

            while (j >= 0 && s->sorted[j] > v) {
                s->sorted[j + 1] = s->sorted[j];
                j--;
            }
            s->sorted[j + 1] = v;
        }
        q = (int)lround(CONTRAST_QUANTILE * n);
        if (q < 1)
            q = 1;
        for (int i = 0; i < q; i++) {
            valley += s->sorted[i];
            peak += s->sorted[n - 1 - i];
        }
        out[b] = (float)(10.0 * log10((peak + 1e-20) / (valley + 1e-20)));
    }
}

/* Centroid, spread, rolloff and flatness of a power spectrum that is not silent. */
static void shape(const avf_audio_spectrum *s, double total, double centroid,
                  avf_audio_spectrum_out *out)
{
    const int nb = s->nb_bins;
    const float *p = s->power;
    double spread = 0, log_sum = 0, acc = 0;
    int k;

    out->rolloff_hz = s->bin_hz[nb - 1];
    for (k = 0; k < nb; k++) {
        double d = s->bin_hz[k] - centroid;

        spread += d * d * p[k];
    }
    /* one log per 8 bins: a product of 8 powers in 1e-30..1e2 stays inside a double,
     * and the floor keeps log() finite on exact digital zeros */
    for (k = 0; k < nb; k += 8) {
        double prod = 1;

        for (int j = k; j < k + 8 && j < nb; j++)
            prod *= p[j] + 1e-30;
        log_sum += log(prod);
    }
    for (k = 0; k < nb; k++) {
        acc += p[k];
        if (acc >= ROLLOFF_SHARE * total) {
            out->rolloff_hz = s->bin_hz[k];
            break;
        }
    }
    out->centroid_hz = (float)centroid;
    out->spread_hz = (float)sqrt(spread / total);
    out->flatness = (float)(exp(log_sum / nb) / (total / nb));
}

/* Turns s->power into magnitudes and returns the flux of their unit-sum shape
 * since the last window (0 on the first). */
static float flux(avf_audio_spectrum *s)
{
    const int nb = s->nb_bins;
    float *p = s->power;
    double mag_sum = 0, sum = 0;

    for (int k = 0; k < nb; k++) {
        p[k] = sqrtf(p[k]);
        mag_sum += p[k];
    }
    for (int k = 0; k < nb; k++) {
        float m = (float)(p[k] / mag_sum), d = m - s->prev_mag[k];

        if (d > 0)
            sum += (double)d * d;
        s->prev_mag[k] = m;
    }
    return s->have_prev ? (float)sqrt(sum) : 0.0f;
}

void avf_audio_spectrum_process(avf_audio_spectrum *s, const float *x, avf_audio_spectrum_out *out)
{
    double centroid_sum, total = power_spectrum(s, x, &centroid_sum);

    log_mel_bands(s, out->logmel);
    mfcc(s, out->logmel, out);
    contrast(s, total < AVF_AUDIO_SILENCE_POWER, out->contrast);
    if (total < AVF_AUDIO_SILENCE_POWER) {
        out->centroid_hz = out->spread_hz = out->rolloff_hz = out->flatness = NAN;
        out->flux = 0;
        out->magnitude = NULL;
        memset(s->prev_mag, 0, sizeof(float) * (size_t)s->nb_bins);
    } else {
        shape(s, total, centroid_sum / total, out);
        out->flux = flux(s);
        out->magnitude = s->power; /* flux() left the magnitudes there */
    }
    out->nb_bins = s->nb_bins;
    out->bin_hz = (double)s->sample_rate / s->nfft;
    s->have_prev = 1;
}
