/*
 * avfuse_plugin.h - the feature-extractor plugin ABI of avfuse.
 *
 * This is the only header a plugin includes. It is plain C, depends on nothing but
 * <stdint.h> and <stddef.h>, and compiles alone as C and as C++.
 *
 * A plugin is a shared object that exports one symbol, AVFUSE_PLUGIN_ENUM_FUNC
 * (spelled through the macro so that a typo fails at compile time). The host calls
 * it with index 0, 1, 2, ... until it returns NULL; each call returns one
 * descriptor. The built-in extractors are descriptors of the same kind, registered
 * statically.
 *
 * Versioning: every struct that crosses the ABI starts with a version or size
 * field. Fields are only ever appended, each marked with the ABI version that added
 * it. A host MUST refuse a descriptor whose abi_version differs from its own
 * AVFUSE_PLUGIN_ABI_VERSION major, or whose struct_size is smaller than the size
 * of version 1 of the struct; it MUST NOT read fields beyond struct_size. A plugin
 * MUST check services->abi_version and services->struct_size before using a
 * service, and MUST NOT call a service pointer that is NULL.
 *
 * Lifecycle, in this order and no other:
 *   1. create(services, config, &instance)  - once per source and plugin. MAY
 *      allocate. Returns 0 or a negative errno; on failure *instance is untouched
 *      and nothing else is called.
 *   2. process_video() or process_audio()   - zero or more times, from one thread
 *      at a time, in timeline order. MUST NOT block, MUST NOT allocate or free
 *      memory, MUST NOT call back into the host except through services.
 *      Returns 0 or a negative errno (the host logs it and fills the row with NaN).
 *   3. destroy(instance)                     - once; frees everything create made.
 * There is no separate configure, start or stop: an instance serves one run of one
 * source, so its configuration is complete at create() and its end is destroy().
 * Should a later ABI need them, they are appended as optional methods (called only
 * when the descriptor's struct_size holds them and they are not NULL).
 * The host MUST NOT call process after destroy, nor two methods of one instance
 * at the same time. Different instances may run on different threads at once, so
 * a plugin MUST NOT keep mutable global state.
 *
 * Output: each call writes exactly nb_features floats to out[], one per feature
 * of the descriptor, in order. NaN means "no value here" (an unvoiced window has
 * no pitch) and is skipped when the host pools the values of a segment.
 */
#ifndef AVFUSE_PLUGIN_H
#define AVFUSE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change; appended fields do not bump it. */
#define AVFUSE_PLUGIN_ABI_VERSION 1u

#define AVFUSE_PLUGIN_ENUM_FUNC     avfuse_plugin_enum
#define AVFUSE_PLUGIN_STRINGIFY2(x) #x
#define AVFUSE_PLUGIN_STRINGIFY(x)  AVFUSE_PLUGIN_STRINGIFY2(x)
/* The symbol name the loader looks up: "avfuse_plugin_enum". */
#define AVFUSE_PLUGIN_ENUM_NAME AVFUSE_PLUGIN_STRINGIFY(AVFUSE_PLUGIN_ENUM_FUNC)

#if defined(__GNUC__)
#define AVFUSE_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define AVFUSE_PLUGIN_EXPORT
#endif

/* Which data a descriptor's process method takes. */
typedef enum avf_plugin_modality {
    AVF_PLUGIN_VIDEO = 1, /* process_video: one call per analysis frame */
    AVF_PLUGIN_AUDIO = 2, /* process_audio: one call per analysis window */
} avf_plugin_modality;

/* How the host pools a feature's per-frame or per-window values over a segment. */
typedef enum avf_plugin_pool {
    AVF_POOL_MEAN = 0, /* arithmetic mean */
    AVF_POOL_STD = 1,  /* population standard deviation */
    AVF_POOL_MIN = 2,
    AVF_POOL_MAX = 3,
    AVF_POOL_SUM = 4,     /* e.g. a count of events flagged 1.0 */
    AVF_POOL_MEAN_DB = 5, /* values in dB, averaged as powers: 10*log10(mean(10^(v/10))) */
    /* ABI 1, appended: percentiles (linear between the sorted values) and the
     * distance between the 20th and the 80th */
    AVF_POOL_P20 = 6,
    AVF_POOL_P50 = 7,
    AVF_POOL_P80 = 8,
    AVF_POOL_RANGE_20_80 = 9,
} avf_plugin_pool;

typedef enum avf_plugin_log_level {
    AVF_PLUGIN_LOG_ERROR = 0,
    AVF_PLUGIN_LOG_WARN = 1,
    AVF_PLUGIN_LOG_INFO = 2,
    AVF_PLUGIN_LOG_DEBUG = 3,
} avf_plugin_log_level;

/* Services the host hands to a plugin. Valid from create() until destroy(). */
typedef struct avf_plugin_services {
    uint32_t abi_version; /* AVFUSE_PLUGIN_ABI_VERSION of the host */
    uint32_t struct_size; /* sizeof(avf_plugin_services) of the host */
    void *host;           /* opaque, passed back to every service */
    /* ABI 1: writes one log line attributed to the plugin; level is avf_plugin_log_level */
    void (*log)(void *host, int level, const char *msg);
    /* ABI 1: CLOCK_MONOTONIC in microseconds */
    int64_t (*now_us)(void *host);
} avf_plugin_services;

/* What the host tells a plugin at create(). Valid only during create(). */
typedef struct avf_plugin_config {
    uint32_t struct_size; /* sizeof(avf_plugin_config) of the host */
    int32_t sample_rate;  /* ABI 1: audio analysis rate in Hz (16000) */
    int32_t window;       /* ABI 1: audio window length in samples (25 ms) */
    int32_t hop;          /* ABI 1: audio window spacing in samples (10 ms) */
    double frame_rate;    /* ABI 1: video analysis frame rate (10) */
    const char *source;   /* ABI 1: source name, for log lines */
} avf_plugin_config;

/*
 * One analysis frame: 8-bit YUV 4:2:0, full range (Y 0 = black, 255 = white;
 * chroma 128 = grey), chroma planes (width+1)/2 x (height+1)/2. Valid only during
 * the call.
 */
typedef struct avf_plugin_video_frame {
    uint32_t struct_size;   /* sizeof(avf_plugin_video_frame) of the host */
    int32_t width, height;  /* ABI 1 */
    int64_t t_us;           /* ABI 1: presentation time on the source timeline */
    const uint8_t *data[3]; /* ABI 1: Y, U, V planes */
    int32_t linesize[3];    /* ABI 1: bytes per row of each plane */
} avf_plugin_video_frame;

/*
 * One audio analysis window: `window` mono float samples at sample_rate (nominal
 * range -1..1) starting at timeline sample index pos. Consecutive windows start
 * `hop` samples apart, so only the last `hop` samples of each are new. Valid only
 * during the call.
 */
typedef struct avf_plugin_audio_window {
    uint32_t struct_size; /* sizeof(avf_plugin_audio_window) of the host */
    int32_t nb_samples;   /* ABI 1: the window length */
    int64_t pos;          /* ABI 1: timeline sample index of samples[0] */
    const float *samples; /* ABI 1 */
} avf_plugin_audio_window;

/* One output value per call: its name in segment messages and how it is pooled. */
typedef struct avf_plugin_feature {
    const char *name; /* [a-z0-9_]{1,48}, unique within the modality */
    int32_t pool;     /* avf_plugin_pool */
} avf_plugin_feature;

typedef struct avf_plugin_descriptor {
    uint32_t abi_version;               /* MUST be AVFUSE_PLUGIN_ABI_VERSION */
    uint32_t struct_size;               /* MUST be sizeof(avf_plugin_descriptor) */
    const char *name;                   /* ABI 1: [a-z0-9_]{1,48}, unique among loaded plugins */
    const char *description;            /* ABI 1: one line */
    int32_t modality;                   /* ABI 1: avf_plugin_modality */
    uint32_t nb_features;               /* ABI 1: 1..256 */
    const avf_plugin_feature *features; /* ABI 1: nb_features entries */
    /* ABI 1 */
    int (*create)(const avf_plugin_services *services, const avf_plugin_config *config,
                  void **instance);
    /* ABI 1: for AVF_PLUGIN_VIDEO; out has nb_features floats */
    int (*process_video)(void *instance, const avf_plugin_video_frame *frame, float *out);
    /* ABI 1: for AVF_PLUGIN_AUDIO; out has nb_features floats */
    int (*process_audio)(void *instance, const avf_plugin_audio_window *window, float *out);
    /* ABI 1 */
    void (*destroy)(void *instance);
} avf_plugin_descriptor;

/* The one exported symbol: descriptor number index, or NULL past the last. */
typedef const avf_plugin_descriptor *(*avf_plugin_enum_fn)(uint32_t index);

#ifdef __cplusplus
}
#endif

#endif
