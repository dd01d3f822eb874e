/*
 * bad_name_plugin.c - a test plugin with a feature name that is not [a-z0-9_]{1,48}.
 *
 * "Bad Name" has capitals and a space, so it cannot be a key in segment messages.
 * Everything else is valid, so the loader must refuse the descriptor for that
 * reason and nothing earlier (tests/unit/test_loader.c).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "avfuse_plugin.h"

static const avf_plugin_feature bad_name_features[] = {
    {"bad_name_ok", AVF_POOL_MEAN},
    {"Bad Name", AVF_POOL_MAX},
};

static int bad_name_create(const avf_plugin_services *services, const avf_plugin_config *config,
                           void **instance)
{
    (void)services;
    (void)config;
    if (!instance)
        return -EINVAL;
    *instance = malloc(1);
    return *instance ? 0 : -ENOMEM;
}

static int bad_name_process(void *instance, const avf_plugin_audio_window *window, float *out)
{
    (void)instance;
    (void)window;
    out[0] = 0.0f;
    out[1] = 0.0f;
    return 0;
}

static void bad_name_destroy(void *instance)
{
    free(instance);
}

static const avf_plugin_descriptor bad_name_descriptor = {
    .abi_version = AVFUSE_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(avf_plugin_descriptor),
    .name = "bad_name",
    .description = "test plugin with an invalid feature name",
    .modality = AVF_PLUGIN_AUDIO,
    .nb_features = 2,
    .features = bad_name_features,
    .create = bad_name_create,
    .process_video = NULL,
    .process_audio = bad_name_process,
    .destroy = bad_name_destroy,
};

AVFUSE_PLUGIN_EXPORT const avf_plugin_descriptor *AVFUSE_PLUGIN_ENUM_FUNC(uint32_t index);

AVFUSE_PLUGIN_EXPORT const avf_plugin_descriptor *AVFUSE_PLUGIN_ENUM_FUNC(uint32_t index)
{
    return index == 0 ? &bad_name_descriptor : NULL;
}
