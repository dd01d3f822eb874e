/*
 * train.c - logistic and softmax regression, and one-hidden-layer networks, by
 * full-batch L-BFGS.
 *
 * Written here rather than taken from liblinear or similar: the problem is small
 * (tens of thousands of rows, tens of features, a handful of heads), the whole
 * optimizer is ~150 lines, and owning it is what makes the result exactly
 * reproducible: one thread, every sum in double in a fixed order, no randomness
 * (the network's start comes from a seed), nothing that depends on timing. Full
 * batch rather than SGD for the same reason, and because at this size a full pass
 * costs milliseconds. (Bits can differ
 * between builds that contract a * b + c into FMA; runs of one build never do.)
 *
 * The linear objective is smooth and convex, so L-BFGS (memory 10) with a backtracking
 * line search on the Armijo condition converges in tens of iterations where
 * plain gradient descent needs thousands. It stops when the gradient norm falls
 * below tol, after max_iter iterations, or when the objective no longer changes
 * by more than rounding: without that last rule a tol below what doubles can
 * resolve would spend every remaining iteration backtracking. Both trainers
 * share one objective: k linear outputs per row, with a sigmoid loss when k is 1
 * (binary) and a softmax loss otherwise. Parameters are laid out as w (k x dim,
 * row-major) then b (k).
 *
 * The network (avf_train_mlp) is the same optimizer on another objective, which
 * is why L-BFGS takes the objective as a callback. That objective is not convex:
 * the start matters, so it is drawn from the caller's seed by splitmix64, whose
 * output is fixed by its definition, and the result is as reproducible as the
 * linear ones. The search finds a local minimum; another seed may find another.
 * Parameters are laid out as w1 (hidden x dim), b1 (hidden), w2 (k x hidden),
 * b2 (k).
 */
#include "fusion/train.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LBFGS_MEMORY     10
#define ARMIJO_C1        1e-4
#define MAX_BACKTRACKS   30 /* steps down to 2^-29: well-scaled steps need a few */
#define DEFAULT_L2       1e-3
#define DEFAULT_MAX_ITER 500
#define DEFAULT_TOL      1e-6

typedef struct problem {
    const double *x;
    const int *y;
    const double *sample_weight;
    int n, dim, k; /* k == 1: binary logistic */
    double l2;
    double weight_sum; /* of the labelled rows */
    double *z;         /* k scratch logits */
} problem;

/*
 * Four partial sums break the chain of dependent additions that bounds a plain
 * loop's speed; the order is still fixed, so the result is the same every run.
 */
static double dot(const double *a, const double *b, int n)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int i = 0;

    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++)
        s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

static void axpy(double *restrict y, double a, const double *restrict x, int n)
{
    for (int i = 0; i < n; i++)
        y[i] += a * x[i];
}

/* log(1 + e^z) without overflow for large z or loss of precision for very negative z */
static double softplus(double z)
{
    return (z > 0 ? z : 0) + log1p(exp(-fabs(z)));
}

/* An objective of the parameters p: returns its value and writes its gradient into g. */
typedef double (*objective_fn)(void *ctx, const double *p, double *g);

/* The linear objective at p; writes its gradient into g. */
static double linear_objective(void *ctx, const double *p, double *g)
{
    problem *pb = ctx;
    const int dim = pb->dim, k = pb->k, nw = k * dim;
    const double *bias = p + nw;
    double loss = 0, penalty = 0;

    memset(g, 0, (size_t)(nw + k) * sizeof(*g));
    for (int i = 0; i < pb->n; i++) {
        const double *xi = pb->x + (size_t)i * dim;
        const double s = pb->sample_weight ? pb->sample_weight[i] : 1.0;
        const int yi = pb->y[i];
        double max = -INFINITY, sum = 0;

        if (yi < 0 || s == 0)
            continue;
        for (int c = 0; c < k; c++) {
            pb->z[c] = bias[c] + dot(p + (size_t)c * dim, xi, dim);
            max = pb->z[c] > max ? pb->z[c] : max;
        }
        if (k == 1) {
            /* -log sigmoid(z) for a 1, -log(1 - sigmoid(z)) for a 0 */
            loss += s * (softplus(pb->z[0]) - yi * pb->z[0]);
            pb->z[0] = 1 / (1 + exp(-pb->z[0])) - yi; /* d loss / d z */
        } else {
            /* shifting by the largest logit keeps exp() finite */
            const double zy = pb->z[yi] - max;

            for (int c = 0; c < k; c++) {
                pb->z[c] = exp(pb->z[c] - max);
                sum += pb->z[c];
            }
            loss += s * (log(sum) - zy);
            for (int c = 0; c < k; c++)
                pb->z[c] = pb->z[c] / sum - (c == yi);
        }
        for (int c = 0; c < k; c++) {
            axpy(g + (size_t)c * dim, s * pb->z[c], xi, dim);
            g[nw + c] += s * pb->z[c];
        }
    }
    for (int j = 0; j < nw + k; j++)
        g[j] /= pb->weight_sum;
    for (int j = 0; j < nw; j++) {
        g[j] += pb->l2 * p[j];
        penalty += p[j] * p[j];
    }
    return loss / pb->weight_sum + 0.5 * pb->l2 * penalty;
}

/* Minimises f from p (np values) in place; returns the iterations used. */
static int lbfgs(objective_fn f, void *ctx, double *p, int np, int max_iter, double tol)
{
    const size_t size = (size_t)np;
    double *buf = malloc((4 + 2 * LBFGS_MEMORY) * size * sizeof(*buf));
    double *g, *d, *p_new, *g_new, *s_hist, *y_hist, rho[LBFGS_MEMORY], alpha[LBFGS_MEMORY];
    double fx;
    int iter = 0, stored = 0, newest = -1;

    if (!buf)
        return -ENOMEM;
    g = buf;
    d = g + size;
    p_new = d + size;
    g_new = p_new + size;
    s_hist = g_new + size; /* s = p_new - p and y = g_new - g of the last steps, a ring */
    y_hist = s_hist + LBFGS_MEMORY * size;
    fx = f(ctx, p, g);
    for (; iter < max_iter; iter++) {
        double gnorm = sqrt(dot(g, g, np)), gd, step = 1, f_new = fx, sy, yy;
        int accepted = 0, stalled;

        if (gnorm < tol || gnorm == 0)
            break;
        /* two-loop recursion: d = -H g, H the inverse Hessian estimate */
        for (int j = 0; j < np; j++)
            d[j] = -g[j];
        for (int m = 0; m < stored; m++) {
            int h = (newest - m + LBFGS_MEMORY) % LBFGS_MEMORY;

            alpha[h] = rho[h] * dot(s_hist + h * size, d, np);
            for (int j = 0; j < np; j++)
                d[j] -= alpha[h] * y_hist[h * size + j];
        }
        if (stored > 0) {
            const double *s0 = s_hist + newest * size, *y0 = y_hist + newest * size;
            const double gamma = dot(s0, y0, np) / dot(y0, y0, np);

            for (int j = 0; j < np; j++)
                d[j] *= gamma;
        } else {
            /* no curvature known yet: a first step of length 1 in normalized units */
            for (int j = 0; j < np; j++)
                d[j] /= gnorm;
        }
        for (int m = stored - 1; m >= 0; m--) {
            int h = (newest - m + LBFGS_MEMORY) % LBFGS_MEMORY;
            double beta = rho[h] * dot(y_hist + h * size, d, np);

            for (int j = 0; j < np; j++)
                d[j] += (alpha[h] - beta) * s_hist[h * size + j];
        }
        gd = dot(g, d, np);
        if (!(gd < 0)) {
            /* rounding spoilt the estimate: forget it and go downhill */
            stored = 0;
            for (int j = 0; j < np; j++)
                d[j] = -g[j] / gnorm;
            gd = -gnorm;
        }
        for (int t = 0; t < MAX_BACKTRACKS && !accepted; t++, step *= 0.5) {
            for (int j = 0; j < np; j++)
                p_new[j] = p[j] + step * d[j];
            f_new = f(ctx, p_new, g_new);
            /* a step that changes nothing is no progress, even where the
             * Armijo bound rounds to fx */
            accepted = f_new <= fx + ARMIJO_C1 * step * gd && f_new < fx;
        }
        if (!accepted)
            break; /* no step decreases the objective: as close as doubles get */
        /* a decrease of a few ulps is rounding noise: one more step will not matter */
        stalled = fx - f_new <= 8 * DBL_EPSILON * fx;
        sy = yy = 0;
        for (int j = 0; j < np; j++) {
            sy += (p_new[j] - p[j]) * (g_new[j] - g[j]);
            yy += (g_new[j] - g[j]) * (g_new[j] - g[j]);
        }
        /* a pair without positive curvature would break the estimate: keep the older ones */
        if (sy > DBL_EPSILON * yy) {
            newest = (newest + 1) % LBFGS_MEMORY;
            for (int j = 0; j < np; j++) {
                s_hist[newest * size + j] = p_new[j] - p[j];
                y_hist[newest * size + j] = g_new[j] - g[j];
            }
            rho[newest] = 1 / sy;
            stored += stored < LBFGS_MEMORY;
        }
        memcpy(p, p_new, size * sizeof(*p));
        memcpy(g, g_new, size * sizeof(*g));
        fx = f_new;
        if (stalled) {
            iter++;
            break;
        }
    }
    free(buf);
    return iter;
}

/* Reads opt (or the defaults for NULL) into the rest; -EINVAL for a bad value. */
static int read_options(const avf_train_options *opt, const double **sample_weight, double *l2,
                        int *max_iter, double *tol)
{
    *sample_weight = NULL;
    *l2 = DEFAULT_L2;
    *max_iter = DEFAULT_MAX_ITER;
    *tol = DEFAULT_TOL;
    if (!opt)
        return 0;
    *sample_weight = opt->sample_weight;
    *l2 = opt->l2;
    *max_iter = opt->max_iter;
    *tol = opt->tol;
    if (!(*l2 >= 0) || !isfinite(*l2) || *max_iter < 0 || isnan(*tol))
        return -EINVAL;
    return 0;
}

/* Checks the inputs, runs the optimizer from zero and writes w and b on success. */
static int train(const double *x, const int *y, int n, int dim, int k, const avf_train_options *opt,
                 double *w, double *b)
{
    const int classes = k == 1 ? 2 : k;
    problem pb = {x, y, NULL, n, dim, k, DEFAULT_L2, 0, NULL};
    int max_iter, np, ret;
    double tol, *p;

    if (!x || !y || !w || !b || n < 0 || dim < 1 || k < 1 || dim > (1 << 24) / k)
        return -EINVAL;
    if (read_options(opt, &pb.sample_weight, &pb.l2, &max_iter, &tol) < 0)
        return -EINVAL;
    for (int i = 0; i < n; i++) {
        double s = pb.sample_weight ? pb.sample_weight[i] : 1.0;

        if (y[i] < 0)
            continue;
        if (y[i] >= classes || !(s >= 0) || !isfinite(s))
            return -EINVAL;
        for (int j = 0; j < dim; j++)
            if (!isfinite(x[(size_t)i * dim + j]))
                return -EINVAL;
        pb.weight_sum += s;
    }
    if (!(pb.weight_sum > 0) || !isfinite(pb.weight_sum))
        return -EINVAL;
    np = k * dim + k;
    p = calloc((size_t)np, sizeof(*p));
    pb.z = malloc((size_t)k * sizeof(*pb.z));
    ret = p && pb.z ? lbfgs(linear_objective, &pb, p, np, max_iter, tol) : -ENOMEM;
    if (ret >= 0) {
        memcpy(w, p, (size_t)k * dim * sizeof(*w));
        memcpy(b, p + (size_t)k * dim, (size_t)k * sizeof(*b));
    }
    free(pb.z);
    free(p);
    return ret;
}

int avf_train_logistic(const double *x, const int *y, int n, int dim, const avf_train_options *opt,
                       double *w, double *b)
{
    return train(x, y, n, dim, 1, opt, w, b);
}

int avf_train_softmax(const double *x, const int *y, int n, int dim, int k,
                      const avf_train_options *opt, double *w, double *b)
{
    if (k < 2)
        return -EINVAL;
    return train(x, y, n, dim, k, opt, w, b);
}

/* ---- one hidden layer ---- */

typedef struct mlp_problem {
    const double *x;
    const int *y; /* n labels (softmax), or n x k of 0, 1 or negative (multilabel) */
    const double *sample_weight;
    int n, dim, k, hidden, multilabel;
    double l2;
    double weight_sum; /* of the rows with at least one label */
    double *a;         /* hidden scratch: tanh activations of the row */
    double *da;        /* hidden scratch: d loss / d activation */
    double *z;         /* k scratch: logits, then d loss / d logit */
} mlp_problem;

static int mlp_row_labelled(const mlp_problem *pb, int i)
{
    if (!pb->multilabel)
        return pb->y[i] >= 0;
    for (int c = 0; c < pb->k; c++)
        if (pb->y[(size_t)i * pb->k + c] >= 0)
            return 1;
    return 0;
}

/*
 * Sets z[c] to s x d loss / d z[c] for row yi and returns s x the row's loss: summed
 * binary log-losses over the labelled outputs (multilabel) or the softmax loss.
 */
static double mlp_output_loss(const mlp_problem *pb, const int *yi, double s, double *z)
{
    double loss = 0, max = -INFINITY, sum = 0, zy;

    if (pb->multilabel) {
        for (int c = 0; c < pb->k; c++) {
            if (yi[c] < 0) {
                z[c] = 0; /* no label: this output learns nothing from the row */
                continue;
            }
            loss += s * (softplus(z[c]) - yi[c] * z[c]);
            z[c] = s * (1 / (1 + exp(-z[c])) - yi[c]);
        }
        return loss;
    }
    for (int c = 0; c < pb->k; c++)
        max = z[c] > max ? z[c] : max;
    zy = z[yi[0]] - max;
    for (int c = 0; c < pb->k; c++) {
        z[c] = exp(z[c] - max);
        sum += z[c];
    }
    for (int c = 0; c < pb->k; c++)
        z[c] = s * (z[c] / sum - (c == yi[0]));
    return s * (log(sum) - zy);
}

/* The network's objective at p (w1, b1, w2, b2); writes its gradient into g. */
static double mlp_objective(void *ctx, const double *p, double *g)
{
    mlp_problem *pb = ctx;
    const int dim = pb->dim, k = pb->k, hn = pb->hidden;
    const size_t nw1 = (size_t)hn * dim, nw2 = (size_t)k * hn, np = nw1 + hn + nw2 + k;
    const double *w1 = p, *b1 = w1 + nw1, *w2 = b1 + hn, *b2 = w2 + nw2;
    double *gw1 = g, *gb1 = gw1 + nw1, *gw2 = gb1 + hn, *gb2 = gw2 + nw2;
    double *a = pb->a, *da = pb->da, *z = pb->z, loss = 0, penalty = 0;

    memset(g, 0, np * sizeof(*g));
    for (int i = 0; i < pb->n; i++) {
        const double *xi = pb->x + (size_t)i * dim;
        const double s = pb->sample_weight ? pb->sample_weight[i] : 1.0;
        const int *yi = pb->multilabel ? pb->y + (size_t)i * k : pb->y + i;

        if (s == 0 || !mlp_row_labelled(pb, i))
            continue;
        for (int u = 0; u < hn; u++)
            a[u] = tanh(b1[u] + dot(w1 + (size_t)u * dim, xi, dim));
        for (int c = 0; c < k; c++)
            z[c] = b2[c] + dot(w2 + (size_t)c * hn, a, hn);
        loss += mlp_output_loss(pb, yi, s, z);
        /* back through the output layer, then through tanh' = 1 - tanh^2 */
        memset(da, 0, (size_t)hn * sizeof(*da));
        for (int c = 0; c < k; c++) {
            axpy(gw2 + (size_t)c * hn, z[c], a, hn);
            axpy(da, z[c], w2 + (size_t)c * hn, hn);
            gb2[c] += z[c];
        }
        for (int u = 0; u < hn; u++) {
            const double d = da[u] * (1 - a[u] * a[u]);

            axpy(gw1 + (size_t)u * dim, d, xi, dim);
            gb1[u] += d;
        }
    }
    for (size_t j = 0; j < np; j++)
        g[j] /= pb->weight_sum;
    for (size_t j = 0; j < nw1; j++) {
        g[j] += pb->l2 * p[j];
        penalty += p[j] * p[j];
    }
    for (size_t j = nw1 + hn; j < nw1 + hn + nw2; j++) {
        g[j] += pb->l2 * p[j];
        penalty += p[j] * p[j];
    }
    return loss / pb->weight_sum + 0.5 * pb->l2 * penalty;
}

/* splitmix64: a uniform value in [-r, r) that depends on the seed alone */
static double seeded_uniform(uint64_t *state, double r)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return r * ((double)(z >> 11) / 9007199254740992.0 * 2 - 1);
}

/* Checks the labels, weights and features of the labelled rows; sums their weights. */
static int mlp_check_rows(mlp_problem *pb)
{
    const int k = pb->k, classes = pb->multilabel ? 2 : k, per_row = pb->multilabel ? k : 1;

    for (int i = 0; i < pb->n; i++) {
        const double s = pb->sample_weight ? pb->sample_weight[i] : 1.0;

        if (!mlp_row_labelled(pb, i))
            continue;
        for (int c = 0; c < per_row; c++)
            if (pb->y[(size_t)i * per_row + c] >= classes)
                return -EINVAL;
        if (!(s >= 0) || !isfinite(s))
            return -EINVAL;
        for (int j = 0; j < pb->dim; j++)
            if (!isfinite(pb->x[(size_t)i * pb->dim + j]))
                return -EINVAL;
        pb->weight_sum += s;
    }
    return pb->weight_sum > 0 && isfinite(pb->weight_sum) ? 0 : -EINVAL;
}

int avf_train_mlp(const double *x, const int *y, int n, int dim, int k, int multilabel, int hidden,
                  const avf_train_options *opt, unsigned seed, double *w1, double *b1, double *w2,
                  double *b2)
{
    mlp_problem pb = {x, y, NULL, n, dim, k, hidden, !!multilabel, DEFAULT_L2, 0, NULL, NULL, NULL};
    uint64_t state = seed;
    int max_iter, np, ret;
    size_t nw1, nw2;
    double tol, r1, r2, *p;

    if (!x || !y || !w1 || !b1 || !w2 || !b2 || n < 0 || dim < 1 || hidden < 1 ||
        k < (multilabel ? 1 : 2) || dim > (1 << 24) / hidden || k > (1 << 24) / hidden)
        return -EINVAL;
    if (read_options(opt, &pb.sample_weight, &pb.l2, &max_iter, &tol) < 0 ||
        mlp_check_rows(&pb) < 0)
        return -EINVAL;
    nw1 = (size_t)hidden * dim;
    nw2 = (size_t)k * hidden;
    np = (int)(nw1 + hidden + nw2 + k);
    p = calloc((size_t)np, sizeof(*p));
    pb.a = malloc((size_t)hidden * sizeof(*pb.a));
    pb.da = malloc((size_t)hidden * sizeof(*pb.da));
    pb.z = malloc((size_t)k * sizeof(*pb.z));
    if (!p || !pb.a || !pb.da || !pb.z) {
        ret = -ENOMEM;
        goto done;
    }
    /*
     * Glorot's range keeps the first pre-activations in tanh's linear part; a
     * small output layer starts every output near the prior and lets the hidden
     * layer, which the random start has already made asymmetric, take shape first.
     */
    r1 = sqrt(6.0 / (dim + hidden));
    r2 = 0.1 * sqrt(6.0 / (hidden + k));
    for (size_t j = 0; j < nw1; j++)
        p[j] = seeded_uniform(&state, r1);
    for (size_t j = 0; j < nw2; j++)
        p[nw1 + hidden + j] = seeded_uniform(&state, r2);
    ret = lbfgs(mlp_objective, &pb, p, np, max_iter, tol);
    if (ret >= 0) {
        memcpy(w1, p, nw1 * sizeof(*w1));
        memcpy(b1, p + nw1, (size_t)hidden * sizeof(*b1));
        memcpy(w2, p + nw1 + hidden, nw2 * sizeof(*w2));
        memcpy(b2, p + nw1 + hidden + nw2, (size_t)k * sizeof(*b2));
    }
done:
    free(pb.z);
    free(pb.da);
    free(pb.a);
    free(p);
    return ret;
}
