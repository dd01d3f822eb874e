/*
 * heads.h - applies a model's heads to a segment's fused vector: the content
 * probabilities, and sentiment with what it rests on (its basis), from the
 * trained voice heads and an unsupervised arousal model of picture and sound.
 *
 * Expected heads (by name, any order): "content" (logistic; outputs speech,
 * music, noise, silence), "valence" (softmax; negative, neutral, positive),
 * "arousal" (softmax; low, medium, high) and, optionally, "affect" (logistic; one
 * output, affect: the probability that a sound nobody speaks in is of a kind the
 * sentiment heads were trained on with valence labels, such as an infant's cry).
 * A head that is missing leaves its output unset; sentiment needs both valence
 * and arousal.
 *
 * The basis of a segment's sentiment, decided in this order:
 *   none   nothing to judge: neither audio nor video; or silence: the content
 *          head's silence probability >= 0.5 (without a content head: the input
 *          audio.silent is 1). Valence, arousal, label and confidence are unset.
 *   voice  audio, and the content head's speech probability >= 0.5: valence and
 *          label from the valence head; confidence = P(label) x P(speech); arousal
 *          from the arousal head, averaged with the scene arousal when there is
 *          video.
 *   scene  everything else (music, noise, effects; video without audio; any
 *          segment with sound but no content head): arousal from the Hanjalic-Xu
 *          model (fusion/heads.c), unset when neither motion nor sound energy is
 *          there. Valence, label and confidence are unset unless the affect head
 *          says >= 0.5: then they come from the valence head, with confidence =
 *          P(label) x P(affect), and arousal is computed as for voice.
 */
#ifndef AVF_HEADS_H
#define AVF_HEADS_H

#include "base/vocab.h"
#include "fusion/model.h"
#include "fusion/vector.h"

typedef struct avf_head_result {
    int content_valid;
    double content[AVF_CONTENT_COUNT]; /* independent probabilities */
    int sentiment_valid;               /* the model has valence and arousal heads */
    int basis;                         /* enum avf_basis, when sentiment_valid */
    int valence_valid;                 /* valence, label and confidence are set */
    int arousal_valid;                 /* arousal is set */
    double valence, arousal;           /* -1..1 */
    int label;                         /* avf_valence_label */
    double confidence;                 /* 0..1: P(label) x P(speech or affect) */
    double voice_arousal;              /* the trained head's share, -1..1, 0 when not applied */
    double video_arousal;              /* the Hanjalic-Xu share with video, -1..1, else NaN */
    double affect;                     /* the affect head's probability, NaN without one */
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
 * Hanjalic-Xu arousal and the logits of a head with smoothing weights are
 * smoothed over time. Every value r marks valid is finite (video_arousal and
 * affect are NaN when absent, as said above).
 */
void avf_heads_apply(avf_heads *h, double *x, avf_head_result *r);

/* Forgets the segments seen so far: the next one is treated as a source's first. */
void avf_heads_reset(avf_heads *h);

#endif
