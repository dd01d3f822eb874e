/*
 * train.c - logistic and softmax regression by full-batch L-BFGS.
 *
 * Written here rather than taken from liblinear or similar: the problem is small
 * (tens of thousands of rows, tens of features, a handful of heads), the whole
 * optimizer is ~150 lines, and owning it is what makes the result exactly
 * reproducible: one thread, every sum in double in a fixed order, no randomness,
 * nothing that depends on timing. Full batch rather than SGD for the same reason,
 * and because at this size a full pass costs milliseconds. (Bits can differ
 * between builds that contract a * b + c into FMA; runs of one build never do.)
 *
 * The objective is smooth and convex, so L-BFGS (memory 10) with a backtracking
 * line search on the Armijo condition converges in tens of iterations where
 * plain gradient descent needs thousands. It stops when the gradient norm falls
 * below tol, after max_iter iterations, or when the objective no longer changes
 * by more than rounding: without that last rule a tol below what doubles can
 * resolve would spend every remaining iteration backtracking. Both trainers
 * share one objective: k linear outputs per row, with a sigmoid loss when k is 1
 * (binary) and a softmax loss otherwise. Parameters are laid out as w (k x dim,
 * row-major) then b (k).
 */
#include "train.h"

#include <errno.h>
#include <float.h>
#include <math.h>
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

/* The objective at p; writes its gradient into g. */
static double objective(problem *pb, const double *p, double *g)
{
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

/* Minimises the objective from p (np values) in place; returns the iterations used. */
static int lbfgs(problem *pb, double *p, int np, int max_iter, double tol)
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
    fx = objective(pb, p, g);
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
            f_new = objective(pb, p_new, g_new);
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

/* Checks the inputs, runs the optimizer from zero and writes w and b on success. */
static int train(const double *x, const int *y, int n, int dim, int k, const avf_train_options *opt,
                 double *w, double *b)
{
    const int classes = k == 1 ? 2 : k;
    problem pb = {x, y, NULL, n, dim, k, DEFAULT_L2, 0, NULL};
    int max_iter = DEFAULT_MAX_ITER, np, ret;
    double tol = DEFAULT_TOL, *p;

    if (!x || !y || !w || !b || n < 0 || dim < 1 || k < 1 || dim > (1 << 24) / k)
        return -EINVAL;
    if (opt) {
        pb.sample_weight = opt->sample_weight;
        pb.l2 = opt->l2;
        max_iter = opt->max_iter;
        tol = opt->tol;
        if (!(pb.l2 >= 0) || !isfinite(pb.l2) || max_iter < 0 || isnan(tol))
            return -EINVAL;
    }
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
    ret = p && pb.z ? lbfgs(&pb, p, np, max_iter, tol) : -ENOMEM;
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
