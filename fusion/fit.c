/*
 * fit.c - training of the heads.
 *
 * Linear heads on normalized features: one logistic output per content class
 * (the classes are independent probabilities in the message contract: speech over
 * music is both), and softmax heads for valence and arousal. Every class gets the
 * same total weight (weights inversely proportional to class frequency), so a
 * source that contributes many segments cannot buy its class a lower threshold.
 * An absent value is imputed with the training mean, which normalizes to 0: the
 * same thing inference does, so training and inference see the same inputs.
 *
 * The optional affect head (fusion/heads.h) is a logistic output fitted where
 * nobody speaks: a segment that is neither speech nor silence is a positive when
 * its row carries a valence label (a cry, a scream, a laugh), a negative when it
 * does not (music, noise, effects). Without both kinds there is nothing to tell
 * apart, and the model gets no affect head: it then never claims a valence where
 * nobody speaks.
 */
#include "fusion/fit.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/error.h>

#include "fusion/heads.h"
#include "fusion/train.h"

/* The seed of the hidden layers' initial weights: fixed, so training repeats. */
#define AVF_FIT_SEED 20261127u
/* every content combination: the single classes, then each bitmask of several */
#define BALANCE_MAX_CLASSES (AVF_CONTENT_COUNT + (1 << AVF_CONTENT_COUNT))

/* Mean and std per column over the finite values. */
static void normalization(const avf_dataset *d, double *mean, double *std)
{
    for (int c = 0; c < d->dim; c++) {
        double sum = 0, sum2 = 0;
        int n = 0;

        for (int i = 0; i < d->n; i++) {
            double v = d->x[(size_t)i * d->dim + c];

            if (isfinite(v)) {
                sum += v;
                sum2 += v * v;
                n++;
            }
        }
        mean[c] = n ? sum / n : 0;
        std[c] = n ? sqrt(fmax(0, sum2 / n - mean[c] * mean[c])) : 0;
        if (!(std[c] > 1e-9))
            std[c] = 1; /* constant or never present: any scale will do */
    }
}

/* Per-row weights that give every class of y the same total; rows with y < 0 get 0. */
static void balance(const int *y, int n, int k, double *w)
{
    int count[BALANCE_MAX_CLASSES] = {0}, classes = 0, labelled = 0;

    for (int i = 0; i < n; i++)
        if (y[i] >= 0 && y[i] < k)
            count[y[i]]++;
    for (int c = 0; c < k; c++) {
        classes += count[c] > 0;
        labelled += count[c];
    }
    for (int i = 0; i < n; i++)
        w[i] = y[i] >= 0 && y[i] < k && count[y[i]]
                   ? (double)labelled / ((double)classes * count[y[i]])
                   : 0;
}

static int fit_softmax(avf_model *m, const char *name, const char *const *outputs, int k,
                       const double *x, const int *y, int n, const avf_fit_options *opt, double *w)
{
    avf_train_options topt = {opt->l2, opt->max_iter, 1e-6, w};
    int h = avf_model_add_head(m, name, AVF_HEAD_SOFTMAX, k, outputs);

    if (h < 0)
        return h;
    balance(y, n, k, w);
    return avf_train_softmax(x, y, n, m->dim, k, &topt, m->heads[h].weights, m->heads[h].bias);
}

/*
 * The balancing class of a content bitmask: the class itself when it is one, else
 * a class of its own per combination (AVF_CONTENT_COUNT + mask), so that speech
 * over music weighs as much in total as speech alone; -1 without a label.
 */
static int content_combination(int mask)
{
    int single = avf_content_single(mask);

    return mask <= 0 ? -1 : single >= 0 ? single : AVF_CONTENT_COUNT + mask;
}

/*
 * The content head: independent sigmoid outputs, one per class, each row a 1 for
 * every class in its bitmask (both of speech+music) and 0 for the others; rows
 * weighted so that every class, and every combination of classes, counts the
 * same. With opt->hidden > 0 it has a tanh hidden layer.
 */
static int fit_content(avf_model *m, const double *x, const avf_dataset *d,
                       const avf_fit_options *opt, double *w, int *y)
{
    avf_train_options topt = {opt->l2, opt->max_iter, 1e-6, w};
    int *targets, h, ret;

    if (opt->hidden <= 0) {
        h = avf_model_add_head(m, "content", AVF_HEAD_LOGISTIC, AVF_CONTENT_COUNT,
                               avf_content_names);
        if (h < 0)
            return h;
        for (int c = 0; c < AVF_CONTENT_COUNT; c++) {
            for (int i = 0; i < d->n; i++)
                y[i] = d->content[i] <= 0 ? -1 : avf_content_has(d->content[i], c);
            balance(y, d->n, 2, w);
            ret = avf_train_logistic(x, y, d->n, d->dim, &topt, m->heads[h].weights + c * d->dim,
                                     &m->heads[h].bias[c]);
            if (ret < 0)
                return ret;
        }
        return 0;
    }
    h = avf_model_add_mlp_head(m, "content", AVF_HEAD_LOGISTIC, AVF_CONTENT_COUNT,
                               avf_content_names, opt->hidden);
    if (h < 0)
        return h;
    targets = malloc((size_t)d->n * AVF_CONTENT_COUNT * sizeof(*targets));
    if (!targets)
        return AVERROR(ENOMEM);
    for (int i = 0; i < d->n; i++)
        for (int c = 0; c < AVF_CONTENT_COUNT; c++)
            targets[i * AVF_CONTENT_COUNT + c] =
                d->content[i] <= 0 ? -1 : avf_content_has(d->content[i], c);
    for (int i = 0; i < d->n; i++)
        y[i] = content_combination(d->content[i]);
    balance(y, d->n, BALANCE_MAX_CLASSES, w);
    ret = avf_train_mlp(x, targets, d->n, d->dim, AVF_CONTENT_COUNT, 1, opt->hidden, &topt,
                        AVF_FIT_SEED, m->heads[h].hidden_weights, m->heads[h].hidden_bias,
                        m->heads[h].weights, m->heads[h].bias);
    free(targets);
    return ret;
}

/* The affect head's targets in y (1, 0, or -1: not a sound nobody speaks in);
 * returns 1 when there are both positives and negatives, else 0. */
static int affect_targets(const avf_dataset *d, int *y)
{
    int pos = 0, neg = 0;

    for (int i = 0; i < d->n; i++) {
        y[i] = d->content[i] == 0 || avf_content_has(d->content[i], AVF_SPEECH) ||
                       avf_content_has(d->content[i], AVF_SILENCE)
                   ? -1
                   : d->valence[i] >= 0;
        pos += y[i] == 1;
        neg += y[i] == 0;
    }
    return pos > 0 && neg > 0;
}

/* Adds and fits the "affect" head when the data has both kinds (above). */
static int fit_affect(avf_model *m, const double *x, const avf_dataset *d,
                      const avf_fit_options *opt, double *w, int *y)
{
    static const char *const outputs[] = {"affect"};
    avf_train_options topt = {opt->l2, opt->max_iter, 1e-6, w};
    int h, ret;

    if (!affect_targets(d, y))
        return 0;
    h = avf_model_add_head(m, "affect", AVF_HEAD_LOGISTIC, 1, outputs);
    if (h < 0)
        return h;
    balance(y, d->n, 2, w);
    ret = avf_train_logistic(x, y, d->n, d->dim, &topt, m->heads[h].weights, m->heads[h].bias);
    return ret < 0 ? ret : 0;
}

int avf_fit(avf_model **pm, const avf_fused_layout *l, const avf_dataset *d, const char *name,
            const char *training_json, const avf_fit_options *opt, char *why, size_t why_size)
{
    avf_model *m = NULL;
    double *x = NULL, *w = NULL;
    int *y = NULL, ret = AVERROR(ENOMEM);
    const char *stage = "the data";

    if (d->n < 2 || d->dim != l->dim) {
        snprintf(why, why_size, "%d labelled segments: too few to train on", d->n);
        return AVERROR(EINVAL);
    }
    m = avf_model_new(l->dim, (const char *const *)l->names, name);
    x = malloc((size_t)d->n * (size_t)d->dim * sizeof(*x));
    w = malloc((size_t)d->n * sizeof(*w));
    y = malloc((size_t)d->n * sizeof(*y));
    if (!m || !x || !w || !y)
        goto fail;
    if (training_json) {
        m->training = strdup(training_json);
        if (!m->training)
            goto fail;
    }
    normalization(d, m->mean, m->std);
    for (int i = 0; i < d->n; i++)
        for (int c = 0; c < d->dim; c++) {
            double v = d->x[(size_t)i * d->dim + c];

            x[(size_t)i * d->dim + c] = isfinite(v) ? (v - m->mean[c]) / m->std[c] : 0;
        }

    stage = "content head";
    ret = fit_content(m, x, d, opt, w, y);
    if (ret < 0)
        goto fail;
    if (opt->smoothing > 0) {
        double s[AVF_CONTENT_COUNT];
        int h = avf_model_find_head(m, "content");

        for (int c = 0; c < AVF_CONTENT_COUNT; c++)
            s[c] = c == AVF_SILENCE ? 0 : opt->smoothing;
        ret = avf_model_set_smoothing(m, h, s);
        if (ret < 0)
            goto fail;
        m->heads[h].smoothing_restart = opt->restart;
    }
    stage = "valence head (are there valence labels?)";
    ret = fit_softmax(m, "valence", avf_valence_names, 3, x, d->valence, d->n, opt, w);
    if (ret < 0)
        goto fail;
    stage = "arousal head (are there arousal labels?)";
    ret = fit_softmax(m, "arousal", avf_arousal_names, 3, x, d->arousal, d->n, opt, w);
    if (ret < 0)
        goto fail;
    ret = fit_affect(m, x, d, opt, w, y);
    if (ret < 0)
        goto fail;
    free(x);
    free(w);
    free(y);
    *pm = m;
    return 0;
fail:
    snprintf(why, why_size, "training failed: %s: %s", stage, av_err2str(ret));
    avf_model_free(&m);
    free(x);
    free(w);
    free(y);
    return ret;
}
