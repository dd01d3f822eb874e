/*
 * builtin_audio.c - the built-in "audio" feature extractor.
 *
 * Turns each analysis window of the mono signal into one row of 70 numbers that
 * describe it the way the audio literature does: level and EBU R128 loudness,
 * spectral shape (CUIDADO), MFCCs and their deltas, YIN pitch and voicing, the
 * two Scheirer & Slaney speech/music cues (4 Hz modulation, low-energy share, the
 * modulation also over half a second for inputs shorter than the 1 s envelope),
 * Jiang's spectral contrast in octave bands below 4 kHz, the beat clarity of the
 * onset envelope (what music has and most noise lacks), and 22 of these again
 * pooled by standard deviation.
 * docs/features-audio.md defines every feature and its reference.
 *
 * Design: everything that needs memory is sized from the config and allocated in
 * create(); process_audio() only computes. Windows overlap, so the extractor keeps
 * its own state across calls: a sample history for the longer YIN frame, a
 * libebur128 meter fed only with each window's new samples, the previous spectrum
 * and MFCCs for flux and deltas, a 1 s ring of window energies for the envelope
 * cues, and a 3 s ring of onset strengths for the beat. Both FFTs (spectrum, and
 * the YIN difference function through Wiener-Khinchin) are libavutil av_tx real
 * transforms; a 10 ms hop costs about 30 us, a third of it inside libebur128.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <ebur128.h>
#include <libavutil/mem.h>
#include <libavutil/tx.h>

#include "plugins/builtin.h"

#define NB_MEL        26
#define NB_MFCC       13
#define MEL_LOG_FLOOR 1e-10

/* Below this mean square (-100 dBFS) a window has no spectrum or pitch to describe. */
#define SILENCE_POWER 1e-10

#define ROLLOFF_SHARE 0.85
#define CLIP_LEVEL    0.999f
#define DB_FLOOR      -120.0

/* YIN: search range and absolute threshold (de Cheveigne & Kawahara 2002, step 4).
 * A 45 ms frame holds 2.7 periods of 60 Hz, so at the longest lag (1/60 s) the
 * integration window that is left (28 ms) still spans more than one period. */
#define PITCH_MIN_HZ   60.0
#define PITCH_MAX_HZ   500.0
#define YIN_THRESHOLD  0.15
#define YIN_FRAME_SECS 0.045

/* Envelope cues look at the last second of windows; 4 Hz means the 2..8 Hz band. */
#define ENV_SECS   1.0
#define MOD_LO_HZ  2.0
#define MOD_HI_HZ  8.0
#define ENV_MIN_HZ 20.0
#define LOW_ENERGY 0.5

/* The short envelope: the same 2..8 Hz share over the last half second, so that an
 * utterance shorter than the 1 s envelope (a spoken digit) still has one. Half a
 * second puts the DFT bins 2 Hz apart: 2, 4, 6 and 8 Hz fall on bins. */
#define ENV_SHORT_SECS 0.5

/* Spectral contrast (Jiang et al. 2002) in octave bands from 125 Hz to 4 kHz: all
 * below the 4 kHz Nyquist of telephone-band audio, so 8 kHz recordings have every
 * band. Peak and valley are the mean powers of the strongest and weakest fifth of
 * a band's bins. */
#define NB_CONTRAST       5
#define CONTRAST_LO_HZ    125.0
#define CONTRAST_QUANTILE 0.2

/* Beat clarity: the autocorrelation of an onset-strength envelope (positive log
 * mel-band increments summed over bands) over the last 3 s, its highest peak at
 * lags of 0.3..1 s (200..60 beats per minute). Recomputed every 100 ms once 2 s
 * of envelope exist, so the longest lag still overlaps by a second; the value is
 * held in between. */
#define BEAT_SECS        3.0
#define BEAT_MIN_SECS    2.0
#define BEAT_LAG_LO_SECS 0.3
#define BEAT_LAG_HI_SECS 1.0
#define BEAT_UPDATE_SECS 0.1
/* onset strength: bands count down to 40 dB below the strongest (in nepers of
 * power), and a rise counts above 0.5 dB */
#define ONSET_RANGE    9.21
#define ONSET_DEADZONE 0.115

/* Short-term loudness is refreshed this often: the 10 Hz live-meter rate of EBU
 * Tech 3341. A query sums libebur128's whole 3 s buffer, too slow for every window. */
#define SHORT_TERM_UPDATE_SECS 0.1

#define MIN_SAMPLE_RATE 8000
#define MAX_SAMPLE_RATE 192000

enum {
    F_RMS,
    F_LOUDNESS,
    F_LOUDNESS_MAX,
    F_LOUDNESS_SHORT,
    F_ZCR,
    F_CENTROID,
    F_SPREAD,
    F_ROLLOFF,
    F_FLATNESS,
    F_FLUX,
    F_MFCC,
    F_DMFCC = F_MFCC + NB_MFCC,
    F_PITCH = F_DMFCC + NB_MFCC,
    F_VOICING,
    F_MOD4HZ,
    F_LOW_ENERGY,
    F_CLIPPED,
    /* the same per-window values again, pooled by standard deviation: how much a
     * segment varies (speech alternates voiced, unvoiced and pauses; music holds
     * its timbre) says as much about its content as the averages do */
    F_STD_FIRST,
    F_STD_MFCC = F_STD_FIRST + 9,
    F_STD_END = F_STD_MFCC + NB_MFCC,
    F_MOD4HZ_SHORT = F_STD_END,
    F_CONTRAST,
    F_BEAT_CLARITY = F_CONTRAST + NB_CONTRAST,
    NB_FEATURES
};

/* The source of each standard-deviation feature, in F_STD_FIRST order. */
static const int std_source[F_STD_END - F_STD_FIRST] = {
    F_RMS,      F_ZCR,       F_CENTROID,  F_SPREAD,    F_ROLLOFF,  F_FLATNESS,
    F_FLUX,     F_PITCH,     F_VOICING,   F_MFCC + 0,  F_MFCC + 1, F_MFCC + 2,
    F_MFCC + 3, F_MFCC + 4,  F_MFCC + 5,  F_MFCC + 6,  F_MFCC + 7, F_MFCC + 8,
    F_MFCC + 9, F_MFCC + 10, F_MFCC + 11, F_MFCC + 12,
};

/* In the order of the F_ indices above; docs/features-audio.md describes each. */
static const avf_plugin_feature audio_features[NB_FEATURES] = {
    {"rms_dbfs", AVF_POOL_MEAN_DB},
    {"loudness_lufs", AVF_POOL_MEAN_DB},
    {"loudness_max_lufs", AVF_POOL_MAX},
    {"loudness_short_lufs", AVF_POOL_MEAN_DB},
    {"zcr", AVF_POOL_MEAN},
    {"centroid_hz", AVF_POOL_MEAN},
    {"spread_hz", AVF_POOL_MEAN},
    {"rolloff_hz", AVF_POOL_MEAN},
    {"flatness", AVF_POOL_MEAN},
    {"flux", AVF_POOL_MEAN},
    {"mfcc_0", AVF_POOL_MEAN},
    {"mfcc_1", AVF_POOL_MEAN},
    {"mfcc_2", AVF_POOL_MEAN},
    {"mfcc_3", AVF_POOL_MEAN},
    {"mfcc_4", AVF_POOL_MEAN},
    {"mfcc_5", AVF_POOL_MEAN},
    {"mfcc_6", AVF_POOL_MEAN},
    {"mfcc_7", AVF_POOL_MEAN},
    {"mfcc_8", AVF_POOL_MEAN},
    {"mfcc_9", AVF_POOL_MEAN},
    {"mfcc_10", AVF_POOL_MEAN},
    {"mfcc_11", AVF_POOL_MEAN},
    {"mfcc_12", AVF_POOL_MEAN},
    {"dmfcc_0", AVF_POOL_STD},
    {"dmfcc_1", AVF_POOL_STD},
    {"dmfcc_2", AVF_POOL_STD},
    {"dmfcc_3", AVF_POOL_STD},
    {"dmfcc_4", AVF_POOL_STD},
    {"dmfcc_5", AVF_POOL_STD},
    {"dmfcc_6", AVF_POOL_STD},
    {"dmfcc_7", AVF_POOL_STD},
    {"dmfcc_8", AVF_POOL_STD},
    {"dmfcc_9", AVF_POOL_STD},
    {"dmfcc_10", AVF_POOL_STD},
    {"dmfcc_11", AVF_POOL_STD},
    {"dmfcc_12", AVF_POOL_STD},
    {"pitch_hz", AVF_POOL_MEAN},
    {"voicing", AVF_POOL_MEAN},
    {"mod4hz", AVF_POOL_MEAN},
    {"low_energy", AVF_POOL_MEAN},
    {"clipped", AVF_POOL_MEAN},
    {"rms_dbfs_std", AVF_POOL_STD},
    {"zcr_std", AVF_POOL_STD},
    {"centroid_hz_std", AVF_POOL_STD},
    {"spread_hz_std", AVF_POOL_STD},
    {"rolloff_hz_std", AVF_POOL_STD},
    {"flatness_std", AVF_POOL_STD},
    {"flux_std", AVF_POOL_STD},
    {"pitch_hz_std", AVF_POOL_STD},
    {"voicing_std", AVF_POOL_STD},
    {"mfcc_0_std", AVF_POOL_STD},
    {"mfcc_1_std", AVF_POOL_STD},
    {"mfcc_2_std", AVF_POOL_STD},
    {"mfcc_3_std", AVF_POOL_STD},
    {"mfcc_4_std", AVF_POOL_STD},
    {"mfcc_5_std", AVF_POOL_STD},
    {"mfcc_6_std", AVF_POOL_STD},
    {"mfcc_7_std", AVF_POOL_STD},
    {"mfcc_8_std", AVF_POOL_STD},
    {"mfcc_9_std", AVF_POOL_STD},
    {"mfcc_10_std", AVF_POOL_STD},
    {"mfcc_11_std", AVF_POOL_STD},
    {"mfcc_12_std", AVF_POOL_STD},
    {"mod4hz_short", AVF_POOL_MEAN},
    {"contrast_0", AVF_POOL_MEAN},
    {"contrast_1", AVF_POOL_MEAN},
    {"contrast_2", AVF_POOL_MEAN},
    {"contrast_3", AVF_POOL_MEAN},
    {"contrast_4", AVF_POOL_MEAN},
    {"beat_clarity", AVF_POOL_MEAN},
};

/* The ABI 1 prefix of each host struct this file reads. */
#define CONFIG_V1_SIZE   (offsetof(avf_plugin_config, source) + sizeof(const char *))
#define CONFIG_RATE_SIZE (offsetof(avf_plugin_config, hop) + sizeof(int32_t))
#define WINDOW_V1_SIZE   (offsetof(avf_plugin_audio_window, samples) + sizeof(const float *))
#define SERVICES_V1_SIZE (offsetof(avf_plugin_services, now_us) + sizeof(int64_t(*)(void *)))

typedef struct audio_ctx {
    int sample_rate, window, hop;

    /* spectrum: Hann window, zero-padded to nfft, power normalized so that its
     * bins sum to the window's Hann-weighted mean square */
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

    /* timeline position of the last window, to find the new samples */
    int started;
    int64_t last_pos;

    /* loudness */
    ebur128_state *ebu;
    int64_t fed, momentary_min, short_min, short_next, short_step;
    double short_lufs;

    /* 1 s ring of per-window RMS and mean square, oldest at env_pos once full */
    int env_len, env_pos, env_count;
    float *env_rms, *env_ms;
    float *env_hann;
    int mod_lo, mod_hi;       /* DFT bins of the 2..8 Hz band */
    float *mod_cos, *mod_sin; /* (mod_hi - mod_lo + 1) x env_len */
    float *env_tmp;           /* env_len */
    /* the last short_len entries of the same ring, with their own taper and bins */
    int short_len, short_lo, short_hi;
    float *short_hann, *short_cos, *short_sin;

    /* spectral contrast: band b covers bins contrast_bin[b] .. contrast_bin[b + 1] - 1 */
    int contrast_bin[NB_CONTRAST + 1];
    float *sorted; /* nb_bins */

    /* beat clarity: ring of beat_len onset strengths, oldest at beat_pos once full */
    int beat_len, beat_count, beat_pos, beat_min, beat_lag_lo, beat_lag_hi;
    int beat_step, beat_since;
    float *beat_env, *beat_tmp; /* beat_len each */
    float beat_value;
    float prev_logmel[NB_MEL];
    int have_prev_mel;
} audio_ctx;

static void audio_ctx_free(audio_ctx **pp)
{
    audio_ctx *c = *pp;

    if (!c)
        return;
    av_tx_uninit(&c->fft);
    av_tx_uninit(&c->yin_fwd);
    av_tx_uninit(&c->yin_inv);
    if (c->ebu)
        ebur128_destroy(&c->ebu);
    av_freep(&c->fft_in);
    av_freep(&c->fft_out);
    av_freep(&c->hann);
    av_freep(&c->power);
    av_freep(&c->bin_hz);
    av_freep(&c->prev_mag);
    av_freep(&c->mel_seg);
    av_freep(&c->mel_rise);
    av_freep(&c->yin_a);
    av_freep(&c->yin_b);
    av_freep(&c->yin_r);
    av_freep(&c->yin_A);
    av_freep(&c->yin_B);
    av_freep(&c->yin_cmnd);
    av_freep(&c->hist);
    av_freep(&c->env_rms);
    av_freep(&c->env_ms);
    av_freep(&c->env_hann);
    av_freep(&c->mod_cos);
    av_freep(&c->mod_sin);
    av_freep(&c->env_tmp);
    av_freep(&c->short_hann);
    av_freep(&c->short_cos);
    av_freep(&c->short_sin);
    av_freep(&c->sorted);
    av_freep(&c->beat_env);
    av_freep(&c->beat_tmp);
    av_freep(pp);
}

static int next_pow2(int n)
{
    int p = 1;

    while (p < n)
        p <<= 1;
    return p;
}

static double hz_to_mel(double hz)
{
    return 2595.0 * log10(1.0 + hz / 700.0);
}

static double mel_to_hz(double mel)
{
    return 700.0 * (pow(10.0, mel / 2595.0) - 1.0);
}

static void init_mel(audio_ctx *c)
{
    double edge[NB_MEL + 2];
    double top = hz_to_mel(c->sample_rate / 2.0);

    for (int i = 0; i < NB_MEL + 2; i++)
        edge[i] = mel_to_hz(top * i / (NB_MEL + 1));
    for (int k = 0; k < c->nb_bins; k++) {
        double f = c->bin_hz[k];
        int j = 0;

        while (j < NB_MEL + 1 && f >= edge[j + 1])
            j++;
        if (j >= NB_MEL + 1) { /* Nyquist: the top edge, weight 0 everywhere */
            c->mel_seg[k] = -1;
            c->mel_rise[k] = 0;
            continue;
        }
        c->mel_seg[k] = j;
        c->mel_rise[k] = (float)((f - edge[j]) / (edge[j + 1] - edge[j]));
    }
    for (int i = 0; i < NB_MFCC; i++) {
        double s = sqrt((i ? 2.0 : 1.0) / NB_MEL);

        for (int m = 0; m < NB_MEL; m++)
            c->dct[i][m] = s * cos(M_PI * i * (2 * m + 1) / (2.0 * NB_MEL));
    }
}

/* A Hann taper of n values and the DFT rows of bins lo..hi for an n-value envelope. */
static void init_modulation(int n, int lo, int hi, float *hann, float *cs, float *sn)
{
    for (int i = 0; i < n; i++)
        hann[i] = (float)(0.5 - 0.5 * cos(2.0 * M_PI * (i + 0.5) / n));
    for (int k = lo; k <= hi; k++)
        for (int i = 0; i < n; i++) {
            cs[(k - lo) * n + i] = (float)cos(2.0 * M_PI * k * i / n);
            sn[(k - lo) * n + i] = (float)sin(2.0 * M_PI * k * i / n);
        }
}

static void init_contrast(audio_ctx *c)
{
    double hz = CONTRAST_LO_HZ;

    for (int b = 0; b <= NB_CONTRAST; b++, hz *= 2) {
        int k = (int)ceil(hz * c->nfft / c->sample_rate - 1e-9);

        c->contrast_bin[b] = k < c->nb_bins ? k : c->nb_bins;
    }
}

#define ALLOC(p, n)                                                                                \
    do {                                                                                           \
        if (!((p) = av_mallocz(sizeof(*(p)) * (size_t)(n))))                                       \
            goto fail;                                                                             \
    } while (0)

/* Returns the context, or NULL when memory or libebur128 initialisation fails. */
static audio_ctx *audio_ctx_new(int sample_rate, int window, int hop)
{
    audio_ctx *c = av_mallocz(sizeof(*c));
    float one = 1.0f, inv_scale;
    double rate, wsum2 = 0;

    if (!c)
        return NULL;
    c->sample_rate = sample_rate;
    c->window = window;
    c->hop = hop;

    c->nfft = next_pow2(window);
    c->nb_bins = c->nfft / 2 + 1;
    ALLOC(c->fft_in, c->nfft + 2);
    ALLOC(c->fft_out, c->nb_bins);
    ALLOC(c->hann, window);
    ALLOC(c->power, c->nb_bins);
    ALLOC(c->bin_hz, c->nb_bins);
    ALLOC(c->prev_mag, c->nb_bins);
    ALLOC(c->mel_seg, c->nb_bins);
    ALLOC(c->mel_rise, c->nb_bins);
    if (av_tx_init(&c->fft, &c->fft_fn, AV_TX_FLOAT_RDFT, 0, c->nfft, &one, 0) < 0)
        goto fail;
    for (int i = 0; i < window; i++) {
        c->hann[i] = (float)(0.5 - 0.5 * cos(2.0 * M_PI * i / window));
        wsum2 += (double)c->hann[i] * c->hann[i];
    }
    /* one-sided: the bins sum to the Hann-weighted mean square (Parseval) */
    c->power_scale = (float)(2.0 / (c->nfft * wsum2));
    for (int k = 0; k < c->nb_bins; k++)
        c->bin_hz[k] = (float)((double)k * sample_rate / c->nfft);
    init_mel(c);

    c->tau_min = (int)floor(sample_rate / PITCH_MAX_HZ);
    c->tau_lo = c->tau_min / 2 > 2 ? c->tau_min / 2 : 2;
    c->tau_max = (int)ceil(sample_rate / PITCH_MIN_HZ);
    c->tau_top = c->tau_max + 1;
    c->yin_len = (int)lround(YIN_FRAME_SECS * sample_rate);
    c->yin_w = c->yin_len - c->tau_top;
    /* a circular correlation of length >= yin_len never wraps for lags <= tau_top,
     * because the first operand is zero past yin_w */
    c->yin_nfft = next_pow2(c->yin_len);
    inv_scale = 1.0f / c->yin_nfft;
    ALLOC(c->yin_a, c->yin_nfft + 2);
    ALLOC(c->yin_b, c->yin_nfft + 2);
    ALLOC(c->yin_r, c->yin_nfft + 2);
    ALLOC(c->yin_A, c->yin_nfft / 2 + 1);
    ALLOC(c->yin_B, c->yin_nfft / 2 + 1);
    ALLOC(c->yin_cmnd, c->tau_top + 1);
    ALLOC(c->hist, c->yin_len);
    if (av_tx_init(&c->yin_fwd, &c->yin_fwd_fn, AV_TX_FLOAT_RDFT, 0, c->yin_nfft, &one, 0) < 0)
        goto fail;
    if (av_tx_init(&c->yin_inv, &c->yin_inv_fn, AV_TX_FLOAT_RDFT, 1, c->yin_nfft, &inv_scale, 0))
        goto fail;

    c->ebu = ebur128_init(1, (unsigned long)sample_rate, EBUR128_MODE_M | EBUR128_MODE_S);
    if (!c->ebu || ebur128_set_channel(c->ebu, 0, EBUR128_DUAL_MONO) != EBUR128_SUCCESS)
        goto fail;
    /* the same 100 ms unit libebur128 counts in, so NaN ends exactly when its
     * buffer holds real audio */
    c->short_step = (int64_t)lround(SHORT_TERM_UPDATE_SECS * sample_rate);
    c->momentary_min = (sample_rate + 5) / 10 * 4;
    c->short_min = (sample_rate + 5) / 10 * 30;
    c->short_next = c->short_min;
    c->short_lufs = NAN;

    rate = (double)sample_rate / hop;
    c->env_len = (int)lround(rate * ENV_SECS);
    c->mod_lo = (int)ceil(MOD_LO_HZ * c->env_len / rate - 1e-9);
    c->mod_hi = (int)floor(MOD_HI_HZ * c->env_len / rate + 1e-9);
    ALLOC(c->env_rms, c->env_len);
    ALLOC(c->env_ms, c->env_len);
    ALLOC(c->env_hann, c->env_len);
    ALLOC(c->env_tmp, 2 * c->env_len); /* scratch, then the ring in time order */
    ALLOC(c->mod_cos, (c->mod_hi - c->mod_lo + 1) * c->env_len);
    ALLOC(c->mod_sin, (c->mod_hi - c->mod_lo + 1) * c->env_len);
    init_modulation(c->env_len, c->mod_lo, c->mod_hi, c->env_hann, c->mod_cos, c->mod_sin);
    c->short_len = (int)lround(rate * ENV_SHORT_SECS);
    c->short_lo = (int)ceil(MOD_LO_HZ * c->short_len / rate - 1e-9);
    c->short_hi = (int)floor(MOD_HI_HZ * c->short_len / rate + 1e-9);
    ALLOC(c->short_hann, c->short_len);
    ALLOC(c->short_cos, (c->short_hi - c->short_lo + 1) * c->short_len);
    ALLOC(c->short_sin, (c->short_hi - c->short_lo + 1) * c->short_len);
    init_modulation(c->short_len, c->short_lo, c->short_hi, c->short_hann, c->short_cos,
                    c->short_sin);
    ALLOC(c->sorted, c->nb_bins);
    init_contrast(c);

    c->beat_len = (int)lround(rate * BEAT_SECS);
    c->beat_min = (int)lround(rate * BEAT_MIN_SECS);
    c->beat_lag_lo = (int)lround(rate * BEAT_LAG_LO_SECS);
    c->beat_lag_hi = (int)lround(rate * BEAT_LAG_HI_SECS);
    c->beat_step = (int)lround(rate * BEAT_UPDATE_SECS);
    if (c->beat_step < 1)
        c->beat_step = 1;
    c->beat_value = NAN;
    ALLOC(c->beat_env, c->beat_len);
    ALLOC(c->beat_tmp, c->beat_len);
    return c;

fail:
    audio_ctx_free(&c);
    return NULL;
}

#if defined(__GNUC__)
#define PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define PRINTF_LIKE(fmt, args)
#endif

static void plugin_log(const avf_plugin_services *services, int level, const char *fmt, ...)
    PRINTF_LIKE(3, 4);

/* Logs through the host when its services table is one this plugin understands. */
static void plugin_log(const avf_plugin_services *services, int level, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    if (!services || services->abi_version != AVFUSE_PLUGIN_ABI_VERSION ||
        services->struct_size < SERVICES_V1_SIZE || !services->log)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    services->log(services->host, level, msg);
}

static int audio_create(const avf_plugin_services *services, const avf_plugin_config *config,
                        void **instance)
{
    const char *source = "?";
    audio_ctx *c;

    if (!config || !instance || config->struct_size < CONFIG_RATE_SIZE)
        return -EINVAL;
    if (config->struct_size >= CONFIG_V1_SIZE && config->source)
        source = config->source;
    if (config->sample_rate < MIN_SAMPLE_RATE || config->sample_rate > MAX_SAMPLE_RATE) {
        plugin_log(services, AVF_PLUGIN_LOG_ERROR, "%s: sample rate %d outside %d..%d Hz", source,
                   config->sample_rate, MIN_SAMPLE_RATE, MAX_SAMPLE_RATE);
        return -EINVAL;
    }
    /* windows must overlap at least twice, fit in the 1 s envelope, and come often
     * enough (>= 20 per second) for the envelope to carry 8 Hz */
    if (config->hop < 1 || config->window < 2 * config->hop ||
        config->window > config->sample_rate ||
        (double)config->sample_rate / config->hop < ENV_MIN_HZ) {
        plugin_log(services, AVF_PLUGIN_LOG_ERROR,
                   "%s: window %d / hop %d unusable (need hop >= 1, window >= 2 hop, "
                   "window <= 1 s, hop <= 50 ms)",
                   source, config->window, config->hop);
        return -EINVAL;
    }
    c = audio_ctx_new(config->sample_rate, config->window, config->hop);
    if (!c) {
        plugin_log(services, AVF_PLUGIN_LOG_ERROR, "%s: out of memory", source);
        return -ENOMEM;
    }
    plugin_log(services, AVF_PLUGIN_LOG_DEBUG,
               "%s: %d Hz, window %d, hop %d, fft %d, yin frame %d (fft %d)", source,
               c->sample_rate, c->window, c->hop, c->nfft, c->yin_len, c->yin_nfft);
    *instance = c;
    return 0;
}

static void audio_destroy(void *instance)
{
    audio_ctx *c = instance;

    audio_ctx_free(&c);
}

static float to_db_floor(double db)
{
    return (float)(db > DB_FLOOR ? db : DB_FLOOR);
}

static void level_features(const float *x, int n, float *out, double *mean_square)
{
    double sum2 = 0;
    int crossings = 0;

    for (int i = 0; i < n; i++)
        sum2 += (double)x[i] * x[i];
    for (int i = 1; i < n; i++)
        crossings += (x[i - 1] >= 0.0f) != (x[i] >= 0.0f);
    *mean_square = sum2 / n;
    out[F_RMS] = to_db_floor(*mean_square > 0 ? 10.0 * log10(*mean_square) : DB_FLOOR);
    out[F_ZCR] = (float)crossings / (float)(n - 1);
}

static void contrast_features(audio_ctx *c, int silent, float *out);

static void spectral_features(audio_ctx *c, const float *x, float *out, double *onset)
{
    const int nb = c->nb_bins;
    float *p = c->power;
    double total = 0, mag_sum = 0, centroid = 0, spread = 0, log_sum = 0, acc, flux = 0;
    double mel[NB_MEL] = {0}, top;
    int k;

    for (int i = 0; i < c->window; i++)
        c->fft_in[i] = x[i] * c->hann[i];
    memset(c->fft_in + c->window, 0, sizeof(float) * (size_t)(c->nfft - c->window));
    c->fft_fn(c->fft, c->fft_out, c->fft_in, sizeof(float));

    for (k = 0; k < nb; k++) {
        float re = c->fft_out[k].re, im = c->fft_out[k].im;

        p[k] = (re * re + im * im) * c->power_scale;
        total += p[k];
        centroid += (double)p[k] * c->bin_hz[k];
    }

    for (k = 0; k < nb; k++) {
        int seg = c->mel_seg[k];

        if (seg < 0)
            continue;
        if (seg < NB_MEL)
            mel[seg] += (double)p[k] * c->mel_rise[k];
        if (seg > 0)
            mel[seg - 1] += (double)p[k] * (1.0f - c->mel_rise[k]);
    }
    for (int m = 0; m < NB_MEL; m++)
        mel[m] = log(mel[m] > MEL_LOG_FLOOR ? mel[m] : MEL_LOG_FLOOR);
    /* onset strength: how much the bands rose since the last window, counting only
     * bands within ONSET_RANGE of the strongest one and rises above ONSET_DEADZONE,
     * so that the leakage of a held tone (whose far bands flicker with its phase)
     * makes none */
    top = mel[0];
    for (int m = 1; m < NB_MEL; m++)
        top = mel[m] > top ? mel[m] : top;
    *onset = 0;
    for (int m = 0; m < NB_MEL; m++) {
        double v = mel[m] > top - ONSET_RANGE ? mel[m] : top - ONSET_RANGE;

        if (c->have_prev_mel && v > c->prev_logmel[m] + ONSET_DEADZONE)
            *onset += v - c->prev_logmel[m] - ONSET_DEADZONE;
        c->prev_logmel[m] = (float)v;
    }
    c->have_prev_mel = 1;
    for (int i = 0; i < NB_MFCC; i++) {
        double v = 0;

        for (int m = 0; m < NB_MEL; m++)
            v += c->dct[i][m] * mel[m];
        out[F_MFCC + i] = (float)v;
        out[F_DMFCC + i] = c->have_prev ? (float)v - c->prev_mfcc[i] : 0.0f;
        c->prev_mfcc[i] = (float)v;
    }

    contrast_features(c, total < SILENCE_POWER, out);
    if (total < SILENCE_POWER) {
        out[F_CENTROID] = out[F_SPREAD] = out[F_ROLLOFF] = out[F_FLATNESS] = NAN;
        out[F_FLUX] = 0;
        memset(c->prev_mag, 0, sizeof(float) * (size_t)nb);
        c->have_prev = 1;
        return;
    }

    centroid /= total;
    acc = 0;
    out[F_ROLLOFF] = c->bin_hz[nb - 1];
    for (k = 0; k < nb; k++) {
        double d = c->bin_hz[k] - centroid;

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
            out[F_ROLLOFF] = c->bin_hz[k];
            break;
        }
    }
    out[F_CENTROID] = (float)centroid;
    out[F_SPREAD] = (float)sqrt(spread / total);
    out[F_FLATNESS] = (float)(exp(log_sum / nb) / (total / nb));

    /* the power array now becomes the magnitudes */
    for (k = 0; k < nb; k++) {
        p[k] = sqrtf(p[k]);
        mag_sum += p[k];
    }
    for (k = 0; k < nb; k++) {
        float m = (float)(p[k] / mag_sum), d = m - c->prev_mag[k];

        if (d > 0)
            flux += (double)d * d;
        c->prev_mag[k] = m;
    }
    out[F_FLUX] = c->have_prev ? (float)sqrt(flux) : 0.0f;
    c->have_prev = 1;
}

/*
 * YIN on the last yin_len samples. The difference function
 *   d(t) = sum_{j<W} (x_j - x_{j+t})^2 = e(0) + e(t) - 2 r(t)
 * takes its cross term r from one spectral product (Wiener-Khinchin) and its
 * energy terms e(t) = sum_{t<=j<t+W} x_j^2 from a running sum: O(n log n) instead
 * of O(W * tau_max).
 */
static void pitch_features(audio_ctx *c, float *out)
{
    const int n = c->yin_len, w = c->yin_w, half = c->yin_nfft / 2;
    const float *x = c->hist;
    float *cmnd = c->yin_cmnd;
    double e0 = 0, et, frame_energy = 0, run = 0;
    int tau = -1, voiced = 0;

    out[F_PITCH] = NAN;
    if (c->hist_valid < n) {
        out[F_VOICING] = NAN;
        return;
    }
    for (int j = 0; j < n; j++)
        frame_energy += (double)x[j] * x[j];
    if (frame_energy / n < SILENCE_POWER) {
        out[F_VOICING] = 0;
        return;
    }

    memcpy(c->yin_a, x, sizeof(float) * (size_t)w);
    memset(c->yin_a + w, 0, sizeof(float) * (size_t)(c->yin_nfft - w));
    memcpy(c->yin_b, x, sizeof(float) * (size_t)n);
    memset(c->yin_b + n, 0, sizeof(float) * (size_t)(c->yin_nfft - n));
    c->yin_fwd_fn(c->yin_fwd, c->yin_A, c->yin_a, sizeof(float));
    c->yin_fwd_fn(c->yin_fwd, c->yin_B, c->yin_b, sizeof(float));
    for (int k = 0; k <= half; k++) {
        AVComplexFloat a = c->yin_A[k], b = c->yin_B[k];

        /* conj(A) * B: r(t) = sum_j a_j b_{j+t} */
        c->yin_A[k].re = a.re * b.re + a.im * b.im;
        c->yin_A[k].im = a.re * b.im - a.im * b.re;
    }
    c->yin_inv_fn(c->yin_inv, c->yin_r, c->yin_A, sizeof(AVComplexFloat));

    for (int j = 0; j < w; j++)
        e0 += (double)x[j] * x[j];
    et = e0;
    cmnd[0] = 1.0f;
    for (int t = 1; t <= c->tau_top; t++) {
        double d;

        et += (double)x[t + w - 1] * x[t + w - 1] - (double)x[t - 1] * x[t - 1];
        d = e0 + et - 2.0 * c->yin_r[t];
        if (d < 0) /* rounding in the float FFT */
            d = 0;
        run += d;
        cmnd[t] = run > 0 ? (float)(d * t / run) : 1.0f;
    }

    /* The search starts an octave above the range: any tone above PITCH_MAX_HZ has
     * a period multiple in [tau_min / 2, tau_min) and is caught there, instead of
     * being reported as its subharmonic inside the range. */
    for (int t = c->tau_lo; t <= c->tau_max; t++) {
        if (cmnd[t] < YIN_THRESHOLD) {
            while (t + 1 <= c->tau_max && cmnd[t + 1] < cmnd[t])
                t++;
            tau = t;
            voiced = 1;
            break;
        }
    }
    if (tau < 0) { /* no dip under the threshold: the best one says how unvoiced */
        tau = c->tau_lo;
        for (int t = c->tau_lo + 1; t <= c->tau_max; t++)
            if (cmnd[t] < cmnd[tau])
                tau = t;
    }
    out[F_VOICING] = fminf(fmaxf(1.0f - cmnd[tau], 0.0f), 1.0f);
    if (tau < c->tau_min) /* periodic, but above the pitch range */
        voiced = 0;
    if (voiced) {
        double a = cmnd[tau - 1], b = cmnd[tau], cc = cmnd[tau + 1];
        double den = a - 2 * b + cc, shift = 0, f0;

        if (den > 0)
            shift = 0.5 * (a - cc) / den;
        if (shift > 0.5)
            shift = 0.5;
        else if (shift < -0.5)
            shift = -0.5;
        /* the lag range is the pitch range: interpolation may not step out of it */
        f0 = c->sample_rate / (tau + shift);
        out[F_PITCH] = (float)fmin(fmax(f0, PITCH_MIN_HZ), PITCH_MAX_HZ);
    }
}

static void history_push(audio_ctx *c, const float *x, int n)
{
    const int len = c->yin_len;

    if (n >= len) {
        memcpy(c->hist, x + n - len, sizeof(float) * (size_t)len);
    } else {
        memmove(c->hist, c->hist + n, sizeof(float) * (size_t)(len - n));
        memcpy(c->hist + len - n, x, sizeof(float) * (size_t)n);
    }
    c->hist_valid = c->hist_valid + n < len ? c->hist_valid + n : len;
}

static void loudness_features(audio_ctx *c, const float *x, int n, float *out)
{
    double v;

    out[F_LOUDNESS] = out[F_LOUDNESS_MAX] = out[F_LOUDNESS_SHORT] = NAN;
    if (ebur128_add_frames_float(c->ebu, x, (size_t)n) != EBUR128_SUCCESS)
        return;
    c->fed += n;
    if (c->fed >= c->momentary_min && ebur128_loudness_momentary(c->ebu, &v) == EBUR128_SUCCESS)
        out[F_LOUDNESS] = out[F_LOUDNESS_MAX] = to_db_floor(v);
    if (c->fed >= c->short_next) {
        if (ebur128_loudness_shortterm(c->ebu, &v) == EBUR128_SUCCESS)
            c->short_lufs = to_db_floor(v);
        while (c->short_next <= c->fed)
            c->short_next += c->short_step;
    }
    if (c->fed >= c->short_min)
        out[F_LOUDNESS_SHORT] = (float)c->short_lufs;
}

/*
 * The share of the modulation power of env[0..n-1] (oldest first) that lies in the
 * DFT bins lo..hi, with taper hann and the bins' rows cs and sn; tmp holds n values.
 */
static float modulation_share(const float *env, int n, const float *hann, int lo, int hi,
                              const float *cs, const float *sn, float *tmp)
{
    double wsum = 0, wmean = 0, var = 0, band = 0;

    for (int i = 0; i < n; i++) {
        wmean += (double)env[i] * hann[i];
        wsum += hann[i];
    }
    wmean /= wsum;
    for (int i = 0; i < n; i++) {
        /* removing the taper-weighted mean zeroes the DC bin exactly */
        tmp[i] = (float)((env[i] - wmean) * hann[i]);
        var += (double)tmp[i] * tmp[i];
    }
    /* a steady or silent envelope has no modulation to share out */
    if (wmean < 1e-5 || var < 1e-8 * wmean * wmean * wsum)
        return 0;
    for (int k = lo; k <= hi; k++) {
        const float *ck = cs + (k - lo) * n, *sk = sn + (k - lo) * n;
        float re = 0, im = 0;

        for (int i = 0; i < n; i++) {
            re += tmp[i] * ck[i];
            im += tmp[i] * sk[i];
        }
        band += (double)re * re + (double)im * im;
    }
    /* Parseval: the bins k and n-k of a real sequence sum to n * sum(y^2) */
    band = 2.0 * band / (n * var);
    return (float)(band < 1.0 ? band : 1.0);
}

/* Scheirer & Slaney's modulation and low-energy cues over the last second, and the
 * modulation over the last half second. */
static void envelope_features(audio_ctx *c, double mean_square, float *out)
{
    const int n = c->env_len, ns = c->short_len;
    double ms_sum = 0;
    float *ordered = c->env_tmp + n; /* the ring, oldest first */

    c->env_rms[c->env_pos] = (float)sqrt(mean_square);
    c->env_ms[c->env_pos] = (float)mean_square;
    c->env_pos = c->env_pos + 1 < n ? c->env_pos + 1 : 0;
    if (c->env_count < n)
        c->env_count++;

    for (int i = 0; i < c->env_count; i++)
        ms_sum += c->env_ms[i];
    out[F_LOW_ENERGY] = mean_square < LOW_ENERGY * ms_sum / c->env_count ? 1.0f : 0.0f;

    out[F_MOD4HZ] = out[F_MOD4HZ_SHORT] = NAN;
    if (c->env_count < ns)
        return;
    /* until the ring is full, its oldest entry is at 0 and the newest at env_count - 1 */
    for (int i = 0, j = c->env_count < n ? 0 : c->env_pos; i < c->env_count;
         i++, j = j + 1 < n ? j + 1 : 0)
        ordered[i] = c->env_rms[j];
    out[F_MOD4HZ_SHORT] =
        modulation_share(ordered + c->env_count - ns, ns, c->short_hann, c->short_lo, c->short_hi,
                         c->short_cos, c->short_sin, c->env_tmp);
    if (c->env_count < n)
        return;
    out[F_MOD4HZ] = modulation_share(ordered, n, c->env_hann, c->mod_lo, c->mod_hi, c->mod_cos,
                                     c->mod_sin, c->env_tmp);
}

/*
 * Spectral contrast per octave band (Jiang et al. 2002): the level difference in
 * dB between the mean power of the strongest fifth of the band's bins (its peaks)
 * and that of the weakest fifth (its valleys). Harmonic sound has deep valleys
 * between its partials, noise has none. Reads the power spectrum left in c->power.
 */
static void contrast_features(audio_ctx *c, int silent, float *out)
{
    for (int b = 0; b < NB_CONTRAST; b++) {
        int lo = c->contrast_bin[b], n = c->contrast_bin[b + 1] - lo, q;
        double peak = 0, valley = 0;

        out[F_CONTRAST + b] = NAN;
        if (silent || n < 2)
            continue;
        memcpy(c->sorted, c->power + lo, sizeof(float) * (size_t)n);
        /* insertion sort: a band holds at most a few hundred bins */
        for (int i = 1; i < n; i++) {
            float v = c->sorted[i];
            int j = i - 1;

            while (j >= 0 && c->sorted[j] > v) {
                c->sorted[j + 1] = c->sorted[j];
                j--;
            }
            c->sorted[j + 1] = v;
        }
        q = (int)lround(CONTRAST_QUANTILE * n);
        if (q < 1)
            q = 1;
        for (int i = 0; i < q; i++) {
            valley += c->sorted[i];
            peak += c->sorted[n - 1 - i];
        }
        out[F_CONTRAST + b] = (float)(10.0 * log10((peak + 1e-20) / (valley + 1e-20)));
    }
}

/*
 * Beat clarity: the normalized autocorrelation of the onset-strength envelope over
 * the last 3 s, its maximum over lags of 0.3..1 s. A steady beat repeats its onsets
 * at one period (and its multiples); speech and most noise do not. A flat envelope
 * (a held tone, digital silence) has no beat: 0.
 */
static void beat_features(audio_ctx *c, double onset, float *out)
{
    const int n = c->beat_len;

    c->beat_env[c->beat_pos] = (float)onset;
    c->beat_pos = c->beat_pos + 1 < n ? c->beat_pos + 1 : 0;
    if (c->beat_count < n)
        c->beat_count++;
    if (c->beat_count < c->beat_min) {
        out[F_BEAT_CLARITY] = NAN;
        return;
    }
    if (c->beat_since + 1 < c->beat_step && !isnan(c->beat_value)) {
        c->beat_since++;
    } else {
        const int m = c->beat_count;
        double mean = 0, r0 = 0, best = 0;
        float *y = c->beat_tmp;

        /* until the ring is full, its oldest entry is at 0 */
        for (int i = 0, j = m < n ? 0 : c->beat_pos; i < m; i++, j = j + 1 < n ? j + 1 : 0)
            y[i] = c->beat_env[j];
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
            for (int lag = c->beat_lag_lo; lag <= c->beat_lag_hi && lag < m; lag++) {
                double r = 0;

                for (int i = 0; i + lag < m; i++)
                    r += (double)y[i] * y[i + lag];
                r /= (m - lag) * r0;
                if (r > best)
                    best = r;
            }
        }
        c->beat_value = (float)(best < 1.0 ? best : 1.0);
        c->beat_since = 0;
    }
    out[F_BEAT_CLARITY] = c->beat_value;
}

static int audio_process(void *instance, const avf_plugin_audio_window *win, float *out)
{
    audio_ctx *c = instance;
    const float *x, *fresh;
    double mean_square, onset;
    int64_t step;
    int n_new, clipped = 0;

    if (!c || !win || !out || win->struct_size < WINDOW_V1_SIZE || !win->samples ||
        win->nb_samples != c->window)
        return -EINVAL;
    if (c->started && win->pos <= c->last_pos)
        return -EINVAL; /* the host promises timeline order */
    x = win->samples;
    step = c->started ? win->pos - c->last_pos : c->window;
    n_new = step < c->window ? (int)step : c->window;
    if (step > c->window) /* a hole in the timeline: the pitch frame starts over */
        c->hist_valid = 0;
    c->started = 1;
    c->last_pos = win->pos;
    fresh = x + c->window - n_new;

    for (int i = 0; i < n_new; i++)
        clipped += fabsf(fresh[i]) >= CLIP_LEVEL;
    out[F_CLIPPED] = (float)clipped / (float)n_new;

    level_features(x, c->window, out, &mean_square);
    loudness_features(c, fresh, n_new, out);
    spectral_features(c, x, out, &onset);
    history_push(c, fresh, n_new);
    pitch_features(c, out);
    envelope_features(c, mean_square, out);
    beat_features(c, onset, out);
    for (int i = F_STD_FIRST; i < F_STD_END; i++)
        out[i] = out[std_source[i - F_STD_FIRST]];
    return 0;
}

static const avf_plugin_descriptor audio_descriptor = {
    .abi_version = AVFUSE_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(avf_plugin_descriptor),
    .name = "audio",
    .description = "loudness, spectral shape, MFCC, pitch and rhythm of the mono audio",
    .modality = AVF_PLUGIN_AUDIO,
    .nb_features = NB_FEATURES,
    .features = audio_features,
    .create = audio_create,
    .process_video = NULL,
    .process_audio = audio_process,
    .destroy = audio_destroy,
};

const avf_plugin_descriptor *avf_builtin_audio_descriptor(void)
{
    return &audio_descriptor;
}
