/*
 * header_alone.c - the plugin ABI header compiles alone as C.
 *
 * A plugin author's build includes plugins/avfuse_plugin.h and nothing of avfuse,
 * with whatever C standard and warnings they use. This file is that build: it is
 * compiled (never linked or run) as C99 and as C17 with -Wall -Wextra -Wpedantic
 * -Werror by tests/plugins.cmake, so the build fails if the header starts to need
 * another header, a newer standard or a GNU extension, or trips a warning.
 */

/* The project defines _GNU_SOURCE for its own files; a plugin author's build does not. */
#undef _GNU_SOURCE

#include "plugins/avfuse_plugin.h"

/* Uses the names a plugin uses, so that they are checked too, not only declared. */
static int header_alone_create(const avf_plugin_services *services, const avf_plugin_config *config,
                               void **instance)
{
    if (services->abi_version != AVFUSE_PLUGIN_ABI_VERSION ||
        services->struct_size < sizeof(avf_plugin_services) || config->struct_size == 0)
        return -22; /* -EINVAL: only the plugin header may be included */
    if (services->log)
        services->log(services->host, AVF_PLUGIN_LOG_INFO, "created");
    *instance = NULL;
    return 0;
}

static int header_alone_process(void *instance, const avf_plugin_video_frame *frame, float *out)
{
    (void)instance;
    out[0] = frame->data[0] ? (float)frame->data[0][0] : 0.0f;
    return 0;
}

static void header_alone_destroy(void *instance)
{
    (void)instance;
}

static const avf_plugin_feature header_alone_features[] = {
    {"header_alone", AVF_POOL_MEAN_DB},
};

static const avf_plugin_descriptor header_alone_descriptor = {
    AVFUSE_PLUGIN_ABI_VERSION,
    sizeof(avf_plugin_descriptor),
    "header_alone",
    "compiles alone",
    AVF_PLUGIN_VIDEO,
    1,
    header_alone_features,
    header_alone_create,
    header_alone_process,
    NULL,
    header_alone_destroy,
};

AVFUSE_PLUGIN_EXPORT const avf_plugin_descriptor *AVFUSE_PLUGIN_ENUM_FUNC(uint32_t index);

AVFUSE_PLUGIN_EXPORT const avf_plugin_descriptor *AVFUSE_PLUGIN_ENUM_FUNC(uint32_t index)
{
    avf_plugin_enum_fn self = AVFUSE_PLUGIN_ENUM_FUNC;
    const char *symbol = AVFUSE_PLUGIN_ENUM_NAME;

    (void)self;
    (void)symbol;
    return index == 0 ? &header_alone_descriptor : NULL;
}
