/*
 * test_extract.c - the host side of extraction with stub plugins: timeline-aligned
 * audio windows whatever the chunk sizes, holes, restarts after long gaps, the
 * concatenated layout, and plugins that fail to start or to process.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <libavutil/frame.h>

#include "pipeline/extract.h"

#define RATE   16000
#define WINDOW 400
#define HOP    160

/* Stub audio plugin: reports each window's position, first and last sample, and
 * how many of its samples are zero. */
static const avf_plugin_feature stub_audio_features[] = {{"pos", AVF_POOL_MEAN},
                                                         {"first", AVF_POOL_MEAN},
                                                         {"last", AVF_POOL_MEAN},
                                                         {"zeros", AVF_POOL_MEAN}};

static int stub_create(const avf_plugin_services *services, const avf_plugin_config *config,
                       void **instance)
{
    (void)services;
    (void)config;
    *instance = NULL;
    return 0;
}

static int failing_create(const avf_plugin_services *services, const avf_plugin_config *config,
                          void **instance)
{
    (void)services;
    (void)config;
    (void)instance;
    return -22;
}

static void stub_destroy(void *instance)
{
    (void)instance;
}

static int stub_audio(void *instance, const avf_plugin_audio_window *w, float *out)
{
    (void)instance;
    out[0] = (float)w->pos;
    out[1] = w->samples[0];
    out[2] = w->samples[w->nb_samples - 1];
    out[3] = 0;
    for (int i = 0; i < w->nb_samples; i++)
        out[3] += w->samples[i] == 0.0f;
    return 0;
}

static const avf_plugin_feature stub_video_features[] = {{"width", AVF_POOL_MEAN},
                                                         {"y0", AVF_POOL_MEAN}};

static int stub_video(void *instance, const avf_plugin_video_frame *f, float *out)
{
    (void)instance;
    out[0] = (float)f->width;
    out[1] = f->data[0][0];
    return 0;
}

static const avf_plugin_feature failing_features[] = {{"never", AVF_POOL_MEAN}};

static int failing_video(void *instance, const avf_plugin_video_frame *f, float *out)
{
    (void)instance;
    (void)f;
    out[0] = 1;
    return -5;
}

static const avf_plugin_descriptor stub_audio_desc = {AVFUSE_PLUGIN_ABI_VERSION,
                                                      sizeof(avf_plugin_descriptor),
                                                      "stub_audio",
                                                      "test",
                                                      AVF_PLUGIN_AUDIO,
                                                      4,
                                                      stub_audio_features,
                                                      stub_create,
                                                      NULL,
                                                      stub_audio,
                                                      stub_destroy};
static const avf_plugin_descriptor stub_video_desc = {AVFUSE_PLUGIN_ABI_VERSION,
                                                      sizeof(avf_plugin_descriptor),
                                                      "stub_video",
                                                      "test",
                                                      AVF_PLUGIN_VIDEO,
                                                      2,
                                                      stub_video_features,
                                                      stub_create,
                                                      stub_video,
                                                      NULL,
                                                      stub_destroy};
static const avf_plugin_descriptor failing_video_desc = {AVFUSE_PLUGIN_ABI_VERSION,
                                                         sizeof(avf_plugin_descriptor),
                                                         "failing",
                                                         "test",
                                                         AVF_PLUGIN_VIDEO,
                                                         1,
                                                         failing_features,
                                                         stub_create,
                                                         failing_video,
                                                         NULL,
                                                         stub_destroy};
static const avf_plugin_descriptor not_starting_desc = {AVFUSE_PLUGIN_ABI_VERSION,
                                                        sizeof(avf_plugin_descriptor),
                                                        "not_starting",
                                                        "test",
                                                        AVF_PLUGIN_VIDEO,
                                                        1,
                                                        failing_features,
                                                        failing_create,
                                                        failing_video,
                                                        NULL,
                                                        stub_destroy};

static const avf_plugin_config config = {
    sizeof(avf_plugin_config), RATE, WINDOW, HOP, 10.0, "test"};

static avf_extractor *new_audio(void)
{
    const avf_plugin_descriptor *descs[] = {&stub_video_desc, &stub_audio_desc};
    avf_extractor *x = NULL;

    assert_int_equal(avf_extractor_new(&x, AVF_PLUGIN_AUDIO, descs, 2, &config), 0);
    assert_int_equal(avf_extractor_layout(x)->dim, 4);
    return x;
}

/* Feeds samples [from, to), each equal to its own index, in chunks of `chunk`;
 * checks every window; returns the number of windows. */
static int feed(avf_extractor *x, int64_t from, int64_t to, int chunk, int64_t *next_pos)
{
    float *rows = NULL;
    size_t rows_cap = 0;
    int windows = 0;

    for (int64_t pos = from; pos < to; pos += chunk) {
        int n = to - pos < chunk ? (int)(to - pos) : chunk;
        float *samples = malloc((size_t)n * sizeof(*samples));
        int nb_rows;
        int64_t first;

        for (int i = 0; i < n; i++)
            samples[i] = (float)(pos + i);
        assert_int_equal(avf_extract_audio(x, pos, samples, n, &rows, &rows_cap, &nb_rows, &first),
                         0);
        assert_true(rows_cap >= (size_t)nb_rows * 4);
        for (int r = 0; r < nb_rows; r++) {
            int64_t wpos = first + (int64_t)r * HOP;

            assert_int_equal(wpos % HOP, 0); /* on the timeline grid */
            assert_int_equal(wpos, *next_pos);
            assert_float_equal(rows[r * 4 + 0], (float)wpos, 0);
            assert_float_equal(rows[r * 4 + 1], (float)wpos, 0);
            assert_float_equal(rows[r * 4 + 2], (float)(wpos + WINDOW - 1), 0);
            *next_pos += HOP;
            windows++;
        }
        free(samples);
    }
    free(rows);
    return windows;
}

static void test_windows_independent_of_chunking(void **state)
{
    static const int chunks[] = {1, 7, 160, 400, 1024, 5000};

    (void)state;
    for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
        avf_extractor *x = new_audio();
        int64_t next = 0;

        /* one second: windows start at 0, 160, ..., the last that fits ends at 16000 */
        assert_int_equal(feed(x, 0, RATE, chunks[c], &next), (RATE - WINDOW) / HOP + 1);
        avf_extractor_free(&x);
        assert_null(x);
    }
}

static void test_unaligned_start(void **state)
{
    avf_extractor *x = new_audio();
    int64_t next = 8160; /* audio from sample 8100: the first grid point after it */

    (void)state;
    assert_true(feed(x, 8100, 8100 + 4000, 333, &next) > 0);
    avf_extractor_free(&x);
}

static void test_short_hole_is_silence(void **state)
{
    avf_extractor *x = new_audio();
    float one[HOP], *rows = NULL;
    size_t rows_cap = 0;
    int nb_rows;
    int64_t first;

    (void)state;
    for (int i = 0; i < HOP; i++)
        one[i] = 1.0f;
    assert_int_equal(avf_extract_audio(x, 0, one, HOP, &rows, &rows_cap, &nb_rows, &first), 0);
    assert_int_equal(nb_rows, 0);
    /* 100 samples missing, then more audio: the window spanning the hole exists */
    assert_int_equal(avf_extract_audio(x, HOP + 100, one, HOP, &rows, &rows_cap, &nb_rows, &first),
                     0);
    assert_int_equal(nb_rows, 1);
    assert_int_equal(first, 0);
    assert_float_equal(rows[1], 1.0f, 0);
    assert_float_equal(rows[2], 1.0f, 0);
    assert_float_equal(rows[3], 100.0f, 0); /* the hole reads as 100 samples of silence */
    free(rows);
    avf_extractor_free(&x);
}

/* The caller's row buffer is kept while the rows fit: no allocation per chunk. */
static void test_rows_buffer_reused(void **state)
{
    avf_extractor *x = new_audio();
    float chunk[HOP * 3], *rows = NULL, *first_buf;
    size_t rows_cap = 0;
    int nb_rows;
    int64_t first;

    (void)state;
    memset(chunk, 0, sizeof(chunk));
    assert_int_equal(avf_extract_audio(x, 0, chunk, HOP * 3, &rows, &rows_cap, &nb_rows, &first),
                     0);
    first_buf = rows;
    for (int64_t pos = HOP * 3; pos < RATE; pos += HOP) {
        assert_int_equal(avf_extract_audio(x, pos, chunk, HOP, &rows, &rows_cap, &nb_rows, &first),
                         0);
        assert_int_equal(nb_rows, 1);
        assert_ptr_equal(rows, first_buf);
    }
    /* more windows at once than ever before: the buffer grows */
    assert_int_equal(avf_extract_audio(x, RATE, chunk, HOP * 3, &rows, &rows_cap, &nb_rows, &first),
                     0);
    assert_int_equal(nb_rows, 3);
    assert_true(rows_cap >= 3 * 4);
    free(rows);
    avf_extractor_free(&x);
}

static void test_long_hole_restarts(void **state)
{
    avf_extractor *x = new_audio();
    int64_t next = 0;

    (void)state;
    assert_int_equal(feed(x, 0, 1000, 500, &next), 4);
    /* 10 s later: no window mixes both sides; the grid restarts after the hole */
    next = 10 * RATE;
    assert_int_equal(feed(x, 10 * RATE, 10 * RATE + 1000, 500, &next), 4);
    avf_extractor_free(&x);
}

static void test_video_layout_and_failures(void **state)
{
    const avf_plugin_descriptor *descs[] = {&not_starting_desc, &stub_video_desc,
                                            &failing_video_desc, &stub_audio_desc};
    avf_extractor *x = NULL;
    const avf_feature_layout *layout;
    AVFrame *frame = av_frame_alloc();
    float row[3];

    (void)state;
    assert_int_equal(avf_extractor_new(&x, AVF_PLUGIN_VIDEO, descs, 4, &config), 0);
    layout = avf_extractor_layout(x);
    /* the plugin that did not start is left out; audio ones are not video's */
    assert_int_equal(layout->dim, 3);
    assert_string_equal(layout->names[0], "width");
    assert_string_equal(layout->names[2], "never");
    frame->format = AV_PIX_FMT_YUV420P;
    frame->width = 32;
    frame->height = 16;
    assert_int_equal(av_frame_get_buffer(frame, 0), 0);
    frame->data[0][0] = 77;
    avf_extract_video(x, frame, 0, row);
    assert_float_equal(row[0], 32, 0);
    assert_float_equal(row[1], 77, 0);
    assert_true(isnan(row[2])); /* a failed call leaves no half-written value */
    av_frame_free(&frame);
    avf_extractor_free(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_windows_independent_of_chunking),
        cmocka_unit_test(test_unaligned_start),
        cmocka_unit_test(test_short_hole_is_silence),
        cmocka_unit_test(test_rows_buffer_reused),
        cmocka_unit_test(test_long_hole_restarts),
        cmocka_unit_test(test_video_layout_and_failures),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
