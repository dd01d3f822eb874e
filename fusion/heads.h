/*
 * heads.h - applies a model's heads to a segment's fused vector: the content
 * probabilities, and sentiment from the trained voice heads combined with an
 * unsupervised video arousal model.
 *
 * Expected heads (by name, any order): "content" (logistic; outputs speech,
 * music, noise, silence), "valence" (softmax; negative, neutral, positive),
 * "arousal" (softmax; low, medium, high). A head that is missing leaves its
 * output unset.
 */
#ifndef AVF_HEADS_H
#define AVF_HEADS_H

#include "base/vocab.h"
#include "fusion/model.h"
#include "fusion/vector.h"

typedef struct avf_head_result {
    int content_valid;
    double content[AVF_CONTENT_COUNT]; /* independent probabilities */
    int sentiment_valid;
    double valence, arousal; /* -1..1 */
    int label;               /* avf_valence_label */
    double confidence;       /* probability of label */
    double voice_arousal;    /* the trained head's share, -1..1 */
    double video_arousal;    /* the Hanjalic-Xu share, -1..1, NaN without video */
} avf_head_result;

typedef struct avf_heads avf_heads;

/*
 * model must stay valid until avf_heads_free() and must have been checked against
 * layout (avf_model_check_features()). Returns NULL when out of memory, or when
 * a head has outputs other than the expected ones (why says which).
 */
avf_heads *avf_heads_new(const avf_model *model, const avf_fused_layout *layout, char *why,
                         size_t why_size);
void avf_heads_free(avf_heads **ph);

/*
 * Imputes x in place (NaN becomes the training mean, so that it normalizes to 0)
 * and applies the heads. Segments must come in order, those of one source: the
 * video arousal and the logits of a head with smoothing weights are smoothed
 * over time. Never writes a non-finite value into r.
 */
void avf_heads_apply(avf_heads *h, double *x, avf_head_result *r);

/* Forgets the segments seen so far: the next one is treated as a source's first. */
void avf_heads_reset(avf_heads *h);

#endif
