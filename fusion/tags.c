/*
 * tags.c - deterministic tag detectors over pooled segment features.
 *
 * Every comparison is written so that NaN (an unknown input, e.g. no video in the
 * segment) sets no tag. `static` excludes `frozen`: a frozen picture is the
 * stronger statement and both at once would say the same thing twice.
 */
#include "fusion/tags.h"

#include <math.h>

uint32_t avf_tags_detect(const avf_tag_inputs *in)
{
    uint32_t tags = 0;
    int frozen = in->frozen_share > AVF_TAG_FROZEN_SHARE;

    if (in->black_share >= AVF_TAG_BLACK_SHARE)
        tags |= 1u << AVF_TAG_BLACK;
    if (frozen)
        tags |= 1u << AVF_TAG_FROZEN;
    if (in->cuts >= 1)
        tags |= 1u << AVF_TAG_CUT;
    if (!frozen && in->motion < AVF_TAG_STATIC_MOTION)
        tags |= 1u << AVF_TAG_STATIC;
    if (in->motion >= AVF_TAG_MOTION_MOTION)
        tags |= 1u << AVF_TAG_MOTION;
    if (in->loudness_max_lufs >= AVF_TAG_LOUD_LUFS)
        tags |= 1u << AVF_TAG_LOUD;
    if (in->clipped_share >= AVF_TAG_CLIPPED_SHARE)
        tags |= 1u << AVF_TAG_CLIPPING;
    if (in->rms_dbfs < AVF_TAG_SILENCE_DBFS)
        tags |= 1u << AVF_TAG_SILENCE;
    if (in->av_valid && in->av_confidence >= AVF_TAG_AV_CONFIDENCE &&
        fabs(in->av_offset_ms) > AVF_TAG_AV_OFFSET_MS)
        tags |= 1u << AVF_TAG_AV_OFFSET;
    return tags;
}
