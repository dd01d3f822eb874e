/*
 * pooling.h - pooling of per-frame or per-window feature rows into one value per
 * feature for a segment, by the rule each plugin declared (avf_plugin_pool).
 */
#ifndef AVF_POOLING_H
#define AVF_POOLING_H

/*
 * rows holds n rows of dim floats. out[i] receives the pooled value of column i by
 * pools[i]; NaN values are skipped, and a column without any value gives NaN.
 */
void avf_pool_rows(const float *rows, int n, int dim, const int *pools, double *out);

#endif
