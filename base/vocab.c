/*
 * vocab.c - the names of the shared vocabulary (vocab.h).
 */
#include "base/vocab.h"

const char *const avf_content_names[AVF_CONTENT_COUNT] = {"speech", "music", "noise", "silence"};
const char *const avf_valence_names[AVF_VALENCE_COUNT] = {"negative", "neutral", "positive"};
const char *const avf_arousal_names[AVF_AROUSAL_COUNT] = {"low", "medium", "high"};
const char *const avf_basis_names[AVF_BASIS_COUNT] = {"voice", "scene", "none"};

static const char *const tag_names[AVF_TAG_COUNT] = {
    "speech", "music",  "noise",  "silence", "black",    "frozen",
    "cut",    "static", "motion", "loud",    "clipping", "av_offset",
};

const char *avf_tag_name(int tag)
{
    return tag >= 0 && tag < AVF_TAG_COUNT ? tag_names[tag] : 0;
}
