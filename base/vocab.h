/*
 * vocab.h - the words every layer shares: the content classes, the valence and
 * arousal labels, and the tags, each as an enum and its names in message order.
 *
 * Messages, models, events, the report and the tests all spell a class or a tag
 * through these tables, so a name is written once.
 */
#ifndef AVF_VOCAB_H
#define AVF_VOCAB_H

enum avf_content { AVF_SPEECH = 0, AVF_MUSIC, AVF_NOISE, AVF_SILENCE, AVF_CONTENT_COUNT };
enum avf_valence_label { AVF_NEGATIVE = 0, AVF_NEUTRAL, AVF_POSITIVE, AVF_VALENCE_COUNT };
enum avf_arousal_label {
    AVF_AROUSAL_LOW = 0,
    AVF_AROUSAL_MEDIUM,
    AVF_AROUSAL_HIGH,
    AVF_AROUSAL_COUNT
};

/* "speech", "music", "noise", "silence" */
extern const char *const avf_content_names[AVF_CONTENT_COUNT];
/* "negative", "neutral", "positive" */
extern const char *const avf_valence_names[AVF_VALENCE_COUNT];
/* "low", "medium", "high" */
extern const char *const avf_arousal_names[AVF_AROUSAL_COUNT];

/*
 * What a segment's sentiment rests on (fusion/heads.h): the voice heads on
 * speech; the picture and the sound's energy (and, for sounds of a kind trained
 * with valence labels, the voice heads) when nobody speaks; nothing for silence.
 */
enum avf_basis { AVF_BASIS_VOICE = 0, AVF_BASIS_SCENE, AVF_BASIS_NONE, AVF_BASIS_COUNT };
/* "voice", "scene", "none" */
extern const char *const avf_basis_names[AVF_BASIS_COUNT];

/* Bit positions in a segment's tags; the order is the order in messages. The
 * content tags come first, in avf_content order. */
enum avf_tag {
    AVF_TAG_SPEECH = 0,
    AVF_TAG_MUSIC,
    AVF_TAG_NOISE,
    AVF_TAG_SILENCE,
    AVF_TAG_BLACK,
    AVF_TAG_FROZEN,
    AVF_TAG_CUT,
    AVF_TAG_STATIC,
    AVF_TAG_MOTION,
    AVF_TAG_LOUD,
    AVF_TAG_CLIPPING,
    AVF_TAG_AV_OFFSET,
    AVF_TAG_COUNT
};

/* Returns the tag's name ("av_offset"), or NULL for an unknown tag. */
const char *avf_tag_name(int tag);

#endif
