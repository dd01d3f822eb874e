/*
 * outputs.h - what the fusion stage (fusion/fusion.h) says of one segment: its
 * pooled features, the audio-video offset, its tags, the early-fusion vector and
 * the heads' labels and sentiment.
 *
 * They sit beside the segment (pipeline/segmenter.h), not in it: the segment is
 * the pipeline's and knows nothing of fusion. The scheduler delivers the two
 * together (engine/scheduler.h, avf_result).
 */
#ifndef AVF_OUTPUTS_H
#define AVF_OUTPUTS_H

#include <stdint.h>

typedef struct avf_fusion_out {
    /* Names are borrowed from the pipeline's extractors and stay valid until the
     * pipeline is freed; the arrays are owned (avf_fusion_out_clear()). dims are
     * the segment's video_dim and audio_dim. */
    const char *const *video_names;
    double *video_features; /* video_dim pooled values, NaN when none; or NULL */
    const char *const *audio_names;
    double *audio_features;  /* audio_dim pooled values, NaN when none; or NULL */
    int av_valid;            /* an offset could be estimated */
    double av_offset_ms;     /* > 0: audio late */
    double av_confidence;    /* 0..1 */
    uint32_t tags;           /* AVF_TAG_* bits */
    int labels_valid;        /* the model's content head answered */
    double labels[4];        /* speech, music, noise, silence probabilities */
    int sentiment_valid;     /* the model has sentiment heads */
    int sentiment_basis;     /* enum avf_basis (base/vocab.h) */
    int valence_valid;       /* valence, sentiment_label and _confidence are set */
    int arousal_valid;       /* arousal is set */
    double valence, arousal; /* -1..1 */
    int sentiment_label;     /* 0 negative, 1 neutral, 2 positive */
    double sentiment_confidence;
    const char *model_name; /* borrowed like the names above */
    int fused_dim;
    double *fused; /* the early-fusion vector (fusion/vector.h), or NULL */
} avf_fusion_out;

/* Frees the arrays out owns and zeroes it; accepts NULL. */
void avf_fusion_out_clear(avf_fusion_out *out);

#endif
