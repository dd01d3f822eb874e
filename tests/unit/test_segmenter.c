/*
 * test_segmenter.c - the segmenter fed crafted frame times and sample runs: exact
 * counts per segment, offset starts, audio only, video only, hop < len, gaps, a
 * stream that ends early, completion order (the audio rows too) and the partial
 * last segment.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include <libavutil/frame.h>

#include "pipeline/error.h"
#include "pipeline/segmenter.h"

#define RATE 16000

static AVFrame *frame;

static int setup(void **state)
{
    (void)state;
    frame = av_frame_alloc();
    if (!frame)
        return -1;
    frame->format = AV_PIX_FMT_YUV420P;
    frame->width = frame->height = 16;
    return av_frame_get_buffer(frame, 0) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    av_frame_free(&frame);
    return 0;
}

static avf_segmenter *new_segmenter(double hop, double len, int video, int audio)
{
    avf_segmenter_config cfg = {
        .rate = RATE,
        .hop_samples = (int64_t)(hop * RATE),
        .len_samples = (int64_t)(len * RATE),
        .min_partial_us = 50000,
        .has_video = video,
        .has_audio = audio,
    };
    avf_segmenter *s = avf_segmenter_new(&cfg);

    assert_non_null(s);
    return s;
}

/* Frames at fps from from_us (inclusive) to to_us (exclusive). */
static void feed_video(avf_segmenter *s, double fps, int64_t from_us, int64_t to_us)
{
    for (int64_t i = 0;; i++) {
        int64_t t = from_us + (int64_t)(i * 1e6 / fps + 0.5);

        if (t >= to_us)
            break;
        assert_int_equal(avf_segmenter_video(s, t, t, frame, NULL), 0);
    }
}

/* Samples [from, to) in chunks of 1024, each sample holding its own index. */
static void feed_audio(avf_segmenter *s, int64_t from, int64_t to)
{
    float buf[1024];

    for (int64_t pos = from; pos < to; pos += 1024) {
        int n = to - pos < 1024 ? (int)(to - pos) : 1024;

        for (int i = 0; i < n; i++)
            buf[i] = (float)(pos + i);
        assert_int_equal(avf_segmenter_audio(s, pos, buf, n), 0);
    }
}

/* Pops every complete segment into segs[]; returns how many. */
static int pop_all(avf_segmenter *s, avf_segment **segs, int max)
{
    int n = 0, ret;
    avf_segment *seg;

    while ((ret = avf_segmenter_pop(s, &seg)) == 1) {
        assert_true(n < max);
        segs[n++] = seg;
    }
    assert_true(ret == 0 || ret == AVF_EOS);
    return n;
}

static void free_all(avf_segment **segs, int n)
{
    for (int i = 0; i < n; i++)
        avf_segment_free(&segs[i]);
}

static void test_audio_video_exact(void **state)
{
    avf_segmenter *s = new_segmenter(1.0, 1.0, 1, 1);
    avf_segment *segs[8];
    int n;

    (void)state;
    feed_video(s, 10, 0, 3000000);
    feed_audio(s, 0, 3 * RATE);
    avf_segmenter_video_end(s, 3000000);
    avf_segmenter_audio_end(s, 3 * RATE);
    n = pop_all(s, segs, 8);
    assert_int_equal(n, 3);
    for (int k = 0; k < 3; k++) {
        assert_int_equal(segs[k]->index, k);
        assert_int_equal(segs[k]->t0_us, k * 1000000);
        assert_int_equal(segs[k]->t1_us, (k + 1) * 1000000);
        assert_false(segs[k]->partial);
        assert_int_equal(segs[k]->nb_frames, 10);
        assert_int_equal(segs[k]->nb_samples, RATE);
        assert_true(segs[k]->video_present && segs[k]->audio_present);
        /* sample-exact: the first sample of segment k is timeline sample k*RATE */
        assert_true(segs[k]->audio[0] == (float)(k * RATE));
        assert_true(segs[k]->audio[RATE - 1] == (float)(k * RATE + RATE - 1));
        assert_int_equal(segs[k]->frames[0]->pts, k * 1000000);
    }
    free_all(segs, n);
    assert_int_equal(avf_segmenter_pop(s, &segs[0]), AVF_EOS);
    avf_segmenter_free(&s);
    assert_null(s);
}

static void test_waits_for_slowest_modality(void **state)
{
    avf_segmenter *s = new_segmenter(1.0, 1.0, 1, 1);
    avf_segment *seg = NULL;

    (void)state;
    feed_video(s, 10, 0, 2100000);
    feed_audio(s, 0, RATE - 1);
    /* video is past segment 0, audio one sample short of its end */
    assert_int_equal(avf_segmenter_pop(s, &seg), 0);
    assert_null(seg);
    feed_audio(s, RATE - 1, RATE);
    assert_int_equal(avf_segmenter_pop(s, &seg), 1);
    assert_int_equal(seg->nb_samples, RATE);
    avf_segment_free(&seg);
    /* a video frame exactly at 1.0 s proves segment 0's video is complete, not 1's */
    assert_int_equal(avf_segmenter_pop(s, &seg), 0);
    avf_segmenter_free(&s);
}

/* A frame's stated end completes the video up to there: segment 0 goes out with the
 * frame at 0.9 s that lasts 0.1 s, not one frame later; a frame that then comes
 * earlier than that end, for segment 0, is late and left out. */
static void test_stated_frame_end_completes_video(void **state)
{
    avf_segmenter *s = new_segmenter(1.0, 1.0, 1, 1);
    avf_segment *seg = NULL;

    (void)state;
    feed_audio(s, 0, RATE + 1024);
    for (int64_t t = 0; t < 900000; t += 100000)
        assert_int_equal(avf_segmenter_video(s, t, t + 100000, frame, NULL), 0);
    assert_int_equal(avf_segmenter_pop(s, &seg), 0); /* the video has come to 0.9 s */
    assert_int_equal(avf_segmenter_video(s, 900000, 999999, frame, NULL), 0);
    assert_int_equal(avf_segmenter_pop(s, &seg), 0); /* one microsecond short */
    assert_int_equal(avf_segmenter_video(s, 900001, 1000000, NULL, NULL), 0);
    assert_int_equal(avf_segmenter_pop(s, &seg), 1);
    assert_int_equal(seg->index, 0);
    assert_int_equal(seg->nb_frames, 10);
    avf_segment_free(&seg);
    assert_int_equal(avf_segmenter_video(s, 950000, 950000, frame, NULL), 0);
    assert_int_equal(avf_segmenter_get_stats(s)->late_items, 1);
    /* an end before the frame's own time means nothing more than the time */
    assert_int_equal(avf_segmenter_video(s, 1900000, 0, frame, NULL), 0);
    assert_int_equal(avf_segmenter_pop(s, &seg), 0);
    avf_segmenter_free(&s);
}

static void test_audio_offset_start(void **state)
{
    avf_segmenter *s = new_segmenter(1.0, 1.0, 1, 1);
    avf_segment *segs[4];
    int n;

    (void)state;
    feed_video(s, 30, 0, 2000000);
    feed_audio(s, RATE / 2, 2 * RATE);
    avf_segmenter_video_end(s, 2000000);
    avf_segmenter_audio_end(s, 2 * RATE);
    n = pop_all(s, segs, 4);
    assert_int_equal(n, 2);
    assert_int_equal(segs[0]->nb_samples, RATE / 2);
    /* the hole before the audio starts stays silent */
    assert_true(segs[0]->audio[0] == 0.0f);
    assert_true(segs[0]->audio[RATE / 2] == (float)(RATE / 2));
    assert_int_equal(segs[1]->nb_samples, RATE);
    assert_int_equal(segs[0]->nb_frames, 30);
    free_all(segs, n);
    avf_segmenter_free(&s);
}

static void test_audio_only_partial(void **state)
{
    avf_segmenter *s = new_segmenter(1.0, 1.0, 0, 1);
    avf_segment *segs[4];
    int n;

    (void)state;
    feed_audio(s, 0, 2 * RATE + RATE / 2);
    avf_segmenter_audio_end(s, 2 * RATE + RATE / 2);
    n = pop_all(s, segs, 4);
    assert_int_equal(n, 3);
    assert_false(segs[1]->partial);
    assert_true(segs[2]->partial);
    assert_int_equal(segs[2]->t0_us, 2000000);
    assert_int_equal(segs[2]->t1_us, 2500000);
    assert_int_equal(segs[2]->nb_samples, RATE / 2);
    assert_false(segs[2]->video_present);
    assert_int_equal(segs[2]->nb_frames, 0);
    free_all(segs, n);
    avf_segmenter_free(&s);
}

static void test_video_only_variable_rate(void **state)
{
    static const int64_t times[] = {0, 40000, 300000, 310000, 999999, 1000000, 1500000};
    avf_segmenter *s = new_segmenter(1.0, 1.0, 1, 0);
    avf_segment *segs[4];
    int n;

    (void)state;
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++)
        avf_segmenter_video(s, times[i], times[i], frame, NULL);
    avf_segmenter_video_end(s, 1540000);
    n = pop_all(s, segs, 4);
    assert_int_equal(n, 2);
    assert_int_equal(segs[0]->nb_frames, 5); /* 999999 is in segment 0, 1000000 is not */
    assert_int_equal(segs[1]->nb_frames, 2);
    assert_true(segs[1]->partial);
    assert_int_equal(segs[1]->t1_us, 1540000);
    assert_false(segs[0]->audio_present);
    free_all(segs, n);
    avf_segmenter_free(&s);
}

static void test_overlapping_hop_less_than_len(void **state)
{
    avf_segmenter *s = new_segmenter(0.5, 1.0, 1, 1);
    avf_segment *segs[8];
    int n;

    (void)state;
    feed_video(s, 10, 0, 2000000);
    feed_audio(s, 0, 2 * RATE);
    avf_segmenter_video_end(s, 2000000);
    avf_segmenter_audio_end(s, 2 * RATE);
    n = pop_all(s, segs, 8);
    /* [0,1) [0.5,1.5) [1,2) full, then [1.5,2) partial */
    assert_int_equal(n, 4);
    for (int k = 0; k < 3; k++) {
        assert_int_equal(segs[k]->t0_us, k * 500000);
        assert_false(segs[k]->partial);
        assert_int_equal(segs[k]->nb_frames, 10);
        assert_int_equal(segs[k]->nb_samples, RATE);
        assert_true(segs[k]->audio[0] == (float)(k * RATE / 2));
        assert_int_equal(segs[k]->frames[0]->pts, k * 500000);
    }
    assert_true(segs[3]->partial);
    assert_int_equal(segs[3]->nb_samples, RATE / 2);
    assert_int_equal(segs[3]->nb_frames, 5);
    free_all(segs, n);
    avf_segmenter_free(&s);
}

static void test_gap_gives_empty_segments(void **state)
{
    avf_segmenter *s = new_segmenter(1.0, 1.0, 1, 1);
    avf_segment *segs[8];
    int n;

    (void)state;
    feed_video(s, 10, 0, 1000000);
    feed_audio(s, 0, RATE);
    feed_video(s, 10, 3000000, 4000000); /* nothing from 1 s to 3 s */
    feed_audio(s, 3 * RATE, 4 * RATE);
    avf_segmenter_video_end(s, 4000000);
    avf_segmenter_audio_end(s, 4 * RATE);
    n = pop_all(s, segs, 8);
    assert_int_equal(n, 4);
    assert_int_equal(segs[1]->nb_frames + segs[1]->nb_samples, 0);
    assert_int_equal(segs[2]->nb_frames + segs[2]->nb_samples, 0);
    assert_int_equal(segs[3]->nb_frames, 10);
    assert_int_equal(segs[3]->nb_samples, RATE);
    /* seq-to-be is contiguous: indices have no holes */
    for (int k = 0; k < n; k++)
        assert_int_equal(segs[k]->index, k);
    free_all(segs, n);
    avf_segmenter_free(&s);
}

static void test_stream_ends_early(void **state)
{
    avf_segmenter *s = new_segmenter(1.0, 1.0, 1, 1);
    avf_segment *segs[8];
    int n;

    (void)state;
    feed_audio(s, 0, RATE + RATE / 4); /* audio stops at 1.25 s */
    avf_segmenter_audio_end(s, RATE + RATE / 4);
    feed_video(s, 10, 0, 3000000);
    avf_segmenter_video_end(s, 3000000);
    n = pop_all(s, segs, 8);
    assert_int_equal(n, 3);
    assert_true(segs[1]->audio_present);
    assert_int_equal(segs[1]->nb_samples, RATE / 4);
    assert_false(segs[1]->partial); /* the source goes on: video fills it */
    assert_false(segs[2]->audio_present);
    assert_true(segs[2]->video_present);
    assert_int_equal(segs[2]->nb_frames, 10);
    free_all(segs, n);
    avf_segmenter_free(&s);
}

static void test_padding_tail_dropped(void **state)
{
    avf_segmenter *s = new_segmenter(1.0, 1.0, 1, 1);
    avf_segment *segs[4];
    int n;

    (void)state;
    feed_video(s, 10, 0, 1000000);
    feed_audio(s, 0, RATE + 85); /* 5.3 ms of codec padding past the end */
    avf_segmenter_video_end(s, 1000000);
    avf_segmenter_audio_end(s, RATE + 85);
    n = pop_all(s, segs, 4);
    assert_int_equal(n, 1);
    assert_false(segs[0]->partial);
    assert_int_equal(avf_segmenter_get_stats(s)->tail_dropped_us, 5313);
    free_all(segs, n);
    avf_segmenter_free(&s);
}

static void test_before_origin_and_late_data(void **state)
{
    avf_segmenter *s = new_segmenter(1.0, 1.0, 1, 1);
    avf_segment *seg = NULL;
    float samples[100] = {0};

    (void)state;
    avf_segmenter_video(s, -40000, -40000, frame, NULL);
    assert_int_equal(avf_segmenter_audio(s, -60, samples, 100), 0);
    assert_int_equal(avf_segmenter_get_stats(s)->frames_before_origin, 1);
    assert_int_equal(avf_segmenter_get_stats(s)->samples_before_origin, 60);
    feed_video(s, 10, 0, 1100000);
    feed_audio(s, 40, RATE + 100);
    assert_int_equal(avf_segmenter_pop(s, &seg), 1);
    assert_int_equal(seg->nb_samples, RATE);
    avf_segment_free(&seg);
    /* data for segment 0, which is already out, is counted and dropped */
    assert_int_equal(avf_segmenter_audio(s, 10, samples, 10), 0);
    assert_int_equal(avf_segmenter_get_stats(s)->late_items, 1);
    avf_segmenter_free(&s);
}

static void test_ended_without_data(void **state)
{
    avf_segmenter *s = new_segmenter(1.0, 1.0, 1, 1);
    avf_segment *seg = NULL;

    (void)state;
    /* both decoders gave up before their first frame: no segment at all */
    avf_segmenter_video_end(s, INT64_MIN);
    avf_segmenter_audio_end(s, INT64_MIN);
    assert_int_equal(avf_segmenter_pop(s, &seg), AVF_EOS);
    assert_null(seg);
    avf_segmenter_free(&s);
}

static void test_feature_rows_follow_their_data(void **state)
{
    avf_segmenter_config cfg = {.rate = RATE,
                                .hop_samples = RATE / 2,
                                .len_samples = RATE,
                                .min_partial_us = 50000,
                                .has_video = 1,
                                .has_audio = 1,
                                .video_dim = 2,
                                .audio_dim = 1};
    avf_segmenter *s = avf_segmenter_new(&cfg);
    avf_segment *segs[8];
    float rows[200];
    int n;

    (void)state;
    assert_non_null(s);
    for (int f = 0; f < 20; f++) {
        float row[2] = {(float)f, (float)-f};

        avf_segmenter_video(s, f * 100000, f * 100000, frame, row);
    }
    /* 200 windows every 10 ms (160 samples), row value = window number */
    for (int w = 0; w < 200; w++)
        rows[w] = (float)w;
    assert_int_equal(avf_segmenter_audio_rows(s, 0, 160, rows, 200), 0);
    avf_segmenter_video_end(s, 2000000);
    avf_segmenter_audio_end(s, 0);
    n = pop_all(s, segs, 8);
    assert_int_equal(n, 4);
    /* [0.5, 1.5): frames 5..14 with their own rows, windows 50..149 by start */
    assert_int_equal(segs[1]->nb_frames, 10);
    assert_float_equal(segs[1]->video_rows[0], 5, 0);
    assert_float_equal(segs[1]->video_rows[2 * 9 + 1], -14, 0);
    assert_int_equal(segs[1]->nb_windows, 100);
    assert_float_equal(segs[1]->audio_rows[0], 50, 0);
    assert_int_equal(segs[1]->window_pos[99], 149 * 160);
    free_all(segs, n);
    avf_segmenter_free(&s);
}

/* Rows of the windows starting in [from, to), every 160 samples (10 ms), each row
 * holding its window's start; delivered in one call, as an audio item brings them. */
static void feed_rows(avf_segmenter *s, int64_t from, int64_t to)
{
    float rows[256];
    int n = 0;

    for (int64_t pos = from; pos < to; pos += 160) {
        assert_true(n < 256);
        rows[n++] = (float)pos;
    }
    assert_int_equal(avf_segmenter_audio_rows(s, from, 160, rows, n), 0);
}

/* The extract stage sends a window's row with the samples that complete it, after
 * the samples of its start: a segment goes out only once the rows of every window
 * starting inside it are in, however the video runs ahead, and none comes late. */
static void test_waits_for_audio_rows(void **state)
{
    avf_segmenter_config cfg = {.rate = RATE,
                                .hop_samples = RATE,
                                .len_samples = RATE,
                                .min_partial_us = 50000,
                                .has_video = 1,
                                .has_audio = 1,
                                .audio_dim = 1};
    avf_segmenter *s = avf_segmenter_new(&cfg);
    avf_segment *seg = NULL;

    (void)state;
    assert_non_null(s);
    feed_video(s, 10, 0, 2100000); /* the video is past segments 0 and 1 */
    feed_audio(s, 0, RATE + 100);  /* samples past segment 0's end, no rows yet */
    assert_int_equal(avf_segmenter_pop(s, &seg), 0);
    assert_null(seg);
    /* the rows of the 25 ms windows those samples complete: starts 0 .. RATE - 320 */
    feed_rows(s, 0, RATE - 300);
    assert_int_equal(avf_segmenter_pop(s, &seg), 0); /* the window at RATE - 160 is missing */
    feed_audio(s, RATE + 100, RATE + 400);
    feed_rows(s, RATE - 160, RATE + 1); /* RATE - 160 for segment 0, RATE for segment 1 */
    assert_int_equal(avf_segmenter_pop(s, &seg), 1);
    assert_int_equal(seg->index, 0);
    assert_int_equal(seg->nb_samples, RATE);
    assert_int_equal(seg->nb_windows, 100);
    for (int w = 0; w < 100; w++) {
        assert_int_equal(seg->window_pos[w], w * 160);
        assert_float_equal(seg->audio_rows[w], w * 160, 0);
    }
    avf_segment_free(&seg);
    assert_int_equal(avf_segmenter_get_stats(s)->late_items, 0);
    /* segment 1 waits the same way, then the end of the audio completes it */
    feed_audio(s, RATE + 400, 2 * RATE + 100);
    feed_rows(s, RATE + 160, 2 * RATE - 300);
    assert_int_equal(avf_segmenter_pop(s, &seg), 0);
    avf_segmenter_audio_end(s, 2 * RATE + 100);
    assert_int_equal(avf_segmenter_pop(s, &seg), 1);
    assert_int_equal(seg->index, 1);
    assert_int_equal(seg->nb_windows, 99);
    assert_int_equal(avf_segmenter_get_stats(s)->late_items, 0);
    avf_segment_free(&seg);
    avf_segmenter_free(&s);
}

/* With hop < len an item belongs to two segments: one for a segment already out is
 * late even when the other is still open; it goes only into the open one. */
static void test_late_for_one_of_its_segments(void **state)
{
    avf_segmenter_config cfg = {.rate = RATE,
                                .hop_samples = RATE / 2,
                                .len_samples = RATE,
                                .min_partial_us = 50000,
                                .has_audio = 1,
                                .audio_dim = 1};
    avf_segmenter *s = avf_segmenter_new(&cfg);
    avf_segment *seg = NULL;
    float samples[100] = {0};

    (void)state;
    assert_non_null(s);
    feed_audio(s, 0, RATE + 400);
    feed_rows(s, 0, RATE); /* rows_wm at RATE: segment 0 [0, 1 s) is complete */
    assert_int_equal(avf_segmenter_pop(s, &seg), 1);
    assert_int_equal(seg->index, 0);
    avf_segment_free(&seg);
    assert_int_equal(avf_segmenter_get_stats(s)->late_items, 0);
    /* samples and a row at 0.9 s: for segment 0 (out) and segment 1 (open) */
    assert_int_equal(avf_segmenter_audio(s, RATE - 1600, samples, 100), 0);
    assert_int_equal(avf_segmenter_get_stats(s)->late_items, 1);
    assert_int_equal(avf_segmenter_audio_rows(s, RATE - 1600, 160, (float[]){-1}, 1), 0);
    assert_int_equal(avf_segmenter_get_stats(s)->late_items, 2);
    avf_segmenter_audio_end(s, RATE + 400);
    assert_int_equal(avf_segmenter_pop(s, &seg), 1);
    assert_int_equal(seg->index, 1);
    /* segment 1 has the late row once more, after its own 50 windows up to 1 s */
    assert_int_equal(seg->nb_windows, 51);
    assert_float_equal(seg->audio_rows[50], -1, 0);
    avf_segment_free(&seg);
    avf_segmenter_free(&s);
}

static void test_invalid_config(void **state)
{
    avf_segmenter_config cfg = {
        .rate = RATE, .hop_samples = RATE, .len_samples = RATE / 2, .has_audio = 1};

    (void)state;
    assert_null(avf_segmenter_new(&cfg)); /* len < hop */
    cfg.len_samples = RATE;
    cfg.has_audio = 0;
    assert_null(avf_segmenter_new(&cfg)); /* no modality */
    cfg.has_audio = 1;
    cfg.rate = 0;
    assert_null(avf_segmenter_new(&cfg));
    avf_segmenter_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_audio_video_exact),
        cmocka_unit_test(test_waits_for_slowest_modality),
        cmocka_unit_test(test_stated_frame_end_completes_video),
        cmocka_unit_test(test_audio_offset_start),
        cmocka_unit_test(test_audio_only_partial),
        cmocka_unit_test(test_video_only_variable_rate),
        cmocka_unit_test(test_overlapping_hop_less_than_len),
        cmocka_unit_test(test_gap_gives_empty_segments),
        cmocka_unit_test(test_stream_ends_early),
        cmocka_unit_test(test_padding_tail_dropped),
        cmocka_unit_test(test_before_origin_and_late_data),
        cmocka_unit_test(test_ended_without_data),
        cmocka_unit_test(test_feature_rows_follow_their_data),
        cmocka_unit_test(test_waits_for_audio_rows),
        cmocka_unit_test(test_late_for_one_of_its_segments),
        cmocka_unit_test(test_invalid_config),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
