/*
 * pitch.h - YIN pitch and voicing (de Cheveigne & Kawahara 2002) of the audio
 * extractor's windows, over a frame of the last 45 ms of samples.
 *
 * The frame is longer than an analysis window, so the analysis keeps its own
 * history of the samples it has been given. Single-threaded, like the extractor.
 */
#ifndef AVF_PLUGINS_AUDIO_PITCH_H
#define AVF_PLUGINS_AUDIO_PITCH_H

typedef struct avf_audio_pitch avf_audio_pitch;

/* NULL when out of memory or when libavutil has no transform of the frame's size. */
avf_audio_pitch *avf_audio_pitch_new(int sample_rate);
void avf_audio_pitch_free(avf_audio_pitch **pp);

/* The frame length in samples and its FFT size, for the log. */
void avf_audio_pitch_frame(const avf_audio_pitch *p, int *len, int *nfft);

/* The frame the last call estimated (yin_len samples, newest last), or NULL while
 * it is not full. Belongs to the analysis, valid until its next call. */
const float *avf_audio_pitch_samples(const avf_audio_pitch *p);

/*
 * Appends the n samples a window brought that the last one did not (restart: a
 * hole in the timeline came before them, the frame starts over) and estimates the
 * frame: *pitch_hz within 60..500 Hz or NaN when unvoiced, *voicing 0..1 (NaN
 * until a full frame of samples has arrived).
 */
void avf_audio_pitch_process(avf_audio_pitch *p, const float *x, int n, int restart,
                             float *pitch_hz, float *voicing);

/*
 * The last frame's pitch by another absolute threshold (0.15 in
 * avf_audio_pitch_process()): the first dip of the cumulative mean normalized
 * difference under it within the pitch range (the search does not start an octave
 * above: a lenient threshold would find formant ringing there). NaN when unvoiced
 * by that threshold, silent or not full.
 */
float avf_audio_pitch_at(const avf_audio_pitch *p, double threshold);

#endif
