/*
 * pooling.c - per-segment pooling of feature rows.
 *
 * Pooling skips NaN because plugins use it for "no value here" (the pitch of an
 * unvoiced window): averaging it as zero would drag the pitch of a half-voiced
 * segment towards 0 Hz. Sums run in double so that long segments of small values
 * keep their precision. AVF_POOL_MEAN_DB averages powers, not decibels, so that
 * the pooled RMS of a segment is the RMS of its windows, not their geometric mean.
 */
#include "fusion/pooling.h"

#include <math.h>

#include "plugins/avfuse_plugin.h"

void avf_pool_rows(const float *rows, int n, int dim, const int *pools, double *out)
{
    for (int c = 0; c < dim; c++) {
        double sum = 0, sum2 = 0, lo = INFINITY, hi = -INFINITY;
        int count = 0;

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
