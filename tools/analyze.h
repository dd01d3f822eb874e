/*
 * analyze.h - one input's results as the JSON lines `avfuse analyze` prints, for
 * every command that shows an analysis (analyze, report).
 */
#ifndef AVF_ANALYZE_H
#define AVF_ANALYZE_H

#include <stdint.h>

#include "engine/scheduler.h"

/*
 * Called once per message line, in output order. line is one JSON message without
 * a newline, never NULL; the callee takes ownership and frees it with free(). seg
 * is the segment of a segment message, NULL for an event message; seq is the
 * message's seq (an event's is that of the segment that decided it). Returns 0, or
 * a negative error that ends the analysis.
 */
typedef int (*avf_analyze_cb)(void *opaque, char *line, const avf_segment *seg, uint64_t seq);

/*
 * Receives the results of the started pipeline s until it ends and hands cb each
 * segment message (source `source`, epoch 0, seq counting from 0) followed by the
 * event messages it decided, then the events the end decided; event messages only
 * when events is non-zero. *nb_segments counts the segments whose messages cb took
 * (it is also the next seq). Returns 0 once s has delivered everything (the caller
 * then calls avf_sched_wait() for the pipeline's own error), or the first error cb
 * returned or AVERROR(ENOMEM): the rest of the input is then abandoned, and
 * avf_sched_free() stops it.
 */
int avf_analyze_results(avf_sched *s, const char *source, int events, avf_analyze_cb cb,
                        void *opaque, uint64_t *nb_segments);

#endif
