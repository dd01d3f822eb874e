/*
 * builtin_video.c - the built-in video feature extractor, descriptor "video".
 *
 * It gives every analysis frame a row of cheap, well-known picture measures that need
 * no model: brightness and contrast, colourfulness (Hasler & Suesstrunk 2003), a hue
 * and a saturation histogram, Sobel edge density, motion, and the shot-change, black
 * and freeze flags of FFmpeg's scdet, blackdetect and freezedetect filters, so that a
 * segment carries them without running a filter graph per source.
 *
 * Design: process_video makes three passes over the frame it is lent - luma (histogram,
 * 8x8 cell sums, difference to the previous frame, copy for the next call), Sobel, and
 * colour (one RGB value per 4:2:0 chroma sample) - and keeps integer sums, so results
 * do not depend on summation order. The previous frame's luma lives in a buffer
 * allocated at create for VIDEO_MAX_PIXELS; a larger frame is refused with -ENOSPC, a
 * frame of another size restarts the history as if it were the first. The cut detector
 * is scdet's with a coarse first term (see CUT_GRID). docs/features-video.md has the
 * definitions and the calibration on decoded clips.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/avfuse_plugin.h"

/* Declared by plugins/builtin.h; repeated so that this file builds on its own. */
const avf_plugin_descriptor *avf_builtin_video_descriptor(void);

/*
 * The largest frame, in luma pixels, whose predecessor can be kept: 1920x1088 (2 MiB)
 * is far above the default analysis size (320 wide) and still cheap to hold per source.
 */
#define VIDEO_MAX_PIXELS (1920 * 1088)

/* blackdetect's pix_th 0.10 of the black-to-white range: full-range Y <= 25. */
#define BLACK_PIX_MAX 25
/* blackdetect's pic_th: at least 98 % of the pixels are black. */
#define BLACK_PIC_PERMILLE 980

/* freezedetect's default noise 0.001 (-60 dB) of full scale, as a mean |dY| / 255. */
#define FREEZE_NOISE 0.001

/*
 * A Sobel magnitude above 0.1 of the largest response to a step (4 * 255): a clean
 * vertical or horizontal step of 26 levels (10 % of full scale) or more is an edge.
 */
#define EDGE_THRESHOLD 102

/* Hue counts only for pixels with HSV saturation above 0.2. */
#define HUE_SAT_MIN_NUM 1
#define HUE_SAT_MIN_DEN 5

/*
 * Shot change, after scdet. MAFD is the mean |dY| in percent of full scale; scdet
 * scores min(MAFD, |MAFD - previous MAFD|), a change that the neighbouring pair of
 * frames does not share, which steady motion does. Here the first term is the MAFD of
 * the frames reduced to CUT_GRID x CUT_GRID cell means (cMAFD <= MAFD): a new shot
 * changes the picture at every scale, fast motion of fine texture only at the fine
 * one, where its MAFD can jump as the speed changes. A cut when the score exceeds
 * CUT_THRESHOLD, scdet's default. docs/features-video.md has the calibration.
 */
#define CUT_THRESHOLD 10.0
#define CUT_GRID      8

enum {
    F_LUMA,
    F_LUMA_STD,
    F_COLORFULNESS,
    F_HUE_0,
    F_SAT_0 = F_HUE_0 + 8,
    F_EDGE_DENSITY = F_SAT_0 + 4,
    F_MOTION,
    F_MOTION_MAX,
    F_CUTS,
    F_CUT_SCORE,
    F_BLACK,
    F_FROZEN,
    NB_FEATURES
};

static const avf_plugin_feature video_features[NB_FEATURES] = {
    [F_LUMA] = {"luma", AVF_POOL_MEAN},
    [F_LUMA_STD] = {"luma_std", AVF_POOL_MEAN},
    [F_COLORFULNESS] = {"colorfulness", AVF_POOL_MEAN},
    [F_HUE_0 + 0] = {"hue_0", AVF_POOL_MEAN},
    [F_HUE_0 + 1] = {"hue_1", AVF_POOL_MEAN},
    [F_HUE_0 + 2] = {"hue_2", AVF_POOL_MEAN},
    [F_HUE_0 + 3] = {"hue_3", AVF_POOL_MEAN},
    [F_HUE_0 + 4] = {"hue_4", AVF_POOL_MEAN},
    [F_HUE_0 + 5] = {"hue_5", AVF_POOL_MEAN},
    [F_HUE_0 + 6] = {"hue_6", AVF_POOL_MEAN},
    [F_HUE_0 + 7] = {"hue_7", AVF_POOL_MEAN},
    [F_SAT_0 + 0] = {"sat_0", AVF_POOL_MEAN},
    [F_SAT_0 + 1] = {"sat_1", AVF_POOL_MEAN},
    [F_SAT_0 + 2] = {"sat_2", AVF_POOL_MEAN},
    [F_SAT_0 + 3] = {"sat_3", AVF_POOL_MEAN},
    [F_EDGE_DENSITY] = {"edge_density", AVF_POOL_MEAN},
    [F_MOTION] = {"motion", AVF_POOL_MEAN},
    [F_MOTION_MAX] = {"motion_max", AVF_POOL_MAX},
    [F_CUTS] = {"cuts", AVF_POOL_SUM},
    [F_CUT_SCORE] = {"cut_score", AVF_POOL_MAX},
    [F_BLACK] = {"black", AVF_POOL_MEAN},
    [F_FROZEN] = {"frozen", AVF_POOL_MEAN},
};

typedef struct video_ctx {
    int prev_w, prev_h; /* size of the frame in prev; 0 before the first frame */
    double prev_mafd;   /* MAFD of the previous pair of frames; 0 at the start, as in scdet */
    uint64_t prev_cells[CUT_GRID * CUT_GRID]; /* luma sums of the previous frame's cells */
    uint8_t prev[]; /* the previous frame's luma, prev_w x prev_h packed */
} video_ctx;

/* What the luma pass gathers. */
typedef struct luma_stats {
    uint32_t hist[256];
    uint64_t cells[CUT_GRID * CUT_GRID]; /* luma sum per cell, row-major */
    uint64_t sad;                        /* sum of |Y - previous Y| */
} luma_stats;

typedef struct colour_sums {
    int64_t rg, rg2, yb, yb2; /* yb is 2 * ((R + G) / 2 - B), kept integer */
    uint32_t hue[8];
    uint32_t sat[4];
} colour_sums;

static int video_create(const avf_plugin_services *services, const avf_plugin_config *config,
                        void **instance)
{
    video_ctx *ctx;

    (void)services;
    (void)config;
    if (!instance)
        return -EINVAL;
    ctx = malloc(sizeof(*ctx) + VIDEO_MAX_PIXELS);
    if (!ctx)
        return -ENOMEM;
    ctx->prev_w = 0;
    ctx->prev_h = 0;
    ctx->prev_mafd = 0.0;
    *instance = ctx;
    return 0;
}

static void video_destroy(void *instance)
{
    free(instance);
}

static int frame_valid(const avf_plugin_video_frame *f)
{
    int64_t cw;

    if (f->struct_size < offsetof(avf_plugin_video_frame, linesize) + sizeof(f->linesize))
        return 0;
    if (f->width < 1 || f->height < 1)
        return 0;
    if (!f->data[0] || !f->data[1] || !f->data[2])
        return 0;
    cw = ((int64_t)f->width + 1) / 2;
    /* a negative linesize is a bottom-up picture, as in libavutil */
    return llabs((int64_t)f->linesize[0]) >= f->width && llabs((int64_t)f->linesize[1]) >= cw &&
           llabs((int64_t)f->linesize[2]) >= cw;
}

static inline int clamp255(int v)
{
    return v < 0 ? 0 : v > 255 ? 255 : v;
}

/*
 * BT.601 full-range chroma terms in 16.16 fixed point; the bias keeps the shifted
 * value non-negative, so the right shift rounds the same on every compiler.
 */
static inline int chroma_term(int k_u, int k_v, int u, int v)
{
    return ((k_u * (u - 128) + k_v * (v - 128) + (1 << 24) + (1 << 15)) >> 16) - 256;
}

/*
 * Colourfulness sums and HSV histograms for one chroma sample, y being the rounded mean
 * of the `weight` luma pixels it covers; each sum counts the sample `weight` times so
 * that the shares are shares of pixels.
 */
static inline void colour_sample(colour_sums *s, int y, int weight, int u, int v)
{
    int r = clamp255(y + chroma_term(0, 91881, u, v));
    int g = clamp255(y + chroma_term(-22554, -46802, u, v));
    int b = clamp255(y + chroma_term(116130, 0, u, v));
    int rg = r - g, yb = r + g - 2 * b;
    int max = r > g ? (r > b ? r : b) : (g > b ? g : b);
    int min = r < g ? (r < b ? r : b) : (g < b ? g : b);
    int delta = max - min, m = max + (max == 0);
    int h6;

    s->rg += weight * rg;
    s->rg2 += weight * rg * rg;
    s->yb += weight * yb;
    s->yb2 += weight * yb * yb;
    /* saturation delta / max in quarters, compared without dividing */
    s->sat[(4 * delta >= m) + (2 * delta >= m) + (4 * delta >= 3 * m)] += weight;
    if (HUE_SAT_MIN_DEN * delta <= HUE_SAT_MIN_NUM * max)
        return;
    /* HSV hue as h6 / delta sixths of the circle, then 45-degree bins centred on red */
    if (max == r)
        h6 = g - b;
    else if (max == g)
        h6 = 2 * delta + b - r;
    else
        h6 = 4 * delta + r - g;
    if (h6 < 0)
        h6 += 6 * delta;
    s->hue[((8 * h6 + 3 * delta) / (6 * delta)) & 7] += weight;
}

/*
 * Colour is measured at the chroma resolution, where 4:2:0 keeps it: per chroma
 * sample, not per pixel. Luma enters RGB only through the mean of the 2x2 block, which
 * leaves rg and yb exact except where a channel clips, and costs a quarter of the work.
 */
static void colour_pass(const avf_plugin_video_frame *f, colour_sums *out)
{
    const int w = f->width, h = f->height;
    /* a local copy, so that the sums stay in registers while the planes are read */
    colour_sums acc = {0};

    for (int cy = 0; cy < (h + 1) / 2; cy++) {
        const uint8_t *u = f->data[1] + (ptrdiff_t)cy * f->linesize[1];
        const uint8_t *v = f->data[2] + (ptrdiff_t)cy * f->linesize[2];
        const uint8_t *y0 = f->data[0] + (ptrdiff_t)(2 * cy) * f->linesize[0];
        /* the odd last row and column: a sample covers one luma row or column only */
        const int rows = 2 * cy + 1 < h ? 2 : 1;
        const uint8_t *y1 = rows == 2 ? y0 + f->linesize[0] : y0;

        for (int cx = 0; cx < (w + 1) / 2; cx++) {
            int x0 = 2 * cx, x1 = x0 + 1 < w ? x0 + 1 : x0;
            int y_sum = y0[x0] + y0[x1] + y1[x0] + y1[x1];

            /* duplicated rows and columns count twice in y_sum: the mean stays exact */
            colour_sample(&acc, (y_sum + 2) >> 2, rows * (x1 - x0 + 1), u[cx], v[cx]);
        }
    }
    *out = acc;
}

/*
 * Sobel in column strips of fixed length, so that the compiler vectorizes them at -O2:
 * the strip's vertical smoothing and difference go to small arrays first, which also
 * shares each load among three outputs. The last strip of a row is moved left to end
 * at the row's end and skips the outputs that the previous strip counted.
 */
#define SOBEL_STRIP 64

static inline int sobel_is_edge(int gx, int gy)
{
    return gx * gx + gy * gy > EDGE_THRESHOLD * EDGE_THRESHOLD;
}

/* Edges among the SOBEL_STRIP outputs centred on r1[1..], not counting the first skip. */
static uint32_t sobel_strip(const uint8_t *r0, const uint8_t *r1, const uint8_t *r2, int skip)
{
    int16_t vs[SOBEL_STRIP + 2], vd[SOBEL_STRIP + 2];
    uint32_t edges = 0;

    /* SOBEL_STRIP columns and then 2: one loop of SOBEL_STRIP + 2 would not vectorize */
    for (int i = 0; i < SOBEL_STRIP; i++) {
        vs[i] = (int16_t)(r0[i] + 2 * r1[i] + r2[i]);
        vd[i] = (int16_t)(r2[i] - r0[i]);
    }
    for (int i = SOBEL_STRIP; i < SOBEL_STRIP + 2; i++) {
        vs[i] = (int16_t)(r0[i] + 2 * r1[i] + r2[i]);
        vd[i] = (int16_t)(r2[i] - r0[i]);
    }
    for (int i = 0; i < SOBEL_STRIP; i++)
        edges += (uint32_t)(sobel_is_edge(vs[i + 2] - vs[i], vd[i] + 2 * vd[i + 1] + vd[i + 2]) &
                            (i >= skip));
    return edges;
}

/* A row narrower than a strip: outputs 1..n. */
static uint32_t sobel_narrow(const uint8_t *r0, const uint8_t *r1, const uint8_t *r2, int n)
{
    uint32_t edges = 0;

    for (int x = 1; x <= n; x++) {
        int gx = (r0[x + 1] + 2 * r1[x + 1] + r2[x + 1]) - (r0[x - 1] + 2 * r1[x - 1] + r2[x - 1]);
        int gy = (r2[x - 1] + 2 * r2[x] + r2[x + 1]) - (r0[x - 1] + 2 * r0[x] + r0[x + 1]);

        edges += (uint32_t)sobel_is_edge(gx, gy);
    }
    return edges;
}

/* Share of interior pixels whose Sobel magnitude exceeds EDGE_THRESHOLD; NaN below 3x3. */
static float edge_density(const avf_plugin_video_frame *f)
{
    const int w = f->width, h = f->height, n = w - 2;
    const ptrdiff_t ls = f->linesize[0];
    uint64_t edges = 0;

    if (w < 3 || h < 3)
        return NAN;
    for (int y = 1; y < h - 1; y++) {
        const uint8_t *r1 = f->data[0] + (ptrdiff_t)y * ls, *r0 = r1 - ls, *r2 = r1 + ls;
        int x = 0;

        if (n < SOBEL_STRIP) {
            edges += sobel_narrow(r0, r1, r2, n);
            continue;
        }
        for (; x + SOBEL_STRIP <= n; x += SOBEL_STRIP)
            edges += sobel_strip(r0 + x, r1 + x, r2 + x, 0);
        if (x < n)
            edges += sobel_strip(r0 + n - SOBEL_STRIP, r1 + n - SOBEL_STRIP, r2 + n - SOBEL_STRIP,
                                 SOBEL_STRIP - (n - x));
    }
    return (float)((double)edges / ((double)n * (h - 2)));
}

/* Fixed-length blocks, so that the compiler vectorizes them at -O2. */
#define SAD_BLOCK 64
#define SUM_BLOCK 16

static uint32_t sum_block(const uint8_t *p)
{
    uint32_t sum = 0;

    for (int i = 0; i < SUM_BLOCK; i++)
        sum += p[i];
    return sum;
}

static uint32_t row_sum(const uint8_t *p, int n)
{
    uint32_t sum = 0;
    int i = 0;

    for (; i + SUM_BLOCK <= n; i += SUM_BLOCK)
        sum += sum_block(p + i);
    for (; i < n; i++)
        sum += p[i];
    return sum;
}

static uint32_t sad_block(const uint8_t *p, const uint8_t *q)
{
    uint32_t sad = 0;

    for (int i = 0; i < SAD_BLOCK; i++)
        sad += (uint32_t)abs(p[i] - q[i]);
    return sad;
}

/* The first column (or row) of cell i of n across a side of size len: ceil(i * len / n). */
static inline int cell_start(int i, int len, int n)
{
    return (int)(((int64_t)i * len + n - 1) / n);
}

/*
 * Histogram, cell sums and, when have_prev, the sum of |Y - previous Y|; the frame's
 * luma then replaces the previous one. A side shorter than CUT_GRID gets one cell per
 * pixel, so no cell is empty.
 */
static void luma_pass(video_ctx *ctx, const avf_plugin_video_frame *f, int have_prev,
                      luma_stats *st)
{
    const int w = f->width, h = f->height;
    const int gx = w < CUT_GRID ? w : CUT_GRID, gy = h < CUT_GRID ? h : CUT_GRID;
    /* four interleaved histograms, so that runs of one value do not stall on one counter */
    uint32_t part[4][256] = {{0}};
    int col[CUT_GRID + 1]; /* cell c spans columns col[c] .. col[c + 1] - 1 */
    uint64_t sad = 0;

    memset(st, 0, sizeof(*st));
    for (int c = 0; c <= gx; c++)
        col[c] = cell_start(c, w, gx);
    for (int y = 0; y < h; y++) {
        const uint8_t *p = f->data[0] + (ptrdiff_t)y * f->linesize[0];
        uint8_t *q = ctx->prev + (size_t)y * w;
        uint64_t *cells = st->cells + (size_t)((int64_t)y * gy / h) * CUT_GRID;
        int x = 0;

        for (; x + 4 <= w; x += 4) {
            part[0][p[x]]++;
            part[1][p[x + 1]]++;
            part[2][p[x + 2]]++;
            part[3][p[x + 3]]++;
        }
        for (; x < w; x++)
            part[0][p[x]]++;
        for (int c = 0; c < gx; c++)
            cells[c] += row_sum(p + col[c], col[c + 1] - col[c]);
        if (have_prev) {
            uint32_t row_sad = 0; /* at most 255 * VIDEO_MAX_PIXELS, fits */

            for (x = 0; x + SAD_BLOCK <= w; x += SAD_BLOCK)
                row_sad += sad_block(p + x, q + x);
            for (; x < w; x++)
                row_sad += (uint32_t)abs(p[x] - q[x]);
            sad += row_sad;
        }
        memcpy(q, p, (size_t)w);
    }
    for (int i = 0; i < 256; i++)
        st->hist[i] = part[0][i] + part[1][i] + part[2][i] + part[3][i];
    st->sad = sad;
}

/*
 * The shot-change score in percent, 0..100. With equal cell sizes in both frames,
 * sum |cell sum - previous cell sum| / n is the MAFD of the cell-mean pictures.
 */
static double cut_score(const video_ctx *ctx, const luma_stats *st, double mafd, double n)
{
    uint64_t coarse = 0;

    for (int i = 0; i < CUT_GRID * CUT_GRID; i++)
        coarse += st->cells[i] > ctx->prev_cells[i] ? st->cells[i] - ctx->prev_cells[i]
                                                    : ctx->prev_cells[i] - st->cells[i];
    return fmin(100.0 * coarse / n / 255.0, fabs(mafd - ctx->prev_mafd));
}

static void fill_nan(float *out)
{
    for (int i = 0; i < NB_FEATURES; i++)
        out[i] = NAN;
}

static int video_process(void *instance, const avf_plugin_video_frame *frame, float *out)
{
    video_ctx *ctx = instance;
    luma_stats ls;
    colour_sums cs;
    double n, mean, var, mu_rg, mu_yb, var_rg, var_yb;
    uint64_t npix, sum = 0, sum2 = 0, black = 0;
    int have_prev;

    if (!ctx || !frame || !out)
        return -EINVAL;
    if (!frame_valid(frame)) {
        fill_nan(out);
        return -EINVAL;
    }
    if ((int64_t)frame->width * frame->height > VIDEO_MAX_PIXELS) {
        fill_nan(out);
        return -ENOSPC;
    }
    npix = (uint64_t)frame->width * frame->height;
    n = (double)npix;
    have_prev = ctx->prev_w == frame->width && ctx->prev_h == frame->height;

    luma_pass(ctx, frame, have_prev, &ls);
    for (int i = 0; i < 256; i++) {
        sum += (uint64_t)ls.hist[i] * i;
        sum2 += (uint64_t)ls.hist[i] * i * i;
        if (i <= BLACK_PIX_MAX)
            black += ls.hist[i];
    }
    mean = sum / n;
    var = sum2 / n - mean * mean;
    out[F_LUMA] = (float)(mean / 255.0);
    out[F_LUMA_STD] = (float)(sqrt(var > 0.0 ? var : 0.0) / 255.0);
    out[F_BLACK] = black * 1000 >= BLACK_PIC_PERMILLE * npix ? 1.0f : 0.0f;

    colour_pass(frame, &cs);
    mu_rg = cs.rg / n;
    mu_yb = cs.yb / n / 2.0;
    var_rg = cs.rg2 / n - mu_rg * mu_rg;
    var_yb = cs.yb2 / n / 4.0 - mu_yb * mu_yb;
    out[F_COLORFULNESS] = (float)((sqrt(fmax(var_rg, 0.0) + fmax(var_yb, 0.0)) +
                                   0.3 * sqrt(mu_rg * mu_rg + mu_yb * mu_yb)) /
                                  100.0);
    for (int i = 0; i < 8; i++)
        out[F_HUE_0 + i] = (float)(cs.hue[i] / n);
    for (int i = 0; i < 4; i++)
        out[F_SAT_0 + i] = (float)(cs.sat[i] / n);

    out[F_EDGE_DENSITY] = edge_density(frame);

    if (have_prev) {
        double motion = ls.sad / n / 255.0, mafd = 100.0 * motion;
        double score = fmin(cut_score(ctx, &ls, mafd, n), 100.0);

        out[F_MOTION] = out[F_MOTION_MAX] = (float)motion;
        out[F_CUT_SCORE] = (float)score;
        out[F_CUTS] = score > CUT_THRESHOLD ? 1.0f : 0.0f;
        out[F_FROZEN] = motion <= FREEZE_NOISE ? 1.0f : 0.0f;
        ctx->prev_mafd = mafd;
    } else {
        /* the first frame, or the first of a new size: nothing to compare with */
        out[F_MOTION] = out[F_MOTION_MAX] = NAN;
        out[F_CUT_SCORE] = NAN;
        out[F_CUTS] = 0.0f;
        out[F_FROZEN] = 0.0f;
        ctx->prev_mafd = 0.0;
    }
    memcpy(ctx->prev_cells, ls.cells, sizeof(ls.cells));
    ctx->prev_w = frame->width;
    ctx->prev_h = frame->height;
    return 0;
}

static const avf_plugin_descriptor video_descriptor = {
    .abi_version = AVFUSE_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(avf_plugin_descriptor),
    .name = "video",
    .description = "luma, colourfulness, hue/saturation, edges, motion, cut/black/freeze flags",
    .modality = AVF_PLUGIN_VIDEO,
    .nb_features = NB_FEATURES,
    .features = video_features,
    .create = video_create,
    .process_video = video_process,
    .process_audio = NULL,
    .destroy = video_destroy,
};

const avf_plugin_descriptor *avf_builtin_video_descriptor(void)
{
    return &video_descriptor;
}
