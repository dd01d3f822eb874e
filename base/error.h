/*
 * error.h - the project's error convention.
 *
 * Every function that can fail returns an int: >= 0 is success, a negative value
 * is a failure. Negative values are either a negated errno (AVERROR(ENOMEM) and
 * -ENOMEM are the same number), an FFmpeg AVERROR tag, or one of the project codes
 * below. AVF_EOS is not a failure: thread bodies treat it as a normal end.
 */
#ifndef AVF_ERROR_H
#define AVF_ERROR_H

#include <stddef.h>

/* End of stream: the other side of a queue finished, or the input ended. */
#define AVF_EOS (-0x41564601)
/* The input has neither an audio nor a video stream that can be decoded. */
#define AVF_ERR_NOSTREAM (-0x41564602)
/* A configuration value is out of range; the caller names the value. */
#define AVF_ERR_CONFIG (-0x41564603)
/* The decoders were given the input's packets and not one frame or sample came out
 * of them (a damaged or hostile stream). */
#define AVF_ERR_UNDECODABLE (-0x41564604)

/*
 * Writes a one-line description of err into buf (always NUL-terminated) and
 * returns buf, so that it can be used inside a printf argument list.
 */
const char *avf_strerror(int err, char *buf, size_t size);

#endif
