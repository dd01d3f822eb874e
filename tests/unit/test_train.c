/*
 * test_train.c - the logistic and softmax trainers on synthetic sets drawn with a
 * fixed seed: separable blobs are separated, the optimum is a real one (the
 * gradient, recomputed here independently, vanishes), unlabelled rows change
 * nothing, sample weights move the bias by the expected log-odds, L2 shrinks the
 * weights, and two runs agree bit for bit.
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
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
