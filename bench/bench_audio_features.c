/*
 * bench_audio_features.c - CPU cost of the built-in audio extractor alone.
 *
 * Runs the "audio" plugin over 60 s of a generated speech-like signal at 16 kHz
 * (a gliding harmonic tone switched on and off at a syllable rate, plus noise),
 * window by window exactly as the host calls it, and prints the CPU seconds used.
 * No decoding, no queues: this is the number the features issue sets a target on.
 * Then the same signal once more through YIN, the spectrum and the GeMAPS voice
 * analysis (plugins/audio/voice.c) called directly, the CPU time of the voice
 * analysis alone measured around each of its calls: its share of the extractor.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "plugins/audio/pitch.h"
#include "plugins/audio/spectrum.h"
#include "plugins/audio/voice.h"
#include "plugins/builtin.h"

#define RATE    16000
#define SECONDS 60
#define WINDOW  (RATE * 25 / 1000)
#define HOP     (RATE * 10 / 1000)

static void bench_log(void *host, int level, const char *msg)
{
    (void)host;
    (void)level;
    fprintf(stderr, "plugin: %s\n", msg);
}

static int64_t bench_now(void *host)
{
    struct timespec ts;

    (void)host;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static double cpu_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The CPU seconds of avf_audio_voice_process() alone over the signal, or < 0. */
static double voice_seconds(const float *signal, size_t n)
{
    avf_audio_pitch *pitch = avf_audio_pitch_new(RATE);
    avf_audio_spectrum *spectrum = avf_audio_spectrum_new(RATE, WINDOW);
    avf_audio_voice *voice = NULL;
    double used = -1;
    int len, nfft;

    if (!pitch || !spectrum)
        goto done;
    avf_audio_pitch_frame(pitch, &len, &nfft);
    if (!(voice = avf_audio_voice_new(RATE, HOP, len)))
        goto done;
    used = 0;
    for (size_t pos = 0; pos + WINDOW <= n; pos += HOP) {
        const float *x = signal + pos, *fresh = pos ? x + WINDOW - HOP : x;
        avf_audio_spectrum_out s;
        avf_audio_voice_out out;
        avf_audio_voice_in in = {.frame_len = len};
        float voicing, pitch_hz;
        double start;

        avf_audio_spectrum_process(spectrum, x, &s);
        avf_audio_pitch_process(pitch, fresh, pos ? HOP : WINDOW, 0, &pitch_hz, &voicing);
        for (int i = 0; i < WINDOW; i++)
            in.mean_square += (double)x[i] * x[i] / WINDOW;
        start = cpu_seconds();
        in.pitch_hz = pitch_hz;
        in.lenient_hz = avf_audio_pitch_at(pitch, AVF_AUDIO_VOICE_YIN_THRESHOLD);
        in.frame = avf_audio_pitch_samples(pitch);
        in.magnitude = s.magnitude;
        in.nb_bins = s.nb_bins;
        in.bin_hz = s.bin_hz;
        avf_audio_voice_process(voice, &in, 0, &out);
        used += cpu_seconds() - start;
    }

done:
    avf_audio_voice_free(&voice);
    avf_audio_spectrum_free(&spectrum);
    avf_audio_pitch_free(&pitch);
    return used;
}

int main(void)
{
    const avf_plugin_descriptor *d = avf_builtin_audio_descriptor();
    avf_plugin_services services = {AVFUSE_PLUGIN_ABI_VERSION, sizeof(services), NULL, bench_log,
                                    bench_now};
    avf_plugin_config cfg = {sizeof(cfg), RATE, WINDOW, HOP, 10.0, "bench"};
    size_t n = (size_t)RATE * SECONDS;
    float *signal = malloc(n * sizeof(*signal));
    float *row = malloc(d->nb_features * sizeof(*row));
    unsigned seed = 12345;
    double phase = 0, start, used, sink = 0;
    int windows = 0;
    void *instance;

    if (!signal || !row || d->create(&services, &cfg, &instance) < 0) {
        fprintf(stderr, "bench: cannot start the audio extractor\n");
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        double t = (double)i / RATE, f0 = 120 + 60 * sin(2 * M_PI * 0.3 * t);
        double on = fmod(t * 4, 1.0) < 0.6; /* syllables at 4 Hz */

        phase += 2 * M_PI * f0 / RATE;
        seed = seed * 1103515245u + 12345u;
        signal[i] = (float)(on * 0.3 * (sin(phase) + 0.5 * sin(2 * phase) + 0.25 * sin(3 * phase)) +
                            0.01 * ((double)(seed >> 16 & 0x7fff) / 16384.0 - 1.0));
    }
    start = cpu_seconds();
    for (size_t pos = 0; pos + WINDOW <= n; pos += HOP) {
        avf_plugin_audio_window w = {sizeof(w), WINDOW, (int64_t)pos, signal + pos};

        if (d->process_audio(instance, &w, row) < 0)
            return 1;
        sink += row[0];
        windows++;
    }
    used = cpu_seconds() - start;
    d->destroy(instance);
    printf("audio features: %d windows (%d s at %d Hz): %.3f CPU s, %.1f us per window "
           "(target <= 0.4 CPU s)%s\n",
           windows, SECONDS, RATE, used, used * 1e6 / windows, isnan(sink) ? " [NaN seen]" : "");
    sink = voice_seconds(signal, n);
    if (sink < 0)
        return 1;
    printf("of which the voice analysis (voice.c, timed alone): %.3f CPU s, %.1f us per window\n",
           sink, sink * 1e6 / windows);
    free(row);
    free(signal);
    return 0;
}
