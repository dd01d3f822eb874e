/*
 * fusion.h - the per-segment fusion stage: pooled features, the audio-video
 * offset, the tags, the early-fusion vector, the heads' labels and sentiment of
 * each segment, and the tag events (fusion/events.h) each segment decides.
 *
 * It runs on one source's segments in order, after the segmenter, and keeps the
 * state that spans segments: the offset estimator's history, the heads'
 * smoothing (fusion/heads.h) and the events' hysteresis. The scheduler
 * (engine/scheduler.h) runs it on a thread of its own, between two bounded
 * queues; it is the one place where tag events are decided, so every consumer of
 * a pipeline sees the same events.
 */
#ifndef AVF_FUSION_H
#define AVF_FUSION_H

#include "fusion/events.h"
#include "fusion/model.h"
#include "fusion/outputs.h"
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

/*
 * Fills out (overwritten) with seg's features, offset, tags, labels and sentiment,
 * and feeds its tag scores to the events' hysteresis (default rules: each tag's
 * score is the head's probability for the content tags, 1 or 0 for the detectors'
 * tags, silence the stronger of the two). Writes the events seg decides into ev,
 * which must hold AVF_EVENTS_MAX. Returns how many, or AVERROR(ENOMEM). Either way
 * the caller frees what out holds with avf_fusion_out_clear().
 */
int avf_fusion_segment(avf_fusion *f, const avf_segment *seg, avf_fusion_out *out, avf_event *ev);

/*
 * At the end of the segments (input ended, failed or stopped): writes the ENDs of
 * the tags still active into ev (AVF_EVENTS_MAX), which belong to the last segment
 * given, and returns how many. Segments may follow, as after a new start.
 */
int avf_fusion_finish(avf_fusion *f, avf_event *ev);

#endif
