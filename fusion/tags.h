/*
 * tags.h - the deterministic tag detectors (the tags themselves: base/vocab.h).
 *
 * The content tags (speech, music, noise) come from the trained heads; the others
 * are decided here from a segment's pooled features by fixed thresholds, listed
 * below and in docs/features.md.
 */
#ifndef AVF_TAGS_H
#define AVF_TAGS_H

#include <stdint.h>

#include "base/vocab.h"

/* Thresholds of the detectors. */
#define AVF_TAG_BLACK_SHARE   0.5   /* of the segment's frames black */
#define AVF_TAG_FROZEN_SHARE  0.5   /* of the segment's frames frozen */
#define AVF_TAG_STATIC_MOTION 0.004 /* mean motion below: static (if not frozen) */
#define AVF_TAG_MOTION_MOTION 0.02  /* mean motion at or above: motion */
#define AVF_TAG_LOUD_LUFS     -10.0 /* momentary loudness maximum at or above */
#define AVF_TAG_CLIPPED_SHARE 0.001 /* of the samples at full scale */
#define AVF_TAG_SILENCE_DBFS  -50.0 /* segment RMS below */
#define AVF_TAG_AV_OFFSET_MS  80.0  /* |offset| beyond, when confident */
#define AVF_TAG_AV_CONFIDENCE 0.5

/* A segment's pooled values the detectors read; NaN when unknown. */
typedef struct avf_tag_inputs {
    double black_share, frozen_share, cuts, motion;
    double loudness_max_lufs, clipped_share, rms_dbfs;
    int av_valid;
    double av_offset_ms, av_confidence;
} avf_tag_inputs;

/* The AVF_TAG_* bits the inputs call for. */
uint32_t avf_tags_detect(const avf_tag_inputs *in);

#endif
