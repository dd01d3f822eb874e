/*
 * example_plugin.c - an example avfuse plugin, built outside the core.
 *
 * Start here to write a plugin. This file is a whole one: a shared object,
 * libavfuse_example.so, that includes only avfuse_plugin.h, links nothing of avfuse
 * and exports one symbol. It offers two descriptors, one per modality:
 *
 *   example_video  example_green  (MEAN)  share of the pixels whose chroma is
 *                                         greenish: U and V both below 128 - 16
 *                  example_frames (SUM)   1.0 per frame, so a segment holds its
 *                                         frame count
 *   example_audio  example_peak   (MAX)   the window's peak |sample|
 *
 * What every plugin has to get right, each shown below where it happens:
 *   - descriptors and feature tables are static const: no mutable global state,
 *     since the host may run several instances on several threads at once;
 *   - create() checks the services table before using it and copies what it
 *     needs from the config, which is only lent for the call;
 *   - process_video() / process_audio() only compute: no malloc, no lock, no
 *     logging, no blocking; all state lives in the instance;
 *   - destroy() frees what create() allocated, nothing else;
 *   - the one exported symbol is spelled AVFUSE_PLUGIN_ENUM_FUNC and marked
 *     AVFUSE_PLUGIN_EXPORT, and the file is compiled with -fvisibility=hidden so
 *     that nothing else leaks out of the shared object.
 * README.md next to this file has the build command and how to load the result.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Found through -I: plugins/ in the source tree, include/avfuse/ once installed. */
#include "avfuse_plugin.h"

/* Chroma 128 is grey; green pulls both U and V down. 16 levels below grey is clearly so. */
#define GREEN_CHROMA_MAX (128 - 16)

/* Output slots of example_video, in the order of video_features[]. */
enum { VIDEO_GREEN, VIDEO_FRAMES, VIDEO_NB_FEATURES };
/* Output slots of example_audio, in the order of audio_features[]. */
enum { AUDIO_PEAK, AUDIO_NB_FEATURES };

/* The feature names go into segment messages as they are: keep them unique and prefixed. */
static const avf_plugin_feature video_features[VIDEO_NB_FEATURES] = {
    [VIDEO_GREEN] = {"example_green", AVF_POOL_MEAN},
    [VIDEO_FRAMES] = {"example_frames", AVF_POOL_SUM},
};

static const avf_plugin_feature audio_features[AUDIO_NB_FEATURES] = {
    [AUDIO_PEAK] = {"example_peak", AVF_POOL_MAX},
};

/*
 * Everything one instance needs. Each instance is used by one thread at a time, so
 * its fields need no lock; process() may update them.
 */
typedef struct example_instance {
    const char *name;                    /* the descriptor's name, static */
    const char *unit;                    /* "frames" or "windows", for the last log line */
    const avf_plugin_services *services; /* NULL when this host's table is unusable */
    char source[64];                     /* copied: config->source is only lent to create() */
    int64_t created_us;
    uint64_t calls;
} example_instance;

/*
 * Returns the services table if this plugin may use it, else NULL. A table from a
 * host of another ABI may be laid out differently, so nothing past abi_version is
 * read then; a host older than this header may have a shorter table, so a service
 * is used only if struct_size covers it. (Both services used here are ABI 1, so
 * covering now_us, the last of them, covers both.)
 */
static const avf_plugin_services *usable_services(const avf_plugin_services *s)
{
    if (!s || s->abi_version != AVFUSE_PLUGIN_ABI_VERSION)
        return NULL;
    if (s->struct_size < offsetof(avf_plugin_services, now_us) + sizeof(s->now_us))
        return NULL;
    return s;
}

/* Logs through the host, if it offers logging: a plugin never writes to stderr itself. */
static void example_log(const example_instance *ex, int level, const char *msg)
{
    if (ex->services && ex->services->log)
        ex->services->log(ex->services->host, level, msg);
}

static int64_t example_now_us(const example_instance *ex)
{
    if (ex->services && ex->services->now_us)
        return ex->services->now_us(ex->services->host);
    return 0;
}

/* The part of create() both descriptors share. May allocate: create() is allowed to. */
static int example_create(const avf_plugin_services *services, const avf_plugin_config *config,
                          void **instance, const char *name, const char *unit)
{
    example_instance *ex;

    if (!instance)
        return -EINVAL;
    ex = calloc(1, sizeof(*ex));
    if (!ex)
        return -ENOMEM; /* *instance stays untouched on failure, as the ABI requires */
    ex->name = name;
    ex->unit = unit;
    ex->services = usable_services(services);
    /* A config field may be read only if struct_size says the host filled it. */
    if (config &&
        config->struct_size >= offsetof(avf_plugin_config, source) + sizeof(config->source) &&
        config->source)
        snprintf(ex->source, sizeof(ex->source), "%s", config->source);
    else
        snprintf(ex->source, sizeof(ex->source), "?");
    ex->created_us = example_now_us(ex);
    *instance = ex;
    return 0;
}

static int video_create(const avf_plugin_services *services, const avf_plugin_config *config,
                        void **instance)
{
    return example_create(services, config, instance, "example_video", "frames");
}

static int audio_create(const avf_plugin_services *services, const avf_plugin_config *config,
                        void **instance)
{
    return example_create(services, config, instance, "example_audio", "windows");
}

/* Shared by both descriptors. Logging here is fine: destroy() is not on the data path. */
static void example_destroy(void *instance)
{
    example_instance *ex = instance;
    char msg[160];

    if (!ex)
        return;
    snprintf(msg, sizeof(msg), "%s: %llu %s in %lld us", ex->source, (unsigned long long)ex->calls,
             ex->unit, (long long)(example_now_us(ex) - ex->created_us));
    example_log(ex, AVF_PLUGIN_LOG_DEBUG, msg);
    free(ex);
}

/*
 * The frame is 8-bit YUV 4:2:0: one U and one V sample cover 2x2 pixels, fewer at
 * the right and bottom edges when a dimension is odd. Counting each chroma sample
 * with the number of pixels it covers makes example_green a share of pixels, not of
 * chroma samples. Integer sums only; no allocation.
 */
static int video_process(void *instance, const avf_plugin_video_frame *frame, float *out)
{
    example_instance *ex = instance;
    int chroma_w, chroma_h;
    uint64_t green = 0;

    /* Fields marked ABI 1 are always there; a field added later would need struct_size. */
    if (!ex || !frame || !out || frame->width <= 0 || frame->height <= 0 || !frame->data[1] ||
        !frame->data[2])
        return -EINVAL; /* the host logs it and fills this row with NaN */
    chroma_w = (frame->width + 1) / 2;
    chroma_h = (frame->height + 1) / 2;
    for (int y = 0; y < chroma_h; y++) {
        const uint8_t *u = frame->data[1] + (ptrdiff_t)y * frame->linesize[1];
        const uint8_t *v = frame->data[2] + (ptrdiff_t)y * frame->linesize[2];
        uint64_t rows = 2 * y + 1 < frame->height ? 2 : 1;

        for (int x = 0; x < chroma_w; x++)
            if (u[x] < GREEN_CHROMA_MAX && v[x] < GREEN_CHROMA_MAX)
                green += rows * (2 * x + 1 < frame->width ? 2 : 1);
    }
    out[VIDEO_GREEN] = (float)((double)green / ((double)frame->width * (double)frame->height));
    out[VIDEO_FRAMES] = 1.0f;
    ex->calls++;
    return 0;
}

/*
 * Windows overlap (only the last `hop` samples of each are new), so a plugin that
 * wants per-sample work done once would keep state in the instance; a peak needs none.
 */
static int audio_process(void *instance, const avf_plugin_audio_window *window, float *out)
{
    example_instance *ex = instance;
    float peak = 0.0f;

    if (!ex || !window || !out || window->nb_samples < 0 ||
        (window->nb_samples > 0 && !window->samples))
        return -EINVAL;
    for (int32_t i = 0; i < window->nb_samples; i++) {
        /* written out rather than fabsf(), so the plugin needs no libm */
        float a = window->samples[i] < 0.0f ? -window->samples[i] : window->samples[i];

        if (a > peak) /* false for NaN: a NaN sample is skipped */
            peak = a;
    }
    out[AUDIO_PEAK] = peak;
    ex->calls++;
    return 0;
}

/*
 * The descriptors. abi_version and struct_size let the host refuse this file cleanly
 * if it speaks another ABI; the method a modality does not use stays NULL.
 */
static const avf_plugin_descriptor video_descriptor = {
    .abi_version = AVFUSE_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(avf_plugin_descriptor),
    .name = "example_video",
    .description = "example plugin: share of greenish pixels, frame count",
    .modality = AVF_PLUGIN_VIDEO,
    .nb_features = VIDEO_NB_FEATURES,
    .features = video_features,
    .create = video_create,
    .process_video = video_process,
    .process_audio = NULL,
    .destroy = example_destroy,
};

static const avf_plugin_descriptor audio_descriptor = {
    .abi_version = AVFUSE_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(avf_plugin_descriptor),
    .name = "example_audio",
    .description = "example plugin: peak absolute sample of each window",
    .modality = AVF_PLUGIN_AUDIO,
    .nb_features = AUDIO_NB_FEATURES,
    .features = audio_features,
    .create = audio_create,
    .process_video = NULL,
    .process_audio = audio_process,
    .destroy = example_destroy,
};

/*
 * The one exported symbol. The macro spells its name, so a typo is a compile error
 * here instead of a plugin the host cannot find. Declared first because a public
 * function wants a prototype (-Wmissing-prototypes).
 */
AVFUSE_PLUGIN_EXPORT const avf_plugin_descriptor *AVFUSE_PLUGIN_ENUM_FUNC(uint32_t index);

AVFUSE_PLUGIN_EXPORT const avf_plugin_descriptor *AVFUSE_PLUGIN_ENUM_FUNC(uint32_t index)
{
    static const avf_plugin_descriptor *const descriptors[] = {&video_descriptor,
                                                               &audio_descriptor};

    return index < sizeof(descriptors) / sizeof(descriptors[0]) ? descriptors[index] : NULL;
}

/* Fails to compile if the function above drifts from the type the host calls it as. */
_Static_assert(_Generic(&AVFUSE_PLUGIN_ENUM_FUNC, avf_plugin_enum_fn : 1, default : 0),
               "AVFUSE_PLUGIN_ENUM_FUNC must have the type avf_plugin_enum_fn");
