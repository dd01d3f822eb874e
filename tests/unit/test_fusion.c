/*
 * test_fusion.c - the fusion helpers on crafted inputs: pooling rules (NaN
 * skipped, power mean in dB), the tag detectors' thresholds, the offset
 * estimator on synthetic change envelopes with a known offset, and the fusion
 * stage itself: pooled features and tags beside the segment, and the tag events
 * it decides, with their end at the end of the segments.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fusion/avsync.h"
#include "fusion/fusion.h"
#include "fusion/pooling.h"
#include "fusion/tags.h"
#include "plugins/avfuse_plugin.h"

static void test_pool_rules(void **state)
{
    /* 3 rows x 6 columns, one column per rule */
    const float rows[] = {
        1,   1, 1, 1, 0, -20, /* row 0 */
        2,   2, 2, 2, 1, -20, /* row 1 */
        NAN, 6, 6, 6, 1, NAN, /* row 2 */
    };
    const int pools[] = {AVF_POOL_MEAN, AVF_POOL_STD, AVF_POOL_MIN,
                         AVF_POOL_MAX,  AVF_POOL_SUM, AVF_POOL_MEAN_DB};
    double out[6];

    (void)state;
    avf_pool_rows(rows, 3, 6, pools, out);
    assert_float_equal(out[0], 1.5, 1e-9); /* the NaN is skipped, not a zero */
    assert_float_equal(out[1], sqrt(((1 - 3) * (1 - 3) + (2 - 3) * (2 - 3) + 9) / 3.0), 1e-9);
    assert_float_equal(out[2], 1, 1e-9);
    assert_float_equal(out[3], 6, 1e-9);
    assert_float_equal(out[4], 2, 1e-9);
    assert_float_equal(out[5], -20, 1e-9);
}

static void test_pool_mean_db_is_power_mean(void **state)
{
    /* half the windows at -20 dB, half silent at -120: the RMS of the segment is
     * 3 dB below -20, not the -70 that averaging decibels would give */
    const float rows[] = {-20, -120};
    const int pools[] = {AVF_POOL_MEAN_DB};
    double out;

    (void)state;
    avf_pool_rows(rows, 2, 1, pools, &out);
    assert_float_equal(out, -20 - 10 * log10(2.0), 1e-3);
}

static void test_pool_percentiles(void **state)
{
    /* 0..10 in shuffled order with NaN between: the quantiles lie between sorted
     * neighbours (q * (n - 1), numpy's default rule) and NaN is skipped */
    const float column[] = {7, NAN, 3, 10, 0, 5, NAN, 1, 9, 2, 8, 4, 6};
    const int pools[] = {AVF_POOL_P20, AVF_POOL_P50, AVF_POOL_P80, AVF_POOL_RANGE_20_80};
    const float one[] = {NAN, 4.5f};
    float rows[13 * 4];
    double out[4];

    (void)state;
    for (int r = 0; r < 13; r++)
        for (int c = 0; c < 4; c++)
            rows[r * 4 + c] = column[r];
    avf_pool_rows(rows, 13, 4, pools, out);
    assert_float_equal(out[0], 2.0, 1e-9);
    assert_float_equal(out[1], 5.0, 1e-9);
    assert_float_equal(out[2], 8.0, 1e-9);
    assert_float_equal(out[3], 6.0, 1e-9);
    avf_pool_rows(one, 2, 1, pools + 1, out); /* one value is every percentile */
    assert_float_equal(out[0], 4.5, 1e-9);
    avf_pool_rows(one, 2, 1, pools + 3, out);
    assert_float_equal(out[0], 0.0, 1e-9);
    avf_pool_rows(one, 1, 1, pools, out); /* no value: NaN */
    assert_true(isnan(out[0]));
}

static void test_pool_no_values(void **state)
{
    const float rows[] = {NAN, NAN};
    const int mean[] = {AVF_POOL_MEAN}, sum[] = {AVF_POOL_SUM};
    double out;

    (void)state;
    avf_pool_rows(rows, 2, 1, mean, &out);
    assert_true(isnan(out));
    avf_pool_rows(rows, 0, 1, sum, &out);
    assert_float_equal(out, 0, 0); /* no events counted is a count of 0 */
}

static avf_tag_inputs unknown_inputs(void)
{
    return (avf_tag_inputs){NAN, NAN, NAN, NAN, NAN, NAN, NAN, 0, 0, 0};
}

static void test_tags_unknown_sets_nothing(void **state)
{
    avf_tag_inputs in = unknown_inputs();

    (void)state;
    assert_int_equal(avf_tags_detect(&in), 0);
}

static void test_tags_thresholds(void **state)
{
    avf_tag_inputs in = unknown_inputs();
    uint32_t tags;

    (void)state;
    in.black_share = 0.6;
    in.frozen_share = 0.9;
    in.cuts = 1;
    in.motion = 0.001;
    in.loudness_max_lufs = -8;
    in.clipped_share = 0.01;
    in.rms_dbfs = -60;
    in.av_valid = 1;
    in.av_offset_ms = -120;
    in.av_confidence = 0.7;
    tags = avf_tags_detect(&in);
    assert_true(tags & (1u << AVF_TAG_BLACK));
    assert_true(tags & (1u << AVF_TAG_FROZEN));
    assert_false(tags & (1u << AVF_TAG_STATIC)); /* frozen says more */
    assert_true(tags & (1u << AVF_TAG_CUT));
    assert_true(tags & (1u << AVF_TAG_LOUD));
    assert_true(tags & (1u << AVF_TAG_CLIPPING));
    assert_true(tags & (1u << AVF_TAG_SILENCE));
    assert_true(tags & (1u << AVF_TAG_AV_OFFSET));
    assert_false(tags & (1u << AVF_TAG_MOTION));

    in = unknown_inputs();
    in.frozen_share = 0.2;
    in.motion = 0.002;
    assert_int_equal(avf_tags_detect(&in), 1u << AVF_TAG_STATIC);
    in.motion = 0.05;
    assert_int_equal(avf_tags_detect(&in), 1u << AVF_TAG_MOTION);
    /* an offset within tolerance, or one the estimator is unsure of, is no tag */
    in = unknown_inputs();
    in.av_valid = 1;
    in.av_offset_ms = 60;
    in.av_confidence = 0.9;
    assert_int_equal(avf_tags_detect(&in), 0);
    in.av_offset_ms = 300;
    in.av_confidence = 0.3;
    assert_int_equal(avf_tags_detect(&in), 0);
}

static void test_tag_names(void **state)
{
    (void)state;
    assert_string_equal(avf_tag_name(AVF_TAG_SPEECH), "speech");
    assert_string_equal(avf_tag_name(AVF_TAG_AV_OFFSET), "av_offset");
    assert_null(avf_tag_name(AVF_TAG_COUNT));
    assert_null(avf_tag_name(-1));
}

/*
 * Feeds `seconds` of a flash (video change at whole seconds and 100 ms later) and
 * a beep (100 ms at whole seconds, delayed by lag_ms) and returns the estimate.
 */
static int run_flash_beep(int lag_ms, int seconds, double *offset, double *confidence)
{
    avf_avsync *a = avf_avsync_new(16000, 400, 160);
    int64_t lag = (int64_t)lag_ms * 16;
    int ok;

    assert_non_null(a);
    for (int w = 0; w < seconds * 100; w++) {
        int64_t pos = (int64_t)w * 160;
        double inside = 0;

        for (int i = 0; i < 400; i++) {
            int64_t p = pos + i - lag;

            inside += p >= 0 && p % 16000 < 1600;
        }
        /* a little noise so that silence is not perfectly flat */
        avf_avsync_audio(a, pos, 0.5 * sqrt(inside / 400) + 0.001 * ((w * 7919) % 13));
    }
    for (int f = 1; f < seconds * 10; f++)
        avf_avsync_video(a, (int64_t)f * 100000, f % 10 <= 1 ? 0.86 : 0.0);
    ok = avf_avsync_estimate(a, offset, confidence);
    avf_avsync_free(&a);
    assert_null(a);
    return ok;
}

static void test_avsync_in_sync(void **state)
{
    double offset, confidence;

    (void)state;
    assert_true(run_flash_beep(0, 12, &offset, &confidence));
    assert_true(fabs(offset) <= 20);
    assert_true(confidence > 0.8);
}

static void test_avsync_audio_late_and_early(void **state)
{
    double offset, confidence;

    (void)state;
    assert_true(run_flash_beep(200, 12, &offset, &confidence));
    assert_true(fabs(offset - 200) <= 20);
    assert_true(confidence > 0.8);
    assert_true(run_flash_beep(-150, 12, &offset, &confidence));
    assert_true(fabs(offset + 150) <= 20);
}

static void test_avsync_needs_history_and_activity(void **state)
{
    avf_avsync *a = avf_avsync_new(16000, 400, 160);
    double offset, confidence;

    (void)state;
    /* 2 s is less than the history an estimate needs */
    assert_false(run_flash_beep(0, 2, &offset, &confidence));
    /* a still picture: nothing to correlate, however long */
    for (int w = 0; w < 1000; w++)
        avf_avsync_audio(a, (int64_t)w * 160, 0.1 * (w % 7));
    for (int f = 0; f < 100; f++)
        avf_avsync_video(a, (int64_t)f * 100000, 0.0);
    assert_false(avf_avsync_estimate(a, &offset, &confidence));
    assert_float_equal(confidence, 0, 0);
    avf_avsync_free(&a);
    assert_null(avf_avsync_new(16000, 100, 160)); /* window shorter than hop */
}

/* A video-only segment k of 1 s whose two frames have black share `black`. */
static avf_segment video_segment(int k, float *rows, float black)
{
    rows[0] = rows[1] = black;
    return (avf_segment){
        .index = k,
        .t0_us = k * 1000000LL,
        .t1_us = (k + 1) * 1000000LL,
        .video_present = 1,
        .nb_frames = 2,
        .video_dim = 1,
        .video_rows = rows,
    };
}

static void test_stage_fuses_and_decides_events(void **state)
{
    const avf_feature_layout video = {1, (const char *const[]){"black"},
                                      (const int[]){AVF_POOL_MEAN}};
    avf_fusion *f = avf_fusion_new(&video, NULL, 16000, 400, 160, NULL, NULL);
    avf_event ev[AVF_EVENTS_MAX];
    avf_fusion_out out;
    avf_segment seg;
    float rows[2];

    (void)state;
    assert_non_null(f);
    /* black in segments 0 and 1: the tag on each, the START decided on the second */
    seg = video_segment(0, rows, 1);
    assert_int_equal(avf_fusion_segment(f, &seg, &out, ev), 0);
    assert_non_null(out.video_features);
    assert_float_equal(out.video_features[0], 1.0, 1e-9);
    assert_ptr_equal(out.video_names, video.names);
    assert_null(out.audio_features);
    assert_int_equal(out.tags, 1u << AVF_TAG_BLACK);
    assert_null(out.fused); /* no model layout: no fused vector */
    avf_fusion_out_clear(&out);
    assert_null(out.video_features);
    seg = video_segment(1, rows, 1);
    assert_int_equal(avf_fusion_segment(f, &seg, &out, ev), 1);
    assert_int_equal(ev[0].tag, AVF_TAG_BLACK);
    assert_int_equal(ev[0].kind, AVF_EVENT_START);
    assert_int_equal(ev[0].t_us, 0);
    avf_fusion_out_clear(&out);
    /* one segment without black does not end it; the end of the segments does, at
     * the t1 of the last black segment */
    seg = video_segment(2, rows, 0);
    assert_int_equal(avf_fusion_segment(f, &seg, &out, ev), 0);
    assert_int_equal(out.tags, 0);
    avf_fusion_out_clear(&out);
    assert_int_equal(avf_fusion_finish(f, ev), 1);
    assert_int_equal(ev[0].tag, AVF_TAG_BLACK);
    assert_int_equal(ev[0].kind, AVF_EVENT_END);
    assert_int_equal(ev[0].t_us, 2000000);
    assert_int_equal(ev[0].start_us, 0);
    assert_int_equal(avf_fusion_finish(f, ev), 0); /* once only */
    /* a segment without video has no video features and no tags */
    seg = video_segment(3, rows, 1);
    seg.video_present = 0;
    assert_int_equal(avf_fusion_segment(f, &seg, &out, ev), 0);
    assert_null(out.video_features);
    assert_int_equal(out.tags, 0);
    avf_fusion_out_clear(&out);
    avf_fusion_out_clear(NULL);
    avf_fusion_free(&f);
    assert_null(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_rules),
        cmocka_unit_test(test_pool_mean_db_is_power_mean),
        cmocka_unit_test(test_pool_percentiles),
        cmocka_unit_test(test_pool_no_values),
        cmocka_unit_test(test_tags_unknown_sets_nothing),
        cmocka_unit_test(test_tags_thresholds),
        cmocka_unit_test(test_tag_names),
        cmocka_unit_test(test_avsync_in_sync),
        cmocka_unit_test(test_avsync_audio_late_and_early),
        cmocka_unit_test(test_avsync_needs_history_and_activity),
        cmocka_unit_test(test_stage_fuses_and_decides_events),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
