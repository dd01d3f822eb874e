/*
 * fuzz.h - what the fuzz targets share: the libFuzzer entry point they define,
 * and inputs handed to path-taking APIs without touching the disk.
 */
#ifndef AVF_FUZZ_H
#define AVF_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Each fuzz_*.c defines it; libFuzzer or replay.c calls it once per input. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Puts size bytes of data into an anonymous in-memory file (memfd) and writes a
 * path that opens it ("/proc/self/fd/N") into path. Returns the descriptor, which
 * the caller closes, or -1 (then the input is skipped: out of memory or fds).
 */
int fuzz_memfile(const void *data, size_t size, char *path, size_t path_size);

/* size bytes at data, read through an AVIOContext (avf_pipeline_config.pb); pos is
 * where the next read starts. */
typedef struct fuzz_mem_input {
    const uint8_t *data;
    size_t size, pos;
} fuzz_mem_input;

struct AVIOContext;
/* A read-only, seekable AVIOContext over in (borrowed), or NULL when out of memory;
 * freed with fuzz_mem_pb_free(), which accepts NULL. */
struct AVIOContext *fuzz_mem_pb(fuzz_mem_input *in);
void fuzz_mem_pb_free(struct AVIOContext **pb);

/* Keeps libav* and the project's log quiet unless $AVFUSE_FUZZ_VERBOSE is set. */
void fuzz_quiet(void);

/* A check the code under test promised: on failure prints what and aborts, which
 * libFuzzer reports as a crash with the input that broke it. */
#define FUZZ_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fuzz_fail(__FILE__, __LINE__, #cond);                                                  \
    } while (0)

_Noreturn void fuzz_fail(const char *file, int line, const char *what);

#endif
