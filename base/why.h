/*
 * why.h - the one way a function explains a failure to its caller.
 *
 * A function that can say why it failed takes (char *why, size_t why_size) and
 * writes one line there; its error code is still the return value (error.h). The
 * text goes through avf_redact() (redact.h), since a reason may quote a URL and
 * reaches the log, status messages and control replies.
 */
#ifndef AVF_WHY_H
#define AVF_WHY_H

#include <stddef.h>

/*
 * Writes the formatted reason into why (nothing when why is NULL or why_size is
 * 0; a reason that does not fit ends in "...") and returns err, so that a caller
 * writes `return avf_why(why, why_size, AVERROR(EINVAL), "...", ...);`.
 */
int avf_why(char *why, size_t why_size, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
