/*
 * fit.h - fits the normalization and the heads of a model to a dataset.
 */
#ifndef AVF_FIT_H
#define AVF_FIT_H

#include <stddef.h>

#include "fusion/dataset.h"
#include "fusion/model.h"
#include "fusion/vector.h"

typedef struct avf_fit_options {
    double l2;    /* L2 penalty of every head */
    int max_iter; /* optimizer iterations per head */
    int hidden;   /* tanh units of the content head's hidden layer; 0: linear */
    /* the content head's smoothing weight over segments (fusion/model.h) for speech,
     * music and noise, in [0, 1); 0: none. Silence is never smoothed: it is a rule
     * on the segment's own level (AVF_TAG_SILENCE_DBFS). */
    double smoothing;
    /* the smoothing's change-point rule (avf_head.smoothing_restart): > 0 restarts
     * it at a segment whose logits disagree with it by this much; 0: never */
    double restart;
} avf_fit_options;

/*
 * Fits a model named name on d (whose rows follow layout l): mean and standard
 * deviation per feature (NaN skipped; a constant feature gets std 1), then the
 * content head (one logistic output per class, one class against the rest) and
 * the valence and arousal heads (softmax), each with class-balanced sample
 * weights, and the affect head (logistic, one output) when d has segments nobody
 * speaks in both with and without a valence label (fusion/fit.c). training_json (may be NULL) is
 * stored as the model's training summary. On success stores the model in *pm (the caller frees it
 * with avf_model_free()) and returns 0; on failure returns a negative error with the reason in why.
 */
int avf_fit(avf_model **pm, const avf_fused_layout *l, const avf_dataset *d, const char *name,
            const char *training_json, const avf_fit_options *opt, char *why, size_t why_size);

#endif
