/*
 * test_video_features.c - the built-in "video" extractor driven as a host drives it:
 * descriptor checks, then create, process_video on frames built here, destroy. Black,
 * still, grey and saturated pictures; hard cuts, a flash, a fade, moving patterns that
 * must not count as cuts; edges; odd, bottom-up, resized, oversized and invalid frames.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/avfuse_plugin.h"

/* Declared by plugins/builtin.h. */
const avf_plugin_descriptor *avf_builtin_video_descriptor(void);

#define MAX_FEATURES 256

/* A host: counts log lines, so that a test can check process never logs. */
typedef struct test_host {
    int log_lines;
} test_host;

static void host_log(void *host, int level, const char *msg)
{
    (void)level;
    (void)msg;
    ((test_host *)host)->log_lines++;
}

static int64_t host_now_us(void *host)
{
    (void)host;
    return 0;
}

typedef struct extractor {
    const avf_plugin_descriptor *d;
    test_host host;
    avf_plugin_services services;
    void *instance;
    float out[MAX_FEATURES];
} extractor;

static void extractor_open(extractor *x)
{
    const avf_plugin_config config = {
        .struct_size = sizeof(avf_plugin_config),
        .sample_rate = 16000,
        .window = 400,
        .hop = 160,
        .frame_rate = 10.0,
        .source = "test",
    };

    memset(x, 0, sizeof(*x));
    x->d = avf_builtin_video_descriptor();
    x->services = (avf_plugin_services){
        .abi_version = AVFUSE_PLUGIN_ABI_VERSION,
        .struct_size = sizeof(avf_plugin_services),
        .host = &x->host,
        .log = host_log,
        .now_us = host_now_us,
    };
    assert_int_equal(x->d->create(&x->services, &config, &x->instance), 0);
    assert_non_null(x->instance);
}

static void extractor_close(extractor *x)
{
    x->d->destroy(x->instance);
    x->instance = NULL;
}

static int feature_index(const char *name)
{
    const avf_plugin_descriptor *d = avf_builtin_video_descriptor();

    for (uint32_t i = 0; i < d->nb_features; i++)
        if (!strcmp(d->features[i].name, name))
            return (int)i;
    fail_msg("no feature %s", name);
    return -1;
}

static float feat(const extractor *x, const char *name)
{
    return x->out[feature_index(name)];
}

/* An 8-bit full-range YUV 4:2:0 picture; rows padded, as decoders do. */
typedef struct image {
    int w, h;
    uint8_t *plane[3];
    int linesize[3];
} image;

static image image_new(int w, int h)
{
    image im = {.w = w, .h = h};
    int cw = (w + 1) / 2, ch = (h + 1) / 2;

    im.linesize[0] = w + 13;
    im.linesize[1] = im.linesize[2] = cw + 7;
    im.plane[0] = malloc((size_t)im.linesize[0] * h);
    im.plane[1] = malloc((size_t)im.linesize[1] * ch);
    im.plane[2] = malloc((size_t)im.linesize[2] * ch);
    assert_non_null(im.plane[0]);
    assert_non_null(im.plane[1]);
    assert_non_null(im.plane[2]);
    /* padding that a reader must not use */
    memset(im.plane[0], 0xAB, (size_t)im.linesize[0] * h);
    memset(im.plane[1], 0xAB, (size_t)im.linesize[1] * ch);
    memset(im.plane[2], 0xAB, (size_t)im.linesize[2] * ch);
    return im;
}

static void image_free(image *im)
{
    for (int i = 0; i < 3; i++) {
        free(im->plane[i]);
        im->plane[i] = NULL;
    }
}

static uint8_t *luma_at(image *im, int x, int y)
{
    return &im->plane[0][(size_t)y * im->linesize[0] + x];
}

static void set_chroma(image *im, int cx, int cy, int u, int v)
{
    im->plane[1][(size_t)cy * im->linesize[1] + cx] = (uint8_t)u;
    im->plane[2][(size_t)cy * im->linesize[2] + cx] = (uint8_t)v;
}

static void fill_chroma(image *im, int u, int v)
{
    for (int cy = 0; cy < (im->h + 1) / 2; cy++)
        for (int cx = 0; cx < (im->w + 1) / 2; cx++)
            set_chroma(im, cx, cy, u, v);
}

static void fill_yuv(image *im, int y, int u, int v)
{
    for (int j = 0; j < im->h; j++)
        memset(luma_at(im, 0, j), y, (size_t)im->w);
    fill_chroma(im, u, v);
}

static int clamp8(double v)
{
    return v < 0 ? 0 : v > 255 ? 255 : (int)lrint(v);
}

/* Full-range BT.601, as a JPEG or the decoder's swscale step would produce. */
static void fill_rgb(image *im, int r, int g, int b)
{
    double y = 0.299 * r + 0.587 * g + 0.114 * b;

    fill_yuv(im, clamp8(y), clamp8(128 + (b - y) / 1.772), clamp8(128 + (r - y) / 1.402));
}

/* A still with some colour: a horizontal luma ramp, chroma varying down the picture. */
static void fill_gradient(image *im)
{
    for (int j = 0; j < im->h; j++)
        for (int i = 0; i < im->w; i++)
            *luma_at(im, i, j) = (uint8_t)(i * 255 / (im->w - 1));
    for (int cy = 0; cy < (im->h + 1) / 2; cy++)
        for (int cx = 0; cx < (im->w + 1) / 2; cx++)
            set_chroma(im, cx, cy, 96 + cy * 64 / ((im->h + 1) / 2), 160 - cx * 64 / (im->w / 2));
}

static void fill_checkerboard(image *im, int cell, int offset, int dark, int light)
{
    for (int j = 0; j < im->h; j++)
        for (int i = 0; i < im->w; i++)
            *luma_at(im, i, j) =
                ((i + offset) / cell + j / cell) % 2 ? (uint8_t)light : (uint8_t)dark;
    fill_chroma(im, 128, 128);
}

/* Grey background, a light vertical bar 24 pixels wide starting at column x. */
static void fill_bar(image *im, int x)
{
    for (int j = 0; j < im->h; j++)
        for (int i = 0; i < im->w; i++)
            *luma_at(im, i, j) = i >= x && i < x + 24 ? 220 : 60;
    fill_chroma(im, 128, 128);
}

static int process(extractor *x, const image *im)
{
    const avf_plugin_video_frame frame = {
        .struct_size = sizeof(avf_plugin_video_frame),
        .width = im->w,
        .height = im->h,
        .t_us = 0,
        .data = {im->plane[0], im->plane[1], im->plane[2]},
        .linesize = {im->linesize[0], im->linesize[1], im->linesize[2]},
    };

    return x->d->process_video(x->instance, &frame, x->out);
}

static void assert_processed(extractor *x, const image *im)
{
    assert_int_equal(process(x, im), 0);
}

static float sum_features(const extractor *x, const char *prefix, int count)
{
    char name[16];
    float sum = 0.0f;

    for (int i = 0; i < count; i++) {
        snprintf(name, sizeof(name), "%s_%d", prefix, i);
        sum += feat(x, name);
    }
    return sum;
}

static void test_descriptor(void **state)
{
    static const struct {
        const char *name;
        int pool;
    } expected[] = {
        {"luma", AVF_POOL_MEAN},         {"luma_std", AVF_POOL_MEAN},
        {"colorfulness", AVF_POOL_MEAN}, {"hue_0", AVF_POOL_MEAN},
        {"hue_1", AVF_POOL_MEAN},        {"hue_2", AVF_POOL_MEAN},
        {"hue_3", AVF_POOL_MEAN},        {"hue_4", AVF_POOL_MEAN},
        {"hue_5", AVF_POOL_MEAN},        {"hue_6", AVF_POOL_MEAN},
        {"hue_7", AVF_POOL_MEAN},        {"sat_0", AVF_POOL_MEAN},
        {"sat_1", AVF_POOL_MEAN},        {"sat_2", AVF_POOL_MEAN},
        {"sat_3", AVF_POOL_MEAN},        {"edge_density", AVF_POOL_MEAN},
        {"motion", AVF_POOL_MEAN},       {"motion_max", AVF_POOL_MAX},
        {"cuts", AVF_POOL_SUM},          {"cut_score", AVF_POOL_MAX},
        {"black", AVF_POOL_MEAN},        {"frozen", AVF_POOL_MEAN},
    };
    const avf_plugin_descriptor *d = avf_builtin_video_descriptor();

    (void)state;
    assert_non_null(d);
    assert_ptr_equal(d, avf_builtin_video_descriptor());
    assert_int_equal(d->abi_version, AVFUSE_PLUGIN_ABI_VERSION);
    assert_int_equal(d->struct_size, sizeof(avf_plugin_descriptor));
    assert_string_equal(d->name, "video");
    assert_non_null(d->description);
    assert_int_equal(d->modality, AVF_PLUGIN_VIDEO);
    assert_non_null(d->create);
    assert_non_null(d->process_video);
    assert_null(d->process_audio);
    assert_non_null(d->destroy);
    assert_int_equal(d->nb_features, sizeof(expected) / sizeof(expected[0]));
    for (uint32_t i = 0; i < d->nb_features; i++) {
        const char *name = d->features[i].name;
        size_t len = strlen(name);

        assert_string_equal(name, expected[i].name);
        assert_int_equal(d->features[i].pool, expected[i].pool);
        assert_in_range(len, 1, 48);
        assert_int_equal(strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_"), len);
        for (uint32_t j = 0; j < i; j++)
            assert_string_not_equal(name, d->features[j].name);
    }
}

static void test_black_frames(void **state)
{
    extractor x;
    image im = image_new(320, 180);

    (void)state;
    extractor_open(&x);
    fill_yuv(&im, 0, 128, 128);
    assert_processed(&x, &im);
    /* the first frame has nothing to compare with */
    assert_true(isnan(feat(&x, "motion")));
    assert_true(isnan(feat(&x, "motion_max")));
    assert_true(isnan(feat(&x, "cut_score")));
    assert_float_equal(feat(&x, "cuts"), 0.0, 0.0);
    assert_float_equal(feat(&x, "frozen"), 0.0, 0.0);
    for (int i = 0; i < 4; i++) {
        assert_processed(&x, &im);
        assert_true(feat(&x, "luma") < 0.02f);
        assert_float_equal(feat(&x, "luma_std"), 0.0, 1e-6);
        assert_float_equal(feat(&x, "black"), 1.0, 0.0);
        assert_float_equal(feat(&x, "frozen"), 1.0, 0.0);
        assert_float_equal(feat(&x, "motion"), 0.0, 0.0);
        assert_float_equal(feat(&x, "cuts"), 0.0, 0.0);
        assert_float_equal(feat(&x, "cut_score"), 0.0, 0.0);
        assert_float_equal(feat(&x, "colorfulness"), 0.0, 1e-6);
        assert_float_equal(feat(&x, "edge_density"), 0.0, 0.0);
        assert_float_equal(feat(&x, "sat_0"), 1.0, 1e-6);
        assert_float_equal(sum_features(&x, "hue", 8), 0.0, 0.0);
    }
    assert_int_equal(x.host.log_lines, 0);
    extractor_close(&x);
    image_free(&im);
}

/* blackdetect's threshold is 10 % of the black-to-white range in either range. */
static void test_black_threshold(void **state)
{
    extractor x;
    image im = image_new(100, 100);

    (void)state;
    extractor_open(&x);
    /* limited-range black (16) decoded without range conversion is still black */
    fill_yuv(&im, 16, 128, 128);
    assert_processed(&x, &im);
    assert_float_equal(feat(&x, "black"), 1.0, 0.0);
    fill_yuv(&im, 25, 128, 128);
    assert_processed(&x, &im);
    assert_float_equal(feat(&x, "black"), 1.0, 0.0);
    fill_yuv(&im, 26, 128, 128);
    assert_processed(&x, &im);
    assert_float_equal(feat(&x, "black"), 0.0, 0.0);
    /* 98 % of the pixels black is enough, 97 % is not */
    fill_yuv(&im, 0, 128, 128);
    for (int j = 0; j < 2; j++)
        memset(luma_at(&im, 0, j), 255, 100);
    assert_processed(&x, &im);
    assert_float_equal(feat(&x, "black"), 1.0, 0.0);
    memset(luma_at(&im, 0, 2), 255, 100);
    assert_processed(&x, &im);
    assert_float_equal(feat(&x, "black"), 0.0, 0.0);
    extractor_close(&x);
    image_free(&im);
}

static void test_still_image(void **state)
{
    extractor x;
    image im = image_new(320, 180);

    (void)state;
    extractor_open(&x);
    fill_gradient(&im);
    assert_processed(&x, &im);
    assert_float_equal(feat(&x, "frozen"), 0.0, 0.0);
    for (int i = 0; i < 9; i++) {
        assert_processed(&x, &im);
        assert_float_equal(feat(&x, "frozen"), 1.0, 0.0);
        assert_float_equal(feat(&x, "motion"), 0.0, 1e-6);
        assert_float_equal(feat(&x, "motion_max"), 0.0, 1e-6);
        assert_float_equal(feat(&x, "cuts"), 0.0, 0.0);
        assert_float_equal(feat(&x, "cut_score"), 0.0, 1e-6);
        assert_float_equal(feat(&x, "black"), 0.0, 0.0);
    }
    /* a ramp 0..255 has mean 1/2 and standard deviation 1/sqrt(12) of full scale */
    assert_float_equal(feat(&x, "luma"), 0.5, 0.01);
    assert_float_equal(feat(&x, "luma_std"), 0.2887, 0.01);
    assert_true(feat(&x, "colorfulness") > 0.05f);
    assert_float_equal(sum_features(&x, "sat", 4), 1.0, 1e-5);
    assert_true(sum_features(&x, "hue", 8) > 0.1f);
    assert_true(sum_features(&x, "hue", 8) <= 1.0f + 1e-5f);
    assert_int_equal(x.host.log_lines, 0);
    extractor_close(&x);
    image_free(&im);
}

/* A change below freezedetect's noise (0.001 of full scale) is still a freeze. */
static void test_frozen_threshold(void **state)
{
    extractor x;
    image im = image_new(200, 100);

    (void)state;
    extractor_open(&x);
    fill_gradient(&im);
    assert_processed(&x, &im);
    /* 20 pixels of 20000 up by 2: mean |dY| 0.002 of a level, 0.00001 of full scale */
    for (int i = 0; i < 20; i++)
        *luma_at(&im, i, 50) = (uint8_t)(*luma_at(&im, i, 50) + 2);
    assert_processed(&x, &im);
    assert_float_equal(feat(&x, "frozen"), 1.0, 0.0);
    assert_true(feat(&x, "motion") > 0.0f);
    /* every pixel up by 1: mean |dY| 1/255, above the noise */
    for (int j = 0; j < im.h; j++)
        for (int i = 0; i < im.w; i++)
            *luma_at(&im, i, j) =
                (uint8_t)(*luma_at(&im, i, j) < 255 ? *luma_at(&im, i, j) + 1 : 254);
    assert_processed(&x, &im);
    assert_float_equal(feat(&x, "frozen"), 0.0, 0.0);
    extractor_close(&x);
    image_free(&im);
}

static void test_grey_is_not_colourful(void **state)
{
    extractor x;
    image im = image_new(320, 180);

    (void)state;
    extractor_open(&x);
    fill_yuv(&im, 128, 128, 128);
    assert_processed(&x, &im);
    assert_true(feat(&x, "colorfulness") < 0.01f);
    assert_float_equal(feat(&x, "sat_0"), 1.0, 1e-6);
    assert_float_equal(sum_features(&x, "hue", 8), 0.0, 0.0);
    assert_float_equal(feat(&x, "luma"), 128.0 / 255.0, 1e-4);
    extractor_close(&x);
    image_free(&im);
}

static void test_saturated_hues(void **state)
{
    /* HSV hue 0, 60, 120, 180, 240, 300 fall in the 45-degree bins centred on red */
    static const struct {
        int r, g, b, bin;
    } cases[] = {
        {255, 0, 0, 0},   {255, 255, 0, 1}, {0, 255, 0, 3},
        {0, 255, 255, 4}, {0, 0, 255, 5},   {255, 0, 255, 7},
    };
    extractor x;
    image im = image_new(320, 180);
    char name[16];

    (void)state;
    extractor_open(&x);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fill_rgb(&im, cases[i].r, cases[i].g, cases[i].b);
        assert_processed(&x, &im);
        snprintf(name, sizeof(name), "hue_%d", cases[i].bin);
        assert_float_equal(feat(&x, name), 1.0, 1e-6);
        assert_float_equal(sum_features(&x, "hue", 8), 1.0, 1e-5);
        assert_float_equal(feat(&x, "sat_3"), 1.0, 1e-6);
    }
    /* a uniform pure red: sigma 0, mean (rg, yb) = (255, 127.5): M = 0.3 * 285 / 100 */
    fill_rgb(&im, 255, 0, 0);
    assert_processed(&x, &im);
    assert_float_equal(feat(&x, "colorfulness"), 0.855, 0.02);
    extractor_close(&x);
    image_free(&im);
}

/* Half red, half blue: the spread of rg and yb makes it more colourful than either. */
static void test_colourfulness_grows_with_spread(void **state)
{
    extractor x;
    image red = image_new(320, 180), mixed = image_new(320, 180);
    float solid;

    (void)state;
    extractor_open(&x);
    fill_rgb(&red, 255, 0, 0);
    assert_processed(&x, &red);
    solid = feat(&x, "colorfulness");
    fill_rgb(&mixed, 0, 0, 255);
    for (int j = 0; j < 180; j++)
        memcpy(luma_at(&mixed, 0, j), luma_at(&red, 0, j), 160);
    for (int cy = 0; cy < 90; cy++)
        for (int cx = 0; cx < 80; cx++)
            set_chroma(&mixed, cx, cy, red.plane[1][0], red.plane[2][0]);
    assert_processed(&x, &mixed);
    assert_true(feat(&x, "colorfulness") > solid + 0.5f);
    assert_float_equal(feat(&x, "hue_0"), 0.5, 1e-6);
    assert_float_equal(feat(&x, "hue_5"), 0.5, 1e-6);
    extractor_close(&x);
    image_free(&red);
    image_free(&mixed);
}

static void test_hard_cut(void **state)
{
    extractor x;
    image a = image_new(320, 180), b = image_new(320, 180);

    (void)state;
    extractor_open(&x);
    fill_gradient(&a);
    fill_checkerboard(&b, 40, 0, 30, 200);
    assert_processed(&x, &a);
    assert_float_equal(feat(&x, "cuts"), 0.0, 0.0);
    assert_processed(&x, &b);
    assert_float_equal(feat(&x, "cuts"), 1.0, 0.0);
    assert_true(feat(&x, "cut_score") > 10.0f);
    assert_true(feat(&x, "cut_score") <= 100.0f);
    for (int i = 0; i < 5; i++) {
        assert_processed(&x, &b);
        assert_float_equal(feat(&x, "cuts"), 0.0, 0.0);
    }
    /* and back to the first scene, in the middle of a stream */
    assert_processed(&x, &a);
    assert_float_equal(feat(&x, "cuts"), 1.0, 0.0);
    assert_processed(&x, &a);
    assert_float_equal(feat(&x, "cuts"), 0.0, 0.0);
    extractor_close(&x);
    image_free(&a);
    image_free(&b);
}

/* A flash is a shot change by luma: accepted. Black after black is not. */
static void test_flash(void **state)
{
    extractor x;
    image black = image_new(320, 180), white = image_new(320, 180);

    (void)state;
    extractor_open(&x);
    fill_yuv(&black, 0, 128, 128);
    fill_yuv(&white, 255, 128, 128);
    for (int i = 0; i < 3; i++) {
        assert_processed(&x, &black);
        assert_float_equal(feat(&x, "cuts"), 0.0, 0.0);
    }
    assert_processed(&x, &white);
    assert_float_equal(feat(&x, "cuts"), 1.0, 0.0);
    assert_float_equal(feat(&x, "cut_score"), 100.0, 1e-3);
    assert_float_equal(feat(&x, "motion"), 1.0, 1e-6);
    assert_processed(&x, &white);
    assert_float_equal(feat(&x, "cuts"), 0.0, 0.0);
    extractor_close(&x);
    image_free(&black);
    image_free(&white);
}

static void test_fade_is_not_a_cut(void **state)
{
    extractor x;
    image im = image_new(320, 180);

    (void)state;
    extractor_open(&x);
    /* 2 s at 10 fps from a bright gradient to black */
    for (int step = 20; step >= 0; step--) {
        fill_gradient(&im);
        for (int j = 0; j < im.h; j++)
            for (int i = 0; i < im.w; i++)
                *luma_at(&im, i, j) = (uint8_t)(*luma_at(&im, i, j) * step / 20);
        assert_processed(&x, &im);
        assert_float_equal(feat(&x, "cuts"), 0.0, 0.0);
    }
    assert_float_equal(feat(&x, "black"), 1.0, 0.0);
    extractor_close(&x);
    image_free(&im);
}

static void test_moving_bar(void **state)
{
    extractor x;
    image im = image_new(320, 180);

    (void)state;
    extractor_open(&x);
    for (int i = 0; i < 40; i++) {
        fill_bar(&im, 20 + 6 * i);
        assert_processed(&x, &im);
        assert_float_equal(feat(&x, "cuts"), 0.0, 0.0);
        if (i > 0) {
            assert_true(feat(&x, "motion") > 0.005f);
            assert_float_equal(feat(&x, "frozen"), 0.0, 0.0);
        }
    }
    extractor_close(&x);
    image_free(&im);
}

/*
 * Fine texture that starts and stops moving: its MAFD jumps from 0 to full scale and
 * back, which scdet alone scores 100. Its coarse picture does not change: no cut.
 */
static void test_moving_fine_texture(void **state)
{
    static const int offsets[] = {0, 0, 0, 2, 4, 6, 6, 6, 7, 9, 9};
    extractor x;
    image im = image_new(320, 180);
    float motion_peak = 0.0f;

    (void)state;
    extractor_open(&x);
    for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
        fill_checkerboard(&im, 2, offsets[i], 0, 255);
        assert_processed(&x, &im);
        assert_float_equal(feat(&x, "cuts"), 0.0, 0.0);
        if (i > 0 && feat(&x, "motion") > motion_peak)
            motion_peak = feat(&x, "motion");
    }
    assert_true(motion_peak > 0.9f);
    extractor_close(&x);
    image_free(&im);
}

static void test_edge_density(void **state)
{
    extractor x;
    image im = image_new(320, 180);

    (void)state;
    extractor_open(&x);
    fill_yuv(&im, 90, 128, 128);
    assert_processed(&x, &im);
    assert_float_equal(feat(&x, "edge_density"), 0.0, 0.0);
    /* 4-pixel cells: every pixel within one of a cell border is on an edge */
    fill_checkerboard(&im, 4, 0, 0, 255);
    assert_processed(&x, &im);
    assert_true(feat(&x, "edge_density") > 0.3f);
    /* one vertical step of 40 levels: two columns of the 318 interior ones */
    fill_yuv(&im, 100, 128, 128);
    for (int j = 0; j < im.h; j++)
        memset(luma_at(&im, 160, j), 140, 160);
    assert_processed(&x, &im);
    assert_float_equal(feat(&x, "edge_density"), 2.0 / 318.0, 1e-5);
    /* a step of 20 levels (8 % of full scale) is below the threshold */
    for (int j = 0; j < im.h; j++)
        memset(luma_at(&im, 160, j), 120, 160);
    assert_processed(&x, &im);
    assert_float_equal(feat(&x, "edge_density"), 0.0, 0.0);
    extractor_close(&x);
    image_free(&im);
}

static void assert_all_nan(const extractor *x)
{
    for (uint32_t i = 0; i < x->d->nb_features; i++)
        assert_true(isnan(x->out[i]));
}

static void test_frame_above_cap(void **state)
{
    extractor x;
    image big = image_new(1921, 1088), wide = image_new(8192, 256), ok = image_new(1920, 1088);

    (void)state;
    extractor_open(&x);
    fill_yuv(&ok, 40, 128, 128);
    assert_processed(&x, &ok);
    fill_yuv(&big, 40, 128, 128);
    assert_int_equal(process(&x, &big), -ENOSPC);
    assert_all_nan(&x);
    fill_yuv(&wide, 40, 128, 128);
    assert_int_equal(process(&x, &wide), -ENOSPC);
    /* the refused frames left the history alone */
    assert_processed(&x, &ok);
    assert_float_equal(feat(&x, "frozen"), 1.0, 0.0);
    assert_int_equal(x.host.log_lines, 0);
    extractor_close(&x);
    image_free(&big);
    image_free(&wide);
    image_free(&ok);
}

static void test_invalid_frames(void **state)
{
    extractor x;
    image im = image_new(64, 48);
    avf_plugin_video_frame f = {
        .struct_size = sizeof(avf_plugin_video_frame),
        .width = 64,
        .height = 48,
        .data = {im.plane[0], im.plane[1], im.plane[2]},
        .linesize = {im.linesize[0], im.linesize[1], im.linesize[2]},
    };
    avf_plugin_video_frame bad;

    (void)state;
    extractor_open(&x);
    fill_yuv(&im, 40, 128, 128);
    bad = f;
    bad.width = 0;
    assert_int_equal(x.d->process_video(x.instance, &bad, x.out), -EINVAL);
    assert_all_nan(&x);
    bad = f;
    bad.height = -2;
    assert_int_equal(x.d->process_video(x.instance, &bad, x.out), -EINVAL);
    bad = f;
    bad.data[2] = NULL;
    assert_int_equal(x.d->process_video(x.instance, &bad, x.out), -EINVAL);
    bad = f;
    bad.linesize[0] = 63;
    assert_int_equal(x.d->process_video(x.instance, &bad, x.out), -EINVAL);
    bad = f;
    bad.linesize[1] = 31;
    assert_int_equal(x.d->process_video(x.instance, &bad, x.out), -EINVAL);
    bad = f;
    bad.struct_size = offsetof(avf_plugin_video_frame, linesize);
    assert_int_equal(x.d->process_video(x.instance, &bad, x.out), -EINVAL);
    assert_int_equal(x.d->process_video(x.instance, NULL, x.out), -EINVAL);
    assert_int_equal(x.d->process_video(x.instance, &f, x.out), 0);
    extractor_close(&x);
    image_free(&im);
}

static void test_odd_sizes(void **state)
{
    static const int sizes[][2] = {{321, 181}, {3, 3}, {1, 1}, {2, 1}, {1, 7}, {7, 2}};
    extractor x;

    (void)state;
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        image im = image_new(sizes[s][0], sizes[s][1]);

        extractor_open(&x);
        fill_rgb(&im, 255, 0, 0);
        for (int i = 0; i < 3; i++) {
            assert_processed(&x, &im);
            /* the odd last row and column count with their share of the pixels */
            assert_float_equal(feat(&x, "hue_0"), 1.0, 1e-6);
            assert_float_equal(sum_features(&x, "sat", 4), 1.0, 1e-6);
            assert_false(isnan(feat(&x, "luma")));
            assert_false(isnan(feat(&x, "colorfulness")));
            if (sizes[s][0] >= 3 && sizes[s][1] >= 3)
                assert_float_equal(feat(&x, "edge_density"), 0.0, 0.0);
            else
                assert_true(isnan(feat(&x, "edge_density")));
        }
        assert_float_equal(feat(&x, "frozen"), 1.0, 0.0);
        assert_float_equal(feat(&x, "cuts"), 0.0, 0.0);
        extractor_close(&x);
        image_free(&im);
    }
}

/* A change of size starts the history again: the frame is treated as a first one. */
static void test_size_change(void **state)
{
    extractor x;
    image a = image_new(320, 180), b = image_new(160, 90);

    (void)state;
    extractor_open(&x);
    fill_gradient(&a);
    fill_checkerboard(&b, 10, 0, 0, 255);
    assert_processed(&x, &a);
    assert_processed(&x, &a);
    assert_processed(&x, &b);
    assert_true(isnan(feat(&x, "motion")));
    assert_float_equal(feat(&x, "cuts"), 0.0, 0.0);
    assert_float_equal(feat(&x, "frozen"), 0.0, 0.0);
    assert_processed(&x, &b);
    assert_float_equal(feat(&x, "frozen"), 1.0, 0.0);
    extractor_close(&x);
    image_free(&a);
    image_free(&b);
}

/* A bottom-up picture (negative linesizes) reads as the same picture. */
static void test_negative_linesize(void **state)
{
    extractor x, y;
    /* an even height: chroma rows pair with the same luma rows read either way */
    image im = image_new(101, 60);
    int ch = (im.h + 1) / 2;
    avf_plugin_video_frame f = {
        .struct_size = sizeof(avf_plugin_video_frame),
        .width = im.w,
        .height = im.h,
        .data = {im.plane[0] + (size_t)(im.h - 1) * im.linesize[0],
                 im.plane[1] + (size_t)(ch - 1) * im.linesize[1],
                 im.plane[2] + (size_t)(ch - 1) * im.linesize[2]},
        .linesize = {-im.linesize[0], -im.linesize[1], -im.linesize[2]},
    };

    (void)state;
    extractor_open(&x);
    extractor_open(&y);
    fill_gradient(&im);
    assert_processed(&x, &im);
    assert_int_equal(y.d->process_video(y.instance, &f, y.out), 0);
    for (uint32_t i = 0; i < x.d->nb_features; i++)
        if (!isnan(x.out[i]))
            assert_float_equal(x.out[i], y.out[i], 1e-6);
    extractor_close(&x);
    extractor_close(&y);
    image_free(&im);
}

/* Two instances interleaved give what each gives alone: no shared mutable state. */
static void test_instances_independent(void **state)
{
    extractor x, y, alone;
    image a = image_new(64, 64), b = image_new(64, 64);

    (void)state;
    extractor_open(&x);
    extractor_open(&y);
    extractor_open(&alone);
    fill_gradient(&a);
    fill_checkerboard(&b, 8, 0, 0, 255);
    assert_processed(&x, &a);
    assert_processed(&y, &b);
    assert_processed(&alone, &a);
    assert_processed(&x, &a);
    assert_processed(&y, &a);
    assert_processed(&alone, &a);
    assert_float_equal(feat(&x, "frozen"), 1.0, 0.0);
    assert_float_equal(feat(&y, "cuts"), 1.0, 0.0);
    assert_memory_equal(x.out, alone.out, sizeof(float) * x.d->nb_features);
    extractor_close(&x);
    extractor_close(&y);
    extractor_close(&alone);
    image_free(&a);
    image_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor),
        cmocka_unit_test(test_black_frames),
        cmocka_unit_test(test_black_threshold),
        cmocka_unit_test(test_still_image),
        cmocka_unit_test(test_frozen_threshold),
        cmocka_unit_test(test_grey_is_not_colourful),
        cmocka_unit_test(test_saturated_hues),
        cmocka_unit_test(test_colourfulness_grows_with_spread),
        cmocka_unit_test(test_hard_cut),
        cmocka_unit_test(test_flash),
        cmocka_unit_test(test_fade_is_not_a_cut),
        cmocka_unit_test(test_moving_bar),
        cmocka_unit_test(test_moving_fine_texture),
        cmocka_unit_test(test_edge_density),
        cmocka_unit_test(test_frame_above_cap),
        cmocka_unit_test(test_invalid_frames),
        cmocka_unit_test(test_odd_sizes),
        cmocka_unit_test(test_size_change),
        cmocka_unit_test(test_negative_linesize),
        cmocka_unit_test(test_instances_independent),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
