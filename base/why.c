/*
 * why.c - formats a failure's reason, redacted, into the caller's buffer.
 */
#include "base/why.h"

#include <stdarg.h>
#include <stdio.h>

#include "base/redact.h"

int avf_why(char *why, size_t why_size, int err, const char *fmt, ...)
{
    char text[1024];
    va_list ap;

    if (!why || why_size == 0)
        return err;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    avf_redact(why, why_size, text);
    return err;
}
