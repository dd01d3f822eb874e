/*
 * scores.h - classification scores from a confusion matrix: per-class
 * precision, recall and F1, macro-F1, and unweighted average recall (UAR).
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

#endif
