/*
 * train.h - fits the heads of the model (fusion/model.h): binary and multinomial
 * logistic regression on normalized feature rows, and networks with one tanh
 * hidden layer for heads that have one.
 *
 * Training is deterministic: the same inputs give bit-identical weights on every
 * run of the same build, which is what lets the training script reproduce the
 * committed model file byte for byte.
 */
#ifndef AVF_TRAIN_H
#define AVF_TRAIN_H

typedef struct avf_train_options {
    double l2;                   /* L2 penalty on the weights (not the bias), e.g. 1e-3 */
    int max_iter;                /* iterations at most, e.g. 500 */
    double tol;                  /* stop when the gradient's Euclidean norm falls below */
    const double *sample_weight; /* n weights >= 0, or NULL for 1.0 each: class balancing */
} avf_train_options;

/*
 * The objective minimised is the weighted mean log-loss over the labelled rows
 * (sum of weight x loss divided by the sum of their weights) plus l2 / 2 * |w|^2.
 * x holds n rows of dim values, row-major, already normalized. A row whose label is
 * negative has no label and is skipped, whatever its features (NaN is fine there).
 * opt may be NULL: l2 1e-3, max_iter 500, tol 1e-6.
 *
 * Each returns the number of iterations used (max_iter when it did not converge
 * within them) and writes the result; or -EINVAL (a label out of range, a
 * non-finite feature in a labelled row, a negative or non-finite weight, no
 * labelled row with a positive weight, bad sizes) or -ENOMEM, leaving the outputs
 * untouched. Neither keeps any pointer after it returns.
 */

/* Binary: y in {0, 1}. Writes w[dim] and *b. */
int avf_train_logistic(const double *x, const int *y, int n, int dim, const avf_train_options *opt,
                       double *w, double *b);

/* Multinomial (softmax), k >= 2 classes, y in 0..k-1. Writes w[k * dim] (row c is
 * class c) and b[k]. */
int avf_train_softmax(const double *x, const int *y, int n, int dim, int k,
                      const avf_train_options *opt, double *w, double *b);

/*
 * One hidden layer of hidden tanh units, a = tanh(w1 x + b1), then k outputs
 * z = w2 a + b2: the layout of a head with a hidden layer (w1 and b1 are its
 * hidden_weights and hidden_bias, w2 and b2 its weights and bias).
 *
 * multilabel != 0: y holds n rows of k labels, each 0, 1 or negative (no label
 * for that output); the outputs are independent sigmoids and a row's loss is the
 * sum of the binary log-losses of its labelled outputs. A row with no label at all
 * is skipped like a negative label above; sample_weight weighs the whole row.
 * multilabel == 0: y holds n labels in 0..k-1 (k >= 2) or negative; softmax.
 *
 * The objective is the weighted mean loss plus l2 / 2 * (|w1|^2 + |w2|^2); it is
 * not convex, so the result is a local minimum that depends on the start. The
 * start is drawn from seed (w1 uniform in +-sqrt(6 / (dim + hidden)), w2 a tenth of
 * the same range for (hidden + k), biases 0), so the same inputs and seed give
 * bit-identical results. Writes w1[hidden * dim], b1[hidden], w2[k * hidden]
 * (row c is output c) and b2[k]. Returns and fails as above; also -EINVAL for
 * hidden < 1.
 */
int avf_train_mlp(const double *x, const int *y, int n, int dim, int k, int multilabel, int hidden,
                  const avf_train_options *opt, unsigned seed, double *w1, double *b1, double *w2,
                  double *b2);

#endif
