/*
 * dataset.h - labelled fused vectors, the input of training and evaluation.
 */
#ifndef AVF_DATASET_H
#define AVF_DATASET_H

/* One segment's labels and where it came from. */
typedef struct avf_dataset_label {
    int content; /* bitmask of avf_content classes (1 << AVF_SPEECH | ...); 0: no label */
    int valence; /* 0 negative, 1 neutral, 2 positive, or -1 */
    int arousal; /* 0 low, 1 medium, 2 high, or -1 */
    int row;     /* the manifest row it came from */
    int group;   /* the row's group (cross-validation keeps a group in one fold) */
    int run;     /* the continuous run of rows (one stream) it belongs to */
    double t0;   /* the segment's start in its file, seconds */
    double t1;   /* the segment's end in its file, seconds */
} avf_dataset_label;

typedef struct avf_dataset {
    int dim;
    int n, cap;
    double *x;    /* n rows of dim raw (unnormalized) fused values; NaN = absent */
    int *content; /* bitmask of the true classes (several: a mixture), or 0: no label */
    int *valence; /* 0 negative, 1 neutral, 2 positive, or -1 */
    int *arousal; /* 0 low, 1 medium, 2 high, or -1 */
    int *row;     /* the manifest row each came from */
    int *group;   /* the group id of that row */
    int *run;     /* the run id of that row: segments of one run come in stream order */
    double *t0;   /* the segment's start in its file, seconds */
    double *t1;   /* the segment's end in its file, seconds */
} avf_dataset;

/* The one class of a content bitmask, or -1 when it has none or several. */
int avf_content_single(int mask);
/* 1 when class c (enum avf_content) is among a content bitmask's true classes. */
int avf_content_has(int mask, int c);

/* Sets an empty dataset of dim values per row. */
void avf_dataset_init(avf_dataset *d, int dim);
/* Appends one labelled row (x is copied). Returns 0 or AVERROR(ENOMEM). */
int avf_dataset_append(avf_dataset *d, const double *x, const avf_dataset_label *label);
/* Row i's labels. */
void avf_dataset_label_of(const avf_dataset *d, int i, avf_dataset_label *label);
/* Appends every row of src (same dim). Returns 0 or AVERROR(ENOMEM). */
int avf_dataset_extend(avf_dataset *d, const avf_dataset *src);
/* Frees the rows; d is empty afterwards. */
void avf_dataset_clear(avf_dataset *d);

#endif
