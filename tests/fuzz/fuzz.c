/*
 * fuzz.c - helpers shared by the fuzz targets (fuzz.h).
 *
 * The APIs under test read paths (avf_config_load(), avf_model_load()); a memfd
 * reached through /proc/self/fd gives them one without writing anything to disk,
 * so fuzzing leaves no files behind however it ends. The pipeline reads bytes in
 * memory through an AVIOContext (fuzz_mem_pb(), also used by test_source_pb.c).
 */
#include "tests/fuzz/fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libavformat/avio.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>

#include "base/log.h"

static int mem_read(void *opaque, uint8_t *buf, int buf_size)
{
    fuzz_mem_input *in = opaque;
    size_t n = in->size - in->pos;

    if (n == 0)
        return AVERROR_EOF;
    if (n > (size_t)buf_size)
        n = (size_t)buf_size;
    memcpy(buf, in->data + in->pos, n);
    in->pos += n;
    return (int)n;
}

static int64_t mem_seek(void *opaque, int64_t offset, int whence)
{
    fuzz_mem_input *in = opaque;
    int64_t base;

    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE:
        return (int64_t)in->size;
    case SEEK_SET:
        base = 0;
        break;
    case SEEK_CUR:
        base = (int64_t)in->pos;
        break;
    case SEEK_END:
        base = (int64_t)in->size;
        break;
    default:
        return AVERROR(EINVAL);
    }
    if (offset < -base || offset > (int64_t)in->size - base)
        return AVERROR(EINVAL);
    in->pos = (size_t)(base + offset);
    return (int64_t)in->pos;
}

#define MEM_IO_BUFFER 4096

AVIOContext *fuzz_mem_pb(fuzz_mem_input *in)
{
    uint8_t *buf = av_malloc(MEM_IO_BUFFER);
    AVIOContext *pb;

    if (!buf)
        return NULL;
    pb = avio_alloc_context(buf, MEM_IO_BUFFER, 0, in, mem_read, NULL, mem_seek);
    if (!pb)
        av_free(buf);
    return pb;
}

void fuzz_mem_pb_free(AVIOContext **pb)
{
    if (!pb || !*pb)
        return;
    av_freep(&(*pb)->buffer);
    avio_context_free(pb);
}

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
