/*
 * progress.h - the progress bar of `avfuse analyze`: one line on stderr, redrawn
 * by its own thread, that every other line written to stderr or stdout (from any
 * thread, the log's and FFmpeg's included) wipes and redraws under itself.
 */
#ifndef AVF_PROGRESS_H
#define AVF_PROGRESS_H

/* What the bar shows, as its owner counts it. */
typedef struct avf_progress_counts {
    double done;    /* the share of the work done, 0 to 1 */
    double media_s; /* media seconds analyzed so far: the speed */
    int finished;   /* inputs done, failed ones included */
    int failed;
    int total; /* inputs */
} avf_progress_counts;

/* Fills c; called by the bar's thread, about 10 times a second. */
typedef void (*avf_progress_count_fn)(void *opaque, avf_progress_counts *c);

/*
 * Puts the bar up: wraps stderr (and stdout when it is a terminal) in streams that
 * keep the bar under every line, and starts the thread that redraws it from
 * count(opaque). Returns 0 or a negative error (no bar; the streams may stay).
 */
int avf_progress_start(avf_progress_count_fn count, void *opaque);
/* Takes the bar down, wiped from the terminal. The streams stay, writing through. */
void avf_progress_stop(void);
/* Wipes the bar before an immediate exit, unless a writer holds it. */
void avf_progress_abandon(void);

#endif
