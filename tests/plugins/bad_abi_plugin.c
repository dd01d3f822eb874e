/*
 * bad_abi_plugin.c - a test plugin built for a plugin ABI this avfuse does not speak.
 *
 * It is a valid plugin in every way but one: its descriptor says abi_version 2, as
 * a plugin built against a future, incompatible header would. The loader must
 * refuse it by that field alone, naming the file and the ABI, and go on loading
 * the other plugins of the folder (tests/unit/test_loader.c,
 * tests/integration/test_plugins.py).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "avfuse_plugin.h"

/* What an incompatible future header would say. */
#define FUTURE_ABI_VERSION (AVFUSE_PLUGIN_ABI_VERSION + 1)

static const avf_plugin_feature bad_abi_features[] = {
    {"bad_abi_value", AVF_POOL_MEAN},
};

static int bad_abi_create(const avf_plugin_services *services, const avf_plugin_config *config,
                          void **instance)
{
    (void)services;
    (void)config;
    if (!instance)
        return -EINVAL;
    *instance = malloc(1);
    return *instance ? 0 : -ENOMEM;
}

static int bad_abi_process(void *instance, const avf_plugin_video_frame *frame, float *out)
{
    (void)instance;
    (void)frame;
    out[0] = 0.0f;
    return 0;
}

static void bad_abi_destroy(void *instance)
{
    free(instance);
}

static const avf_plugin_descriptor bad_abi_descriptor = {
    .abi_version = FUTURE_ABI_VERSION,
    .struct_size = sizeof(avf_plugin_descriptor),
    .name = "bad_abi",
    .description = "test plugin claiming a future plugin ABI",
    .modality = AVF_PLUGIN_VIDEO,
    .nb_features = 1,
    .features = bad_abi_features,
    .create = bad_abi_create,
    .process_video = bad_abi_process,
    .process_audio = NULL,
    .destroy = bad_abi_destroy,
};

AVFUSE_PLUGIN_EXPORT const avf_plugin_descriptor *AVFUSE_PLUGIN_ENUM_FUNC(uint32_t index);

AVFUSE_PLUGIN_EXPORT const avf_plugin_descriptor *AVFUSE_PLUGIN_ENUM_FUNC(uint32_t index)
{
    return index == 0 ? &bad_abi_descriptor : NULL;
}
