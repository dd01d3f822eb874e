/*
 * scores.c - scores from a confusion matrix, the way the evaluation literature
 * reports them: macro-F1 for the content classes (each class counts the same,
 * however rare), UAR for the emotion dimensions (the Interspeech paralinguistics
 * challenges' measure, insensitive to class imbalance).
 */
#include "fusion/scores.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/error.h>

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

void avf_confusion_merge(avf_confusion *dst, const avf_confusion *src)
{
    for (int t = 0; t < dst->k && t < src->k; t++)
        for (int p = 0; p < dst->k && p < src->k; p++)
            dst->m[t][p] += src->m[t][p];
}

void avf_mixture_init(avf_mixture_scores *s)
{
    memset(s, 0, sizeof(*s));
}

void avf_mixture_add(avf_mixture_scores *s, int truth, const double *p)
{
    int found = 1, classes = 0;

    if (truth <= 0 || truth >= AVF_SCORES_MAX_MASKS)
        return;
    for (int c = 0; c < 8; c++)
        if (truth & (1 << c)) {
            classes++;
            found &= p[c] >= AVF_SCORES_THRESHOLD;
        }
    if (classes < 2)
        return;
    s->total[truth]++;
    s->found[truth] += found;
}

void avf_mixture_merge(avf_mixture_scores *dst, const avf_mixture_scores *src)
{
    for (int m = 0; m < AVF_SCORES_MAX_MASKS; m++) {
        dst->total[m] += src->total[m];
        dst->found[m] += src->found[m];
    }
}

double avf_mixture_share(const avf_mixture_scores *s, int mask, int64_t *total)
{
    int64_t n = 0, found = 0;

    for (int m = 0; m < AVF_SCORES_MAX_MASKS; m++)
        if (mask < 0 || m == mask) {
            n += s->total[m];
            found += s->found[m];
        }
    if (total)
        *total = n;
    return n ? (double)found / n : NAN;
}

void avf_onset_init(avf_onset_scores *s, int music_class)
{
    memset(s, 0, sizeof(*s));
    s->music = music_class;
    s->run = s->row = -1;
}

static int onset_record(avf_onset_scores *s, double delay)
{
    if (s->nb_delays == s->cap) {
        int cap = s->cap ? 2 * s->cap : 16;
        double *d = realloc(s->delays, (size_t)cap * sizeof(*d));

        if (!d)
            return AVERROR(ENOMEM);
        s->delays = d;
        s->cap = cap;
    }
    s->delays[s->nb_delays++] = delay;
    return 0;
}

/* A new row: it continues a waiting start (a music row after a music row of the
 * run), begins a new start, or ends the run's music. */
static void onset_new_row(avf_onset_scores *s, const avf_onset_segment *seg)
{
    const int music = (seg->row_content >> s->music) & 1;
    const int same_run = seg->run == s->run;

    if (s->pending && !(same_run && music)) {
        s->never++;
        s->pending = 0;
    }
    if (music && !(same_run && s->row_music)) {
        s->starts++;
        s->pending = 1;
        s->pending_start = seg->t0 > seg->row_start ? seg->t0 : seg->row_start;
    }
    s->run = seg->run;
    s->row = seg->row;
    s->row_music = music;
}

int avf_onset_add(avf_onset_scores *s, const avf_onset_segment *seg)
{
    if (seg->run != s->run || seg->row != s->row)
        onset_new_row(s, seg);
    if (s->pending && seg->music >= AVF_SCORES_THRESHOLD) {
        s->pending = 0;
        return onset_record(s, seg->t1 - s->pending_start);
    }
    return 0;
}

void avf_onset_finish(avf_onset_scores *s)
{
    if (s->pending)
        s->never++;
    s->pending = 0;
    s->run = s->row = -1;
    s->row_music = 0;
}

int avf_onset_merge(avf_onset_scores *dst, const avf_onset_scores *src)
{
    dst->starts += src->starts;
    dst->never += src->never;
    for (int i = 0; i < src->nb_delays; i++)
        if (onset_record(dst, src->delays[i]) < 0)
            return AVERROR(ENOMEM);
    return 0;
}

double avf_onset_share_within(const avf_onset_scores *s, double limit)
{
    int within = 0;

    for (int i = 0; i < s->nb_delays; i++)
        within += s->delays[i] <= limit + 1e-6;
    return s->starts ? (double)within / s->starts : NAN;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

double avf_onset_median(const avf_onset_scores *s)
{
    double *d, median;
    int n = s->nb_delays;

    if (n == 0)
        return NAN;
    d = malloc((size_t)n * sizeof(*d));
    if (!d)
        return NAN;
    memcpy(d, s->delays, (size_t)n * sizeof(*d));
    qsort(d, (size_t)n, sizeof(*d), cmp_double);
    median = n % 2 ? d[n / 2] : 0.5 * (d[n / 2 - 1] + d[n / 2]);
    free(d);
    return median;
}

void avf_onset_clear(avf_onset_scores *s)
{
    free(s->delays);
    avf_onset_init(s, s->music);
}
