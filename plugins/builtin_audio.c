/*
 * builtin_audio.c - the built-in "audio" feature extractor.
 *
 * Turns each analysis window of the mono signal into one row of 98 numbers that
 * describe it the way the audio literature does: level and EBU R128 loudness,
 * spectral shape (CUIDADO), MFCCs and their deltas, YIN pitch and voicing, the
 * two Scheirer & Slaney speech/music cues (4 Hz modulation, low-energy share, the
 * modulation also over half a second for inputs shorter than the 1 s envelope),
 * Jiang's spectral contrast in octave bands below 4 kHz, the beat clarity of the
 * onset envelope (what music has and most noise lacks), 22 of these again
 * pooled by standard deviation, and the GeMAPS voice parameters (F0 in semitones
 * with percentiles and slopes, jitter, shimmer, HNR, formants, spectral balance,
 * loudness peaks, voiced and unvoiced runs).
 * docs/features-audio.md defines every feature and its reference.
 *
 * This file is the plugin: its descriptor, the row layout, and the dispatch of
 * each window to the analyses under plugins/audio/, one file each with its own
 * state: loudness.c (level, EBU R128), spectrum.c (shape, MFCC, contrast, log mel
 * bands), pitch.c (YIN), envelope.c (modulation, low energy), beat.c (onset
 * autocorrelation) and voice.c (GeMAPS, from what pitch.c and spectrum.c found).
 *
 * Design: everything that needs memory is sized from the config and allocated in
 * create(); process_audio() only computes. Windows overlap, so the analyses keep
 * their own state across calls (the pitch frame's sample history, the loudness
 * meter fed only with each window's new samples, the previous spectrum, the
 * envelope and onset rings); this file tells them which samples are new. Both
 * FFTs (spectrum, and the YIN difference function through Wiener-Khinchin) are
 * libavutil av_tx real transforms; a 10 ms hop costs about 30 us, a third of it
 * inside libebur128.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/mem.h>

#include "plugins/audio/beat.h"
#include "plugins/audio/envelope.h"
#include "plugins/audio/loudness.h"
#include "plugins/audio/pitch.h"
#include "plugins/audio/spectrum.h"
#include "plugins/audio/voice.h"
#include "plugins/builtin.h"

#define NB_MFCC     AVF_AUDIO_NB_MFCC
#define NB_CONTRAST AVF_AUDIO_NB_CONTRAST
#define NB_FORMANTS AVF_AUDIO_NB_FORMANTS

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
    /* GeMAPS voice parameters (voice.c) */
    F_F0_ST,
    F_F0_ST_STD,
    F_F0_ST_P20,
    F_F0_ST_P50,
    F_F0_ST_P80,
    F_F0_ST_RANGE,
    F_RISE,
    F_RISE_STD,
    F_FALL,
    F_FALL_STD,
    F_JITTER,
    F_SHIMMER,
    F_HNR,
    F_FORMANT,
    F_BANDWIDTH = F_FORMANT + NB_FORMANTS,
    F_ALPHA_RATIO = F_BANDWIDTH + NB_FORMANTS,
    F_HAMMARBERG,
    F_SLOPE_0_500,
    F_SLOPE_500_1500,
    F_LOUDNESS_PEAKS,
    F_VOICED_RUN,
    F_VOICED_RUN_STD,
    F_UNVOICED_RUN,
    F_UNVOICED_RUN_STD,
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
    {"f0_st", AVF_POOL_MEAN},
    {"f0_st_std", AVF_POOL_STD},
    {"f0_st_p20", AVF_POOL_P20},
    {"f0_st_p50", AVF_POOL_P50},
    {"f0_st_p80", AVF_POOL_P80},
    {"f0_st_range", AVF_POOL_RANGE_20_80},
    {"f0_rise_st_s", AVF_POOL_MEAN},
    {"f0_rise_st_s_std", AVF_POOL_STD},
    {"f0_fall_st_s", AVF_POOL_MEAN},
    {"f0_fall_st_s_std", AVF_POOL_STD},
    {"jitter", AVF_POOL_MEAN},
    {"shimmer_db", AVF_POOL_MEAN},
    {"hnr_db", AVF_POOL_MEAN},
    {"f1_hz", AVF_POOL_MEAN},
    {"f2_hz", AVF_POOL_MEAN},
    {"f3_hz", AVF_POOL_MEAN},
    {"f1_bw_hz", AVF_POOL_MEAN},
    {"f2_bw_hz", AVF_POOL_MEAN},
    {"f3_bw_hz", AVF_POOL_MEAN},
    {"alpha_ratio_db", AVF_POOL_MEAN},
    {"hammarberg_db", AVF_POOL_MEAN},
    {"slope_0_500_db_khz", AVF_POOL_MEAN},
    {"slope_500_1500_db_khz", AVF_POOL_MEAN},
    {"loudness_peaks_per_s", AVF_POOL_MEAN},
    {"voiced_run_s", AVF_POOL_MEAN},
    {"voiced_run_s_std", AVF_POOL_STD},
    {"unvoiced_run_s", AVF_POOL_MEAN},
    {"unvoiced_run_s_std", AVF_POOL_STD},
};

/* The ABI 1 prefix of each host struct this file reads. */
#define CONFIG_V1_SIZE   (offsetof(avf_plugin_config, source) + sizeof(const char *))
#define CONFIG_RATE_SIZE (offsetof(avf_plugin_config, hop) + sizeof(int32_t))
#define WINDOW_V1_SIZE   (offsetof(avf_plugin_audio_window, samples) + sizeof(const float *))
#define SERVICES_V1_SIZE (offsetof(avf_plugin_services, now_us) + sizeof(int64_t(*)(void *)))

typedef struct audio_ctx {
    int sample_rate, window, hop;

    /* timeline position of the last window, to find the new samples */
    int started;
    int64_t last_pos;

    avf_audio_loudness *loudness;
    avf_audio_spectrum *spectrum;
    avf_audio_pitch *pitch;
    avf_audio_envelope *envelope;
    avf_audio_beat *beat;
    avf_audio_voice *voice;
} audio_ctx;

static void audio_ctx_free(audio_ctx **pp)
{
    audio_ctx *c = *pp;

    if (!c)
        return;
    avf_audio_voice_free(&c->voice);
    avf_audio_beat_free(&c->beat);
    avf_audio_envelope_free(&c->envelope);
    avf_audio_pitch_free(&c->pitch);
    avf_audio_spectrum_free(&c->spectrum);
    avf_audio_loudness_free(&c->loudness);
    av_freep(pp);
}

/* Returns the context, or NULL when memory or libebur128 initialisation fails. */
static audio_ctx *audio_ctx_new(int sample_rate, int window, int hop)
{
    audio_ctx *c = av_mallocz(sizeof(*c));
    int yin_len, yin_nfft;

    if (!c)
        return NULL;
    c->sample_rate = sample_rate;
    c->window = window;
    c->hop = hop;
    if (!(c->loudness = avf_audio_loudness_new(sample_rate)) ||
        !(c->spectrum = avf_audio_spectrum_new(sample_rate, window)) ||
        !(c->pitch = avf_audio_pitch_new(sample_rate)) ||
        !(c->envelope = avf_audio_envelope_new(sample_rate, hop)) ||
        !(c->beat = avf_audio_beat_new(sample_rate, hop)))
        goto fail;
    avf_audio_pitch_frame(c->pitch, &yin_len, &yin_nfft);
    if (!(c->voice = avf_audio_voice_new(sample_rate, hop, yin_len)))
        goto fail;
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
    int yin_len, yin_nfft;

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
        (double)config->sample_rate / config->hop < AVF_AUDIO_ENV_MIN_HZ) {
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
    avf_audio_pitch_frame(c->pitch, &yin_len, &yin_nfft);
    plugin_log(services, AVF_PLUGIN_LOG_DEBUG,
               "%s: %d Hz, window %d, hop %d, fft %d, yin frame %d (fft %d)", source,
               c->sample_rate, c->window, c->hop, avf_audio_spectrum_nfft(c->spectrum), yin_len,
               yin_nfft);
    *instance = c;
    return 0;
}

static void audio_destroy(void *instance)
{
    audio_ctx *c = instance;

    audio_ctx_free(&c);
}

/* The spectrum's values into their places in the row. */
static void put_spectrum(const avf_audio_spectrum_out *s, float *out)
{
    out[F_CENTROID] = s->centroid_hz;
    out[F_SPREAD] = s->spread_hz;
    out[F_ROLLOFF] = s->rolloff_hz;
    out[F_FLATNESS] = s->flatness;
    out[F_FLUX] = s->flux;
    memcpy(out + F_MFCC, s->mfcc, sizeof(s->mfcc));
    memcpy(out + F_DMFCC, s->dmfcc, sizeof(s->dmfcc));
    memcpy(out + F_CONTRAST, s->contrast, sizeof(s->contrast));
}

/* The voice parameters of the window, from what pitch and spectrum found in it. */
static void put_voice(audio_ctx *c, const avf_audio_spectrum_out *s, double mean_square,
                      int restart, float *out)
{
    avf_audio_voice_in in = {
        .pitch_hz = out[F_PITCH],
        .lenient_hz = avf_audio_pitch_at(c->pitch, AVF_AUDIO_VOICE_YIN_THRESHOLD),
        .frame = avf_audio_pitch_samples(c->pitch),
        .magnitude = s->magnitude,
        .nb_bins = s->nb_bins,
        .bin_hz = s->bin_hz,
        .mean_square = mean_square,
    };
    avf_audio_voice_out v;
    int nfft;

    avf_audio_pitch_frame(c->pitch, &in.frame_len, &nfft);
    avf_audio_voice_process(c->voice, &in, restart, &v);
    for (int i = F_F0_ST; i <= F_F0_ST_RANGE; i++)
        out[i] = v.f0_st; /* one value, pooled six ways */
    out[F_RISE] = out[F_RISE_STD] = v.rise_st_s;
    out[F_FALL] = out[F_FALL_STD] = v.fall_st_s;
    out[F_JITTER] = v.jitter;
    out[F_SHIMMER] = v.shimmer_db;
    out[F_HNR] = v.hnr_db;
    memcpy(out + F_FORMANT, v.formant_hz, sizeof(v.formant_hz));
    memcpy(out + F_BANDWIDTH, v.bandwidth_hz, sizeof(v.bandwidth_hz));
    out[F_ALPHA_RATIO] = v.alpha_ratio_db;
    out[F_HAMMARBERG] = v.hammarberg_db;
    out[F_SLOPE_0_500] = v.slope_0_500;
    out[F_SLOPE_500_1500] = v.slope_500_1500;
    out[F_LOUDNESS_PEAKS] = v.loudness_peak;
    out[F_VOICED_RUN] = out[F_VOICED_RUN_STD] = v.voiced_run_s;
    out[F_UNVOICED_RUN] = out[F_UNVOICED_RUN_STD] = v.unvoiced_run_s;
}

static int audio_process(void *instance, const avf_plugin_audio_window *win, float *out)
{
    audio_ctx *c = instance;
    avf_audio_spectrum_out spectrum;
    const float *x, *fresh;
    double mean_square;
    int64_t step;
    int n_new;

    if (!c || !win || !out || win->struct_size < WINDOW_V1_SIZE || !win->samples ||
        win->nb_samples != c->window)
        return -EINVAL;
    if (c->started && win->pos <= c->last_pos)
        return -EINVAL; /* the host promises timeline order */
    x = win->samples;
    step = c->started ? win->pos - c->last_pos : c->window;
    n_new = step < c->window ? (int)step : c->window;
    c->started = 1;
    c->last_pos = win->pos;
    fresh = x + c->window - n_new;

    out[F_CLIPPED] = avf_audio_clipped(fresh, n_new);
    avf_audio_level(x, c->window, &mean_square, &out[F_RMS], &out[F_ZCR]);
    avf_audio_loudness_process(c->loudness, fresh, n_new, &out[F_LOUDNESS], &out[F_LOUDNESS_SHORT]);
    out[F_LOUDNESS_MAX] = out[F_LOUDNESS]; /* the same value, pooled by its maximum */
    avf_audio_spectrum_process(c->spectrum, x, &spectrum);
    put_spectrum(&spectrum, out);
    /* a hole in the timeline: the pitch frame starts over */
    avf_audio_pitch_process(c->pitch, fresh, n_new, step > c->window, &out[F_PITCH],
                            &out[F_VOICING]);
    avf_audio_envelope_process(c->envelope, mean_square, &out[F_MOD4HZ], &out[F_MOD4HZ_SHORT],
                               &out[F_LOW_ENERGY]);
    out[F_BEAT_CLARITY] = avf_audio_beat_process(c->beat, spectrum.logmel);
    for (int i = F_STD_FIRST; i < F_STD_END; i++)
        out[i] = out[std_source[i - F_STD_FIRST]];
    put_voice(c, &spectrum, mean_square, step > c->window, out);
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
