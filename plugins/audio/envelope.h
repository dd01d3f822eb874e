/*
 * envelope.h - Scheirer & Slaney's envelope cues for speech and music over the
 * recent windows of the audio extractor: the share of the level envelope's
 * modulation at 2..8 Hz (the syllable rate), over the last second and over the
 * last half second, and whether a window is quieter than half the mean of the
 * last second.
 */
#ifndef AVF_PLUGINS_AUDIO_ENVELOPE_H
#define AVF_PLUGINS_AUDIO_ENVELOPE_H

/* The fewest windows a second for the envelope to carry 8 Hz. */
#define AVF_AUDIO_ENV_MIN_HZ 20.0

typedef struct avf_audio_envelope avf_audio_envelope;

/* Windows every hop samples at sample_rate (at least AVF_AUDIO_ENV_MIN_HZ of them a
 * second); NULL when out of memory. */
avf_audio_envelope *avf_audio_envelope_new(int sample_rate, int hop);
void avf_audio_envelope_free(avf_audio_envelope **pe);

/*
 * Adds the mean square of the next window and gives the cues: *mod4hz over the
 * last second, *mod4hz_short over the last half second (each 0..1, NaN until that
 * much envelope exists), *low_energy 1 or 0.
 */
void avf_audio_envelope_process(avf_audio_envelope *e, double mean_square, float *mod4hz,
                                float *mod4hz_short, float *low_energy);

#endif
