/*
 * test_clock.c - crafted timestamp sequences through the stream clock, the audio
 * placement and the frame sampler: offset starts, variable frame rate, gaps,
 * duplicates, missing and backward timestamps, forward jumps beyond the
 * discontinuity bound, 33-bit wrap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <libavutil/avutil.h>

#include "pipeline/clock.h"

static const AVRational tb90k = {1, 90000};

static void test_origin_and_offset_start(void **state)
{
    avf_stream_clock video, audio;

    (void)state;
    /* MPEG-TS style: container starts at 1.4 s, audio 0.5 s after the video */
    avf_clock_init(&video, tb90k, 33, 1400000);
    avf_clock_init(&audio, tb90k, 33, 1400000);
    assert_int_equal(avf_clock_to_timeline(&video, 126000), 0);
    assert_int_equal(avf_clock_to_timeline(&audio, 126000 + 45000), 500000);
    assert_int_equal(avf_clock_to_timeline(&audio, AV_NOPTS_VALUE), AV_NOPTS_VALUE);
    /* before the origin is negative, not clamped: the segmenter drops it */
    assert_int_equal(avf_clock_to_timeline(&video, 126000 - 900), -10000);
}

static void test_variable_frame_rate_kept(void **state)
{
    static const int64_t pts[] = {0, 3000, 9000, 9900, 30000, 30003};
    avf_stream_clock c;

    (void)state;
    avf_clock_init(&c, tb90k, 64, 0);
    for (size_t i = 0; i < sizeof(pts) / sizeof(pts[0]); i++)
        assert_int_equal(avf_clock_video(&c, pts[i], 33333), av_rescale(pts[i], 1000000, 90000));
    assert_int_equal(c.stats.repaired, 0);
    assert_int_equal(c.stats.missing, 0);
}

static void test_duplicate_and_backward_repaired(void **state)
{
    avf_stream_clock c;

    (void)state;
    avf_clock_init(&c, (AVRational){1, 1000}, 64, 0);
    assert_int_equal(avf_clock_video(&c, 0, 40000), 0);
    assert_int_equal(avf_clock_video(&c, 40, 40000), 40000);
    /* duplicate: moved just after the previous frame, not onto the next slot */
    assert_int_equal(avf_clock_video(&c, 40, 40000), 40001);
    /* small step back: same */
    assert_int_equal(avf_clock_video(&c, 20, 40000), 40002);
    /* the stream resumes at its own timestamps */
    assert_int_equal(avf_clock_video(&c, 120, 40000), 120000);
    assert_int_equal(c.stats.repaired, 2);
    assert_int_equal(c.stats.discontinuities, 0);
}

static void test_missing_timestamps_predicted(void **state)
{
    avf_stream_clock c;

    (void)state;
    avf_clock_init(&c, (AVRational){1, 1000}, 64, 0);
    assert_int_equal(avf_clock_video(&c, AV_NOPTS_VALUE, 40000), 0);
    assert_int_equal(avf_clock_video(&c, AV_NOPTS_VALUE, 40000), 40000);
    assert_int_equal(avf_clock_video(&c, 80, 40000), 80000);
    assert_int_equal(avf_clock_video(&c, AV_NOPTS_VALUE, 50000), 120000);
    assert_int_equal(avf_clock_video(&c, AV_NOPTS_VALUE, 50000), 170000);
    assert_int_equal(c.stats.missing, 4);
}

static void test_gap_kept(void **state)
{
    avf_stream_clock c;

    (void)state;
    avf_clock_init(&c, (AVRational){1, 1000}, 64, 0);
    assert_int_equal(avf_clock_video(&c, 0, 40000), 0);
    /* 5 s without frames is a gap on the timeline, not an error */
    assert_int_equal(avf_clock_video(&c, 5040, 40000), 5040000);
    assert_int_equal(c.stats.repaired + c.stats.discontinuities, 0);
}

static void test_backward_jump_is_discontinuity(void **state)
{
    avf_stream_clock c;

    (void)state;
    avf_clock_init(&c, (AVRational){1, 1000}, 64, 0);
    avf_clock_video(&c, 10000, 40000); /* 10 s */
    /* a splice restarts the timestamps at 0: the timeline continues instead */
    assert_int_equal(avf_clock_video(&c, 0, 40000), 10040000);
    assert_int_equal(avf_clock_video(&c, 40, 40000), 10080000);
    assert_int_equal(c.stats.discontinuities, 1);
}

static void test_forward_jump_beyond_bound_is_discontinuity(void **state)
{
    avf_stream_clock c;

    (void)state;
    avf_clock_init(&c, (AVRational){1, 1000}, 64, 0);
    avf_clock_video(&c, 10000, 40000); /* 10 s */
    /* the next recording is stamped two hours later: the timeline goes on */
    assert_int_equal(avf_clock_video(&c, 7210040, 40000), 10040000);
    assert_int_equal(avf_clock_video(&c, 7210080, 40000), 10080000);
    assert_int_equal(c.stats.discontinuities, 1);
    assert_int_equal(c.stats.last_jump_us, 7200000000LL);
    assert_int_equal(c.stats.last_jump_at_us, 10040000);
}

static void test_one_timestamp_hours_ahead_costs_nothing(void **state)
{
    avf_stream_clock c;

    (void)state;
    avf_clock_init(&c, (AVRational){1, 1000}, 64, 0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(avf_clock_video(&c, i * 40, 40000), i * 40000);
    /* one damaged timestamp an hour on, then the stream as it was */
    assert_int_equal(avf_clock_video(&c, 3600000 + 400, 40000), 400000);
    for (int i = 11; i < 20; i++)
        assert_int_equal(avf_clock_video(&c, i * 40, 40000), i * 40000);
    assert_int_equal(c.stats.discontinuities, 2);
}

static void test_one_mpegts_pts_20_hours_ahead_costs_nothing(void **state)
{
    const int64_t wrap = INT64_C(1) << 33;
    avf_stream_clock c;

    (void)state;
    avf_clock_init(&c, tb90k, 33, 0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(avf_clock_video(&c, i * 3600, 40000), i * 40000);
    /* a flipped high PTS byte: beyond half the 33-bit period, which the frames after
     * it then seem to wrap around; the timeline goes on at 25 fps all the same */
    assert_int_equal(avf_clock_video(&c, (10 * 3600 + 20 * 3600 * INT64_C(90000)) % wrap, 40000),
                     400000);
    for (int i = 11; i < 20; i++)
        assert_int_equal(avf_clock_video(&c, i * 3600, 40000), i * 40000);
}

static void test_gap_within_bound_kept(void **state)
{
    avf_stream_clock c;

    (void)state;
    avf_clock_init(&c, (AVRational){1, 1000}, 64, 0);
    avf_clock_video(&c, 0, 40000);
    /* a real gap just under the bound (a stream paused, a missing stretch) */
    assert_int_equal(avf_clock_video(&c, AVF_CLOCK_JUMP_US / 1000, 40000), AVF_CLOCK_JUMP_US);
    assert_int_equal(c.stats.discontinuities, 0);
}

static void test_mpegts_wrap(void **state)
{
    const int64_t wrap = INT64_C(1) << 33;
    const int64_t start = wrap - 2 * 90000; /* 2 s before the wrap */
    avf_stream_clock c;
    int64_t last = INT64_MIN;

    (void)state;
    avf_clock_init(&c, tb90k, 33, av_rescale(start, 1000000, 90000));
    for (int i = 0; i < 100; i++) { /* 4 s at 25 fps, across the wrap */
        int64_t raw = (start + i * 3600) % wrap;
        int64_t t = avf_clock_video(&c, raw, 40000);

        assert_int_equal(t, i * 40000);
        assert_true(t > last);
        last = t;
    }
    assert_int_equal(c.stats.wraps, 1);
    assert_int_equal(c.stats.repaired, 0);
}

static void test_wrap_with_late_prewrap_timestamp(void **state)
{
    const int64_t wrap = INT64_C(1) << 33;
    avf_stream_clock c;

    (void)state;
    avf_clock_init(&c, tb90k, 33, 0);
    assert_int_equal(avf_clock_to_timeline(&c, wrap - 3600),
                     av_rescale(wrap - 3600, 1000000, 90000));
    assert_int_equal(avf_clock_to_timeline(&c, 3600), av_rescale(wrap + 3600, 1000000, 90000));
    /* a reordered timestamp from before the wrap arrives after it */
    assert_int_equal(avf_clock_to_timeline(&c, wrap - 1800),
                     av_rescale(wrap - 1800, 1000000, 90000));
    assert_int_equal(avf_clock_to_timeline(&c, 7200), av_rescale(wrap + 7200, 1000000, 90000));
    assert_int_equal(c.stats.wraps, 1);
}

static void test_audio_contiguous_with_jitter(void **state)
{
    avf_audio_clock a;
    int64_t pos;

    (void)state;
    avf_audio_clock_init(&a, 16000);
    /* starts at 0.5 s: the first sample lands on index 8000 */
    assert_int_equal(avf_audio_clock_frame(&a, 500000, 0), 0);
    assert_int_equal(avf_audio_clock_place(&a, 320, &pos), 0);
    assert_int_equal(pos, 8000);
    /* next frame stamped 1 ms late (ms time base rounding): jitter, stays contiguous */
    assert_int_equal(avf_audio_clock_frame(&a, 521000, 0), 0);
    assert_int_equal(avf_audio_clock_place(&a, 320, &pos), 0);
    assert_int_equal(pos, 8320);
    /* samples still inside the resampler count as already placed */
    assert_int_equal(avf_audio_clock_frame(&a, 540000 + 1000, 16), 0);
    assert_int_equal(a.gaps + a.overlaps, 0);
}

static void test_audio_gap_leaves_hole(void **state)
{
    avf_audio_clock a;
    int64_t pos;

    (void)state;
    avf_audio_clock_init(&a, 16000);
    avf_audio_clock_frame(&a, 0, 0);
    avf_audio_clock_place(&a, 1600, &pos); /* 0 .. 0.1 s */
    /* next frame at 0.2 s: 100 ms missing */
    assert_int_equal(avf_audio_clock_frame(&a, 200000, 0), 1600);
    avf_audio_clock_jump(&a, 200000);
    assert_int_equal(avf_audio_clock_place(&a, 160, &pos), 0);
    assert_int_equal(pos, 3200);
    assert_int_equal(a.gaps, 1);
    assert_int_equal(a.gap_samples, 1600);
}

static void test_audio_overlap_dropped(void **state)
{
    avf_audio_clock a;
    int64_t pos;

    (void)state;
    avf_audio_clock_init(&a, 16000);
    avf_audio_clock_frame(&a, 0, 0);
    avf_audio_clock_place(&a, 1600, &pos); /* 0 .. 0.1 s */
    /* next frame claims 0.05 s: its first 800 samples repeat what was placed */
    assert_int_equal(avf_audio_clock_frame(&a, 50000, 0), -800);
    avf_audio_clock_jump(&a, 50000);
    assert_int_equal(avf_audio_clock_place(&a, 500, &pos), 500);
    assert_int_equal(avf_audio_clock_place(&a, 500, &pos), 300);
    assert_int_equal(pos, 1600);
    assert_int_equal(a.write_pos, 1800);
    assert_int_equal(a.overlaps, 1);
    assert_int_equal(a.overlap_samples, 800);
}

static void test_audio_forward_jump_beyond_bound_is_discontinuity(void **state)
{
    avf_audio_clock a;
    int64_t pos;

    (void)state;
    avf_audio_clock_init(&a, 16000);
    avf_audio_clock_frame(&a, 0, 0);
    avf_audio_clock_place(&a, 16000, &pos); /* 0 .. 1 s */
    /* the next frame is stamped two hours on: the audio goes on where it was */
    assert_int_equal(avf_audio_clock_frame(&a, 7201000000LL, 0), 0);
    assert_int_equal(avf_audio_clock_place(&a, 160, &pos), 0);
    assert_int_equal(pos, 16000);
    assert_int_equal(avf_audio_clock_frame(&a, 7201010000LL, 0), 0);
    assert_int_equal(avf_audio_clock_place(&a, 160, &pos), 0);
    assert_int_equal(pos, 16160);
    assert_int_equal(a.discontinuities, 1);
    assert_int_equal(a.gaps, 0);
    assert_int_equal(a.last_jump_us, 7200000000LL);
}

static void test_audio_capture_gap_kept(void **state)
{
    avf_audio_clock a;
    int64_t pos;

    (void)state;
    avf_audio_clock_init(&a, 16000);
    a.follow_resets = 0; /* capture times: a long stall is real time */
    avf_audio_clock_frame(&a, 0, 0);
    avf_audio_clock_place(&a, 16000, &pos);
    assert_int_equal(avf_audio_clock_frame(&a, 121000000, 0), 120 * 16000);
    avf_audio_clock_jump(&a, 121000000);
    assert_int_equal(avf_audio_clock_place(&a, 160, &pos), 0);
    assert_int_equal(pos, 121 * 16000);
    assert_int_equal(a.discontinuities, 0);
}

static void test_audio_missing_timestamps_contiguous(void **state)
{
    avf_audio_clock a;
    int64_t pos;

    (void)state;
    avf_audio_clock_init(&a, 16000);
    assert_int_equal(avf_audio_clock_frame(&a, AV_NOPTS_VALUE, 0), 0);
    avf_audio_clock_place(&a, 100, &pos);
    assert_int_equal(pos, 0);
    assert_int_equal(avf_audio_clock_frame(&a, AV_NOPTS_VALUE, 0), 0);
    avf_audio_clock_place(&a, 100, &pos);
    assert_int_equal(pos, 100);
}

static int count_taken(AVRational src_rate, AVRational fps, int64_t from_us, int64_t to_us,
                       int nb_frames)
{
    avf_frame_sampler s;
    int taken = 0;

    avf_sampler_init(&s, fps);
    for (int i = 0; i < nb_frames; i++) {
        int64_t t = av_rescale(i, (int64_t)1000000 * src_rate.den, src_rate.num);

        if (avf_sampler_take(&s, t) && t >= from_us && t < to_us)
            taken++;
    }
    return taken;
}

static void test_sampler_rates(void **state)
{
    (void)state;
    /* every one-second window of 30, 29.97, 25 and 60 fps video keeps 10 frames */
    for (int sec = 0; sec < 10; sec++) {
        int64_t a = sec * INT64_C(1000000), b = a + 1000000;

        assert_int_equal(count_taken((AVRational){30, 1}, (AVRational){10, 1}, a, b, 300), 10);
        assert_int_equal(count_taken((AVRational){30000, 1001}, (AVRational){10, 1}, a, b, 300),
                         10);
        assert_int_equal(count_taken((AVRational){25, 1}, (AVRational){10, 1}, a, b, 250), 10);
        assert_int_equal(count_taken((AVRational){60, 1}, (AVRational){10, 1}, a, b, 600), 10);
    }
    /* a source slower than the analysis rate: each frame once, none repeated */
    assert_int_equal(count_taken((AVRational){5, 1}, (AVRational){10, 1}, 0, 1000000, 50), 5);
}

static void test_sampler_skips_before_origin_and_gaps(void **state)
{
    avf_frame_sampler s;

    (void)state;
    avf_sampler_init(&s, (AVRational){10, 1});
    assert_false(avf_sampler_take(&s, -40000));
    assert_true(avf_sampler_take(&s, 10000));
    assert_false(avf_sampler_take(&s, 50000));
    assert_true(avf_sampler_take(&s, 100000));
    /* after a gap the next frame is kept, and the grid continues from it */
    assert_true(avf_sampler_take(&s, 3050000));
    assert_false(avf_sampler_take(&s, 3090000));
    assert_true(avf_sampler_take(&s, 3100000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_origin_and_offset_start),
        cmocka_unit_test(test_variable_frame_rate_kept),
        cmocka_unit_test(test_duplicate_and_backward_repaired),
        cmocka_unit_test(test_missing_timestamps_predicted),
        cmocka_unit_test(test_gap_kept),
        cmocka_unit_test(test_backward_jump_is_discontinuity),
        cmocka_unit_test(test_forward_jump_beyond_bound_is_discontinuity),
        cmocka_unit_test(test_one_timestamp_hours_ahead_costs_nothing),
        cmocka_unit_test(test_one_mpegts_pts_20_hours_ahead_costs_nothing),
        cmocka_unit_test(test_gap_within_bound_kept),
        cmocka_unit_test(test_mpegts_wrap),
        cmocka_unit_test(test_wrap_with_late_prewrap_timestamp),
        cmocka_unit_test(test_audio_contiguous_with_jitter),
        cmocka_unit_test(test_audio_gap_leaves_hole),
        cmocka_unit_test(test_audio_overlap_dropped),
        cmocka_unit_test(test_audio_forward_jump_beyond_bound_is_discontinuity),
        cmocka_unit_test(test_audio_capture_gap_kept),
        cmocka_unit_test(test_audio_missing_timestamps_contiguous),
        cmocka_unit_test(test_sampler_rates),
        cmocka_unit_test(test_sampler_skips_before_origin_and_gaps),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
