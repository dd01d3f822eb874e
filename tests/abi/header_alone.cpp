/*
 * header_alone.cpp - the plugin ABI header compiles alone as C++.
 *
 * A plugin may be written in C++. This file includes plugins/avfuse_plugin.h and
 * nothing else, is compiled (never linked or run) as C++11 and as C++17 with -Wall
 * -Wextra -Wpedantic -Werror by tests/plugins.cmake, and uses the names the way a
 * C++ plugin would: the header's extern "C" block gives its declarations C linkage,
 * and the plugin gives its own entry point C linkage too, so the symbol is not
 * mangled and the loader finds it.
 */

#include "plugins/avfuse_plugin.h"

namespace
{

int create(const avf_plugin_services *services, const avf_plugin_config *config, void **instance)
{
    if (services->abi_version != AVFUSE_PLUGIN_ABI_VERSION ||
        services->struct_size < sizeof(avf_plugin_services) || config->struct_size == 0)
        return -22; /* -EINVAL: only the plugin header may be included */
    if (services->log != nullptr)
        services->log(services->host, AVF_PLUGIN_LOG_DEBUG, "created");
    *instance = nullptr;
    return 0;
}

int process(void *instance, const avf_plugin_audio_window *window, float *out)
{
    static_cast<void>(instance);
    out[0] = window->nb_samples > 0 ? window->samples[0] : 0.0f;
    return 0;
}

void destroy(void *instance)
{
    static_cast<void>(instance);
}

const avf_plugin_feature features[] = {
    {"header_alone_cxx", AVF_POOL_MAX},
};

// Positional: designated initializers are C++20.
const avf_plugin_descriptor descriptor = {
    AVFUSE_PLUGIN_ABI_VERSION,
    sizeof(avf_plugin_descriptor),
    "header_alone_cxx",
    "compiles alone as C++",
    AVF_PLUGIN_AUDIO,
    1,
    features,
    create,
    nullptr,
    process,
    destroy,
};

} // namespace

extern "C" AVFUSE_PLUGIN_EXPORT const avf_plugin_descriptor *AVFUSE_PLUGIN_ENUM_FUNC(uint32_t index)
{
    const avf_plugin_enum_fn self = AVFUSE_PLUGIN_ENUM_FUNC;
    const char *const symbol = AVFUSE_PLUGIN_ENUM_NAME;

    static_cast<void>(self);
    static_cast<void>(symbol);
    return index == 0 ? &descriptor : nullptr;
}
