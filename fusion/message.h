/*
 * message.h - the segment message (schema avfuse.segment.v1) as JSON.
 *
 * The field names and meanings are a contract with subscribers (DESIGN.md,
 * "Messages"): change them only with a new schema version.
 */
#ifndef AVF_MESSAGE_H
#define AVF_MESSAGE_H

#include <stdint.h>

#include "../pipeline/segmenter.h"

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

/*
 * Encodes seg as one line of JSON (no trailing newline). The caller frees the
 * result with free(). Returns NULL when out of memory.
 */
char *avf_segment_message(const avf_segment *seg, const char *source, int64_t epoch, uint64_t seq);

#endif
