/*
 * vector.h - the early-fusion vector of a segment.
 *
 * One vector per segment: the pooled video features | the pooled audio features |
 * cross-modal features | a presence mask. Its layout is fixed by the set of
 * registered plugins, not by what one input happens to contain, so that a model
 * trained on audio-only recordings applies to a camera with a microphone:
 *   video.<feature>...  audio.<feature>...  audio.silent  av.offset_abs_ms
 *   av.confidence  mask.video  mask.audio
 * audio.silent is derived here, not by a plugin: 1 when the segment's pooled
 * audio.rms_dbfs is below AVF_TAG_SILENCE_DBFS, the level that defines the silence
 * class (the trainer labels such segments silence) and the silence tag. A smooth
 * head only approximates a threshold on one input, and its errors sit at that
 * level; given the definition as an input it need not. Present only when the
 * audio features include rms_dbfs.
 * A value that is absent (a modality the segment lacks, a feature without value)
 * is NaN here; the model's normalization imputes it with the training mean.
 */
#ifndef AVF_VECTOR_H
#define AVF_VECTOR_H

#include "pipeline/extract.h"
#include "fusion/outputs.h"
#include "pipeline/segmenter.h"
#include "plugins/avfuse_plugin.h"

typedef struct avf_fused_layout {
    int dim;
    char **names; /* dim names */
    int video_off, nb_video;
    int audio_off, nb_audio;
    int cross_off;              /* av.offset_abs_ms, av.confidence */
    int mask_video, mask_audio; /* indices of the two mask entries */
    int rms, silent;            /* audio.rms_dbfs and audio.silent, or -1 */
} avf_fused_layout;

/* The derived entry's name (see above); no plugin feature may be called "silent". */
#define AVF_FUSED_SILENT "audio.silent"

/*
 * Builds the layout from the descriptors' features (video ones, then audio ones, in
 * descriptor order). Returns NULL when out of memory. Free with
 * avf_fused_layout_free().
 */
avf_fused_layout *avf_fused_layout_new(const avf_plugin_descriptor *const *descs, int nb_descs);
void avf_fused_layout_free(avf_fused_layout **pl);

/* The index of the entry called name in l, or -1. */
int avf_fused_find(const avf_fused_layout *l, const char *name);

/*
 * Rebuilds a layout from its names (a model's features): video.* entries, then
 * audio.*, then av.offset_abs_ms, av.confidence, mask.video, mask.audio. Returns
 * NULL when out of memory or when the names do not follow that order (why says
 * where). Free with avf_fused_layout_free().
 */
avf_fused_layout *avf_fused_layout_from_names(const char *const *names, int dim, char *why,
                                              size_t why_size);

/*
 * Where each fused video/audio entry is found in one source's extractor layouts
 * (which may lack a plugin that failed to start): map[i] is the column in the
 * extractor row, or -1. Owned by the caller, freed with free().
 */
int *avf_fused_map(const avf_fused_layout *l, const avf_feature_layout *video,
                   const avf_feature_layout *audio);

/* Fills x (l->dim values) for seg, whose pooled features and offset are in out. */
void avf_fused_vector(const avf_fused_layout *l, const int *map, const avf_segment *seg,
                      const avf_fusion_out *out, double *x);

#endif
