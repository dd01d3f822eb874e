/*
 * fusion.h - the per-segment fusion stage: pooled features, the audio-video
 * offset, the tags, the early-fusion vector and the heads' labels and sentiment
 * of each segment.
 *
 * It runs on one source's segments in order, after the segmenter, and keeps the
 * state that spans segments: the offset estimator's history and the heads'
 * smoothing (fusion/heads.h).
 */
#ifndef AVF_FUSION_H
#define AVF_FUSION_H

#include "fusion/model.h"
#include "fusion/vector.h"
#include "pipeline/extract.h"
#include "pipeline/segmenter.h"

typedef struct avf_fusion avf_fusion;

/*
 * video and audio are the layouts of the source's extractors (NULL when the
 * modality or its features are absent); rate, window and hop describe the audio
 * windows. fused and model (both may be NULL: no labels or sentiment) must have
 * been checked against each other. All must outlive the fusion stage. Returns
 * NULL when out of memory. Free with avf_fusion_free().
 */
avf_fusion *avf_fusion_new(const avf_feature_layout *video, const avf_feature_layout *audio,
                           int rate, int window, int hop, const avf_fused_layout *fused,
                           const avf_model *model);
void avf_fusion_free(avf_fusion **pf);

/* Fills seg's features, offset and tags. Returns 0 or AVERROR(ENOMEM). */
int avf_fusion_segment(avf_fusion *f, avf_segment *seg);

#endif
