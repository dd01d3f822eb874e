/*
 * test_audio_features.c - the built-in "audio" extractor driven exactly as the host
 * drives it: create with the analysis config, one process_audio per window sliding
 * by hop over a generated signal, destroy. Rows are pooled as the descriptor says
 * (NaN skipped) and checked against signals whose answers are known: sines for
 * level, loudness (EBU Tech 3341 case 1), centroid and pitch, white noise,
 * a full-scale square wave, silence, modulated noise and bursts, and click tracks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fusion/pooling.h"
#include "plugins/builtin.h"

/* The envelope cues need one second of windows: 100 at a 10 ms hop. */
#define ENVELOPE_WINDOWS 100
/* The short envelope (mod4hz_short) needs half of that. */
#define SHORT_ENVELOPE_WINDOWS 50

typedef struct test_host {
    int nb_logs;
    int last_level;
    char last_msg[256];
} test_host;

static test_host host;

static void host_log(void *h, int level, const char *msg)
{
    test_host *th = h;

    th->nb_logs++;
    th->last_level = level;
    snprintf(th->last_msg, sizeof(th->last_msg), "%s", msg);
}

static int64_t host_now_us(void *h)
{
    struct timespec ts;

    (void)h;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static const avf_plugin_services services = {
    .abi_version = AVFUSE_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(avf_plugin_services),
    .host = &host,
    .log = host_log,
    .now_us = host_now_us,
};

static avf_plugin_config make_config(int sample_rate, int window, int hop)
{
    return (avf_plugin_config){
        .struct_size = sizeof(avf_plugin_config),
        .sample_rate = sample_rate,
        .window = window,
        .hop = hop,
        .frame_rate = 10,
        .source = "test",
    };
}

/* Every row of one run: rows.v[i * nb + f] is feature f of window i. */
typedef struct rows {
    int n, nb, hop, sample_rate;
    float *v;
} rows;

static float *signal_new(int sample_rate, double secs, int64_t *len)
{
    *len = (int64_t)lround(secs * sample_rate);
    return calloc((size_t)*len, sizeof(float));
}

static float *tone_new(int sample_rate, double secs, double hz, double peak, int64_t *len)
{
    float *x = signal_new(sample_rate, secs, len);

    for (int64_t i = 0; x && i < *len; i++)
        x[i] = (float)(peak * sin(2.0 * M_PI * hz * (double)i / sample_rate));
    return x;
}

/* Deterministic Gaussian noise (xorshift64 + Box-Muller), so runs are repeatable. */
static double gauss(uint64_t *s)
{
    double u1, u2;

    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    u1 = ((double)(*s >> 11) + 1.0) / 9007199254740993.0;
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    u2 = (double)(*s >> 11) / 9007199254740992.0;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static float *noise_new(int sample_rate, double secs, double sd, int64_t *len)
{
    float *x = signal_new(sample_rate, secs, len);
    uint64_t s = 0x9E3779B97F4A7C15u;

    for (int64_t i = 0; x && i < *len; i++)
        x[i] = (float)(sd * gauss(&s));
    return x;
}

/* Creates an instance, slides the window over sig from pos 0, destroys it. */
static rows run(int sample_rate, int window, int hop, const float *sig, int64_t len)
{
    const avf_plugin_descriptor *d = avf_builtin_audio_descriptor();
    avf_plugin_config cfg = make_config(sample_rate, window, hop);
    void *inst = NULL;
    rows r = {.nb = (int)d->nb_features, .hop = hop, .sample_rate = sample_rate};

    assert_non_null(sig);
    assert_int_equal(d->create(&services, &cfg, &inst), 0);
    assert_non_null(inst);
    r.n = len >= window ? (int)((len - window) / hop + 1) : 0;
    r.v = calloc((size_t)r.n * (size_t)r.nb, sizeof(float));
    assert_non_null(r.v);
    for (int i = 0; i < r.n; i++) {
        avf_plugin_audio_window w = {
            .struct_size = sizeof(w),
            .nb_samples = window,
            .pos = (int64_t)i * hop,
            .samples = sig + (int64_t)i * hop,
        };

        assert_int_equal(d->process_audio(inst, &w, r.v + (size_t)i * (size_t)r.nb), 0);
    }
    d->destroy(inst);
    return r;
}

static rows run16k(const float *sig, int64_t len)
{
    return run(16000, 400, 160, sig, len);
}

static int feature(const char *name)
{
    const avf_plugin_descriptor *d = avf_builtin_audio_descriptor();

    for (uint32_t i = 0; i < d->nb_features; i++)
        if (!strcmp(d->features[i].name, name))
            return (int)i;
    fail_msg("no feature %s", name);
    return -1;
}

static float value(const rows *r, int win, const char *name)
{
    return r->v[(size_t)win * (size_t)r->nb + (size_t)feature(name)];
}

/* The host's pooling (fusion/pooling.c) of windows [from, r->n), NaN skipped; NaN
 * when none is left. */
static double pooled_from(const rows *r, const char *name, int from)
{
    const avf_plugin_descriptor *d = avf_builtin_audio_descriptor();
    const int f = feature(name), pool = d->features[f].pool, n = r->n - from;
    float *column;
    double v;

    if (n <= 0)
        return NAN;
    column = malloc(sizeof(float) * (size_t)n);
    assert_non_null(column);
    for (int i = 0; i < n; i++)
        column[i] = r->v[(size_t)(from + i) * (size_t)r->nb + (size_t)f];
    avf_pool_rows(column, n, 1, &pool, &v);
    free(column);
    return v;
}

static double pooled(const rows *r, const char *name)
{
    return pooled_from(r, name, 0);
}

static int count_nan(const rows *r, const char *name, int from)
{
    int n = 0;

    for (int i = from; i < r->n; i++)
        n += isnan(value(r, i, name));
    return n;
}

/* First window whose samples reach `secs` of audio: the host's windows end there. */
static int window_ending_after(const rows *r, int window, double secs)
{
    int64_t need = (int64_t)ceil(secs * r->sample_rate);

    return need <= window ? 0 : (int)((need - window + r->hop - 1) / r->hop);
}

static void assert_near(double v, double want, double tol)
{
    if (!(fabs(v - want) <= tol))
        fail_msg("%.4f is not %.4f +- %.4f", v, want, tol);
}

static void test_descriptor(void **state)
{
    const avf_plugin_descriptor *d = avf_builtin_audio_descriptor();

    (void)state;
    assert_non_null(d);
    assert_int_equal(d->abi_version, AVFUSE_PLUGIN_ABI_VERSION);
    assert_int_equal(d->struct_size, sizeof(avf_plugin_descriptor));
    assert_string_equal(d->name, "audio");
    assert_non_null(d->description);
    assert_int_equal(d->modality, AVF_PLUGIN_AUDIO);
    assert_int_equal(d->nb_features, 98);
    assert_non_null(d->create);
    assert_non_null(d->process_audio);
    assert_null(d->process_video);
    assert_non_null(d->destroy);
    assert_string_equal(d->features[0].name, "rms_dbfs");
    assert_string_equal(d->features[10].name, "mfcc_0");
    assert_string_equal(d->features[23].name, "dmfcc_0");
    assert_string_equal(d->features[40].name, "clipped");
    assert_string_equal(d->features[63].name, "mod4hz_short");
    assert_string_equal(d->features[64].name, "contrast_0");
    assert_string_equal(d->features[68].name, "contrast_4");
    assert_string_equal(d->features[70].name, "f0_st");
    assert_string_equal(d->features[97].name, "unvoiced_run_s_std");
    for (uint32_t i = 0; i < d->nb_features; i++) {
        const char *name = d->features[i].name;
        size_t len = strlen(name);

        assert_true(len >= 1 && len <= 48);
        assert_int_equal(strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_"), len);
        assert_true(d->features[i].pool >= AVF_POOL_MEAN &&
                    d->features[i].pool <= AVF_POOL_RANGE_20_80);
        for (uint32_t j = 0; j < i; j++)
            assert_string_not_equal(name, d->features[j].name);
    }
    assert_int_equal(d->features[feature("loudness_max_lufs")].pool, AVF_POOL_MAX);
    assert_int_equal(d->features[feature("dmfcc_12")].pool, AVF_POOL_STD);
    assert_int_equal(d->features[feature("f0_st_p50")].pool, AVF_POOL_P50);
    assert_int_equal(d->features[feature("f0_st_range")].pool, AVF_POOL_RANGE_20_80);
}

static void expect_rejected(avf_plugin_config cfg)
{
    const avf_plugin_descriptor *d = avf_builtin_audio_descriptor();
    void *sentinel = &host, *inst = sentinel;

    assert_int_equal(d->create(&services, &cfg, &inst), -EINVAL);
    assert_ptr_equal(inst, sentinel); /* untouched on failure */
}

static void test_create_rejects(void **state)
{
    const avf_plugin_descriptor *d = avf_builtin_audio_descriptor();
    avf_plugin_config cfg = make_config(16000, 400, 160);
    void *inst = NULL;
    int logs = host.nb_logs;

    (void)state;
    cfg.sample_rate = 0;
    expect_rejected(cfg);
    assert_true(host.nb_logs > logs);
    assert_int_equal(host.last_level, AVF_PLUGIN_LOG_ERROR);
    cfg.sample_rate = 7999;
    expect_rejected(cfg);
    cfg = make_config(16000, 400, 0);
    expect_rejected(cfg);
    cfg = make_config(16000, 300, 160); /* window < 2 hop */
    expect_rejected(cfg);
    cfg = make_config(16000, 400, 1600); /* 10 windows a second cannot carry 8 Hz */
    expect_rejected(cfg);
    cfg = make_config(16000, 400, 160);
    cfg.struct_size = 4;
    expect_rejected(cfg);
    assert_int_equal(d->create(&services, NULL, &inst), -EINVAL);
    assert_null(inst);
    /* no services at all is fine: the plugin just cannot log */
    cfg = make_config(16000, 400, 160);
    assert_int_equal(d->create(NULL, &cfg, &inst), 0);
    d->destroy(inst);
}

static void test_process_rejects_bad_windows(void **state)
{
    const avf_plugin_descriptor *d = avf_builtin_audio_descriptor();
    avf_plugin_config cfg = make_config(16000, 400, 160);
    float x[400] = {0}, out[98];
    avf_plugin_audio_window w = {sizeof(w), 400, 1600, x};
    void *inst = NULL;

    (void)state;
    assert_int_equal(d->create(&services, &cfg, &inst), 0);
    w.nb_samples = 399;
    assert_int_equal(d->process_audio(inst, &w, out), -EINVAL);
    w.nb_samples = 400;
    assert_int_equal(d->process_audio(inst, &w, out), 0);
    w.pos = 1440; /* backwards */
    assert_int_equal(d->process_audio(inst, &w, out), -EINVAL);
    w.pos = 1760;
    assert_int_equal(d->process_audio(inst, &w, out), 0);
    d->destroy(inst);
}

static void test_sine_level_and_spectrum(void **state)
{
    int64_t len;
    float *x = tone_new(16000, 2.0, 1000.0, pow(10.0, -20.0 / 20.0), &len);
    rows r = run16k(x, len);

    (void)state;
    for (int i = 0; i < r.n; i++)
        assert_near(value(&r, i, "rms_dbfs"), -23.01, 0.1);
    assert_near(pooled(&r, "rms_dbfs"), -23.01, 0.1);
    assert_near(pooled(&r, "centroid_hz"), 1000.0, 30.0);
    assert_near(pooled(&r, "rolloff_hz"), 1000.0, 100.0);
    assert_true(pooled(&r, "spread_hz") < 100.0);
    assert_true(pooled(&r, "flatness") < 0.05);
    assert_near(pooled(&r, "zcr"), 2000.0 / 16000.0, 0.01);
    assert_near(pooled(&r, "clipped"), 0.0, 0.0);
    assert_near(pooled(&r, "low_energy"), 0.0, 0.0);
    /* a steady tone: no spectral change, no delta, no envelope modulation */
    assert_near(value(&r, 0, "flux"), 0.0, 0.0);
    assert_true(pooled_from(&r, "flux", 1) < 0.01);
    assert_true(pooled(&r, "dmfcc_1") < 0.05);
    assert_true(pooled(&r, "mod4hz") < 0.1);
    /* periodic but above 500 Hz: no pitch, rather than the 500 Hz subharmonic */
    assert_int_equal(count_nan(&r, "pitch_hz", 0), r.n);
    assert_true(pooled_from(&r, "voicing", 2) > 0.9);
    for (int c = 0; c < 13; c++) {
        char name[32];

        snprintf(name, sizeof(name), "mfcc_%d", c);
        assert_true(isfinite(pooled(&r, name)));
        snprintf(name, sizeof(name), "dmfcc_%d", c);
        assert_near(value(&r, 0, name), 0.0, 0.0);
    }
    free(r.v);
    free(x);
}

/* EBU Tech 3341 case 1: stereo 1 kHz at -23 dBFS per channel reads -23.0 LUFS. Its
 * mono downmix is the same sine, which the dual-mono channel map reads the same. */
static void test_loudness_tech3341_case1(void **state)
{
    int64_t len;
    float *x = tone_new(16000, 5.0, 1000.0, pow(10.0, -23.0 / 20.0), &len);
    rows r = run16k(x, len);
    int m0 = window_ending_after(&r, 400, 0.4), s0 = window_ending_after(&r, 400, 3.0);

    (void)state;
    assert_int_equal(count_nan(&r, "loudness_lufs", 0), m0);
    assert_int_equal(count_nan(&r, "loudness_max_lufs", 0), m0);
    for (int i = m0; i < r.n; i++)
        assert_near(value(&r, i, "loudness_lufs"), -23.0, 0.1);
    assert_near(pooled(&r, "loudness_lufs"), -23.0, 0.1);
    assert_near(pooled(&r, "loudness_max_lufs"), -23.0, 0.1);
    assert_int_equal(count_nan(&r, "loudness_short_lufs", 0), s0);
    for (int i = s0; i < r.n; i++)
        assert_near(value(&r, i, "loudness_short_lufs"), -23.0, 0.1);
    free(r.v);
    free(x);
}

static void check_pitch_220(int sample_rate, int window, int hop)
{
    int64_t len;
    float *x = tone_new(sample_rate, 2.0, 220.0, 0.5, &len);
    rows r = run(sample_rate, window, hop, x, len);
    int first = window_ending_after(&r, window, 0.045); /* the YIN frame is full */

    assert_int_equal(count_nan(&r, "voicing", 0), first);
    assert_int_equal(count_nan(&r, "pitch_hz", first), 0);
    for (int i = first; i < r.n; i++)
        assert_near(value(&r, i, "pitch_hz"), 220.0, 2.0);
    assert_near(pooled(&r, "pitch_hz"), 220.0, 2.0);
    assert_true(pooled(&r, "voicing") > 0.5);
    free(r.v);
    free(x);
}

static void test_pitch_220(void **state)
{
    (void)state;
    check_pitch_220(16000, 400, 160);
    check_pitch_220(8000, 200, 80);
    check_pitch_220(44100, 1103, 441);
}

static void test_white_noise(void **state)
{
    int64_t len;
    float *x = noise_new(16000, 3.0, 0.1, &len);
    rows r = run16k(x, len);

    (void)state;
    assert_true(pooled(&r, "flatness") > 0.5);
    assert_int_equal(count_nan(&r, "pitch_hz", 0), r.n);
    assert_true(pooled(&r, "voicing") < 0.5);
    assert_near(pooled(&r, "zcr"), 0.5, 0.05);
    assert_near(pooled(&r, "centroid_hz"), 4000.0, 200.0);
    assert_near(pooled(&r, "rms_dbfs"), -20.0, 0.3);
    /* steady noise has no preferred envelope rate: 2..8 Hz gets only its share */
    assert_true(pooled(&r, "mod4hz") < 0.5);
    assert_true(pooled(&r, "mod4hz_short") < 0.5);
    /* the power of a noise bin is exponentially distributed: in a wide band the
     * strongest fifth averages 1 + ln 5 = 2.61 times the mean, the weakest fifth
     * 0.107 times, 13.9 dB apart (64 bins in the top band at 16 kHz). The lowest
     * band has 4 bins, its fifth one bin: E[max] / E[min] of 4 exponentials is
     * 2.083 / 0.25, 9.2 dB. */
    assert_near(pooled(&r, "contrast_4"), 13.9, 1.5);
    assert_near(pooled(&r, "contrast_0"), 9.2, 1.5);
    free(r.v);
    free(x);
}

static void test_square_clipped(void **state)
{
    int64_t len;
    float *x = tone_new(16000, 1.0, 200.0, 1.0, &len);
    rows r;

    (void)state;
    for (int64_t i = 0; i < len; i++)
        x[i] = x[i] >= 0 ? 1.0f : -1.0f;
    r = run16k(x, len);
    assert_true(pooled(&r, "clipped") > 0.9);
    assert_near(pooled(&r, "rms_dbfs"), 0.0, 0.01);
    free(r.v);
    free(x);
}

static void test_silence(void **state)
{
    int64_t len;
    float *x = signal_new(16000, 4.0, &len);
    rows r = run16k(x, len);
    int m0 = window_ending_after(&r, 400, 0.4), s0 = window_ending_after(&r, 400, 3.0);
    int y0 = window_ending_after(&r, 400, 0.045);

    (void)state;
    for (int i = 0; i < r.n; i++) {
        assert_near(value(&r, i, "rms_dbfs"), -120.0, 0.0);
        assert_true(isnan(value(&r, i, "pitch_hz")));
        assert_true(isnan(value(&r, i, "centroid_hz")));
        assert_true(isnan(value(&r, i, "flatness")));
        assert_near(value(&r, i, "flux"), 0.0, 0.0);
        assert_near(value(&r, i, "zcr"), 0.0, 0.0);
        assert_near(value(&r, i, "low_energy"), 0.0, 0.0);
        assert_true(isfinite(value(&r, i, "mfcc_0")));
        if (i >= y0)
            assert_near(value(&r, i, "voicing"), 0.0, 0.0);
        if (i >= m0)
            assert_near(value(&r, i, "loudness_lufs"), -120.0, 0.0);
        if (i >= s0)
            assert_near(value(&r, i, "loudness_short_lufs"), -120.0, 0.0);
        if (i >= ENVELOPE_WINDOWS - 1)
            assert_near(value(&r, i, "mod4hz"), 0.0, 0.0);
        if (i >= SHORT_ENVELOPE_WINDOWS - 1)
            assert_near(value(&r, i, "mod4hz_short"), 0.0, 0.0);
        assert_true(isnan(value(&r, i, "contrast_0")));
    }
    free(r.v);
    free(x);
}

static void test_8khz_centroid(void **state)
{
    int64_t len;
    float *x = tone_new(8000, 2.0, 1000.0, 0.1, &len);
    rows r = run(8000, 200, 80, x, len);

    (void)state;
    assert_near(pooled(&r, "centroid_hz"), 1000.0, 30.0);
    assert_near(pooled(&r, "rms_dbfs"), -23.01, 0.1);
    free(r.v);
    free(x);
}

/* 250 Hz at 0.5 and 3 kHz at 0.05 (its 12th harmonic): a voiced sound whose bands
 * hold one tone each, 20 dB apart. */
static float *two_tone_new(int sample_rate, int64_t *len)
{
    float *x = signal_new(sample_rate, 1.5, len);

    for (int64_t i = 0; x && i < *len; i++) {
        double t = (double)i / sample_rate;

        x[i] = (float)(0.5 * sin(2 * M_PI * 250 * t) + 0.05 * sin(2 * M_PI * 3000 * t));
    }
    return x;
}

/* The voice features through the extractor: a tone's F0 in semitones, the spectral
 * balance of two tones 20 dB apart, and at 8 kHz the bands above Nyquist absent. */
static void test_voice_features(void **state)
{
    int64_t len, len8;
    float *x = two_tone_new(16000, &len), *x8 = two_tone_new(8000, &len8);
    rows r = run16k(x, len), r8 = run(8000, 200, 80, x8, len8);

    (void)state;
    assert_near(pooled(&r, "f0_st_p50"), 12 * log2(250 / 27.5), 0.05);
    assert_near(pooled(&r, "f0_st_range"), 0.0, 0.05);
    assert_near(pooled(&r, "alpha_ratio_db"), 20.0, 0.5);
    assert_near(pooled(&r, "hammarberg_db"), 20.0, 0.5);
    assert_near(pooled(&r, "hnr_db"), 60.0, 30.0); /* periodic: far above speech's 5-25 */
    assert_near(pooled(&r, "jitter"), 0.0, 0.001);
    assert_true(isnan(pooled(&r, "voiced_run_s"))); /* one run, still open */
    assert_near(pooled(&r8, "f0_st_p50"), 12 * log2(250 / 27.5), 0.05);
    assert_true(isnan(pooled(&r8, "alpha_ratio_db"))); /* 1-5 kHz: above 4 kHz Nyquist */
    assert_true(isnan(pooled(&r8, "hammarberg_db")));
    assert_false(isnan(pooled(&r8, "slope_500_1500_db_khz")));
    free(r.v);
    free(r8.v);
    free(x);
    free(x8);
}

/* Noise whose level swings fully 4 times a second, like syllables. */
static void test_mod4hz(void **state)
{
    int64_t len;
    float *x = noise_new(16000, 4.0, 0.1, &len);
    rows r;

    (void)state;
    for (int64_t i = 0; i < len; i++)
        x[i] *= (float)(0.5 - 0.5 * cos(2.0 * M_PI * 4.0 * (double)i / 16000));
    r = run16k(x, len);
    assert_int_equal(count_nan(&r, "mod4hz", 0), ENVELOPE_WINDOWS - 1);
    assert_true(pooled(&r, "mod4hz") > 0.8);
    /* the half-second envelope sees the same swing, and half a second earlier */
    assert_int_equal(count_nan(&r, "mod4hz_short", 0), SHORT_ENVELOPE_WINDOWS - 1);
    assert_true(pooled(&r, "mod4hz_short") > 0.8);
    free(r.v);
    free(x);
}

/* A 0.7 s burst of syllable-rate modulated noise, as short as a spoken digit: too
 * short for mod4hz, long enough for mod4hz_short. A steady tone has neither. */
static void test_mod4hz_short_utterance(void **state)
{
    int64_t len, tlen;
    float *x = noise_new(16000, 0.7, 0.1, &len), *t = tone_new(16000, 0.7, 440.0, 0.3, &tlen);
    rows r, rt;

    (void)state;
    for (int64_t i = 0; i < len; i++)
        x[i] *= (float)(0.5 - 0.5 * cos(2.0 * M_PI * 4.0 * (double)i / 16000));
    r = run16k(x, len);
    assert_int_equal(count_nan(&r, "mod4hz", 0), r.n);
    assert_true(r.n - count_nan(&r, "mod4hz_short", 0) >= 10);
    assert_true(pooled(&r, "mod4hz_short") > 0.6);
    rt = run16k(t, tlen);
    assert_near(pooled(&rt, "mod4hz_short"), 0.0, 0.01);
    free(r.v);
    free(rt.v);
    free(x);
    free(t);
}

/* A pure tone is all peak and no valley in its band; the other bands hold only the
 * window's leakage, whose bins still differ. Telephone-band input (8 kHz) has every
 * band, since the top one ends at 4 kHz. */
static void test_spectral_contrast(void **state)
{
    int64_t len;
    float *x = tone_new(16000, 1.0, 700.0, 0.3, &len), *n8;
    rows r = run16k(x, len), r8;

    (void)state;
    assert_true(pooled(&r, "contrast_2") > 40.0); /* 700 Hz: the 500..1000 Hz band */
    free(r.v);
    free(x);
    n8 = noise_new(8000, 2.0, 0.1, &len);
    r8 = run(8000, 200, 80, n8, len);
    for (int b = 0; b < 5; b++) {
        char name[16];

        snprintf(name, sizeof(name), "contrast_%d", b);
        assert_true(isfinite(pooled(&r8, name)));
    }
    assert_near(pooled(&r8, "contrast_4"), 13.9, 1.5); /* 64 bins at 8 kHz too */
    free(r8.v);
    free(n8);
}

/* 10 ms noise bursts over a quiet noise floor, at the given onset times. */
static float *clicks_new(int sample_rate, double secs, const double *at, int nb, int64_t *len)
{
    float *x = noise_new(sample_rate, secs, 0.001, len);
    uint64_t s = 0x2545F4914F6CDD1Du;

    for (int k = 0; x && k < nb; k++) {
        int64_t i0 = (int64_t)lround(at[k] * sample_rate), n = sample_rate / 100;

        for (int64_t i = i0; i < i0 + n && i < *len; i++)
            x[i] = (float)(0.3 * gauss(&s) * exp(-5.0 * (double)(i - i0) / n));
    }
    return x;
}

/* A click track at 120 beats per minute repeats its onsets every 0.5 s: its onset
 * envelope correlates with itself at that lag (measured 0.98-0.99). The same number
 * of clicks at random times (exponential gaps, the same mean rate) does not (0.25).
 * Neither has a value before 2 s, and a held tone has no onsets to correlate. */
static void check_beat(int sample_rate, int window, int hop)
{
    double beat[12], random[12], t = 0.13;
    uint64_t s = 0xD1B54A32D192ED03u;
    int64_t len, rlen, tlen;
    float *x, *xr, *tone;
    rows r, rr, rt;
    int first;

    for (int k = 0; k < 12; k++) {
        beat[k] = 0.13 + 0.5 * k;
        random[k] = t;
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        t += -0.5 * log(((double)(s >> 11) + 1.0) / 9007199254740993.0);
    }
    x = clicks_new(sample_rate, 6.0, beat, 12, &len);
    xr = clicks_new(sample_rate, 6.0, random, 12, &rlen);
    tone = tone_new(sample_rate, 4.0, 440.0, 0.3, &tlen);
    r = run(sample_rate, window, hop, x, len);
    rr = run(sample_rate, window, hop, xr, rlen);
    rt = run(sample_rate, window, hop, tone, tlen);
    first = window_ending_after(&r, window, 2.0);
    assert_true(count_nan(&r, "beat_clarity", 0) >= first - 1);
    assert_int_equal(count_nan(&r, "beat_clarity", first + 1), 0);
    assert_true(pooled(&r, "beat_clarity") > 0.6);
    assert_true(pooled(&rr, "beat_clarity") < 0.4);
    assert_near(pooled(&rt, "beat_clarity"), 0.0, 0.05);
    free(r.v);
    free(rr.v);
    free(rt.v);
    free(x);
    free(xr);
    free(tone);
}

static void test_beat_clarity(void **state)
{
    (void)state;
    check_beat(16000, 400, 160);
    check_beat(8000, 200, 80);
}

/* 250 ms bursts and 250 ms pauses: about half the windows are low-energy ones. */
static void test_low_energy(void **state)
{
    int64_t len;
    float *x = noise_new(16000, 4.0, 0.1, &len);
    rows r;

    (void)state;
    for (int64_t i = 0; i < len; i++)
        if ((i / 4000) % 2)
            x[i] = 0;
    r = run16k(x, len);
    assert_near(pooled(&r, "low_energy"), 0.5, 0.1);
    free(r.v);
    free(x);
}

/* A change of note: flux and MFCC deltas fire at the change and nowhere else. */
static void test_flux_and_deltas(void **state)
{
    int64_t len, half;
    float *x = tone_new(16000, 2.0, 500.0, 0.3, &len);
    rows r;
    int change = -1;
    double peak = 0;

    (void)state;
    half = len / 2;
    for (int64_t i = half; i < len; i++)
        x[i] = (float)(0.3 * sin(2.0 * M_PI * 2000.0 * (double)i / 16000));
    r = run16k(x, len);
    for (int i = 0; i < r.n; i++)
        if (value(&r, i, "flux") > peak) {
            peak = value(&r, i, "flux");
            change = i;
        }
    assert_true(peak > 0.1);
    /* the peak is on a window that holds the change, or the first one after it */
    assert_true((int64_t)change * 160 <= half && (int64_t)change * 160 + 400 > half - 160);
    assert_true(pooled(&r, "dmfcc_1") > 0.1);
    assert_true(value(&r, 10, "flux") < 0.01);
    free(r.v);
    free(x);
}

/* A hole in the timeline: the windows after it get pitch again once the YIN frame
 * has refilled, and nothing fails. */
static void test_gap_in_timeline(void **state)
{
    const avf_plugin_descriptor *d = avf_builtin_audio_descriptor();
    avf_plugin_config cfg = make_config(16000, 400, 160);
    int64_t len;
    float *x = tone_new(16000, 1.0, 220.0, 0.5, &len), out[98];
    void *inst = NULL;
    int64_t pos = 0;

    (void)state;
    assert_int_equal(d->create(&services, &cfg, &inst), 0);
    for (int i = 0; i < 90; i++) {
        avf_plugin_audio_window w = {sizeof(w), 400, pos, x + (i < 40 ? pos : pos - 4000)};

        assert_int_equal(d->process_audio(inst, &w, out), 0);
        if (i == 40 || i == 41) /* just after the hole: the frame is not full yet */
            assert_true(isnan(out[feature("pitch_hz")]));
        if (i >= 42)
            assert_near(out[feature("pitch_hz")], 220.0, 2.0);
        pos += i == 39 ? 160 + 4000 : 160;
    }
    d->destroy(inst);
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor),
        cmocka_unit_test(test_create_rejects),
        cmocka_unit_test(test_process_rejects_bad_windows),
        cmocka_unit_test(test_sine_level_and_spectrum),
        cmocka_unit_test(test_loudness_tech3341_case1),
        cmocka_unit_test(test_pitch_220),
        cmocka_unit_test(test_white_noise),
        cmocka_unit_test(test_square_clipped),
        cmocka_unit_test(test_silence),
        cmocka_unit_test(test_8khz_centroid),
        cmocka_unit_test(test_mod4hz),
        cmocka_unit_test(test_mod4hz_short_utterance),
        cmocka_unit_test(test_spectral_contrast),
        cmocka_unit_test(test_beat_clarity),
        cmocka_unit_test(test_voice_features),
        cmocka_unit_test(test_low_energy),
        cmocka_unit_test(test_flux_and_deltas),
        cmocka_unit_test(test_gap_in_timeline),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
