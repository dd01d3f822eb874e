/*
 * loudness.h - how loud an audio window is: its RMS level, zero-crossing rate and
 * clipped share (no state), and EBU R128 momentary and short-term loudness
 * (libebur128, fed with each window's new samples).
 */
#ifndef AVF_PLUGINS_AUDIO_LOUDNESS_H
#define AVF_PLUGINS_AUDIO_LOUDNESS_H

/*
 * The mean square of x[0..n-1] (n >= 2), its level in dBFS floored at -120, and
 * the share of sign changes between neighbouring samples.
 */
void avf_audio_level(const float *x, int n, double *mean_square, float *rms_dbfs, float *zcr);

/* The share of x[0..n-1] (n >= 1) at or beyond full scale. */
float avf_audio_clipped(const float *x, int n);

typedef struct avf_audio_loudness avf_audio_loudness;

/* NULL when out of memory or when libebur128 refuses the rate. */
avf_audio_loudness *avf_audio_loudness_new(int sample_rate);
void avf_audio_loudness_free(avf_audio_loudness **pl);

/*
 * Feeds the n samples a window brought that the last one did not, and gives the
 * momentary (400 ms) and short-term (3 s, refreshed at 10 Hz) loudness in LUFS;
 * NaN until the meter holds that much audio or when libebur128 fails.
 */
void avf_audio_loudness_process(avf_audio_loudness *l, const float *x, int n, float *momentary,
                                float *short_term);

#endif
