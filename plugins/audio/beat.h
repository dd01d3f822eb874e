/*
 * beat.h - the beat clarity of the audio extractor's windows: how strongly the
 * onsets of the last 3 s repeat at one period of 0.3..1 s (200..60 beats per
 * minute). Music with a beat has it, speech and most noise do not.
 */
#ifndef AVF_PLUGINS_AUDIO_BEAT_H
#define AVF_PLUGINS_AUDIO_BEAT_H

typedef struct avf_audio_beat avf_audio_beat;

/* Windows every hop samples at sample_rate; NULL when out of memory. */
avf_audio_beat *avf_audio_beat_new(int sample_rate, int hop);
void avf_audio_beat_free(avf_audio_beat **pb);

/*
 * Takes the next window's log mel bands (AVF_AUDIO_NB_MEL of them, from
 * plugins/audio/spectrum.h) and returns the beat clarity, 0..1; NaN until 2 s of
 * windows have arrived.
 */
float avf_audio_beat_process(avf_audio_beat *b, const double *logmel);

#endif
