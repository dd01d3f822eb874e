/*
 * test_train.c - the logistic and softmax trainers on synthetic sets drawn with a
 * fixed seed: separable blobs are separated, the optimum is a real one (the
 * gradient, recomputed here independently, vanishes), unlabelled rows change
 * nothing, sample weights move the bias by the expected log-odds, L2 shrinks the
 * weights, and two runs agree bit for bit. The network with one hidden layer
 * separates what no linear model can (XOR), learns independent targets in
 * multilabel mode, reaches a point where its gradient vanishes, skips unlabelled
 * rows and outputs, and is as reproducible as the linear trainers.
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

#include "fusion/train.h"

#define DIM 5

/* splitmix64: a fixed seed gives the same set on every platform */
static uint64_t next_u64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double uniform(uint64_t *state)
{
    return ((double)(next_u64(state) >> 11) + 0.5) / 9007199254740992.0;
}

static double gaussian(uint64_t *state)
{
    double u = uniform(state), v = uniform(state);

    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

/*
 * n rows of DIM values around a centre per class: class c of k sits at
 * +spread on axis c (for k == 2 the classes sit at -spread and +spread on every
 * axis), with unit noise. Labels cycle through the classes.
 */
static void make_blobs(double *x, int *y, int n, int k, double spread, uint64_t seed)
{
    for (int i = 0; i < n; i++) {
        y[i] = i % k;
        for (int j = 0; j < DIM; j++) {
            double centre = k == 2 ? (y[i] ? spread : -spread) : (j == y[i] ? spread : 0);

            x[i * DIM + j] = centre + gaussian(&seed);
        }
    }
}

static double norm(const double *v, int n)
{
    double s = 0;

    for (int i = 0; i < n; i++)
        s += v[i] * v[i];
    return sqrt(s);
}

static double binary_accuracy(const double *x, const int *y, int n, const double *w, double b)
{
    int right = 0;

    for (int i = 0; i < n; i++) {
        double z = b;

        for (int j = 0; j < DIM; j++)
            z += w[j] * x[i * DIM + j];
        right += (z > 0) == (y[i] == 1);
    }
    return (double)right / n;
}

static void test_logistic_separates_blobs(void **state)
{
    enum { N = 400 };
    static double x[N * DIM];
    int y[N];
    double w[DIM], b;
    avf_train_options opt = {1e-3, 500, 1e-8, NULL};
    int iters;

    (void)state;
    make_blobs(x, y, N, 2, 1.5, 1);
    iters = avf_train_logistic(x, y, N, DIM, &opt, w, &b);
    assert_true(iters > 0 && iters < 500);
    assert_true(binary_accuracy(x, y, N, w, b) >= 0.98);
    for (int j = 0; j < DIM; j++)
        assert_true(w[j] > 0); /* every axis points from class 0 to class 1 */
}

/* The gradient of the objective, computed the plain way, vanishes at the result. */
static void test_logistic_reaches_the_optimum(void **state)
{
    enum { N = 300 };
    static double x[N * DIM];
    int y[N];
    double w[DIM], b, g[DIM + 1] = {0};
    avf_train_options opt = {1e-2, 500, 1e-10, NULL};

    (void)state;
    make_blobs(x, y, N, 2, 0.5, 2); /* overlapping: the unpenalised optimum is finite too */
    assert_true(avf_train_logistic(x, y, N, DIM, &opt, w, &b) >= 0);
    for (int i = 0; i < N; i++) {
        double z = b;

        for (int j = 0; j < DIM; j++)
            z += w[j] * x[i * DIM + j];
        for (int j = 0; j < DIM; j++)
            g[j] += (1 / (1 + exp(-z)) - y[i]) * x[i * DIM + j] / N;
        g[DIM] += (1 / (1 + exp(-z)) - y[i]) / N;
    }
    for (int j = 0; j < DIM; j++)
        g[j] += opt.l2 * w[j];
    assert_true(norm(g, DIM + 1) < 1e-8);
}

static void test_softmax_separates_three_classes(void **state)
{
    enum { N = 600, K = 3 };
    static double x[N * DIM];
    int y[N], right = 0;
    double w[K * DIM], b[K];
    avf_train_options opt = {1e-3, 500, 1e-8, NULL};

    (void)state;
    make_blobs(x, y, N, K, 4, 3);
    assert_true(avf_train_softmax(x, y, N, DIM, K, &opt, w, b) > 0);
    for (int i = 0; i < N; i++) {
        int best = 0;
        double zbest = -INFINITY;

        for (int c = 0; c < K; c++) {
            double z = b[c];

            for (int j = 0; j < DIM; j++)
                z += w[c * DIM + j] * x[i * DIM + j];
            if (z > zbest) {
                zbest = z;
                best = c;
            }
        }
        right += best == y[i];
    }
    assert_true((double)right / N >= 0.95);
}

/* Unlabelled rows, even full of NaN, leave the result bit for bit as without them. */
static void test_negative_labels_are_skipped(void **state)
{
    enum { N = 200, K = 3 };
    static double x[N * DIM], xm[2 * N * DIM];
    int y[N], ym[2 * N];
    double w[K * DIM], b[K], wm[K * DIM], bm[K];

    (void)state;
    make_blobs(x, y, N, K, 2, 4);
    for (int i = 0; i < N; i++) {
        memcpy(&xm[2 * i * DIM], &x[i * DIM], DIM * sizeof(double));
        ym[2 * i] = y[i];
        for (int j = 0; j < DIM; j++)
            xm[(2 * i + 1) * DIM + j] = j % 2 ? NAN : 1e300;
        ym[2 * i + 1] = -1 - i % 3;
    }
    assert_true(avf_train_softmax(x, y, N, DIM, K, NULL, w, b) >= 0);
    assert_true(avf_train_softmax(xm, ym, 2 * N, DIM, K, NULL, wm, bm) >= 0);
    assert_memory_equal(w, wm, sizeof(w));
    assert_memory_equal(b, bm, sizeof(b));
}

/*
 * Features that say nothing (all zero) leave only the bias, which then is the
 * weighted log-odds: weighting the 1s nine times moves it from 0 to log 9.
 */
static void test_sample_weight_shifts_bias(void **state)
{
    enum { N = 100 };
    double x[N * DIM] = {0}, sw[N], w[DIM], b;
    int y[N];
    avf_train_options opt = {1e-3, 500, 1e-12, NULL};

    (void)state;
    for (int i = 0; i < N; i++) {
        y[i] = i % 2;
        sw[i] = y[i] ? 9 : 1;
    }
    assert_true(avf_train_logistic(x, y, N, DIM, &opt, w, &b) >= 0);
    assert_float_equal(b, 0, 1e-9);
    opt.sample_weight = sw;
    assert_true(avf_train_logistic(x, y, N, DIM, &opt, w, &b) >= 0);
    assert_float_equal(b, log(9), 1e-9);
    assert_float_equal(norm(w, DIM), 0, 0);
}

static void test_deterministic(void **state)
{
    enum { N = 500, K = 3 };
    static double x[N * DIM];
    int y[N];
    double w1[K * DIM], b1[K], w2[K * DIM], b2[K], lw1[DIM], lb1, lw2[DIM], lb2;
    int it1, it2;

    (void)state;
    make_blobs(x, y, N, K, 1, 5);
    it1 = avf_train_softmax(x, y, N, DIM, K, NULL, w1, b1);
    it2 = avf_train_softmax(x, y, N, DIM, K, NULL, w2, b2);
    assert_true(it1 > 0);
    assert_int_equal(it1, it2);
    assert_memory_equal(w1, w2, sizeof(w1));
    assert_memory_equal(b1, b2, sizeof(b1));
    for (int i = 0; i < N; i++)
        y[i] = y[i] == 2 ? -1 : y[i];
    assert_true(avf_train_logistic(x, y, N, DIM, NULL, lw1, &lb1) >= 0);
    assert_true(avf_train_logistic(x, y, N, DIM, NULL, lw2, &lb2) >= 0);
    assert_memory_equal(lw1, lw2, sizeof(lw1));
    assert_memory_equal(&lb1, &lb2, sizeof(lb1));
}

static void test_l2_shrinks_weights(void **state)
{
    enum { N = 400 };
    static double x[N * DIM];
    int y[N];
    double w_small[DIM], w_large[DIM], w_huge[DIM], b;
    avf_train_options opt = {1e-4, 500, 1e-8, NULL};

    (void)state;
    make_blobs(x, y, N, 2, 1, 6);
    assert_true(avf_train_logistic(x, y, N, DIM, &opt, w_small, &b) >= 0);
    opt.l2 = 1;
    assert_true(avf_train_logistic(x, y, N, DIM, &opt, w_large, &b) >= 0);
    opt.l2 = 1e6;
    assert_true(avf_train_logistic(x, y, N, DIM, &opt, w_huge, &b) >= 0);
    assert_true(norm(w_large, DIM) < 0.5 * norm(w_small, DIM));
    assert_true(norm(w_huge, DIM) < 1e-5);
}

/*
 * n 2-D rows in four blobs at (+-1, +-1) with noise of the given std; y is 1
 * where x * y > 0 at the centre (the XOR of the signs), cycling through the blobs.
 */
static void make_xor(double *x, int *y, int n, double noise, uint64_t seed)
{
    for (int i = 0; i < n; i++) {
        double cx = i % 2 ? 1 : -1, cy = i / 2 % 2 ? 1 : -1;

        x[2 * i] = cx + noise * gaussian(&seed);
        x[2 * i + 1] = cy + noise * gaussian(&seed);
        y[i] = cx * cy > 0;
    }
}

/* tanh(w1 x + b1), then out = w2 a + b2: the network written out independently */
static void mlp_logits(const double *x, int dim, int hidden, int k, const double *w1,
                       const double *b1, const double *w2, const double *b2, double *out)
{
    double a[64];

    assert_true(hidden <= 64);
    for (int u = 0; u < hidden; u++) {
        a[u] = b1[u];
        for (int j = 0; j < dim; j++)
            a[u] += w1[u * dim + j] * x[j];
        a[u] = tanh(a[u]);
    }
    for (int c = 0; c < k; c++) {
        out[c] = b2[c];
        for (int u = 0; u < hidden; u++)
            out[c] += w2[c * hidden + u] * a[u];
    }
}

static void test_mlp_separates_xor(void **state)
{
    enum { N = 400, H = 8, K = 2 };
    double x[N * 2], w1[H * 2], b1[H], w2[K * H], b2[K], lw[2], lb, z[K];
    int y[N], right = 0, lright = 0;
    avf_train_options opt = {1e-4, 500, 1e-8, NULL};

    (void)state;
    make_xor(x, y, N, 0.3, 7);
    assert_true(avf_train_logistic(x, y, N, 2, &opt, lw, &lb) >= 0);
    assert_true(avf_train_mlp(x, y, N, 2, K, 0, H, &opt, 1, w1, b1, w2, b2) > 0);
    for (int i = 0; i < N; i++) {
        mlp_logits(x + 2 * i, 2, H, K, w1, b1, w2, b2, z);
        right += (z[1] > z[0]) == (y[i] == 1);
        lright += (lb + lw[0] * x[2 * i] + lw[1] * x[2 * i + 1] > 0) == (y[i] == 1);
    }
    assert_true((double)right / N >= 0.95);
    assert_true((double)lright / N < 0.75); /* what a line can do with XOR */
}

/*
 * Two independent targets on the XOR data: the sign of x (linear) and the XOR of
 * the signs (not), as one multilabel network. Every combination of the two occurs,
 * so each output must be right on its own, not by excluding the other.
 */
static void test_mlp_multilabel_learns_two_targets(void **state)
{
    enum { N = 400, H = 8, K = 2 };
    double x[N * 2], w1[H * 2], b1[H], w2[K * H], b2[K], z[K];
    int y[N * K], xor[N],
        right[K] =
            {
                0},
        both = 0, both_right = 0;
    avf_train_options opt = {1e-4, 500, 1e-8, NULL};

    (void)state;
    make_xor(x, xor, N, 0.3, 8);
    for (int i = 0; i < N; i++) {
        y[i * K] = i % 2; /* the blob's x centre is +1 */
        y[i * K + 1] = xor[i];
    }
    assert_true(avf_train_mlp(x, y, N, 2, K, 1, H, &opt, 3, w1, b1, w2, b2) > 0);
    for (int i = 0; i < N; i++) {
        mlp_logits(x + 2 * i, 2, H, K, w1, b1, w2, b2, z);
        for (int c = 0; c < K; c++)
            right[c] += (z[c] > 0) == (y[i * K + c] == 1);
        if (y[i * K] && y[i * K + 1]) {
            both++;
            both_right += z[0] > 0 && z[1] > 0; /* two sigmoids above 1/2 at once */
        }
    }
    assert_true((double)right[0] / N >= 0.95);
    assert_true((double)right[1] / N >= 0.95);
    assert_true(both > 0 && (double)both_right / both >= 0.9);
}

/* The gradient of the network's objective, by backpropagation written out here. */
static double mlp_gradient_norm(const double *x, const int *y, int n, int dim, int k, int hidden,
                                double l2, const double *w1, const double *b1, const double *w2,
                                const double *b2)
{
    double g[256] = {0}, a[64], z[8], sum = 0;
    const int nw1 = hidden * dim, nw2 = k * hidden;
    double *gw1 = g, *gb1 = g + nw1, *gw2 = gb1 + hidden, *gb2 = gw2 + nw2;
    int labelled = 0;

    assert_true(nw1 + hidden + nw2 + k <= 256 && hidden <= 64 && k <= 8);
    for (int i = 0; i < n; i++)
        for (int c = 0; c < k; c++)
            if (y[i * k + c] >= 0) {
                labelled++;
                break;
            }
    for (int i = 0; i < n; i++) {
        const double *xi = x + i * dim;
        int any = 0;

        for (int c = 0; c < k; c++)
            any |= y[i * k + c] >= 0;
        if (!any)
            continue;
        for (int u = 0; u < hidden; u++) {
            a[u] = b1[u];
            for (int j = 0; j < dim; j++)
                a[u] += w1[u * dim + j] * xi[j];
            a[u] = tanh(a[u]);
        }
        for (int c = 0; c < k; c++) {
            z[c] = b2[c];
            for (int u = 0; u < hidden; u++)
                z[c] += w2[c * hidden + u] * a[u];
            z[c] = y[i * k + c] < 0 ? 0 : (1 / (1 + exp(-z[c])) - y[i * k + c]) / labelled;
            gb2[c] += z[c];
            for (int u = 0; u < hidden; u++)
                gw2[c * hidden + u] += z[c] * a[u];
        }
        for (int u = 0; u < hidden; u++) {
            double d = 0;

            for (int c = 0; c < k; c++)
                d += z[c] * w2[c * hidden + u];
            d *= 1 - a[u] * a[u];
            gb1[u] += d;
            for (int j = 0; j < dim; j++)
                gw1[u * dim + j] += d * xi[j];
        }
    }
    for (int j = 0; j < nw1; j++)
        gw1[j] += l2 * w1[j];
    for (int j = 0; j < nw2; j++)
        gw2[j] += l2 * w2[j];
    for (int j = 0; j < nw1 + hidden + nw2 + k; j++)
        sum += g[j] * g[j];
    return sqrt(sum);
}

/* Overlapping blobs with a few missing labels: the result is a stationary point. */
static void test_mlp_reaches_a_minimum(void **state)
{
    enum { N = 200, H = 4, K = 2 };
    double x[N * 2], w1[H * 2], b1[H], w2[K * H], b2[K];
    int y[N * K], xor[N], iters;
    avf_train_options opt = {1e-2, 3000, 1e-9, NULL};

    (void)state;
    make_xor(x, xor, N, 0.8, 9);
    for (int i = 0; i < N; i++) {
        y[i * K] = i % 2;
        y[i * K + 1] = i % 5 == 0 ? -1 : xor[i];
    }
    iters = avf_train_mlp(x, y, N, 2, K, 1, H, &opt, 5, w1, b1, w2, b2);
    assert_true(iters > 0);
    assert_true(mlp_gradient_norm(x, y, N, 2, K, H, opt.l2, w1, b1, w2, b2) < 1e-6);
}

static void test_mlp_deterministic(void **state)
{
    enum { N = 400, H = 6, K = 3 };
    double x[N * 2], w1[2][H * 2], b1[2][H], w2[2][K * H], b2[2][K], o1[H * 2], ob[H];
    int y[N], it[2];

    (void)state;
    make_xor(x, y, N, 0.5, 10);
    for (int i = 0; i < N; i++)
        y[i] += i % 7 == 0; /* a third class, to make it softmax with k = 3 */
    for (int r = 0; r < 2; r++)
        it[r] = avf_train_mlp(x, y, N, 2, K, 0, H, NULL, 11, w1[r], b1[r], w2[r], b2[r]);
    assert_true(it[0] > 0);
    assert_int_equal(it[0], it[1]);
    assert_memory_equal(w1[0], w1[1], sizeof(w1[0]));
    assert_memory_equal(b1[0], b1[1], sizeof(b1[0]));
    assert_memory_equal(w2[0], w2[1], sizeof(w2[0]));
    assert_memory_equal(b2[0], b2[1], sizeof(b2[0]));
    /* another seed is another start, hence other weights */
    assert_true(avf_train_mlp(x, y, N, 2, K, 0, H, NULL, 12, o1, ob, w2[1], b2[1]) > 0);
    assert_true(memcmp(o1, w1[0], sizeof(o1)) != 0);
}

/*
 * Unlabelled rows, even full of NaN, leave the result bit for bit as without them,
 * in both modes; an output without any label learns nothing: its bias stays 0
 * and L2 alone pulls its weights to 0.
 */
static void test_mlp_skips_unlabelled(void **state)
{
    enum { N = 200, H = 5, K = 2 };
    double x[N * 2], xm[2 * N * 2], w1[H * 2], b1[H], w2[K * H], b2[K];
    double mw1[H * 2], mb1[H], mw2[K * H], mb2[K];
    int y[N], ym[2 * N], yl[N * K], ylm[2 * N * K];
    avf_train_options opt = {1e-3, 300, 1e-8, NULL};

    (void)state;
    make_xor(x, y, N, 0.3, 13);
    for (int i = 0; i < N; i++) {
        memcpy(&xm[4 * i], &x[2 * i], 2 * sizeof(double));
        xm[4 * i + 2] = NAN;
        xm[4 * i + 3] = 1e300;
        ym[2 * i] = y[i];
        ym[2 * i + 1] = -1 - i % 3;
        yl[i * K] = y[i];
        yl[i * K + 1] = i % 2;
        ylm[2 * i * K] = y[i];
        ylm[2 * i * K + 1] = i % 2;
        ylm[(2 * i + 1) * K] = -1;
        ylm[(2 * i + 1) * K + 1] = -1;
    }
    assert_true(avf_train_mlp(x, y, N, 2, 2, 0, H, &opt, 1, w1, b1, w2, b2) > 0);
    assert_true(avf_train_mlp(xm, ym, 2 * N, 2, 2, 0, H, &opt, 1, mw1, mb1, mw2, mb2) > 0);
    assert_memory_equal(w1, mw1, sizeof(w1));
    assert_memory_equal(b1, mb1, sizeof(b1));
    assert_memory_equal(w2, mw2, sizeof(w2));
    assert_memory_equal(b2, mb2, sizeof(b2));
    assert_true(avf_train_mlp(x, yl, N, 2, K, 1, H, &opt, 2, w1, b1, w2, b2) > 0);
    assert_true(avf_train_mlp(xm, ylm, 2 * N, 2, K, 1, H, &opt, 2, mw1, mb1, mw2, mb2) > 0);
    assert_memory_equal(w1, mw1, sizeof(w1));
    assert_memory_equal(b1, mb1, sizeof(b1));
    assert_memory_equal(w2, mw2, sizeof(w2));
    assert_memory_equal(b2, mb2, sizeof(b2));

    /* output 1 never labelled */
    for (int i = 0; i < N; i++)
        yl[i * K + 1] = -1;
    opt.max_iter = 2000;
    opt.tol = 1e-10;
    assert_true(avf_train_mlp(x, yl, N, 2, K, 1, H, &opt, 2, w1, b1, w2, b2) > 0);
    assert_float_equal(b2[1], 0, 0);
    assert_true(norm(w2 + H, H) < 1e-6);
    assert_true(norm(w2, H) > 1); /* while output 0 learnt XOR */
}

static void test_mlp_refuses_bad_input(void **state)
{
    double x[4 * 2] = {0}, w1[3 * 2], b1[3], w2[2 * 3], b2[2];
    int y[4 * 2] = {0, 1, 1, 0, 1, 1, 0, 0};

    (void)state;
    w1[0] = b2[0] = 42;
    assert_int_equal(avf_train_mlp(x, y, 4, 2, 2, 1, 0, NULL, 1, w1, b1, w2, b2), -EINVAL);
    assert_int_equal(avf_train_mlp(x, y, 4, 2, 1, 0, 3, NULL, 1, w1, b1, w2, b2), -EINVAL);
    assert_int_equal(avf_train_mlp(x, y, 4, 2, 2, 1, 3, NULL, 1, NULL, b1, w2, b2), -EINVAL);
    y[3] = 2; /* not a binary label */
    assert_int_equal(avf_train_mlp(x, y, 4, 2, 2, 1, 3, NULL, 1, w1, b1, w2, b2), -EINVAL);
    y[3] = 0;
    y[0] = 2; /* a class out of range of k = 2 */
    assert_int_equal(avf_train_mlp(x, y, 4, 2, 2, 0, 3, NULL, 1, w1, b1, w2, b2), -EINVAL);
    y[0] = 0;
    x[5] = INFINITY; /* row 2 is labelled in both modes */
    assert_int_equal(avf_train_mlp(x, y, 4, 2, 2, 1, 3, NULL, 1, w1, b1, w2, b2), -EINVAL);
    x[5] = 0;
    for (int i = 0; i < 8; i++)
        y[i] = -1;
    assert_int_equal(avf_train_mlp(x, y, 4, 2, 2, 1, 3, NULL, 1, w1, b1, w2, b2), -EINVAL);
    assert_float_equal(w1[0], 42, 0);
    assert_float_equal(b2[0], 42, 0);
    y[6] = 1; /* row 3, output 0: one label is enough */
    assert_true(avf_train_mlp(x, y, 4, 2, 2, 1, 3, NULL, 1, w1, b1, w2, b2) >= 0);
}

static void test_refuses_bad_input(void **state)
{
    double x[4 * DIM] = {0}, sw[4] = {1, 1, 1, 1}, w[3 * DIM], b[3];
    int y[4] = {0, 1, 0, 1};
    avf_train_options opt = {1e-3, 100, 1e-6, sw};

    (void)state;
    w[0] = b[0] = 42;
    y[2] = 2; /* not a binary label */
    assert_int_equal(avf_train_logistic(x, y, 4, DIM, &opt, w, b), -EINVAL);
    assert_true(avf_train_softmax(x, y, 4, DIM, 3, &opt, w, b) >= 0); /* fine with 3 classes */
    w[0] = b[0] = 42;
    assert_int_equal(avf_train_softmax(x, y, 4, DIM, 2, &opt, w, b), -EINVAL);
    y[2] = 0;
    sw[1] = -1;
    assert_int_equal(avf_train_logistic(x, y, 4, DIM, &opt, w, b), -EINVAL);
    sw[1] = 0;
    sw[3] = 0;
    x[0] = NAN;
    assert_int_equal(avf_train_logistic(x, y, 4, DIM, &opt, w, b), -EINVAL);
    x[0] = 0;
    for (int i = 0; i < 4; i++)
        y[i] = -1;
    assert_int_equal(avf_train_logistic(x, y, 4, DIM, &opt, w, b), -EINVAL); /* no labels */
    y[1] = 1;
    y[3] = 1;
    /* labelled rows, but all of weight 0 */
    assert_int_equal(avf_train_logistic(x, y, 4, DIM, &opt, w, b), -EINVAL);
    assert_int_equal(avf_train_softmax(x, y, 4, DIM, 1, NULL, w, b), -EINVAL);
    /* a failure leaves the outputs alone */
    assert_float_equal(w[0], 42, 0);
    assert_float_equal(b[0], 42, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logistic_separates_blobs),
        cmocka_unit_test(test_logistic_reaches_the_optimum),
        cmocka_unit_test(test_softmax_separates_three_classes),
        cmocka_unit_test(test_negative_labels_are_skipped),
        cmocka_unit_test(test_sample_weight_shifts_bias),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_l2_shrinks_weights),
        cmocka_unit_test(test_refuses_bad_input),
        cmocka_unit_test(test_mlp_separates_xor),
        cmocka_unit_test(test_mlp_multilabel_learns_two_targets),
        cmocka_unit_test(test_mlp_reaches_a_minimum),
        cmocka_unit_test(test_mlp_deterministic),
        cmocka_unit_test(test_mlp_skips_unlabelled),
        cmocka_unit_test(test_mlp_refuses_bad_input),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
