/*
 * setup.h - what both programs load before they analyze: the feature extractors
 * (built-in and plugins) and the model, checked against each other.
 */
#ifndef AVF_SETUP_H
#define AVF_SETUP_H

#include "fusion/model.h"
#include "fusion/vector.h"
#include "plugins/loader.h"

/*
 * Registers the built-in extractors and the plugins of each folder (a refused
 * plugin or folder is reported and skipped). On success *plugins is the caller's
 * to free() and the count is returned; *pr must outlive the descriptors' use.
 */
int avf_load_plugins(avf_plugin_registry **pr, const char *const *dirs, int nb_dirs,
                     const avf_plugin_descriptor ***plugins);

/*
 * Loads the model at path, or when path is NULL the first that exists of
 * $AVFUSE_MODEL, the installed default and the source tree's models/default.model,
 * and checks that every feature it needs is in `available` (the registered
 * plugins' layout; more is fine). Returns 0 with *pm and *playout (the model's own
 * fused layout, to run the pipeline with; free with avf_fused_layout_free()) set,
 * 1 when path is NULL and no model exists (*pm NULL), or a negative error already
 * reported on stderr.
 */
int avf_load_model(avf_model **pm, avf_fused_layout **playout, const char *path,
                   const avf_fused_layout *available);

#endif
