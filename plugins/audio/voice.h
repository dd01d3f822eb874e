/*
 * voice.h - the voice parameters of the Geneva Minimalistic Acoustic Parameter Set
 * (GeMAPS, Eyben et al. 2016) that the other analyses of the audio extractor do not
 * give: F0 in semitones and its slopes, jitter, shimmer, HNR, F1-F3 and their
 * bandwidths, alpha ratio, Hammarberg index, spectral slopes, loudness peaks and the
 * lengths of voiced and unvoiced runs.
 *
 * It reads what the other analyses computed for the same window (YIN's pitch and
 * frame, the spectrum's magnitudes, the window's mean square) instead of analysing
 * the samples again. Single-threaded, like the extractor.
 */
#ifndef AVF_PLUGINS_AUDIO_VOICE_H
#define AVF_PLUGINS_AUDIO_VOICE_H

#define AVF_AUDIO_NB_FORMANTS 3

/*
 * The lenient YIN threshold of the voice analysis (pitch_hz uses 0.15). Under 0.15,
 * YIN's 45 ms frame misses the voicing of fast F0 glides, which cuts voiced runs
 * short and keeps the glides out of the slopes; a frame that is voiced only by 0.3
 * counts when its F0 continues the contour of the window before (an octave error
 * does not), docs/features-audio.md has the measurements.
 */
#define AVF_AUDIO_VOICE_YIN_THRESHOLD 0.3

typedef struct avf_audio_voice avf_audio_voice;

/* What the other analyses found in this window. */
typedef struct avf_audio_voice_in {
    float pitch_hz;     /* YIN's pitch, NaN when unvoiced */
    float lenient_hz;   /* YIN's pitch at AVF_AUDIO_VOICE_YIN_THRESHOLD, NaN (or 0) when unvoiced */
    const float *frame; /* YIN's frame (the last frame_len samples), NULL until full */
    int frame_len;
    const float *magnitude; /* the spectrum's magnitudes, NULL on a silent window */
    int nb_bins;
    double bin_hz;      /* frequency step of the magnitude bins */
    double mean_square; /* of the whole window */
} avf_audio_voice_in;

/* One window's values; NaN where the window has none (see docs/features-audio.md). */
typedef struct avf_audio_voice_out {
    float f0_st;                /* semitones above 27.5 Hz */
    float rise_st_s, fall_st_s; /* F0 slope where rising, where falling (> 0) */
    float jitter, shimmer_db, hnr_db;
    float formant_hz[AVF_AUDIO_NB_FORMANTS], bandwidth_hz[AVF_AUDIO_NB_FORMANTS];
    float alpha_ratio_db, hammarberg_db, slope_0_500, slope_500_1500; /* slopes dB/kHz */
    float loudness_peak;                /* windows per second when a peak ends here, else 0 */
    float voiced_run_s, unvoiced_run_s; /* the length of a run that ended before here */
} avf_audio_voice_out;

/* Windows `hop` samples apart at sample_rate, YIN frames of frame_len samples; NULL
 * when out of memory. */
avf_audio_voice *avf_audio_voice_new(int sample_rate, int hop, int frame_len);
void avf_audio_voice_free(avf_audio_voice **pp);

/* Describes one window (restart: a hole in the timeline came before it, runs and
 * contours start over) into *out. */
void avf_audio_voice_process(avf_audio_voice *v, const avf_audio_voice_in *in, int restart,
                             avf_audio_voice_out *out);

/* The pure parts, for the tests. */

/* 12 log2(hz / 27.5): semitones above A0; NaN for hz <= 0 or NaN. */
double avf_voice_semitones(double hz);

/*
 * Slope in dB per kHz of the least-squares line through 10 log10(magnitude²) of the
 * bins from lo_hz to hi_hz (bin k at k * bin_hz). NaN when hi_hz lies above the last
 * bin (a band beyond Nyquist has no data) or fewer than two bins fall in the band.
 */
double avf_voice_band_slope(const float *magnitude, int nb_bins, double bin_hz, double lo_hz,
                            double hi_hz);

/* Voiced and unvoiced run lengths, counted in windows. A run ends when
 * AVF_VOICE_MIN_RUN windows of the other kind follow it; fewer are a blip of the
 * pitch tracker and count in the run. */
#define AVF_VOICE_MIN_RUN 2
typedef struct avf_voice_runs {
    int voiced;  /* the state of the current run; -1 before the first window */
    int length;  /* windows in the current run */
    int pending; /* windows of the other kind since, fewer than AVF_VOICE_MIN_RUN */
} avf_voice_runs;

/* Adds one window; when it confirms the end of a run, returns that run's length in
 * windows into *ended_voiced or *ended_unvoiced (the other, and both otherwise, get
 * 0). */
void avf_voice_runs_step(avf_voice_runs *r, int voiced, int *ended_voiced, int *ended_unvoiced);

/* Praat's Gaussian window of n samples (Sound_to_Formant.cpp) into w. */
void avf_voice_gaussian(double *w, int n);

/*
 * Formants of the n samples x at sample_rate as Praat's Burg tracker finds them: the
 * window (avf_voice_gaussian() of n), pre-emphasis from 50 Hz, Burg LPC of the given
 * order, the roots of the predictor, and of those the resonances between 50 Hz and
 * Nyquist − 50 Hz in rising order. Writes at most max of them into freq_hz/bw_hz and
 * returns how many; scratch holds 2 n doubles. warm, when not NULL, holds 2 order
 * doubles (all 0 at first): the roots of the last call of the same order, where the
 * root search starts, and where this call's are left. Negative when order is out
 * of 2..AVF_VOICE_MAX_ORDER.
 */
#define AVF_VOICE_MAX_ORDER 24
int avf_voice_formants(const float *x, int n, int sample_rate, int order, const double *window,
                       double *warm, double *scratch, double *freq_hz, double *bw_hz, int max);

#endif
