/*
 * builtin.h - the feature extractors compiled into avfuse itself.
 *
 * They are ordinary descriptors of the plugin ABI (avfuse_plugin.h), registered
 * statically by the host instead of being found by the loader, so a built-in and a
 * loaded extractor are driven by the same code. Each function returns a pointer to
 * a static descriptor that belongs to the callee and stays valid for the life of
 * the process.
 */
#ifndef AVFUSE_PLUGINS_BUILTIN_H
#define AVFUSE_PLUGINS_BUILTIN_H

#include "plugins/avfuse_plugin.h"

/* "audio": loudness, spectral shape, MFCC, pitch and rhythm per audio window. */
const avf_plugin_descriptor *avf_builtin_audio_descriptor(void);

/* "video": per-frame features of the analysis frames (plugins/builtin_video.c). */
const avf_plugin_descriptor *avf_builtin_video_descriptor(void);

#endif
