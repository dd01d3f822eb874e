/*
 * fuzz.c - helpers shared by the fuzz targets (fuzz.h).
 *
 * The APIs under test read paths (avf_config_load(), avf_model_load()); a memfd
 * reached through /proc/self/fd gives them one without writing anything to disk,
 * so fuzzing leaves no files behind however it ends.
 */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libavutil/log.h>

#include "daemon/log.h"

int fuzz_memfile(const void *data, size_t size, char *path, size_t path_size)
{
    const char *p = data;
    int fd = memfd_create("avfuse-fuzz", MFD_CLOEXEC);

    if (fd < 0)
        return -1;
    while (size > 0) {
        ssize_t n = write(fd, p, size);

        if (n <= 0) {
            close(fd);
            return -1;
        }
        p += n;
        size -= (size_t)n;
    }
    snprintf(path, path_size, "/proc/self/fd/%d", fd);
    return fd;
}

void fuzz_quiet(void)
{
    if (getenv("AVFUSE_FUZZ_VERBOSE")) {
        avf_log_init("fuzz");
        avf_log_set_level(AVF_LOG_DEBUG);
        return;
    }
    av_log_set_level(AV_LOG_QUIET);
    avf_log_set_level(AVF_LOG_ERROR);
}

void fuzz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "%s:%d: fuzz check failed: %s\n", file, line, what);
    abort();
}
