/*
 * extract.h - runs the feature-extractor plugins of one modality for one source.
 *
 * An extractor holds one instance of each plugin descriptor it was given, and the
 * layout of their outputs concatenated into one row: the names and pooling rules
 * of every value. Video: one row per analysis frame. Audio: the extractor cuts the
 * continuous mono signal into windows of `window` samples every `hop` samples,
 * aligned on the timeline (window j starts at sample j*hop), and produces one row
 * per complete window. A plugin that fails to create is left out (logged); one
 * that fails on a frame or window gets NaN for that row. An extractor belongs to
 * one thread.
 */
#ifndef AVF_EXTRACT_H
#define AVF_EXTRACT_H

#include <stddef.h>
#include <stdint.h>

#include <libavutil/frame.h>

#include "plugins/avfuse_plugin.h"

/* The concatenated outputs of an extractor's plugins. */
typedef struct avf_feature_layout {
    int dim;                  /* values per row */
    const char *const *names; /* dim names, borrowed from the descriptors */
    const int *pools;         /* dim avf_plugin_pool values */
} avf_feature_layout;

typedef struct avf_extractor avf_extractor;

/*
 * Creates an instance of every descriptor of the given modality in descs (others
 * are ignored). The descriptors must stay valid until avf_extractor_free(). On
 * success stores a whole extractor in *px (possibly with dim 0 when no plugin
 * could start) and returns 0; the caller frees it with avf_extractor_free().
 */
int avf_extractor_new(avf_extractor **px, avf_plugin_modality modality,
                      const avf_plugin_descriptor *const *descs, int nb_descs,
                      const avf_plugin_config *cfg);
void avf_extractor_free(avf_extractor **px);

/* The column of the feature called name in l (which may be NULL), or -1. */
int avf_feature_layout_find(const avf_feature_layout *l, const char *name);

/* The returned pointer belongs to the extractor and stays valid until it is freed. */
const avf_feature_layout *avf_extractor_layout(const avf_extractor *x);

/* Fills row (layout dim floats) with the features of one YUV420P analysis frame. */
void avf_extract_video(avf_extractor *x, const AVFrame *frame, int64_t t_us, float *row);

/*
 * Takes n samples whose first is at timeline sample index pos (later than any
 * sample given before; a hole is filled with silence) and computes every window
 * completed by them. On return *rows holds *nb_rows rows (0 when none), the first
 * for the window starting at *first_pos and each next one hop samples later.
 * *rows is the caller's buffer of *rows_cap floats (NULL and 0 at first): it is
 * reused while the rows fit and grown with realloc() when they do not, so the
 * caller keeps it across calls and frees it with free(). Returns 0 or
 * AVERROR(ENOMEM), in which case *rows and *rows_cap are unchanged.
 */
int avf_extract_audio(avf_extractor *x, int64_t pos, const float *samples, int n, float **rows,
                      size_t *rows_cap, int *nb_rows, int64_t *first_pos);

#endif
