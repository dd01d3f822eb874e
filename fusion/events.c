/*
 * events.c - tag events with hysteresis (events.h) and their JSON encoding.
 *
 * Each tag is a two-state machine with one run counter per direction. While a tag
 * is inactive only the rising run counts (a score >= enter extends it, anything
 * else resets it); while it is active only the falling run counts (a score < leave
 * or NaN extends it, a score >= leave resets it and moves the event's end to that
 * segment's t1). The run that reaches min_segments flips the state. Comparisons
 * are written so that NaN is never ">= enter" and always "not >= leave", which is
 * the NaN rule of events.h without a special case.
 *
 * A push first updates every tag and records what it decided, then writes the
 * events in three passes (ENDs, STARTs, instant ENDs) so the order documented in
 * events.h holds whatever the tag order.
 */
#include "fusion/events.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include <jansson.h>

#include "fusion/heads.h"

typedef struct tag_state {
    int active;
    int rising;          /* consecutive segments >= enter while inactive */
    int64_t rise_t0;     /* t0 of the rising run's first segment */
    int falling;         /* consecutive segments < leave while active */
    int64_t start_t;     /* t of the active event's START */
    int64_t last_high_t; /* t1 of the latest segment >= leave while active */
} tag_state;

struct avf_events {
    avf_event_rule rules[AVF_TAG_COUNT];
    tag_state tags[AVF_TAG_COUNT];
};

/* What one push decided for a tag. */
enum decision { NONE, STARTED, ENDED, INSTANT };

void avf_event_rules_default(avf_event_rule rules[AVF_TAG_COUNT])
{
    for (int i = 0; i < AVF_TAG_COUNT; i++) {
        switch (i) {
        case AVF_TAG_SPEECH:
        case AVF_TAG_MUSIC:
        case AVF_TAG_NOISE:
            rules[i] = (avf_event_rule){0.6, 0.4, 2, 0};
            break;
        case AVF_TAG_CUT:
            rules[i] = (avf_event_rule){0.5, 0.5, 1, 1};
            break;
        default:
            rules[i] = (avf_event_rule){0.5, 0.5, 2, 0};
            break;
        }
    }
}

static int rule_valid(const avf_event_rule *r)
{
    /* !(leave <= enter) also rejects a NaN on either side */
    return r->leave <= r->enter && r->min_segments >= 1;
}

avf_events *avf_events_new(const avf_event_rule rules[AVF_TAG_COUNT])
{
    avf_events *e = calloc(1, sizeof(*e));

    if (!e)
        return NULL;
    if (rules) {
        for (int i = 0; i < AVF_TAG_COUNT; i++)
            e->rules[i] = rules[i];
    } else {
        avf_event_rules_default(e->rules);
    }
    for (int i = 0; i < AVF_TAG_COUNT; i++) {
        if (!rule_valid(&e->rules[i])) {
            free(e);
            return NULL;
        }
    }
    return e;
}

void avf_events_free(avf_events **pe)
{
    if (!pe || !*pe)
        return;
    free(*pe);
    *pe = NULL;
}

static enum decision step(const avf_event_rule *r, tag_state *s, int64_t t0, int64_t t1,
                          double score)
{
    if (r->instant)
        return score >= r->enter ? INSTANT : NONE;
    if (!s->active) {
        if (!(score >= r->enter)) {
            s->rising = 0;
            return NONE;
        }
        if (s->rising++ == 0)
            s->rise_t0 = t0;
        if (s->rising < r->min_segments)
            return NONE;
        s->active = 1;
        s->rising = 0;
        s->falling = 0;
        s->start_t = s->rise_t0;
        s->last_high_t = t1;
        return STARTED;
    }
    if (score >= r->leave) {
        s->falling = 0;
        s->last_high_t = t1;
        return NONE;
    }
    if (++s->falling < r->min_segments)
        return NONE;
    s->active = 0;
    s->falling = 0;
    s->rising = 0;
    return ENDED;
}

static avf_event end_event(int tag, const tag_state *s)
{
    return (avf_event){tag, AVF_EVENT_END, s->last_high_t, s->start_t};
}

int avf_events_push(avf_events *e, int64_t t0_us, int64_t t1_us, const double scores[AVF_TAG_COUNT],
                    avf_event *out)
{
    enum decision d[AVF_TAG_COUNT];
    int n = 0;

    if (!e || !scores || !out || t1_us < t0_us)
        return -EINVAL;
    for (int i = 0; i < AVF_TAG_COUNT; i++)
        d[i] = step(&e->rules[i], &e->tags[i], t0_us, t1_us, scores[i]);

    for (int i = 0; i < AVF_TAG_COUNT; i++) {
        if (d[i] == ENDED)
            out[n++] = end_event(i, &e->tags[i]);
    }
    for (int i = 0; i < AVF_TAG_COUNT; i++) {
        if (d[i] == STARTED)
            out[n++] = (avf_event){i, AVF_EVENT_START, e->tags[i].start_t, e->tags[i].start_t};
        else if (d[i] == INSTANT)
            out[n++] = (avf_event){i, AVF_EVENT_START, t0_us, t0_us};
    }
    for (int i = 0; i < AVF_TAG_COUNT; i++) {
        if (d[i] == INSTANT)
            out[n++] = (avf_event){i, AVF_EVENT_END, t1_us, t0_us};
    }
    return n;
}

int avf_events_flush(avf_events *e, avf_event *out)
{
    int n = 0;

    if (!e || !out)
        return -EINVAL;
    for (int i = 0; i < AVF_TAG_COUNT; i++) {
        tag_state *s = &e->tags[i];

        if (s->active)
            out[n++] = end_event(i, s);
        *s = (tag_state){0};
    }
    return n;
}

/* Adds key: real, which jansson refuses for NaN and infinities. */
static int add_real(json_t *obj, const char *key, double v)
{
    return isfinite(v) ? json_object_set_new(obj, key, json_real(v)) : -1;
}

char *avf_event_message(const avf_event *ev, const char *source, int64_t epoch, uint64_t seq,
                        int64_t offset_us)
{
    /* the same arithmetic as the segments' t0 and t1, so the two agree to the bit */
    double t = ev ? (ev->t_us + offset_us) / 1e6 : 0;
    double start = ev ? (ev->start_us + offset_us) / 1e6 : 0;
    const char *tag = ev ? avf_tag_name(ev->tag) : NULL;
    json_t *msg = NULL;
    char *text = NULL;
    int err = 0;

    if (!tag || !source || (ev->kind != AVF_EVENT_START && ev->kind != AVF_EVENT_END) ||
        seq > (uint64_t)INT64_MAX)
        return NULL;
    msg = json_object();
    if (!msg)
        return NULL;
    err |= json_object_set_new(msg, "schema", json_string(AVF_EVENT_SCHEMA));
    err |= json_object_set_new(msg, "source", json_string(source));
    err |= json_object_set_new(msg, "epoch", json_integer((json_int_t)epoch));
    err |= json_object_set_new(msg, "seq", json_integer((json_int_t)seq));
    err |= json_object_set_new(msg, "tag", json_string(tag));
    err |= json_object_set_new(msg, "event",
                               json_string(ev->kind == AVF_EVENT_START ? "start" : "end"));
    err |= add_real(msg, "t", t);
    if (ev->kind == AVF_EVENT_END)
        err |= add_real(msg, "duration", t - start);
    if (!err)
        text = json_dumps(msg, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    json_decref(msg);
    return text;
}
