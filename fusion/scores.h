/*
 * scores.h - classification scores from a confusion matrix: per-class
 * precision, recall and F1, macro-F1, and unweighted average recall (UAR); and
 * the content figures of multi-label truth: mixtures (speech over music) and
 * music onsets.
 */
#ifndef AVF_SCORES_H
#define AVF_SCORES_H

#include <stdint.h>

#define AVF_METRICS_MAX_CLASSES 8

typedef struct avf_confusion {
    int k;                                                       /* classes */
    int64_t m[AVF_METRICS_MAX_CLASSES][AVF_METRICS_MAX_CLASSES]; /* m[truth][predicted] */
} avf_confusion;

typedef struct avf_scores {
    double precision[AVF_METRICS_MAX_CLASSES];
    double recall[AVF_METRICS_MAX_CLASSES];
    double f1[AVF_METRICS_MAX_CLASSES];
    int64_t support[AVF_METRICS_MAX_CLASSES]; /* true instances of each class */
    double macro_f1;                          /* mean F1 over the classes that have support */
    double uar;                               /* mean recall over the classes that have support */
    double accuracy;
    int64_t total;
} avf_scores;

/* k in 1..AVF_METRICS_MAX_CLASSES. */
void avf_confusion_init(avf_confusion *c, int k);
void avf_confusion_add(avf_confusion *c, int truth, int predicted);
/*
 * Scores of c. A class with no prediction has precision 0 (and F1 0) when it has
 * support; classes without support are left out of the macro averages, so a
 * validation split lacking a class is not penalised for it.
 */
void avf_confusion_scores(const avf_confusion *c, avf_scores *s);

/* Merges src's counts into dst (the same k). */
void avf_confusion_merge(avf_confusion *dst, const avf_confusion *src);

/* Content probabilities count as saying a class when at least this. */
#define AVF_SCORES_THRESHOLD 0.5
/* Content bitmasks: 1 << avf_content for each class, up to 8 classes. */
#define AVF_SCORES_MAX_MASKS 256

/*
 * Mixtures: segments whose truth has two or more classes. A segment counts as
 * found when every one of its true classes gets a probability >= 0.5 (other
 * classes may too), per combination of classes (the truth's bitmask).
 */
typedef struct avf_mixture_scores {
    int64_t total[AVF_SCORES_MAX_MASKS]; /* segments per truth bitmask */
    int64_t found[AVF_SCORES_MAX_MASKS]; /* of them, those where every true class >= 0.5 */
} avf_mixture_scores;

void avf_mixture_init(avf_mixture_scores *s);
/* Counts one segment of truth bitmask truth (ignored unless it has two classes or
 * more) with probabilities p[class]. */
void avf_mixture_add(avf_mixture_scores *s, int truth, const double *p);
void avf_mixture_merge(avf_mixture_scores *dst, const avf_mixture_scores *src);
/* The share found over every mixture (mask < 0) or one combination; NAN without any. */
double avf_mixture_share(const avf_mixture_scores *s, int mask, int64_t *total);

/*
 * Music onsets. A music start is a manifest row whose content includes music and
 * that does not follow a music row of the same run (a run's first row counts:
 * a source starting on music). Its delay is t1 - start: the end of the first
 * segment, in that row or the music rows that follow it in the run, whose music
 * probability is >= 0.5, minus the row's start (1 s when the row's first 1-s
 * segment already says music). A row that starts between segment boundaries
 * counts from its first whole segment's start instead (max(start, t0)). A start
 * whose music rows end before that never reaches it.
 */
typedef struct avf_onset_segment {
    int run, row;     /* the segment's run and manifest row */
    int row_content;  /* the row's content bitmask (not the segment's own label) */
    double row_start; /* the row's start in the file, seconds */
    double t0, t1;    /* the segment's start and end in the file, seconds */
    double music;     /* the music probability given to the segment */
} avf_onset_segment;

typedef struct avf_onset_scores {
    int music;      /* the music class (its bit in the row's content) */
    int starts;     /* music starts seen */
    int never;      /* of them, those that never reached 0.5 */
    double *delays; /* the delays of the others, in order */
    int nb_delays, cap;
    /* the state between segments */
    int run, row, row_music, pending;
    double pending_start;
} avf_onset_scores;

void avf_onset_init(avf_onset_scores *s, int music_class);
/* Feeds the next segment; segments come in stream order, a run's rows in order.
 * Returns 0 or AVERROR(ENOMEM). */
int avf_onset_add(avf_onset_scores *s, const avf_onset_segment *seg);
/* Closes the last start (one still waiting never reached 0.5). */
void avf_onset_finish(avf_onset_scores *s);
/* Appends src's finished starts to dst. Returns 0 or AVERROR(ENOMEM). */
int avf_onset_merge(avf_onset_scores *dst, const avf_onset_scores *src);
/* The share of starts with a delay <= limit seconds (NAN without starts), and the
 * median delay of those that reached 0.5 (NAN without any). */
double avf_onset_share_within(const avf_onset_scores *s, double limit);
double avf_onset_median(const avf_onset_scores *s);
void avf_onset_clear(avf_onset_scores *s);

#endif
