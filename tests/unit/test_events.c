/*
 * test_events.c - tag events with hysteresis on crafted score sequences: no event
 * from one odd segment, START and END timed on the timeline and not on the segment
 * that decides them, the band between leave and enter, cut as an instant, flush,
 * NaN, overlapping segments, rule validation, and the avfuse.event.v1 encoder
 * (the segment's seq and the epoch's offset are the encoder's to add).
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "fusion/events.h"
#include "fusion/tags.h"

/* A feeder of 1 s segments (or hop/len for overlap) with every other tag at 0. */
typedef struct feed {
    avf_events *e;
    uint64_t seq;
    double hop, len;
    avf_event ev[AVF_EVENTS_MAX];
    int n;
} feed;

static feed feed_new(const avf_event_rule *rules, double hop, double len)
{
    feed f = {.e = avf_events_new(rules), .hop = hop, .len = len};

    assert_non_null(f.e);
    return f;
}

/* Pushes the next segment with `score` for `tag`; returns the number of events. */
static int push(feed *f, int tag, double score)
{
    double scores[AVF_TAG_COUNT] = {0};
    int64_t t0 = llround((double)f->seq * f->hop * 1e6);

    scores[tag] = score;
    f->n = avf_events_push(f->e, t0, t0 + llround(f->len * 1e6), scores, f->ev);
    f->seq++;
    assert_true(f->n >= 0);
    return f->n;
}

/* Pushes n scores and asserts that none of them makes an event. */
static void push_quiet(feed *f, int tag, const double *scores, int n)
{
    for (int i = 0; i < n; i++)
        assert_int_equal(push(f, tag, scores[i]), 0);
}

/* t and duration in seconds; an event's times are whole microseconds */
static void assert_event(const avf_event *ev, int tag, int kind, double t, double duration)
{
    assert_int_equal(ev->tag, tag);
    assert_int_equal(ev->kind, kind);
    assert_int_equal(ev->t_us, llround(t * 1e6));
    assert_int_equal(ev->t_us - ev->start_us, llround(duration * 1e6));
}

static void test_one_odd_segment_makes_no_event(void **state)
{
    const double high_among_lows[] = {0.1, 0.1, 0.95, 0.1, 0.1, 0.9, 0.0};
    const double low_among_highs[] = {0.1, 0.9, 0.05, 0.9, 0.9, 0.1, 0.9, 0.9};
    feed f = feed_new(NULL, 1, 1);

    (void)state;
    push_quiet(&f, AVF_TAG_SPEECH, high_among_lows, 7);
    /* now get in (2 highs), then a single low among highs stays in */
    assert_int_equal(push(&f, AVF_TAG_SPEECH, 0.9), 0);
    assert_int_equal(push(&f, AVF_TAG_SPEECH, 0.9), 1);
    assert_event(&f.ev[0], AVF_TAG_SPEECH, AVF_EVENT_START, 7.0, 0);
    push_quiet(&f, AVF_TAG_SPEECH, low_among_highs, 8);
    avf_events_free(&f.e);
    assert_null(f.e);

    /* a deterministic tag: one fired segment is no event either way */
    f = feed_new(NULL, 1, 1);
    push_quiet(&f, AVF_TAG_BLACK, (const double[]){1, 0, 1, 0, 0}, 5);
    assert_int_equal(push(&f, AVF_TAG_BLACK, 1), 0);
    assert_int_equal(push(&f, AVF_TAG_BLACK, 1), 1);
    assert_event(&f.ev[0], AVF_TAG_BLACK, AVF_EVENT_START, 5.0, 0);
    push_quiet(&f, AVF_TAG_BLACK, (const double[]){0, 1, 1, 0, 1}, 5);
    avf_events_free(&f.e);
}

static void test_start_after_two_highs(void **state)
{
    feed f = feed_new(NULL, 1, 1);

    (void)state;
    push_quiet(&f, AVF_TAG_MUSIC, (const double[]){0.0, 0.2, 0.3}, 3);
    assert_int_equal(push(&f, AVF_TAG_MUSIC, 0.7), 0);
    assert_int_equal(push(&f, AVF_TAG_MUSIC, 0.6), 1); /* enter is inclusive */
    /* decided on seq 4, but the music began at t0 of seq 3 */
    assert_event(&f.ev[0], AVF_TAG_MUSIC, AVF_EVENT_START, 3.0, 0);
    avf_events_free(&f.e);
}

static void test_end_after_two_lows(void **state)
{
    feed f = feed_new(NULL, 1, 1);

    (void)state;
    push(&f, AVF_TAG_SPEECH, 0.9); /* seq 0 [0, 1) */
    assert_int_equal(push(&f, AVF_TAG_SPEECH, 0.9), 1);
    assert_event(&f.ev[0], AVF_TAG_SPEECH, AVF_EVENT_START, 0.0, 0);
    push_quiet(&f, AVF_TAG_SPEECH, (const double[]){0.8, 0.4}, 2); /* leave is inclusive */
    assert_int_equal(push(&f, AVF_TAG_SPEECH, 0.39), 0);           /* seq 4 */
    assert_int_equal(push(&f, AVF_TAG_SPEECH, 0.1), 1);            /* seq 5 */
    /* the last segment >= leave was seq 3 [3, 4): the speech ended at 4.0 */
    assert_event(&f.ev[0], AVF_TAG_SPEECH, AVF_EVENT_END, 4.0, 4.0);
    /* inactive again: one high is not enough, two are */
    assert_int_equal(push(&f, AVF_TAG_SPEECH, 0.9), 0);
    assert_int_equal(push(&f, AVF_TAG_SPEECH, 0.9), 1);
    assert_event(&f.ev[0], AVF_TAG_SPEECH, AVF_EVENT_START, 6.0, 0);
    avf_events_free(&f.e);
}

static void test_band_keeps_state(void **state)
{
    /* between leave 0.4 and enter 0.6 */
    const double band[] = {0.45, 0.55, 0.5, 0.59, 0.4, 0.5, 0.45, 0.55};
    const double high_band_high[] = {0.9, 0.5, 0.9, 0.5, 0.9};
    const double low_band_low[] = {0.1, 0.5, 0.1, 0.5, 0.1};
    feed f = feed_new(NULL, 1, 1);

    (void)state;
    push_quiet(&f, AVF_TAG_NOISE, band, 8); /* inactive stays inactive */
    /* a band score resets a rising run: high, band, high, ... never enters */
    push_quiet(&f, AVF_TAG_NOISE, high_band_high, 5);
    assert_int_equal(push(&f, AVF_TAG_NOISE, 0.9), 1); /* seq 13, with seq 12 */
    assert_event(&f.ev[0], AVF_TAG_NOISE, AVF_EVENT_START, 12.0, 0);
    push_quiet(&f, AVF_TAG_NOISE, band, 8); /* active stays active */
    /* a band score resets a falling run and extends the event */
    push_quiet(&f, AVF_TAG_NOISE, low_band_low, 5); /* seq 22..26, band at 23 and 25 */
    assert_int_equal(push(&f, AVF_TAG_NOISE, 0.1), 1);
    assert_event(&f.ev[0], AVF_TAG_NOISE, AVF_EVENT_END, 26.0, 26.0 - 12.0);
    avf_events_free(&f.e);
}

static void test_cut_is_an_instant(void **state)
{
    feed f = feed_new(NULL, 1, 1);

    (void)state;
    assert_int_equal(push(&f, AVF_TAG_CUT, 0), 0);
    for (int i = 0; i < 3; i++) {
        uint64_t seq = f.seq;

        assert_int_equal(push(&f, AVF_TAG_CUT, 1), 2);
        assert_event(&f.ev[0], AVF_TAG_CUT, AVF_EVENT_START, (double)seq, 0);
        assert_event(&f.ev[1], AVF_TAG_CUT, AVF_EVENT_END, (double)seq + 1, 1.0);
    }
    assert_int_equal(push(&f, AVF_TAG_CUT, 0), 0);
    /* an instant is never left active */
    assert_int_equal(push(&f, AVF_TAG_CUT, 1), 2);
    assert_int_equal(avf_events_flush(f.e, f.ev), 0);
    avf_events_free(&f.e);
}

static void test_order_ends_then_starts(void **state)
{
    double scores[AVF_TAG_COUNT] = {0};
    avf_event ev[AVF_EVENTS_MAX];
    avf_events *e = avf_events_new(NULL);
    int n;

    (void)state;
    assert_non_null(e);
    /* speech and motion active from segment 0, decided on 1 */
    scores[AVF_TAG_SPEECH] = scores[AVF_TAG_MOTION] = 1;
    assert_int_equal(avf_events_push(e, 0, 1000000, scores, ev), 0);
    assert_int_equal(avf_events_push(e, 1000000, 2000000, scores, ev), 2);
    assert_event(&ev[0], AVF_TAG_SPEECH, AVF_EVENT_START, 0, 0);
    assert_event(&ev[1], AVF_TAG_MOTION, AVF_EVENT_START, 0, 0);
    /* then music and black rise while speech and motion fall, with a cut */
    memset(scores, 0, sizeof(scores));
    scores[AVF_TAG_MUSIC] = scores[AVF_TAG_BLACK] = 1;
    assert_int_equal(avf_events_push(e, 2000000, 3000000, scores, ev), 0);
    scores[AVF_TAG_CUT] = 1;
    n = avf_events_push(e, 3000000, 4000000, scores, ev);
    assert_int_equal(n, 6);
    assert_event(&ev[0], AVF_TAG_SPEECH, AVF_EVENT_END, 2, 2);
    assert_event(&ev[1], AVF_TAG_MOTION, AVF_EVENT_END, 2, 2);
    assert_event(&ev[2], AVF_TAG_MUSIC, AVF_EVENT_START, 2, 0);
    assert_event(&ev[3], AVF_TAG_BLACK, AVF_EVENT_START, 2, 0);
    assert_event(&ev[4], AVF_TAG_CUT, AVF_EVENT_START, 3, 0);
    assert_event(&ev[5], AVF_TAG_CUT, AVF_EVENT_END, 4, 1);
    avf_events_free(&e);
}

static void test_flush_ends_active_tags(void **state)
{
    feed f = feed_new(NULL, 1, 1);

    (void)state;
    assert_int_equal(avf_events_flush(f.e, f.ev), 0); /* nothing pushed */
    push(&f, AVF_TAG_SPEECH, 0.9);
    push(&f, AVF_TAG_SPEECH, 0.9); /* START at 0 on seq 1 */
    push(&f, AVF_TAG_SPEECH, 0.9);
    assert_int_equal(avf_events_flush(f.e, f.ev), 1);
    assert_event(&f.ev[0], AVF_TAG_SPEECH, AVF_EVENT_END, 3.0, 3.0);
    assert_int_equal(avf_events_flush(f.e, f.ev), 0); /* once only */

    /* a rising run in progress is no event, and flush forgets it */
    push(&f, AVF_TAG_MUSIC, 0.9); /* seq 3 */
    assert_int_equal(avf_events_flush(f.e, f.ev), 0);
    assert_int_equal(push(&f, AVF_TAG_MUSIC, 0.9), 0); /* seq 4 starts a new run */
    assert_int_equal(push(&f, AVF_TAG_MUSIC, 0.9), 1);
    assert_event(&f.ev[0], AVF_TAG_MUSIC, AVF_EVENT_START, 4.0, 0);
    /* input ends during a fall: the trailing low segment is not part of the event */
    assert_int_equal(push(&f, AVF_TAG_MUSIC, 0.1), 0); /* seq 6 */
    assert_int_equal(avf_events_flush(f.e, f.ev), 1);
    assert_event(&f.ev[0], AVF_TAG_MUSIC, AVF_EVENT_END, 6.0, 2.0);
    avf_events_free(&f.e);
}

static void test_nan(void **state)
{
    feed f = feed_new(NULL, 1, 1);

    (void)state;
    /* inactive: NaN is not above enter, so it breaks a rising run */
    push_quiet(&f, AVF_TAG_SPEECH, (const double[]){0.9, NAN, 0.9, NAN, NAN}, 5);
    push(&f, AVF_TAG_SPEECH, 0.9);                      /* seq 5 */
    assert_int_equal(push(&f, AVF_TAG_SPEECH, 0.9), 1); /* seq 6 */
    assert_event(&f.ev[0], AVF_TAG_SPEECH, AVF_EVENT_START, 5.0, 0);
    /* active: NaN is below leave; one is bridged, two end the event */
    push_quiet(&f, AVF_TAG_SPEECH, (const double[]){NAN, 0.9, NAN}, 3); /* seq 7..9 */
    assert_int_equal(push(&f, AVF_TAG_SPEECH, NAN), 1);                 /* seq 10 */
    assert_event(&f.ev[0], AVF_TAG_SPEECH, AVF_EVENT_END, 9.0, 4.0);
    /* bad times are refused and change nothing */
    {
        double scores[AVF_TAG_COUNT] = {0};

        assert_int_equal(avf_events_push(f.e, 12000000, 11000000, scores, f.ev), -EINVAL);
        assert_int_equal(avf_events_push(NULL, 11000000, 12000000, scores, f.ev), -EINVAL);
        assert_int_equal(avf_events_push(f.e, 11000000, 12000000, NULL, f.ev), -EINVAL);
        assert_int_equal(avf_events_push(f.e, 11000000, 12000000, scores, NULL), -EINVAL);
        assert_int_equal(avf_events_flush(NULL, f.ev), -EINVAL);
        /* nothing changed: the event still ended at 9.0 and stays ended */
        assert_int_equal(avf_events_flush(f.e, f.ev), 0);
    }
    avf_events_free(&f.e);
}

static void test_overlapping_segments(void **state)
{
    /* hop 0.5, len 1: seq k covers [k/2, k/2 + 1) */
    feed f = feed_new(NULL, 0.5, 1);

    (void)state;
    push_quiet(&f, AVF_TAG_MOTION, (const double[]){0, 0, 1}, 3); /* seq 0..2 */
    assert_int_equal(push(&f, AVF_TAG_MOTION, 1), 1);             /* seq 3 */
    assert_event(&f.ev[0], AVF_TAG_MOTION, AVF_EVENT_START, 1.0, 0);
    push_quiet(&f, AVF_TAG_MOTION, (const double[]){1, 1, 0}, 3); /* seq 4..6 */
    assert_int_equal(push(&f, AVF_TAG_MOTION, 0), 1);             /* seq 7 */
    /* the last segment with motion is seq 5, [2.5, 3.5) */
    assert_event(&f.ev[0], AVF_TAG_MOTION, AVF_EVENT_END, 3.5, 2.5);
    /* a cut seen by two overlapping segments is two instants */
    assert_int_equal(push(&f, AVF_TAG_CUT, 1), 2); /* seq 8 [4, 5) */
    assert_event(&f.ev[0], AVF_TAG_CUT, AVF_EVENT_START, 4.0, 0);
    assert_event(&f.ev[1], AVF_TAG_CUT, AVF_EVENT_END, 5.0, 1.0);
    assert_int_equal(push(&f, AVF_TAG_CUT, 1), 2); /* seq 9 [4.5, 5.5) */
    assert_event(&f.ev[0], AVF_TAG_CUT, AVF_EVENT_START, 4.5, 0);
    avf_events_free(&f.e);
}

static void test_custom_rules(void **state)
{
    avf_event_rule rules[AVF_TAG_COUNT];
    feed f;

    (void)state;
    avf_event_rules_default(rules);
    rules[AVF_TAG_LOUD] = (avf_event_rule){0.8, 0.2, 3, 0};
    rules[AVF_TAG_MUSIC] = (avf_event_rule){0.5, 0.5, 1, 0};
    f = feed_new(rules, 1, 1);
    /* 3 segments to enter and to leave */
    push_quiet(&f, AVF_TAG_LOUD, (const double[]){0.9, 0.9}, 2);
    assert_int_equal(push(&f, AVF_TAG_LOUD, 0.9), 1);
    assert_event(&f.ev[0], AVF_TAG_LOUD, AVF_EVENT_START, 0.0, 0);
    push_quiet(&f, AVF_TAG_LOUD, (const double[]){0.1, 0.1, 0.3, 0.1, 0.1}, 5); /* 3..7 */
    assert_int_equal(push(&f, AVF_TAG_LOUD, 0.1), 1);                           /* seq 8 */
    assert_event(&f.ev[0], AVF_TAG_LOUD, AVF_EVENT_END, 6.0, 6.0);
    /* min 1: every change of side is an event at once */
    assert_int_equal(push(&f, AVF_TAG_MUSIC, 0.5), 1); /* seq 9 */
    assert_event(&f.ev[0], AVF_TAG_MUSIC, AVF_EVENT_START, 9.0, 0);
    assert_int_equal(push(&f, AVF_TAG_MUSIC, 0.4), 1); /* seq 10 */
    assert_event(&f.ev[0], AVF_TAG_MUSIC, AVF_EVENT_END, 10.0, 1.0);
    avf_events_free(&f.e);
}

static void test_defaults(void **state)
{
    avf_event_rule rules[AVF_TAG_COUNT];

    (void)state;
    avf_event_rules_default(rules);
    for (int i = 0; i < AVF_TAG_COUNT; i++) {
        int content = i == AVF_TAG_SPEECH || i == AVF_TAG_MUSIC || i == AVF_TAG_NOISE;

        assert_float_equal(rules[i].enter, content ? 0.6 : 0.5, 0);
        assert_float_equal(rules[i].leave, content ? 0.4 : 0.5, 0);
        assert_int_equal(rules[i].min_segments, i == AVF_TAG_CUT ? 1 : 2);
        assert_int_equal(rules[i].instant, i == AVF_TAG_CUT);
    }
}

static void test_invalid_rules_rejected(void **state)
{
    avf_event_rule rules[AVF_TAG_COUNT];

    (void)state;
    avf_event_rules_default(rules);
    rules[AVF_TAG_SPEECH].leave = 0.7; /* above enter */
    assert_null(avf_events_new(rules));
    avf_event_rules_default(rules);
    rules[AVF_TAG_AV_OFFSET].min_segments = 0;
    assert_null(avf_events_new(rules));
    avf_event_rules_default(rules);
    rules[AVF_TAG_CUT].min_segments = -1; /* unused by an instant, still checked */
    assert_null(avf_events_new(rules));
    avf_event_rules_default(rules);
    rules[AVF_TAG_MUSIC].enter = NAN;
    assert_null(avf_events_new(rules));
    avf_event_rules_default(rules);
    rules[AVF_TAG_MUSIC].leave = NAN;
    assert_null(avf_events_new(rules));
    /* leave == enter is a valid edge */
    avf_event_rules_default(rules);
    rules[AVF_TAG_SPEECH].leave = rules[AVF_TAG_SPEECH].enter;
    {
        avf_events *e = avf_events_new(rules);

        assert_non_null(e);
        avf_events_free(&e);
        avf_events_free(&e); /* NULL is fine */
        avf_events_free(NULL);
    }
}

static json_t *parse(char *text)
{
    json_error_t error;
    json_t *obj;

    assert_non_null(text);
    assert_null(strchr(text, '\n'));
    obj = json_loads(text, 0, &error);
    assert_non_null(obj);
    free(text);
    return obj;
}

static void test_message(void **state)
{
    const avf_event end = {AVF_TAG_AV_OFFSET, AVF_EVENT_END, 17500000, 7100000};
    const avf_event start = {AVF_TAG_SPEECH, AVF_EVENT_START, 7000000, 7000000};
    const char *keys[] = {"schema", "source", "epoch", "seq", "tag", "event", "t", "duration"};
    char *text = avf_event_message(&end, "lobby", 3, 19, 0);
    json_t *obj, *v;
    const char *key;
    int i = 0;

    (void)state;
    assert_non_null(text);
    /* 15 significant digits: 10.4 reads 10.4 */
    assert_string_equal(text, "{\"schema\":\"avfuse.event.v1\",\"source\":\"lobby\",\"epoch\":3,"
                              "\"seq\":19,\"tag\":\"av_offset\",\"event\":\"end\",\"t\":17.5,"
                              "\"duration\":10.4}");
    obj = parse(text);
    json_object_foreach(obj, key, v)
    {
        assert_true(i < 8);
        assert_string_equal(key, keys[i++]);
    }
    assert_int_equal(i, 8);
    assert_string_equal(json_string_value(json_object_get(obj, "schema")), AVF_EVENT_SCHEMA);
    assert_string_equal(json_string_value(json_object_get(obj, "source")), "lobby");
    assert_int_equal(json_integer_value(json_object_get(obj, "epoch")), 3);
    assert_int_equal(json_integer_value(json_object_get(obj, "seq")), 19);
    assert_string_equal(json_string_value(json_object_get(obj, "tag")), "av_offset");
    assert_string_equal(json_string_value(json_object_get(obj, "event")), "end");
    assert_true(json_is_real(json_object_get(obj, "t")));
    assert_float_equal(json_real_value(json_object_get(obj, "t")), 17.5, 0);
    assert_float_equal(json_real_value(json_object_get(obj, "duration")), 10.4, 0);
    json_decref(obj);

    /* the epoch's offset moves t, not the duration */
    obj = parse(avf_event_message(&end, "lobby", 3, 19, 2500000));
    assert_float_equal(json_real_value(json_object_get(obj, "t")), 20.0, 0);
    assert_float_equal(json_real_value(json_object_get(obj, "duration")), 10.4, 1e-9);
    json_decref(obj);

    /* a START has no duration; t is a real even when whole */
    obj = parse(avf_event_message(&start, "cam-2_b", 0, 8, 0));
    assert_int_equal(json_object_size(obj), 7);
    assert_null(json_object_get(obj, "duration"));
    assert_string_equal(json_string_value(json_object_get(obj, "tag")), "speech");
    assert_string_equal(json_string_value(json_object_get(obj, "event")), "start");
    assert_true(json_is_real(json_object_get(obj, "t")));
    assert_float_equal(json_real_value(json_object_get(obj, "t")), 7.0, 0);
    json_decref(obj);
}

static void test_message_from_push(void **state)
{
    feed f = feed_new(NULL, 1, 1);
    json_t *obj;

    (void)state;
    push(&f, AVF_TAG_CUT, 1);
    obj = parse(avf_event_message(&f.ev[1], "lobby", 1, 0, 0));
    assert_string_equal(json_string_value(json_object_get(obj, "tag")), "cut");
    assert_string_equal(json_string_value(json_object_get(obj, "event")), "end");
    assert_float_equal(json_real_value(json_object_get(obj, "t")), 1.0, 0);
    assert_float_equal(json_real_value(json_object_get(obj, "duration")), 1.0, 0);
    json_decref(obj);
    avf_events_free(&f.e);
}

static void test_message_refuses_bad_events(void **state)
{
    avf_event ev = {AVF_TAG_SPEECH, AVF_EVENT_END, 1000000, 0};
    char *text;

    (void)state;
    assert_null(avf_event_message(NULL, "lobby", 0, 2, 0));
    assert_null(avf_event_message(&ev, NULL, 0, 2, 0));
    ev.tag = AVF_TAG_COUNT;
    assert_null(avf_event_message(&ev, "lobby", 0, 2, 0));
    ev.tag = AVF_TAG_SPEECH;
    ev.kind = 2;
    assert_null(avf_event_message(&ev, "lobby", 0, 2, 0));
    ev.kind = AVF_EVENT_END;
    /* beyond a JSON integer jansson can write */
    assert_null(avf_event_message(&ev, "lobby", 0, UINT64_MAX, 0));
    text = avf_event_message(&ev, "lobby", 0, 2, 0); /* and back to encodable */
    assert_non_null(text);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_odd_segment_makes_no_event),
        cmocka_unit_test(test_start_after_two_highs),
        cmocka_unit_test(test_end_after_two_lows),
        cmocka_unit_test(test_band_keeps_state),
        cmocka_unit_test(test_cut_is_an_instant),
        cmocka_unit_test(test_order_ends_then_starts),
        cmocka_unit_test(test_flush_ends_active_tags),
        cmocka_unit_test(test_nan),
        cmocka_unit_test(test_overlapping_segments),
        cmocka_unit_test(test_custom_rules),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_invalid_rules_rejected),
        cmocka_unit_test(test_message),
        cmocka_unit_test(test_message_from_push),
        cmocka_unit_test(test_message_refuses_bad_events),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
