/*
 * common.h - what the analyses of the built-in audio extractor share: the silence
 * level below which a window has nothing to describe, the allocation macro of
 * their constructors, and the FFT size rule.
 */
#ifndef AVF_PLUGINS_AUDIO_COMMON_H
#define AVF_PLUGINS_AUDIO_COMMON_H

#include <stddef.h>

#include <libavutil/mem.h>

/* Below this mean square (-100 dBFS) a window has no spectrum or pitch to describe. */
#define AVF_AUDIO_SILENCE_POWER 1e-10

/* Zeroed array of n elements into p, or a jump to the constructor's fail label. */
#define AVF_AUDIO_ALLOC(p, n)                                                                      \
    do {                                                                                           \
        if (!((p) = av_mallocz(sizeof(*(p)) * (size_t)(n))))                                       \
            goto fail;                                                                             \
    } while (0)

/* The smallest power of two >= n: the av_tx transform sizes. */
static inline int avf_audio_next_pow2(int n)
{
    int p = 1;

    while (p < n)
        p <<= 1;
    return p;
}

#endif
