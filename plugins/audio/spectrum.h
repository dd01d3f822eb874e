/*
 * spectrum.h - the spectrum of one audio window and what the audio extractor reads
 * from it: spectral shape (CUIDADO), MFCCs and their deltas, spectral contrast in
 * octave bands (Jiang et al. 2002), and the log mel bands that the beat analysis
 * (plugins/audio/beat.h) takes its onsets from.
 *
 * Windows follow each other: flux and the MFCC deltas compare a window with the
 * one before, and are 0 on the first. Single-threaded, like the extractor.
 */
#ifndef AVF_PLUGINS_AUDIO_SPECTRUM_H
#define AVF_PLUGINS_AUDIO_SPECTRUM_H

#define AVF_AUDIO_NB_MEL      26
#define AVF_AUDIO_NB_MFCC     13
#define AVF_AUDIO_NB_CONTRAST 5

typedef struct avf_audio_spectrum avf_audio_spectrum;

/* One window's values; NaN where a silent window has none. */
typedef struct avf_audio_spectrum_out {
    float centroid_hz, spread_hz, rolloff_hz, flatness, flux;
    float mfcc[AVF_AUDIO_NB_MFCC];
    float dmfcc[AVF_AUDIO_NB_MFCC]; /* mfcc minus the last window's */
    float contrast[AVF_AUDIO_NB_CONTRAST];
    double logmel[AVF_AUDIO_NB_MEL]; /* natural log of the mel band powers, floored */
    /* nb_bins magnitudes (square roots of the normalized power), bin k at k * bin_hz;
     * NULL on a silent window. Belongs to the analysis, valid until its next call. */
    const float *magnitude;
    int nb_bins;
    double bin_hz;
} avf_audio_spectrum_out;

/* Windows of `window` samples at sample_rate; NULL when out of memory. */
avf_audio_spectrum *avf_audio_spectrum_new(int sample_rate, int window);
void avf_audio_spectrum_free(avf_audio_spectrum **ps);

/* The FFT size (window zero-padded to a power of two), for the log. */
int avf_audio_spectrum_nfft(const avf_audio_spectrum *s);

/* Describes the window x (`window` samples) into *out. */
void avf_audio_spectrum_process(avf_audio_spectrum *s, const float *x, avf_audio_spectrum_out *out);

#endif
