/*
 * stall_plugin.c - a test plugin whose process() blocks while a file exists.
 *
 * It exists to wedge a source's pipeline on purpose: the daemon must then stop
 * feeding the systemd watchdog, and feed it again once the pipeline moves
 * (tests/integration/test_daemon.py, TestNotify). A server stopped behind a source
 * is not enough, since the pipeline itself still runs and times out the read.
 *
 * The file is named by $AVFUSE_STALL_FILE, read once at create(). While it exists,
 * process_video() sleeps in steps of 15 ms and looks again; when it is removed (or
 * the variable is unset) a call returns at once. Blocking breaks the ABI's "MUST NOT
 * block" on purpose: that is the fault under test. Nothing is allocated in process.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "avfuse_plugin.h"

#define STALL_POLL_NS (15 * 1000 * 1000)

static const avf_plugin_feature stall_features[] = {
    {"stall_frames", AVF_POOL_SUM},
};

typedef struct stall_instance {
    char path[4096]; /* empty: never stall */
} stall_instance;

static int stall_create(const avf_plugin_services *services, const avf_plugin_config *config,
                        void **instance)
{
    const char *path = getenv("AVFUSE_STALL_FILE");
    stall_instance *st;

    (void)services;
    (void)config;
    if (!instance)
        return -EINVAL;
    st = calloc(1, sizeof(*st));
    if (!st)
        return -ENOMEM;
    if (path)
        snprintf(st->path, sizeof(st->path), "%s", path);
    *instance = st;
    return 0;
}

static int stall_process(void *instance, const avf_plugin_video_frame *frame, float *out)
{
    const stall_instance *st = instance;
    const struct timespec step = {0, STALL_POLL_NS};

    (void)frame;
    while (st->path[0] && access(st->path, F_OK) == 0)
        nanosleep(&step, NULL);
    out[0] = 1.0f;
    return 0;
}

static void stall_destroy(void *instance)
{
    free(instance);
}

static const avf_plugin_descriptor stall_descriptor = {
    .abi_version = AVFUSE_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(avf_plugin_descriptor),
    .name = "stall",
    .description = "test plugin: blocks while $AVFUSE_STALL_FILE exists",
    .modality = AVF_PLUGIN_VIDEO,
    .nb_features = 1,
    .features = stall_features,
    .create = stall_create,
    .process_video = stall_process,
    .process_audio = NULL,
    .destroy = stall_destroy,
};

AVFUSE_PLUGIN_EXPORT const avf_plugin_descriptor *AVFUSE_PLUGIN_ENUM_FUNC(uint32_t index);

AVFUSE_PLUGIN_EXPORT const avf_plugin_descriptor *AVFUSE_PLUGIN_ENUM_FUNC(uint32_t index)
{
    return index == 0 ? &stall_descriptor : NULL;
}
