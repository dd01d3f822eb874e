/*
 * test_message.c - unit tests of source names and the segment message
 * (fusion/message.c).
 *
 * Source names end up in topics and file names, and the segment message is a
 * contract with subscribers, so both are checked from the outside: names against
 * the documented pattern, messages by parsing the JSON back with jansson rather than
 * comparing whole strings, which would tie the tests to key order and spacing.
 * Only the number formatting is checked on the raw text, since a parser reads a
 * time printed with too many digits back as the same number.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/vocab.h"
#include "fusion/message.h"
#include "fusion/outputs.h"

static void test_source_name_valid(void **state)
{
    char name[AVF_SOURCE_NAME_MAX + 2];

    (void)state;
    assert_true(avf_source_name_valid("lobby"));
    assert_true(avf_source_name_valid("a"));
    assert_true(avf_source_name_valid("A-b_9"));
    memset(name, 'x', AVF_SOURCE_NAME_MAX);
    name[AVF_SOURCE_NAME_MAX] = '\0';
    assert_true(avf_source_name_valid(name));

    name[AVF_SOURCE_NAME_MAX] = 'x';
    name[AVF_SOURCE_NAME_MAX + 1] = '\0';
    assert_false(avf_source_name_valid(name));
    assert_false(avf_source_name_valid(""));
    assert_false(avf_source_name_valid("a b"));
    assert_false(avf_source_name_valid("\xc3\xa9")); /* "é" in UTF-8 */
    assert_false(avf_source_name_valid("a/b"));
    assert_false(avf_source_name_valid(NULL));
}

/*
 * Runs avf_source_name_from_path() into a heap buffer of exactly the documented
 * size, so that valgrind or ASan catch a write past it, and checks the result.
 */
static void expect_name_from_path(const char *path, const char *expected)
{
    char *out = malloc(AVF_SOURCE_NAME_MAX + 1);

    assert_non_null(out);
    avf_source_name_from_path(path, out);
    assert_string_equal(out, expected);
    assert_true(avf_source_name_valid(out));
    free(out);
}

static void test_source_name_from_path(void **state)
{
    (void)state;
    expect_name_from_path("/x/y/clip.mp4", "clip");
    expect_name_from_path("a.b.mp4", "a_b");
    /* only the last dot starts the extension, however many there are */
    expect_name_from_path("a.b.c.mp4", "a_b_c");
    expect_name_from_path("noext", "noext");
    expect_name_from_path(".hidden", "_hidden");
    expect_name_from_path("dir/", "input");
    expect_name_from_path("http://host/live/stream.m3u8?token=1", "stream");
    /* the query goes even when there is no extension, and its dots are not one */
    expect_name_from_path("rtsp://cam.local/live?channel=2", "live");
    expect_name_from_path("http://host/hls/cam1?expires=1.5", "cam1");
    expect_name_from_path("my clip (1).mkv", "my_clip__1_");
    /* a URL without a path is named after its host, not its user and password */
    expect_name_from_path("rtsp://admin:pw@cam?x=1", "cam");
    expect_name_from_path("http://u:pw@host", "host");
}

static void test_source_name_from_long_path(void **state)
{
    char path[100 + sizeof("/in/.mp4")];
    char base[101];
    char expected[AVF_SOURCE_NAME_MAX + 1];

    (void)state;
    /* digits that differ along the name, so that a cut in the wrong place shows */
    for (int i = 0; i < 100; i++)
        base[i] = (char)('0' + i % 10);
    base[100] = '\0';
    memcpy(expected, base, AVF_SOURCE_NAME_MAX);
    expected[AVF_SOURCE_NAME_MAX] = '\0';
    expect_name_from_path(base, expected);
    snprintf(path, sizeof(path), "/in/%s.mp4", base);
    expect_name_from_path(path, expected);
}

/*
 * Encodes seg and parses the text back; *text receives the raw string, which the
 * caller frees with free(), and the caller releases the result with json_decref().
 */
static json_t *encode(const avf_segment *seg, const char *source, int64_t epoch, uint64_t seq,
                      char **text)
{
    json_error_t error;
    json_t *msg;

    avf_message_meta meta = {source, epoch, seq, 0, INT64_MIN, NAN};

    *text = avf_segment_message(seg, NULL, &meta);
    assert_non_null(*text);
    /* one line: subscribers read messages line by line */
    assert_null(strchr(*text, '\n'));
    msg = json_loads(*text, JSON_REJECT_DUPLICATES, &error);
    if (!msg)
        fail_msg("not JSON (%s): %s", error.text, *text);
    assert_true(json_is_object(msg));
    return msg;
}

/* Checks that key's value is printed exactly as literal, wherever key sits. */
static void expect_raw_number(const char *text, const char *key, const char *literal)
{
    char pattern[64];
    const char *value;
    size_t len;

    snprintf(pattern, sizeof(pattern), "\"%s\":", key);
    value = strstr(text, pattern);
    if (!value)
        fail_msg("no %s in %s", pattern, text);
    value += strlen(pattern);
    len = strcspn(value, ",}");
    if (len != strlen(literal) || strncmp(value, literal, len) != 0)
        fail_msg("%s printed as %.*s, expected %s", key, (int)len, value, literal);
}

static double real_member(const json_t *obj, const char *key)
{
    const json_t *value = json_object_get(obj, key);

    assert_non_null(value);
    assert_true(json_is_real(value));
    return json_real_value(value);
}

static json_int_t integer_member(const json_t *obj, const char *key)
{
    const json_t *value = json_object_get(obj, key);

    assert_non_null(value);
    assert_true(json_is_integer(value));
    return json_integer_value(value);
}

static void test_segment_message_fields(void **state)
{
    const avf_segment seg = {
        .index = 26,
        .t0_us = 10000000,
        .t1_us = 10400000,
        .video_present = 1,
        .nb_frames = 4,
        .audio_present = 1,
        .audio_len = 6400,
        .nb_samples = 6390,
    };
    json_t *msg, *video, *audio;
    char *text;

    (void)state;
    msg = encode(&seg, "lobby", 1700000000123LL, 42, &text);
    assert_string_equal(json_string_value(json_object_get(msg, "schema")), "avfuse.segment.v1");
    assert_string_equal(json_string_value(json_object_get(msg, "source")), "lobby");
    assert_int_equal(integer_member(msg, "epoch"), 1700000000123LL);
    assert_int_equal(integer_member(msg, "seq"), 42);
    assert_float_equal(real_member(msg, "t0"), 10.0, 1e-9);
    assert_float_equal(real_member(msg, "t1"), 10.4, 1e-9);
    expect_raw_number(text, "t0", "10.0");
    expect_raw_number(text, "t1", "10.4");
    assert_true(json_is_false(json_object_get(msg, "partial")));

    video = json_object_get(msg, "video");
    assert_true(json_is_object(video));
    assert_true(json_is_true(json_object_get(video, "present")));
    assert_int_equal(integer_member(video, "frames"), 4);
    audio = json_object_get(msg, "audio");
    assert_true(json_is_object(audio));
    assert_true(json_is_true(json_object_get(audio, "present")));
    /* samples really received, not the segment length */
    assert_int_equal(integer_member(audio, "samples"), 6390);

    json_decref(msg);
    free(text);
}

/* A later epoch: the offset moves the segment on the timeline; clock fields appear. */
static void test_segment_message_live_meta(void **state)
{
    const avf_segment seg = {.t0_us = 2000000, .t1_us = 3000000, .audio_present = 1};
    /* 2026-11-27T12:00:17.250Z */
    avf_message_meta meta = {"cam", 3, 120, 117500000, 1795780817250000LL, 8.44};
    json_error_t error;
    char *text = avf_segment_message(&seg, NULL, &meta);
    json_t *msg = json_loads(text, 0, &error);

    (void)state;
    assert_non_null(msg);
    assert_int_equal(integer_member(msg, "epoch"), 3);
    assert_int_equal(integer_member(msg, "seq"), 120);
    assert_float_equal(real_member(msg, "t0"), 119.5, 1e-9);
    assert_float_equal(real_member(msg, "t1"), 120.5, 1e-9);
    assert_string_equal(json_string_value(json_object_get(msg, "wallclock")),
                        "2026-11-27T12:00:17.250Z");
    assert_float_equal(real_member(msg, "latency_ms"), 8.4, 1e-9);
    json_decref(msg);
    free(text);

    /* unknown clock: both fields are left out, not null */
    meta.wallclock_us = INT64_MIN;
    meta.latency_ms = NAN;
    text = avf_segment_message(&seg, NULL, &meta);
    msg = json_loads(text, 0, &error);
    assert_non_null(msg);
    assert_null(json_object_get(msg, "wallclock"));
    assert_null(json_object_get(msg, "latency_ms"));
    json_decref(msg);
    free(text);
}

static void test_segment_message_partial(void **state)
{
    const avf_segment seg = {
        .t0_us = 0,
        .t1_us = 250000,
        .partial = 1,
        .video_present = 1,
        .nb_frames = 1,
        .audio_present = 1,
        .nb_samples = 4000,
    };
    json_t *msg;
    char *text;

    (void)state;
    msg = encode(&seg, "a", 0, 0, &text);
    assert_true(json_is_true(json_object_get(msg, "partial")));
    assert_float_equal(real_member(msg, "t0"), 0.0, 1e-9);
    assert_float_equal(real_member(msg, "t1"), 0.25, 1e-9);
    assert_int_equal(integer_member(msg, "epoch"), 0);
    assert_int_equal(integer_member(msg, "seq"), 0);
    json_decref(msg);
    free(text);
}

/* A modality that is absent says so and carries no count, not a count of zero. */
static void test_segment_message_absent_modalities(void **state)
{
    const avf_segment audio_only = {
        .t0_us = 400000,
        .t1_us = 800000,
        .audio_present = 1,
        .nb_samples = 6400,
    };
    const avf_segment video_only = {
        .t0_us = 400000,
        .t1_us = 800000,
        .video_present = 1,
        .nb_frames = 2,
    };
    json_t *msg, *video, *audio;
    char *text;

    (void)state;
    msg = encode(&audio_only, "mic", 1, 7, &text);
    video = json_object_get(msg, "video");
    assert_true(json_is_false(json_object_get(video, "present")));
    assert_null(json_object_get(video, "frames"));
    audio = json_object_get(msg, "audio");
    assert_true(json_is_true(json_object_get(audio, "present")));
    assert_int_equal(integer_member(audio, "samples"), 6400);
    json_decref(msg);
    free(text);

    msg = encode(&video_only, "cam", 1, 8, &text);
    video = json_object_get(msg, "video");
    assert_true(json_is_true(json_object_get(video, "present")));
    assert_int_equal(integer_member(video, "frames"), 2);
    audio = json_object_get(msg, "audio");
    assert_true(json_is_false(json_object_get(audio, "present")));
    assert_null(json_object_get(audio, "samples"));
    json_decref(msg);
    free(text);
}

/*
 * Microsecond times far into a stream still print exactly, not as binary fractions:
 * unlike 10.4, 86400.4 comes out as 86400.399999999994 with 17 significant digits.
 */
static void test_segment_message_time_precision(void **state)
{
    const avf_segment seg = {
        .t0_us = 86399999999LL,
        .t1_us = 86400400000LL,
        .partial = 1,
        .video_present = 1,
        .nb_frames = 0,
    };
    json_t *msg;
    char *text;

    (void)state;
    msg = encode(&seg, "lobby", 3, 99, &text);
    expect_raw_number(text, "t0", "86399.999999");
    expect_raw_number(text, "t1", "86400.4");
    assert_float_equal(real_member(msg, "t0"), 86399.999999, 1e-9);
    assert_float_equal(real_member(msg, "t1"), 86400.4, 1e-9);
    /* present with no frames is a count of zero, which must not be dropped */
    assert_int_equal(integer_member(json_object_get(msg, "video"), "frames"), 0);
    json_decref(msg);
    free(text);
}

/* Sentiment carries its basis, and null where the basis gives no value. */
static void test_segment_message_sentiment_basis(void **state)
{
    const avf_segment seg = {.t0_us = 0, .t1_us = 1000000, .audio_present = 1};
    avf_message_meta meta = {"cam", 0, 0, 0, INT64_MIN, NAN};
    avf_fusion_out out = {.sentiment_valid = 1,
                          .sentiment_basis = AVF_BASIS_SCENE,
                          .arousal_valid = 1,
                          .valence = -0.9,
                          .arousal = 0.25,
                          .sentiment_label = 0,
                          .sentiment_confidence = 0.8};
    json_error_t error;
    json_t *msg, *sent;
    char *text;

    (void)state;
    text = avf_segment_message(&seg, &out, &meta);
    msg = json_loads(text, JSON_REJECT_DUPLICATES, &error);
    assert_non_null(msg);
    sent = json_object_get(msg, "sentiment");
    assert_true(json_is_object(sent));
    assert_int_equal(json_object_size(sent), 5);
    assert_string_equal(json_string_value(json_object_get(sent, "basis")), "scene");
    assert_true(json_is_null(json_object_get(sent, "valence")));
    assert_true(json_is_null(json_object_get(sent, "label")));
    assert_true(json_is_null(json_object_get(sent, "confidence")));
    assert_float_equal(real_member(sent, "arousal"), 0.25, 1e-12);
    json_decref(msg);
    free(text);
    /* voice: every value; none: only the basis */
    out.sentiment_basis = AVF_BASIS_VOICE;
    out.valence_valid = 1;
    text = avf_segment_message(&seg, &out, &meta);
    msg = json_loads(text, JSON_REJECT_DUPLICATES, &error);
    sent = json_object_get(msg, "sentiment");
    assert_string_equal(json_string_value(json_object_get(sent, "basis")), "voice");
    assert_float_equal(real_member(sent, "valence"), -0.9, 1e-12);
    assert_string_equal(json_string_value(json_object_get(sent, "label")), "negative");
    assert_float_equal(real_member(sent, "confidence"), 0.8, 1e-12);
    json_decref(msg);
    free(text);
    out.sentiment_basis = AVF_BASIS_NONE;
    out.valence_valid = out.arousal_valid = 0;
    text = avf_segment_message(&seg, &out, &meta);
    msg = json_loads(text, JSON_REJECT_DUPLICATES, &error);
    sent = json_object_get(msg, "sentiment");
    assert_string_equal(json_string_value(json_object_get(sent, "basis")), "none");
    assert_true(json_is_null(json_object_get(sent, "valence")));
    assert_true(json_is_null(json_object_get(sent, "arousal")));
    json_decref(msg);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_source_name_valid),
        cmocka_unit_test(test_source_name_from_path),
        cmocka_unit_test(test_source_name_from_long_path),
        cmocka_unit_test(test_segment_message_fields),
        cmocka_unit_test(test_segment_message_live_meta),
        cmocka_unit_test(test_segment_message_partial),
        cmocka_unit_test(test_segment_message_absent_modalities),
        cmocka_unit_test(test_segment_message_time_precision),
        cmocka_unit_test(test_segment_message_sentiment_basis),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
