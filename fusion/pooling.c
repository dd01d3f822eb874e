/*
 * pooling.c - per-segment pooling of feature rows.
 *
 * Pooling skips NaN because plugins use it for "no value here" (the pitch of an
 * unvoiced window): averaging it as zero would drag the pitch of a half-voiced
 * segment towards 0 Hz. Sums run in double so that long segments of small values
 * keep their precision. AVF_POOL_MEAN_DB averages powers, not decibels, so that
 * the pooled RMS of a segment is the RMS of its windows, not their geometric mean.
 * Percentiles sort a copy of the column's values; a segment holds at most a few
 * hundred rows, so the copy lives on the stack up to PERCENTILE_ROWS rows.
 */
#include "fusion/pooling.h"

#include <math.h>
#include <stdlib.h>

#include "plugins/avfuse_plugin.h"

#define PERCENTILE_ROWS 4096

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* The q-th quantile (0..1) of the sorted values v[0..n), linear between neighbours
 * (the rule of numpy's default and of R's type 7). */
static double quantile(const double *v, int n, double q)
{
    double pos = q * (n - 1);
    int i = (int)floor(pos);

    return i + 1 < n ? v[i] + (pos - i) * (v[i + 1] - v[i]) : v[n - 1];
}

/* A percentile rule of column c: the non-NaN values are sorted in a copy. Columns
 * longer than PERCENTILE_ROWS take every k-th row. */
static double pool_percentile(const float *rows, int n, int dim, int c, int pool)
{
    double v[PERCENTILE_ROWS];
    int step = (n + PERCENTILE_ROWS - 1) / PERCENTILE_ROWS, count = 0;

    for (int r = 0; r < n; r += step) {
        double x = rows[(long)r * dim + c];

        if (!isnan(x))
            v[count++] = x;
    }
    if (count == 0)
        return NAN;
    qsort(v, (size_t)count, sizeof(double), cmp_double);
    switch (pool) {
    case AVF_POOL_P20:
        return quantile(v, count, 0.2);
    case AVF_POOL_P50:
        return quantile(v, count, 0.5);
    case AVF_POOL_P80:
        return quantile(v, count, 0.8);
    default:
        return quantile(v, count, 0.8) - quantile(v, count, 0.2);
    }
}

void avf_pool_rows(const float *rows, int n, int dim, const int *pools, double *out)
{
    for (int c = 0; c < dim; c++) {
        double sum = 0, sum2 = 0, lo = INFINITY, hi = -INFINITY;
        int count = 0;

        if (pools[c] >= AVF_POOL_P20 && pools[c] <= AVF_POOL_RANGE_20_80) {
            out[c] = pool_percentile(rows, n, dim, c, pools[c]);
            continue;
        }
        for (int r = 0; r < n; r++) {
            double v = rows[(long)r * dim + c];

            if (isnan(v))
                continue;
            count++;
            if (pools[c] == AVF_POOL_MEAN_DB)
                v = pow(10.0, v / 10.0);
            sum += v;
            sum2 += v * v;
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        if (count == 0) {
            out[c] = pools[c] == AVF_POOL_SUM ? 0.0 : NAN;
            continue;
        }
        switch (pools[c]) {
        case AVF_POOL_STD: {
            double mean = sum / count, var = sum2 / count - mean * mean;

            out[c] = var > 0 ? sqrt(var) : 0.0;
            break;
        }
        case AVF_POOL_MIN:
            out[c] = lo;
            break;
        case AVF_POOL_MAX:
            out[c] = hi;
            break;
        case AVF_POOL_SUM:
            out[c] = sum;
            break;
        case AVF_POOL_MEAN_DB:
            out[c] = sum > 0 ? 10.0 * log10(sum / count) : -INFINITY;
            break;
        default:
            out[c] = sum / count;
            break;
        }
    }
}
