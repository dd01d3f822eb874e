/*
 * analyze.c - the receive loop shared by `avfuse analyze` and `avfuse report`.
 *
 * Both show a pipeline's results as the same JSON lines: a segment message, then
 * the events that segment decided, and at the end the events the end decided.
 * The pipeline's fusion stage has decided the events already (engine/scheduler.h);
 * this loop only numbers the segments and encodes, so the two commands cannot
 * disagree on a line. Where the lines go is the callback's business.
 */
#include "tools/analyze.h"

#include <math.h>

#include <libavutil/error.h>

#include "fusion/events.h"
#include "fusion/message.h"

/* Hands cb the event messages of res, which belong to the segment numbered seq. */
static int emit_events(const avf_result *res, const char *source, uint64_t seq, avf_analyze_cb cb,
                       void *opaque)
{
    for (int i = 0; i < res->nb_events; i++) {
        char *line = avf_event_message(&res->events[i], source, 0, seq, 0);
        int ret = line ? cb(opaque, line, NULL, seq) : AVERROR(ENOMEM);

        if (ret < 0)
            return ret;
    }
    return 0;
}

int avf_analyze_results(avf_sched *s, const char *source, int events, avf_analyze_cb cb,
                        void *opaque, uint64_t *nb_segments)
{
    avf_result *res = NULL;
    int ret = 0;

    while (ret >= 0 && avf_sched_receive(s, &res) == 0) {
        uint64_t seq = *nb_segments;

        if (res->seg) {
            avf_message_meta meta = {source, 0, seq, 0, INT64_MIN, NAN};
            char *line = avf_segment_message(res->seg, &res->out, &meta);

            ret = line ? cb(opaque, line, res->seg, seq) : AVERROR(ENOMEM);
        } else {
            seq--; /* the end's events belong to the last segment */
        }
        if (ret >= 0 && events)
            ret = emit_events(res, source, seq, cb, opaque);
        if (ret >= 0 && res->seg)
            (*nb_segments)++;
        avf_result_free(&res);
    }
    return ret;
}
