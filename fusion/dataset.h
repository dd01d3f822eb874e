/*
 * dataset.h - labelled fused vectors, the input of training and evaluation.
 */
#ifndef AVF_DATASET_H
#define AVF_DATASET_H

typedef struct avf_dataset {
    int dim;
    int n, cap;
    double *x;    /* n rows of dim raw (unnormalized) fused values; NaN = absent */
    int *content; /* avf_content, or -1: no label */
    int *valence; /* 0 negative, 1 neutral, 2 positive, or -1 */
    int *arousal; /* 0 low, 1 medium, 2 high, or -1 */
    int *row;     /* the manifest row each came from */
} avf_dataset;

/* Sets an empty dataset of dim values per row. */
void avf_dataset_init(avf_dataset *d, int dim);
/* Appends one labelled row (x is copied). Returns 0 or AVERROR(ENOMEM). */
int avf_dataset_append(avf_dataset *d, const double *x, int content, int valence, int arousal,
                       int row);
/* Appends every row of src (same dim). Returns 0 or AVERROR(ENOMEM). */
int avf_dataset_extend(avf_dataset *d, const avf_dataset *src);
/* Frees the rows; d is empty afterwards. */
void avf_dataset_clear(avf_dataset *d);

#endif
