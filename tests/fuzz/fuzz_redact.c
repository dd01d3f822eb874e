/*
 * fuzz_redact.c - the redaction of URLs in text (base/redact.c) on arbitrary
 * text.
 *
 * The input, up to its first NUL, is one text. Checked: the rendering is
 * terminated within its buffer; rendering it again changes nothing (*** hides
 * nothing more, so no secret can be half-hidden by one pass); and every shorter
 * buffer gets the start of the same rendering followed by "...", so a cut never
 * shows what the full rendering hides.
 */
#include <stdlib.h>
#include <string.h>

#include "base/redact.h"
#include "tests/fuzz/fuzz.h"

#define TEXT_MAX 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char text[TEXT_MAX + 1], *full, *again, *cut;
    size_t n = size < TEXT_MAX ? size : TEXT_MAX, len, big = 3 * TEXT_MAX + 4;

    memcpy(text, data, n);
    text[n] = '\0';
    full = malloc(big);
    again = malloc(big);
    cut = malloc(big);
    if (!full || !again || !cut)
        goto done;
    avf_redact(full, big, text);
    len = strlen(full);
    FUZZ_ASSERT(len < big);
    avf_redact(again, big, full);
    FUZZ_ASSERT(!strcmp(again, full));
    for (size_t k = 4; k <= len && k < 300; k++) {
        avf_redact(cut, k, text);
        FUZZ_ASSERT(strlen(cut) < k);
        FUZZ_ASSERT(strlen(cut) >= 3 && !strcmp(cut + strlen(cut) - 3, "..."));
        FUZZ_ASSERT(!memcmp(cut, full, strlen(cut) - 3));
    }
done:
    free(cut);
    free(again);
    free(full);
    return 0;
}
