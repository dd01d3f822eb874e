/*
 * error.c - text for the project's error codes.
 *
 * The project's own codes are handled here; everything else (negated errno and
 * FFmpeg's AVERROR tags) goes to av_strerror(), which knows both.
 */
#include "base/error.h"

#include <stdio.h>

#include <libavutil/error.h>

const char *avf_strerror(int err, char *buf, size_t size)
{
    if (!buf || size == 0)
        return "";
    switch (err) {
    case AVF_EOS:
        snprintf(buf, size, "end of stream");
        break;
    case AVF_ERR_NOSTREAM:
        snprintf(buf, size, "no decodable audio or video stream");
        break;
    case AVF_ERR_CONFIG:
        snprintf(buf, size, "invalid configuration value");
        break;
    case AVF_ERR_UNDECODABLE:
        snprintf(buf, size, "nothing could be decoded: no frame came out of its packets");
        break;
    case AVERROR_PATCHWELCOME: /* FFmpeg's text ("Not yet implemented in FFmpeg, patches
                                * welcome") reads as a missing feature; it is more often
                                * a damaged header */
        snprintf(buf, size, "damaged, or uses a feature FFmpeg does not implement");
        break;
    default:
        if (av_strerror(err, buf, size) < 0)
            snprintf(buf, size, "error %d", err);
        break;
    }
    return buf;
}
