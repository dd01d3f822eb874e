/*
 * setup.c - loading the extractors and the model, shared by avfuse and avfused:
 * every command that analyzes loads them through avf_setup_load(), so a plugin
 * folder, a model and the check between them mean the same everywhere.
 */
#include "daemon/setup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/error.h"
#include "plugins/builtin.h"

/*
 * Registers the built-in extractors and the plugins of each folder. A plugin or a
 * folder that is refused is reported (by the loader) and skipped. On success
 * *plugins is the caller's to free() and the count is returned.
 */
static int load_plugins(avf_plugin_registry **pr, const char *const *dirs, int nb_dirs,
                        const avf_plugin_descriptor ***plugins)
{
    const avf_plugin_descriptor *builtins[] = {avf_builtin_video_descriptor(),
                                               avf_builtin_audio_descriptor()};
    avf_plugin_registry *r = avf_plugin_registry_new();
    char why[256];
    int n;

    if (!r)
        return -ENOMEM;
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
        if (avf_plugin_registry_add(r, builtins[i], "built-in", why, sizeof(why)) < 0) {
            avf_log(AVF_LOG_ERROR, "plugins", "built-in extractor refused: %s", why);
            avf_plugin_registry_free(&r);
            return -EINVAL;
        }
    for (int i = 0; i < nb_dirs; i++)
        avf_plugin_registry_load_dir(r, dirs[i]);
    n = avf_plugin_registry_count(r);
    *plugins = calloc((size_t)n, sizeof(**plugins));
    if (!*plugins) {
        avf_plugin_registry_free(&r);
        return -ENOMEM;
    }
    for (int i = 0; i < n; i++)
        (*plugins)[i] = avf_plugin_registry_get(r, i);
    *pr = r;
    return n;
}

#ifndef AVFUSE_INSTALLED_MODEL
#define AVFUSE_INSTALLED_MODEL "/usr/local/share/avfuse/models/default.model"
#endif
#ifndef AVFUSE_SOURCE_MODEL
#define AVFUSE_SOURCE_MODEL "models/default.model"
#endif

/*
 * Loads the model at path, or when path is NULL the first that exists of
 * $AVFUSE_MODEL, the installed default and the source tree's models/default.model,
 * and checks that every feature it needs is in `available` (more is fine). Returns
 * 0 with *pm and *playout (the model's own fused layout) set, 1 when path is NULL
 * and no model exists (*pm NULL), or a negative error already logged.
 */
static int load_model(avf_model **pm, avf_fused_layout **playout, const char *path,
                      const avf_fused_layout *available)
{
    const char *candidates[] = {getenv("AVFUSE_MODEL"), AVFUSE_INSTALLED_MODEL,
                                AVFUSE_SOURCE_MODEL};
    char why[512];
    int ret;

    *pm = NULL;
    for (size_t i = 0; !path && i < sizeof(candidates) / sizeof(candidates[0]); i++)
        if (candidates[i] && *candidates[i] && access(candidates[i], R_OK) == 0)
            path = candidates[i];
    if (!path)
        return 1;
    ret = avf_model_load(pm, path, why, sizeof(why));
    if (ret < 0) {
        avf_log(AVF_LOG_ERROR, path, "%s", why);
        return ret;
    }
    /* extra plugins add features the model ignores; a feature it needs that no
     * plugin provides means the model was made for another feature set */
    for (int i = 0; i < (*pm)->dim; i++) {
        if (avf_fused_find(available, (*pm)->features[i]) < 0) {
            avf_log(AVF_LOG_ERROR, path,
                    "made for other features: it needs '%s' (feature %d), which no loaded "
                    "extractor provides",
                    (*pm)->features[i], i);
            avf_model_free(pm);
            return AVF_ERR_CONFIG;
        }
    }
    *playout = avf_fused_layout_from_names((const char *const *)(*pm)->features, (*pm)->dim, why,
                                           sizeof(why));
    if (!*playout) {
        avf_log(AVF_LOG_ERROR, path, "%s", why);
        avf_model_free(pm);
        return AVF_ERR_CONFIG;
    }
    return 0;
}

int avf_setup_load(avf_setup *s, const avf_setup_options *o)
{
    int ret;

    memset(s, 0, sizeof(*s));
    ret = load_plugins(&s->registry, o->plugin_dirs, o->nb_plugin_dirs, &s->plugins);
    if (ret < 0)
        return ret;
    s->nb_plugins = ret;
    s->available = avf_fused_layout_new(s->plugins, s->nb_plugins);
    if (!s->available) {
        avf_setup_free(s);
        return AVERROR(ENOMEM);
    }
    if (o->model == AVF_MODEL_NONE)
        return 0;
    ret = load_model(&s->model, &s->fused, o->model_path, s->available);
    if (ret > 0 && o->model == AVF_MODEL_REQUIRED) {
        avf_log(AVF_LOG_ERROR, o->component, "no model found; give one with --model");
        ret = AVERROR(ENOENT);
    } else if (ret > 0) {
        avf_log(AVF_LOG_WARN, o->component, "no model found: %s", o->no_model);
        ret = 0;
    }
    if (ret < 0)
        avf_setup_free(s);
    return ret;
}

void avf_setup_free(avf_setup *s)
{
    avf_model_free(&s->model);
    avf_fused_layout_free(&s->fused);
    avf_fused_layout_free(&s->available);
    free(s->plugins);
    s->plugins = NULL;
    s->nb_plugins = 0;
    avf_plugin_registry_free(&s->registry);
}

void avf_setup_apply(const avf_setup *s, avf_pipeline_config *cfg)
{
    cfg->plugins = s->plugins;
    cfg->nb_plugins = s->nb_plugins;
    cfg->fused = s->fused;
    cfg->model = s->model;
}

const avf_fused_layout *avf_setup_layout(const avf_setup *s)
{
    return s->fused ? s->fused : s->available;
}
