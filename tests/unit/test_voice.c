/*
 * test_voice.c - the GeMAPS voice analysis (plugins/audio/voice.c) on signals with a
 * known answer: semitones of known frequencies, the slope of a spectrum drawn with
 * a known tilt, run lengths of a known voicing pattern, formants of a synthetic
 * vowel (a pulse train through resonators at known frequencies and bandwidths), and
 * jitter, shimmer, HNR and loudness peaks of pulse trains built with a known
 * irregularity.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/audio/voice.h"

#define RATE 16000

static void test_semitones(void **state)
{
    (void)state;
    assert_float_equal(avf_voice_semitones(27.5), 0.0, 1e-12);
    assert_float_equal(avf_voice_semitones(55.0), 12.0, 1e-12);
    assert_float_equal(avf_voice_semitones(440.0), 48.0, 1e-12);
    assert_float_equal(avf_voice_semitones(27.5 * pow(2.0, 7.5 / 12)), 7.5, 1e-9);
    assert_true(isnan(avf_voice_semitones(0.0)));
    assert_true(isnan(avf_voice_semitones(NAN)));
}

static void test_band_slope(void **state)
{
    /* 257 bins, 31.25 Hz apart (a 512-point FFT at 16 kHz): -12 dB per kHz below
     * 500 Hz, then +3 dB per kHz */
    enum { NB = 257 };
    const double step = 31.25;
    float mag[NB];

    (void)state;
    for (int k = 0; k < NB; k++) {
        double khz = k * step / 1000.0;
        double db = khz <= 0.5 ? -12.0 * khz : -6.0 + 3.0 * (khz - 0.5);

        mag[k] = (float)pow(10.0, db / 20.0);
    }
    assert_float_equal(avf_voice_band_slope(mag, NB, step, 0, 500), -12.0, 1e-3);
    assert_float_equal(avf_voice_band_slope(mag, NB, step, 500, 1500), 3.0, 1e-3);
    /* the 4 kHz Nyquist of 8 kHz audio (129 bins): a band up to 5 kHz has no data */
    assert_true(isnan(avf_voice_band_slope(mag, 129, step, 1000, 5000)));
    assert_false(isnan(avf_voice_band_slope(mag, 129, step, 500, 1500)));
    assert_true(isnan(avf_voice_band_slope(mag, NB, step, 100, 110))); /* under 2 bins */
}

static void test_runs(void **state)
{
    /* V V V U U V V U V V U U U: the run of 3 voiced ends when the second U confirms
     * it (window 4), the 2 unvoiced when the second V does (6); the lone U at 7 is a
     * blip inside a run of 5 voiced that ends at 11; the last run is still open */
    const int voiced[] = {1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 0, 0, 0};
    const int want_v[] = {0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 5, 0};
    const int want_u[] = {0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0};
    avf_voice_runs r = {.voiced = -1};

    (void)state;
    for (int i = 0; i < 13; i++) {
        int v, u;

        avf_voice_runs_step(&r, voiced[i], &v, &u);
        assert_int_equal(v, want_v[i]);
        assert_int_equal(u, want_u[i]);
    }
}

/* One two-pole resonator over x, in place. */
static void resonate(double *x, int n, int rate, double hz, double bw)
{
    const double r = exp(-M_PI * bw / rate), c = 2 * r * cos(2 * M_PI * hz / rate);
    double y1 = 0, y2 = 0;

    for (int i = 0; i < n; i++) {
        double y = x[i] + c * y1 - r * r * y2;

        y2 = y1;
        y1 = y;
        x[i] = y;
    }
}

/*
 * n samples of a vowel at rate: pulses of the given periods (samples, cycled) and
 * amplitudes (cycled), tilted by -6 dB per octave above 130 Hz at 16 kHz (the
 * glottal source and the lips' radiation together), through resonators at hz/bw
 * (those below Nyquist - 300 Hz), plus white noise of the given RMS. The caller
 * frees it.
 */
static float *vowel_new(int n, int rate, const int *periods, int nb_periods, const double *amps,
                        int nb_amps, const double *hz, const double *bw, int nb_formants,
                        double noise)
{
    double *x = calloc((size_t)n, sizeof(double)), peak = 0;
    float *out = malloc(sizeof(float) * (size_t)n);
    int k = 0;

    assert_non_null(x);
    assert_non_null(out);
    for (int i = 0; i < n; i += periods[k % nb_periods], k++)
        x[i] = amps[k % nb_amps];
    for (int i = 1; i < n; i++)
        x[i] += 0.95 * x[i - 1];
    for (int f = 0; f < nb_formants; f++)
        if (hz[f] < rate / 2 - 300)
            resonate(x, n, rate, hz[f], bw[f]);
    for (int i = 0; i < n; i++)
        peak = fmax(peak, fabs(x[i]));
    srand(7);
    for (int i = 0; i < n; i++) {
        /* sum of 12 uniforms: near Gaussian, unit variance */
        double g = -6;

        for (int j = 0; j < 12; j++)
            g += rand() / (double)RAND_MAX;
        out[i] = (float)(0.5 * x[i] / peak + noise * g);
    }
    free(x);
    return out;
}

/* An /a/-like vowel with the resonances of a vocal tract up to 5.5 kHz (without the
 * upper ones, the predictor spends poles on the tilt of the spectrum, and Praat
 * finds those too): F1-F3 within 3 %, their bandwidths within 30 % + 20 Hz. */
static void check_vowel_formants(int rate, int order)
{
    const double hz[6] = {700, 1220, 2600, 3300, 4500, 5500}, bw[6] = {60, 80, 120, 200, 250, 300};
    const double amp = 1;
    const int period = rate / 120, n = (int)lround(0.045 * rate);
    float *x = vowel_new(rate / 2, rate, &period, 1, &amp, 1, hz, bw, 6, 0);
    double *scratch = malloc(sizeof(double) * 2 * (size_t)n), f[3], b[3];
    double *window = malloc(sizeof(double) * (size_t)n);
    int found;

    assert_non_null(scratch);
    assert_non_null(window);
    avf_voice_gaussian(window, n);
    assert_float_equal(window[0], 0.0, 1e-3); /* Praat's: edges at 0, 1 in the middle */
    assert_float_equal(window[n / 2], 1.0, 1e-3);
    /* a 45 ms frame from the middle, past the resonators' onset */
    found = avf_voice_formants(x + rate / 4, n, rate, order, window, NULL, scratch, f, b, 3);
    assert_int_equal(found, 3);
    for (int i = 0; i < 3; i++) {
        assert_true(fabs(f[i] - hz[i]) < 0.03 * hz[i]);
        assert_true(fabs(b[i] - bw[i]) < 0.3 * bw[i] + 20);
    }
    assert_int_equal(avf_voice_formants(x, n, rate, 1, window, NULL, scratch, f, b, 3), -1);
    assert_int_equal(
        avf_voice_formants(x, n, rate, AVF_VOICE_MAX_ORDER + 1, window, NULL, scratch, f, b, 3),
        -1);
    {
        /* started from the roots of the frame 10 ms before: the same formants */
        double warm[2 * AVF_VOICE_MAX_ORDER] = {0}, fw[3], bwarm[3];

        avf_voice_formants(x + rate / 4 - rate / 100, n, rate, order, window, warm, scratch, fw,
                           bwarm, 3);
        assert_int_equal(
            avf_voice_formants(x + rate / 4, n, rate, order, window, warm, scratch, fw, bwarm, 3),
            3);
        for (int i = 0; i < 3; i++) {
            assert_float_equal(fw[i], f[i], 0.01);
            assert_float_equal(bwarm[i], b[i], 0.01);
        }
    }
    free(window);
    free(scratch);
    free(x);
}

static void test_formants_of_vowel(void **state)
{
    (void)state;
    check_vowel_formants(16000, 14); /* the orders voice.c chooses */
    check_vowel_formants(8000, 8);
    check_vowel_formants(11025, 10);
}

/* Runs the analysis over x as the extractor would: a 45 ms frame ending at each
 * 10 ms hop, the given pitch for every window. Returns the mean of each value over
 * the windows where it is a number, in the order of avf_audio_voice_out. */
static void run_voice(const float *x, int n, double pitch_hz, avf_audio_voice_out *mean)
{
    const int hop = RATE / 100, len = (int)lround(0.045 * RATE);
    enum { NB = sizeof(avf_audio_voice_out) / sizeof(float) };
    avf_audio_voice *v = avf_audio_voice_new(RATE, hop, len);
    double sum[NB] = {0};
    int count[NB] = {0};

    assert_non_null(v);
    for (int end = len; end <= n; end += hop) {
        avf_audio_voice_in in = {
            .pitch_hz = (float)pitch_hz, .frame = x + end - len, .frame_len = len};
        avf_audio_voice_out out;
        float *o = (float *)&out;

        for (int i = end - 400; i < end; i++)
            in.mean_square += (double)x[i] * x[i] / 400;
        avf_audio_voice_process(v, &in, 0, &out);
        for (int i = 0; i < NB; i++)
            if (!isnan(o[i])) {
                sum[i] += o[i];
                count[i]++;
            }
    }
    for (int i = 0; i < NB; i++)
        ((float *)mean)[i] = count[i] ? (float)(sum[i] / count[i]) : NAN;
    avf_audio_voice_free(&v);
}

static void test_jitter_shimmer_hnr(void **state)
{
    const double hz[2] = {500, 1500}, bw[2] = {80, 100};
    const int steady = 160, alternate[2] = {158, 162}; /* 100 Hz, ±2 samples */
    const double one = 1, loud_soft[2] = {1.0, 0.8};
    const int n = RATE;
    float *clean = vowel_new(n, RATE, &steady, 1, &one, 1, hz, bw, 2, 0);
    float *jittered = vowel_new(n, RATE, alternate, 2, &one, 1, hz, bw, 2, 0);
    float *shimmered = vowel_new(n, RATE, &steady, 1, loud_soft, 2, hz, bw, 2, 0);
    float *noisy = vowel_new(n, RATE, &steady, 1, &one, 1, hz, bw, 2, 0.05);
    avf_audio_voice_out c, j, s, z;

    (void)state;
    run_voice(clean, n, 100.0, &c);
    run_voice(jittered, n, 100.0, &j);
    run_voice(shimmered, n, 100.0, &s);
    run_voice(noisy, n, 100.0, &z);
    /* jitter: |158 - 162| / 160 = 2.5 %; shimmer 20 log10(1 / 0.8) = 1.94 dB. Each
     * period also carries the ringing of the one before, which pulls the periods
     * and amplitudes a correlation finds towards their mean: Praat reads 1.96 % and
     * 1.76 dB on the same signal. */
    assert_true(c.jitter < 0.002);
    assert_true(j.jitter > 0.017 && j.jitter < 0.027);
    assert_true(c.shimmer_db < 0.05);
    assert_float_equal(s.shimmer_db, 20 * log10(1 / 0.8), 0.2);
    assert_true(c.hnr_db > 30);
    assert_true(z.hnr_db < c.hnr_db - 10);
    assert_float_equal(c.f0_st, avf_voice_semitones(100.0), 1e-4);
    free(clean);
    free(jittered);
    free(shimmered);
    free(noisy);
}

static void test_loudness_peaks(void **state)
{
    /* 2 s of bursts, 4 per second (50 ms off, 100 ms on, 100 ms off): 4 peaks a second */
    const int n = 2 * RATE, hop = RATE / 100, len = (int)lround(0.045 * RATE);
    avf_audio_voice *v = avf_audio_voice_new(RATE, hop, len);
    double sum = 0;
    int windows = 0;

    (void)state;
    assert_non_null(v);
    for (int end = hop; end <= n; end += hop, windows++) {
        int phase = (end - 1) % (RATE / 4), on = phase >= RATE / 20 && phase < RATE * 3 / 20;
        avf_audio_voice_in in = {.pitch_hz = NAN, .mean_square = on ? 0.01 : 1e-6};
        avf_audio_voice_out out;

        avf_audio_voice_process(v, &in, 0, &out);
        sum += out.loudness_peak;
        assert_true(isnan(out.f0_st));
        assert_true(isnan(out.jitter) && isnan(out.formant_hz[0]));
    }
    avf_audio_voice_free(&v);
    /* the last burst's fall is confirmed too: 8 peaks in 2 s */
    assert_float_equal(sum / windows, 4.0, 0.3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_semitones),
        cmocka_unit_test(test_band_slope),
        cmocka_unit_test(test_runs),
        cmocka_unit_test(test_formants_of_vowel),
        cmocka_unit_test(test_jitter_shimmer_hnr),
        cmocka_unit_test(test_loudness_peaks),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
