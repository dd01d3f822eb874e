/*
 * setup.h - what both programs load before they analyze: the feature extractors
 * (built-in and plugins) and the model, checked against each other.
 *
 * avf_setup_load() is the one call for analyze, report, train, eval and the
 * daemon: it registers the extractors, loads and checks the model and keeps
 * them together, with one avf_setup_free().
 */
#ifndef AVF_SETUP_H
#define AVF_SETUP_H

#include "fusion/model.h"
#include "fusion/vector.h"
#include "engine/scheduler.h"
#include "plugins/loader.h"

/* Which model a command wants. */
enum avf_model_need {
    AVF_MODEL_OPTIONAL, /* the one named, else the default if one exists (analyze, daemon) */
    AVF_MODEL_REQUIRED, /* the one named or the default; none is an error (eval) */
    AVF_MODEL_NONE,     /* no model: the extractors only (train, daemon model = none) */
};

typedef struct avf_setup_options {
    const char *const *plugin_dirs; /* also load the plugins of these folders */
    int nb_plugin_dirs;
    const char *model_path; /* NULL: $AVFUSE_MODEL, the installed, the source tree's */
    enum avf_model_need model;
    /* names the log line that says no model was found (AVF_MODEL_OPTIONAL) and the
     * consequence it has, e.g. "segments carry no labels or sentiment" */
    const char *component;
    const char *no_model;
} avf_setup_options;

typedef struct avf_setup {
    avf_plugin_registry *registry;
    const avf_plugin_descriptor **plugins;
    int nb_plugins;
    avf_fused_layout *available; /* the fused layout of every registered extractor */
    avf_model *model;            /* NULL: no model */
    avf_fused_layout *fused;     /* the model's layout, to run the pipeline with; or NULL */
} avf_setup;

/*
 * Registers the built-in extractors and the plugins of o's folders (a refused
 * plugin or folder is reported and skipped), then loads the model o asks for and
 * checks that every feature it needs is registered. Returns 0 with *s filled, or
 * a negative error already logged (AVERROR(ENOENT) when a required model is not
 * found); *s is then empty. Free with avf_setup_free() either way.
 */
int avf_setup_load(avf_setup *s, const avf_setup_options *o);
void avf_setup_free(avf_setup *s);

/* Sets the extractors, the fused layout and the model of cfg from s. */
void avf_setup_apply(const avf_setup *s, avf_pipeline_config *cfg);

/* The layout of the fused vectors: the model's, else every extractor's. */
const avf_fused_layout *avf_setup_layout(const avf_setup *s);

#endif
