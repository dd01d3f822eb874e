/*
 * scores.c - scores from a confusion matrix, the way the evaluation literature
 * reports them: macro-F1 for the content classes (each class counts the same,
 * however rare), UAR for the emotion dimensions (the Interspeech paralinguistics
 * challenges' measure, insensitive to class imbalance).
 */
#include "fusion/scores.h"

#include <string.h>

void avf_confusion_init(avf_confusion *c, int k)
{
    memset(c, 0, sizeof(*c));
    c->k = k < 1 ? 1 : k > AVF_METRICS_MAX_CLASSES ? AVF_METRICS_MAX_CLASSES : k;
}

void avf_confusion_add(avf_confusion *c, int truth, int predicted)
{
    if (truth >= 0 && truth < c->k && predicted >= 0 && predicted < c->k)
        c->m[truth][predicted]++;
}

void avf_confusion_scores(const avf_confusion *c, avf_scores *s)
{
    int classes = 0;
    int64_t correct = 0;

    memset(s, 0, sizeof(*s));
    for (int i = 0; i < c->k; i++) {
        int64_t tp = c->m[i][i], predicted = 0, support = 0;

        for (int j = 0; j < c->k; j++) {
            predicted += c->m[j][i];
            support += c->m[i][j];
        }
        s->support[i] = support;
        s->total += support;
        correct += tp;
        s->precision[i] = predicted ? (double)tp / predicted : 0;
        s->recall[i] = support ? (double)tp / support : 0;
        s->f1[i] = s->precision[i] + s->recall[i] > 0
                       ? 2 * s->precision[i] * s->recall[i] / (s->precision[i] + s->recall[i])
                       : 0;
        if (support) {
            s->macro_f1 += s->f1[i];
            s->uar += s->recall[i];
            classes++;
        }
    }
    if (classes) {
        s->macro_f1 /= classes;
        s->uar /= classes;
    }
    s->accuracy = s->total ? (double)correct / s->total : 0;
}
