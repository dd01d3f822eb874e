/*
 * no_symbol_plugin.c - a test shared object that is not an avfuse plugin.
 *
 * It exports a function whose name is one typo away from the enumeration symbol,
 * the mistake the AVFUSE_PLUGIN_ENUM_FUNC macro exists to prevent, and not the
 * symbol itself. The loader must refuse the file with a message naming it and the
 * missing symbol (tests/unit/test_loader.c).
 */
#include <stdint.h>

#include "avfuse_plugin.h"

AVFUSE_PLUGIN_EXPORT const avf_plugin_descriptor *avfuse_plugin_enumerate(uint32_t index);

AVFUSE_PLUGIN_EXPORT const avf_plugin_descriptor *avfuse_plugin_enumerate(uint32_t index)
{
    (void)index;
    return NULL;
}
