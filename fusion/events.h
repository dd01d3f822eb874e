/*
 * events.h - turns per-segment tag scores into start and end events with
 * hysteresis, and encodes them as avfuse.event.v1 messages.
 *
 * Each segment brings one score in [0, 1] per tag (a content head's probability, or
 * 1.0/0.0 for a deterministic detector that fired or not: fusion/fusion.h). A tag
 * becomes active after rule.min_segments consecutive segments scored >= rule.enter, and inactive
 * after rule.min_segments consecutive segments scored < rule.leave; scores in
 * between keep the state. So a single noisy segment makes no event in either
 * direction, and a score that wavers around one threshold does not flicker.
 *
 * An event is decided on a later segment than the one where it happened on the
 * timeline: the START of a run is emitted on the segment that completes the run
 * but carries the t0 of the run's first segment; the END carries the t1 of the last
 * segment that still scored >= leave. Subscribers place events by `t`, not by the
 * time they arrive. See docs/events.md.
 *
 * Times are kept in integer microseconds of the pipeline's timeline and turned into
 * seconds only when a message is encoded, with the consumer's offset (the daemon's
 * epoch start) added first: an event says exactly what the segment messages say.
 * An event has no seq of its own: it belongs to the segment that decided it, and
 * takes that segment's seq when it is encoded.
 *
 * Lifecycle: avf_events_new() -> avf_events_push() once per segment, in order ->
 * avf_events_flush() at end of input or shutdown (pushing may go on afterwards
 * from a state with no active tag) -> avf_events_free(). The fusion stage
 * (fusion/fusion.h) owns one per pipeline; it is not thread safe: one thread owns it.
 */
#ifndef AVF_EVENTS_H
#define AVF_EVENTS_H

#include <stdint.h>

#include "fusion/tags.h"

#define AVF_EVENT_SCHEMA "avfuse.event.v1"

/* Most events one push or flush writes: never more than a start and an end per tag. */
#define AVF_EVENTS_MAX (2 * AVF_TAG_COUNT)

enum avf_event_kind {
    AVF_EVENT_START = 0,
    AVF_EVENT_END = 1,
};

typedef struct avf_event_rule {
    double enter;     /* a tag becomes active when its score >= enter ... */
    double leave;     /* ... and inactive when its score < leave (leave <= enter) */
    int min_segments; /* ... for at least this many consecutive segments (both ways) */
    /*
     * Non-zero: the tag is an instant, not a state. Every segment with score >= enter
     * is an event of its own, START and END in that same segment (t0 and t1 of the
     * segment); leave and min_segments are not used (they must still be valid).
     * Appended to the three fields above so that {enter, leave, min} initializers
     * keep meaning a state tag.
     */
    int instant;
} avf_event_rule;

/*
 * Fills the default rules:
 * - content tags from the heads (speech, music, noise): enter 0.6, leave 0.4,
 *   2 segments. The heads' probabilities hover around 0.5 on ambiguous audio; a 0.2
 *   wide band keeps such audio in whatever state it was, and 2 segments drop
 *   one-off errors.
 * - deterministic tags (black, frozen, static, motion, loud, silence, clipping,
 *   av_offset): enter 0.5, leave 0.5, 2 segments. Their scores are 0 or 1, so a band
 *   would add nothing; the 2-segment minimum is the hysteresis. silence is one of
 *   them because the `silence` tag comes from the RMS detector in tags.c, not from
 *   the head's `labels.silence` probability.
 * - cut: an instant (enter 0.5, leave 0.5, 1 segment). A cut is a moment between
 *   two shots, not a state that lasts; requiring 2 segments would drop every
 *   isolated cut, which is all of them. Each segment that saw a cut gives a START
 *   and an END in that same segment. With overlapping segments (hop < len) one cut
 *   lies in several segments and so makes several events: the number of cut events
 *   is then not the number of cuts.
 */
void avf_event_rules_default(avf_event_rule rules[AVF_TAG_COUNT]);

typedef struct avf_event {
    int tag;          /* AVF_TAG_* */
    int kind;         /* AVF_EVENT_START or AVF_EVENT_END */
    int64_t t_us;     /* on the pipeline's timeline: START: t0 of the run's first
                         segment; END: t1 of the run's last segment >= leave */
    int64_t start_us; /* END: the t_us of its START (its duration is the difference);
                         START: t_us */
} avf_event;

typedef struct avf_events avf_events;

/*
 * rules: one per tag, copied; NULL means avf_event_rules_default(). Returns NULL
 * when out of memory or when a rule is invalid: leave > enter, a NaN threshold, or
 * min_segments < 1. The caller frees the result with avf_events_free().
 */
avf_events *avf_events_new(const avf_event_rule rules[AVF_TAG_COUNT]);

/* Frees *pe (NULL or *pe NULL is fine) and sets *pe = NULL. */
void avf_events_free(avf_events **pe);

/*
 * Feeds one segment [t0_us, t1_us) and one score per tag (NaN: unknown, which
 * counts as below leave for an active tag and not above enter for an inactive one).
 * Segments come in order and may overlap. Writes the events this segment decides
 * into out, which must hold AVF_EVENTS_MAX, and returns how many, or -EINVAL (a
 * NULL argument, t1_us < t0_us; nothing changes).
 *
 * Order within one push: the ENDs of the tags that went inactive (in tag order),
 * then the STARTs (in tag order), then the ENDs of the instants started in this
 * segment (in tag order). So a subscriber sees ENDs before STARTs, and never an END
 * before its own START.
 */
int avf_events_push(avf_events *e, int64_t t0_us, int64_t t1_us, const double scores[AVF_TAG_COUNT],
                    avf_event *out);

/*
 * At end of input or shutdown: writes an END for every active tag, in tag order,
 * (they belong to the last pushed segment), with t the t1 of the tag's last segment that
 * scored >= leave: the last segment's t1, unless the input ended during a fall not
 * yet min_segments long (those trailing low segments are not part of the event).
 * Afterwards every tag is inactive with no run counted. Returns how many events
 * were written (out must hold AVF_EVENTS_MAX), or -EINVAL for a NULL argument.
 */
int avf_events_flush(avf_events *e, avf_event *out);

/*
 * Encodes ev as one line of JSON (no trailing newline), fields in this order:
 *   {"schema":"avfuse.event.v1","source":"lobby","epoch":0,"seq":19,
 *    "tag":"speech","event":"end","t":17.0,"duration":2.5}
 * - source: the source name (caller passes a valid one, [A-Za-z0-9_-]{1,64});
 * - epoch: the source's epoch; seq: the seq of the segment that decided the event
 *   (for the events of avf_events_flush(), the last segment's);
 * - tag: the tag name (avf_tag_name()); event: "start" or "end";
 * - t: seconds on the source timeline, (t_us + offset_us) / 1e6, offset_us being
 *   where the pipeline's timeline starts on the source's (the daemon's epoch offset,
 *   0 for a file); duration (seconds): only on "end", t minus its START's t.
 * Returns NULL when out of memory or ev is not encodable (NULL ev or source, unknown
 * tag or kind, seq above INT64_MAX). The caller frees the result with free().
 */
char *avf_event_message(const avf_event *ev, const char *source, int64_t epoch, uint64_t seq,
                        int64_t offset_us);

#endif
