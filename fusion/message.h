/*
 * message.h - the segment message (schema avfuse.segment.v1) as JSON.
 *
 * The field names and meanings are a contract with subscribers (docs/schema/,
 * the JSON Schemas): change them only with a new schema version.
 */
#ifndef AVF_MESSAGE_H
#define AVF_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "fusion/outputs.h"
#include "pipeline/segmenter.h"

#define AVF_SEGMENT_SCHEMA "avfuse.segment.v1"

/* Maximum length of a source name, which matches [A-Za-z0-9_-]{1,64}. */
#define AVF_SOURCE_NAME_MAX 64

/* Returns 1 when name is a valid source name, else 0. */
int avf_source_name_valid(const char *name);

/*
 * Derives a valid source name from a path or URL: its last path component without
 * query or extension, other characters replaced by '_', cut to 64 characters;
 * "input" when nothing is left. out must hold AVF_SOURCE_NAME_MAX + 1 bytes.
 */
void avf_source_name_from_path(const char *path, char *out);

/* What a segment message says beyond the segment itself. */
typedef struct avf_message_meta {
    const char *source;
    int64_t epoch;
    uint64_t seq;
    int64_t offset_us;    /* added to t0 and t1: where this epoch starts on the timeline */
    int64_t wallclock_us; /* CLOCK_REALTIME of t0 in microseconds, or INT64_MIN: unknown */
    double latency_ms;    /* from the segment's end on the media clock to now, or NaN */
} avf_message_meta;

/*
 * Encodes seg and what fusion made of it (out; NULL: nothing, no features, tags or
 * model outputs) as one line of JSON (no trailing newline); `wallclock` and
 * `latency_ms` are present only when known. The caller frees the result with
 * free(). Returns NULL when out of memory.
 */
char *avf_segment_message(const avf_segment *seg, const avf_fusion_out *out,
                          const avf_message_meta *meta);

/*
 * Writes t (CLOCK_REALTIME microseconds) as ISO 8601 UTC with milliseconds,
 * "2026-11-27T12:00:17.000Z", into out (at least 25 bytes). Returns out.
 */
char *avf_format_wallclock(int64_t t, char *out, size_t size);

#endif
