/*
 * test_decode.c - the video decoder on clips made with the ffmpeg CLI: which frames
 * the analysis sampler gets when non-reference frames are not decoded, against a
 * full decode of the same clip; the fallback to per-packet decisions on runs of
 * non-reference frames; no skipping near the analysis rate; the end time; and the
 * items and pictures recycled by the pools. The clips are fixtures: when the ffmpeg
 * CLI (with libx264) cannot make one, the group setup fails and so does every test.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <libavformat/avformat.h>
#include <libavutil/avutil.h>

#include "pipeline/decode.h"
#include "base/error.h"
#include "pipeline/items.h"

extern char **environ;

#define MAX_FRAMES 1024

static char dir[PATH_MAX / 2]; /* the clips; removed by the group teardown */

/* x264 with a fixed GOP of three B-frames, pyramid or not, so the structure is known. */
#define X264_PYRAMID "bframes=3:b-adapt=0:b-pyramid=normal:keyint=60:scenecut=0"
#define X264_FLAT    "bframes=3:b-adapt=0:b-pyramid=none:keyint=60:scenecut=0"

static int run(char *const argv[])
{
    pid_t pid;
    int status;

    if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ) != 0)
        return -1;
    if (waitpid(pid, &status, 0) < 0)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Makes dir/name: seconds of moving testsrc2 at rate fps, 320x180 H.264. */
static int make_clip(const char *name, const char *rate, const char *x264, const char *seconds)
{
    char src[128], out[PATH_MAX];
    char *argv[] = {"ffmpeg",  "-hide_banner", "-loglevel",     "error",
                    "-y",      "-f",           "lavfi",         "-i",
                    src,       "-t",           (char *)seconds, "-c:v",
                    "libx264", "-preset",      "veryfast",      "-pix_fmt",
                    "yuv420p", "-x264-params", (char *)x264,    out,
                    NULL};

    snprintf(src, sizeof(src), "testsrc2=s=320x180:r=%s", rate);
    snprintf(out, sizeof(out), "%s/%s", dir, name);
    return run(argv);
}

/* The clips every test decodes. */
static const struct {
    const char *name, *rate, *x264;
} clips[] = {
    {"pyramid.mp4", "30", X264_PYRAMID},
    {"flat.mp4", "30", X264_FLAT},
    {"ntsc.mp4", "30000/1001", X264_PYRAMID},
    {"slow.mp4", "15", X264_PYRAMID},
};

static int group_teardown(void **state)
{
    char path[PATH_MAX];

    (void)state;
    for (size_t i = 0; i < sizeof(clips) / sizeof(clips[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, clips[i].name);
        unlink(path);
    }
    rmdir(dir);
    return 0;
}

static int group_setup(void **state)
{
    const char *tmp = getenv("TMPDIR");

    (void)state;
    snprintf(dir, sizeof(dir), "%s/avf_decode_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return -1;
    for (size_t i = 0; i < sizeof(clips) / sizeof(clips[0]); i++) {
        int ret = make_clip(clips[i].name, clips[i].rate, clips[i].x264, "4");

        if (ret != 0) {
            /* a fixture that cannot be made is a failure, never a skip */
            if (ret < 0)
                print_error("cannot make the fixture %s/%s: ffmpeg could not be run\n", dir,
                            clips[i].name);
            else
                print_error("cannot make the fixture %s/%s: ffmpeg (with libx264) exited with "
                            "status %d\n",
                            dir, clips[i].name, ret);
            group_teardown(state);
            return -1;
        }
    }
    return 0;
}

/* What one decode of a clip gave. */
typedef struct run_result {
    int nb_frames; /* items: decoded frames, in order */
    int64_t t[MAX_FRAMES];
    int picked[MAX_FRAMES];
    int nb_picks;
    int64_t picks[MAX_FRAMES];
    int64_t end_us;
    avf_decoder_stats stats;
    avf_item_pool_stats pool;
    int distinct_pictures; /* picture buffers seen */
} run_result;

static void add_picture(const uint8_t **seen, int *n, const uint8_t *data)
{
    for (int i = 0; i < *n; i++)
        if (seen[i] == data)
            return;
    if (*n < MAX_FRAMES)
        seen[(*n)++] = data;
}

/* Decodes dir/name at 10 fps with the given skip policy; frees every item at once. */
static void decode_clip(const char *name, enum avf_frame_skip skip, run_result *r)
{
    avf_video_options opt = {.fps = {10, 1}, .max_width = 320, .skip = skip};
    const uint8_t *seen[MAX_FRAMES];
    AVFormatContext *fmt = NULL;
    AVPacket *pkt = av_packet_alloc();
    char path[PATH_MAX];
    avf_vdec *d = NULL;
    int idx, ended = 0, nb_seen = 0;

    memset(r, 0, sizeof(*r));
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    assert_non_null(pkt);
    assert_int_equal(avformat_open_input(&fmt, path, NULL, NULL), 0);
    assert_true(avformat_find_stream_info(fmt, NULL) >= 0);
    idx = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    assert_true(idx >= 0);
    assert_int_equal(avf_vdec_open(&d, fmt->streams[idx], &opt, 0, INT64_MAX), 0);
    while (!ended) {
        int eof = av_read_frame(fmt, pkt) < 0;

        if (!eof && pkt->stream_index != idx) {
            av_packet_unref(pkt);
            continue;
        }
        assert_int_equal(avf_vdec_send(d, eof ? NULL : pkt), 0);
        av_packet_unref(pkt);
        for (;;) {
            avf_item *item = NULL;
            int ret = avf_vdec_receive(d, &item);

            if (ret == AVERROR(EAGAIN) && !eof)
                break;
            assert_int_equal(ret, 0);
            if (item->type == AVF_ITEM_VIDEO_END) {
                r->end_us = item->t_us;
                avf_item_pool_get_stats(item->pool, &r->pool);
                avf_item_free(&item);
                ended = 1;
                break;
            }
            assert_int_equal(item->type, AVF_ITEM_VIDEO);
            assert_true(r->nb_frames < MAX_FRAMES);
            r->t[r->nb_frames] = item->t_us;
            r->picked[r->nb_frames++] = item->frame != NULL;
            if (item->frame) {
                assert_int_equal(item->frame->width, 320);
                add_picture(seen, &nb_seen, item->frame->data[0]);
                r->picks[r->nb_picks++] = item->t_us;
            }
            avf_item_free(&item);
            assert_null(item);
        }
    }
    assert_int_equal(avf_vdec_receive(d, &(avf_item *){NULL}), AVF_EOS);
    r->stats = *avf_vdec_stats(d);
    r->distinct_pictures = nb_seen;
    avf_vdec_free(&d);
    avformat_close_input(&fmt);
    av_packet_free(&pkt);
}

/* Index of the frame at t in a full decode, or -1. */
static int frame_index(const run_result *full, int64_t t)
{
    for (int i = 0; i < full->nb_frames; i++)
        if (full->t[i] == t)
            return i;
    return -1;
}

/*
 * Checks every analysis frame of r against the full decode: the same source frame,
 * or one at most max_late source frames later. Returns how many were later.
 */
static int compare_picks(const run_result *full, const run_result *r, int from, int max_late)
{
    int late = 0;

    assert_int_equal(r->nb_picks, full->nb_picks);
    for (int i = from; i < r->nb_picks; i++) {
        int want = frame_index(full, full->picks[i]), got = frame_index(full, r->picks[i]);

        assert_true(want >= 0 && got >= 0);
        if (got < want || got > want + max_late)
            fail_msg("analysis frame %d: %lld us, a full decode takes %lld us", i,
                     (long long)r->picks[i], (long long)full->picks[i]);
        late += got != want;
    }
    return late;
}

/*
 * B-pyramid (x264's default): non-reference frames stand alone, so a frame the
 * grid wanted and that was not decoded is replaced by the next one, a reference.
 */
static void test_pyramid_nonref_skipped(void **state)
{
    static run_result full, auto_skip;
    int late;

    (void)state;
    decode_clip("pyramid.mp4", AVF_SKIP_NONE, &full);
    decode_clip("pyramid.mp4", AVF_SKIP_AUTO, &auto_skip);
    assert_int_equal(full.stats.frame_skip, AVF_SKIP_NONE);
    assert_int_equal(full.nb_frames, 120);
    assert_int_equal(full.nb_picks, 40);
    assert_int_equal(auto_skip.stats.frame_skip, AVF_SKIP_AUTO);
    /* P b B b: the two b of every four frames are not decoded */
    assert_true(auto_skip.nb_frames <= full.nb_frames * 6 / 10);
    late = compare_picks(&full, &auto_skip, 0, 1);
    print_message("pyramid: %d of %d frames decoded, %d of %d analysis frames one frame late\n",
                  auto_skip.nb_frames, full.nb_frames, late, full.nb_picks);
    assert_true(late > 0);
    assert_int_equal(auto_skip.end_us, full.end_us);
}

/* Per packet, the frames the grid wants are decoded: the same analysis frames. */
static void test_exact_same_frames(void **state)
{
    static run_result full, exact;

    (void)state;
    decode_clip("pyramid.mp4", AVF_SKIP_NONE, &full);
    decode_clip("pyramid.mp4", AVF_SKIP_EXACT, &exact);
    assert_int_equal(exact.stats.frame_skip, AVF_SKIP_EXACT);
    print_message("exact: %d of %d frames decoded\n", exact.nb_frames, full.nb_frames);
    assert_true(exact.nb_frames < full.nb_frames * 8 / 10);
    assert_int_equal(compare_picks(&full, &exact, 0, 0), 0);
    assert_int_equal(exact.end_us, full.end_us);
}

/*
 * Three non-reference B-frames in a row: skipping them all would move analysis
 * frames by up to three source frames, so the decoder goes per packet after the
 * first run it sees. Frames sent before it saw it may still be late, by at most
 * the run (three frames); from the first GOP boundary on, the frames are exact.
 */
static void test_runs_fall_back_to_exact(void **state)
{
    static run_result full, auto_skip;
    int late_after;

    (void)state;
    decode_clip("flat.mp4", AVF_SKIP_NONE, &full);
    decode_clip("flat.mp4", AVF_SKIP_AUTO, &auto_skip);
    assert_int_equal(auto_skip.stats.frame_skip, AVF_SKIP_EXACT);
    assert_true(auto_skip.nb_frames < full.nb_frames);
    print_message("flat: %d of %d frames decoded, %d of %d analysis frames late\n",
                  auto_skip.nb_frames, full.nb_frames, compare_picks(&full, &auto_skip, 0, 3),
                  full.nb_picks);
    late_after = compare_picks(&full, &auto_skip, 5, 0); /* from 0.5 s on */
    assert_int_equal(late_after, 0);
    assert_int_equal(auto_skip.end_us, full.end_us);
}

/* 29.97 fps: the grid falls between frames; still at most one source frame late. */
static void test_ntsc_rate(void **state)
{
    static run_result full, auto_skip;

    (void)state;
    decode_clip("ntsc.mp4", AVF_SKIP_NONE, &full);
    decode_clip("ntsc.mp4", AVF_SKIP_AUTO, &auto_skip);
    assert_int_equal(auto_skip.stats.frame_skip, AVF_SKIP_AUTO);
    print_message("29.97 fps: %d of %d frames decoded, %d of %d analysis frames one frame late\n",
                  auto_skip.nb_frames, full.nb_frames, compare_picks(&full, &auto_skip, 0, 1),
                  full.nb_picks);
    assert_int_equal(auto_skip.end_us, full.end_us);
}

/* 15 fps for a 10 fps analysis: two frames in three are wanted, nothing is skipped. */
static void test_no_skip_near_analysis_rate(void **state)
{
    static run_result full, auto_skip;

    (void)state;
    decode_clip("slow.mp4", AVF_SKIP_NONE, &full);
    decode_clip("slow.mp4", AVF_SKIP_AUTO, &auto_skip);
    assert_int_equal(auto_skip.stats.frame_skip, AVF_SKIP_NONE);
    assert_int_equal(auto_skip.nb_frames, full.nb_frames);
    assert_int_equal(compare_picks(&full, &auto_skip, 0, 0), 0);
}

/*
 * Each item went back before the next was taken: one item and one picture buffer
 * served the whole clip, so decoding allocated neither per frame.
 */
static void test_items_and_pictures_recycled(void **state)
{
    static run_result r;

    (void)state;
    decode_clip("pyramid.mp4", AVF_SKIP_AUTO, &r);
    assert_true(r.pool.gets > (uint64_t)r.nb_frames);
    assert_int_equal(r.pool.allocated, 1);
    assert_int_equal(r.distinct_pictures, 1);
}

/* Items may outlive their decoder: the last one back frees the pool. */
static void test_item_outlives_decoder(void **state)
{
    avf_video_options opt = {.fps = {10, 1}, .max_width = 320};
    AVFormatContext *fmt = NULL;
    AVPacket *pkt = av_packet_alloc();
    avf_item *kept[8] = {NULL};
    int nb_kept = 0, idx;
    char path[PATH_MAX];
    avf_vdec *d = NULL;

    (void)state;
    snprintf(path, sizeof(path), "%s/pyramid.mp4", dir);
    assert_int_equal(avformat_open_input(&fmt, path, NULL, NULL), 0);
    assert_true(avformat_find_stream_info(fmt, NULL) >= 0);
    idx = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    assert_int_equal(avf_vdec_open(&d, fmt->streams[idx], &opt, 0, INT64_MAX), 0);
    while (nb_kept < 8 && av_read_frame(fmt, pkt) >= 0) {
        avf_item *item = NULL;

        if (pkt->stream_index == idx) {
            assert_int_equal(avf_vdec_send(d, pkt), 0);
            while (nb_kept < 8 && avf_vdec_receive(d, &item) == 0) {
                if (item->frame)
                    kept[nb_kept++] = item;
                else
                    avf_item_free(&item);
            }
        }
        av_packet_unref(pkt);
    }
    assert_int_equal(nb_kept, 8);
    avf_vdec_free(&d);
    for (int i = 0; i < nb_kept; i++) {
        assert_int_equal(kept[i]->frame->width, 320); /* the pictures are still there */
        avf_item_free(&kept[i]);
    }
    avformat_close_input(&fmt);
    av_packet_free(&pkt);
}

/* Items made without a pool (the scheduler's end marks, the microphone) still work. */
static void test_reserve_on_plain_items(void **state)
{
    avf_item *item = calloc(1, sizeof(*item));
    float *samples;

    (void)state;
    assert_non_null(item);
    assert_int_equal(avf_item_reserve_samples(item, 100), 0);
    samples = item->samples;
    assert_int_equal(avf_item_reserve_samples(item, 50), 0);
    assert_ptr_equal(item->samples, samples);
    assert_int_equal(avf_item_reserve_rows(item, 3, 10), 0);
    assert_true(item->rows_cap >= 30);
    assert_int_equal(avf_item_reserve_rows(item, 0, 10), 0);
    avf_item_free(&item);
    assert_null(item);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pyramid_nonref_skipped),
        cmocka_unit_test(test_exact_same_frames),
        cmocka_unit_test(test_runs_fall_back_to_exact),
        cmocka_unit_test(test_ntsc_rate),
        cmocka_unit_test(test_no_skip_near_analysis_rate),
        cmocka_unit_test(test_items_and_pictures_recycled),
        cmocka_unit_test(test_item_outlives_decoder),
        cmocka_unit_test(test_reserve_on_plain_items),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
