/*
 * avsync.h - estimates the audio-video offset of one source.
 *
 * The audio change envelope (how much the window RMS moves from one 10 ms window
 * to the next) is cross-correlated with the visual change envelope (the motion
 * energy of each analysis frame) over a sliding window of the last few seconds.
 * The lag with the highest correlation is the offset: positive when the audio
 * comes late. The peak correlation is the confidence. Sound and picture events
 * that happen together (a door slams, a clap, a cut on a beat) make the peak; a
 * static picture or a flat sound gives no estimate.
 */
#ifndef AVF_AVSYNC_H
#define AVF_AVSYNC_H

#include <stdint.h>

#define AVF_AVSYNC_WINDOW_US  8000000 /* history correlated */
#define AVF_AVSYNC_MAX_LAG_US 500000  /* largest offset looked for */
#define AVF_AVSYNC_MIN_US     3000000 /* history needed before an estimate */
/* Events (changes that stand out) needed in each envelope's history. */
#define AVF_AVSYNC_MIN_EVENTS      3
#define AVF_AVSYNC_EVENT_FACTOR    4.0   /* times the median change */
#define AVF_AVSYNC_VIDEO_EVENT_MIN 0.02  /* and at least this mean luma change */
#define AVF_AVSYNC_AUDIO_EVENT_MIN 0.005 /* and at least this RMS change */

typedef struct avf_avsync avf_avsync;

/* rate, length and hop of the audio windows; returns NULL when out of memory */
avf_avsync *avf_avsync_new(int rate, int window, int hop);
void avf_avsync_free(avf_avsync **pa);

/* One audio window's RMS (linear, 0..1) starting at timeline sample pos. */
void avf_avsync_audio(avf_avsync *a, int64_t pos, double rms);
/* One analysis frame's change from the previous one (0..1) at t_us. */
void avf_avsync_video(avf_avsync *a, int64_t t_us, double change);

/*
 * Estimates the offset from the history up to now. Returns 1 with *offset_ms
 * (> 0: audio late) and *confidence (0..1) when there is enough history with
 * activity in both envelopes, else 0.
 */
int avf_avsync_estimate(avf_avsync *a, double *offset_ms, double *confidence);

#endif
