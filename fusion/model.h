/*
 * model.h - the trained model: normalization of the fused feature vector and the
 * heads (content, valence, arousal) that map it to probabilities, each linear or
 * with one tanh hidden layer, with the model file that carries them
 * (docs/model-format.md).
 *
 * The file is checksummed and strict: a model that loads is one the training
 * script wrote, for exactly the features it names, so a stale or damaged file is
 * refused with a reason instead of producing plausible nonsense.
 */
#ifndef AVF_MODEL_H
#define AVF_MODEL_H

#include <stddef.h>

#define AVF_MODEL_FORMAT "avfuse.model.v1"
/* The version in the file's first line; the layout of everything after it. */
#define AVF_MODEL_FILE_VERSION 1

enum avf_head_type {
    AVF_HEAD_LOGISTIC = 0, /* an independent sigmoid per output: tags that may co-occur */
    AVF_HEAD_SOFTMAX = 1,  /* one distribution over the outputs: exactly one is true */
};

/*
 * A linear head (hidden == 0) computes z = weights x' + bias on the normalized
 * vector x'. A head with a hidden layer first computes a = tanh(hidden_weights x' +
 * hidden_bias), hidden values, and then z = weights a + bias. The output
 * activation (enum avf_head_type) is applied to z either way.
 *
 * A head with smoothing is applied to a source's segments in order: output o's
 * logit becomes s_t = (1 - smoothing[o]) z_t + smoothing[o] s_(t-1), where s_(t-1)
 * is the previous segment's smoothed logit (none at a source's first segment:
 * s = z). The model only stores the weights; the caller keeps s (fusion/heads.c).
 */
typedef struct avf_head {
    char *name;             /* "content", "valence", "arousal" */
    int type;               /* enum avf_head_type */
    int nb_outputs;         /* >= 1, >= 2 for softmax */
    char **outputs;         /* nb_outputs names, e.g. speech/music/noise/silence */
    double *weights;        /* nb_outputs x dim (linear) or nb_outputs x hidden, row-major */
    double *bias;           /* nb_outputs */
    int hidden;             /* 0: linear; else the number of tanh units of the hidden layer */
    double *hidden_weights; /* hidden x dim, row-major, applied to normalized inputs; or NULL */
    double *hidden_bias;    /* hidden; or NULL */
    double *smoothing;      /* nb_outputs weights in [0, 1) over segments; or NULL: none */
    /* > 0: the smoothing restarts (s_t = z_t for every output) at a segment whose
     * logit of a smoothed output is on the other side of 0 from s_(t-1) by this
     * much or more: a change of content; 0: never (the behaviour before it existed) */
    double smoothing_restart;
} avf_head;

/*
 * Every pointer in the model belongs to it and is freed by avf_model_free(). The
 * arrays may be written in place (that is how training fills them); training may
 * be replaced by a string from malloc() after freeing the old one.
 */
typedef struct avf_model {
    char *name;      /* e.g. "default-1" */
    int dim;         /* >= 1 */
    char **features; /* dim distinct names in vector order, e.g. "audio.rms_dbfs" */
    double *mean;    /* dim; normalization: x' = (x - mean) / std */
    double *std;     /* dim, each > 0 */
    int nb_heads;
    avf_head *heads;
    char *training; /* a JSON object summarising the training data, or NULL */
} avf_model;

/*
 * A model of dim features (names copied) with mean 0, std 1 and no heads. Returns
 * NULL when out of memory or when dim < 1 or a name is NULL. The caller frees it
 * with avf_model_free().
 */
avf_model *avf_model_new(int dim, const char *const *features, const char *name);

/*
 * Appends a head of type enum avf_head_type with nb_outputs named outputs (names
 * copied) and zero weights and bias. Returns the head's index, -EINVAL for a bad
 * type or output count or a name already used, or -ENOMEM.
 */
int avf_model_add_head(avf_model *m, const char *name, int type, int nb_outputs,
                       const char *const *outputs);

/*
 * As avf_model_add_head(), with a hidden layer of hidden tanh units (all weights
 * and biases zero; hidden == 0 makes a linear head). Also -EINVAL for hidden < 0.
 */
int avf_model_add_mlp_head(avf_model *m, const char *name, int type, int nb_outputs,
                           const char *const *outputs, int hidden);

/*
 * Gives head h the smoothing weights w[0..nb_outputs) (copied), each in [0, 1);
 * w == NULL removes them. Returns 0, -EINVAL (bad head or weight) or -ENOMEM.
 */
int avf_model_set_smoothing(avf_model *m, int h, const double *w);

/*
 * The change-point rule of a head's smoothing (avf_head.smoothing_restart) with
 * restart > 0, or 0 to never restart: 1 when the logits z of a segment disagree
 * enough with the previous smoothed logits s_prev that the smoothing should start
 * afresh: for some output o with w[o] > 0, z[o] >= restart while s_prev[o] < 0, or
 * z[o] <= -restart while s_prev[o] >= 0.
 */
int avf_smoothing_restarts(const double *z, const double *s_prev, const double *w, int n,
                           double restart);

/* Frees the model and sets *pm to NULL; accepts NULL and *pm == NULL. */
void avf_model_free(avf_model **pm);

/*
 * Writes m to path (through path.tmp and rename(), so a reader never sees half a
 * file). The same model always gives the same bytes. Refuses a model that
 * avf_model_load() would refuse (non-finite values, std <= 0, a training text that
 * is not a JSON object, ...). Returns 0, or a negative errno with a one-line
 * reason in why (why may be NULL).
 */
int avf_model_save(const avf_model *m, const char *path, char *why, size_t why_size);

/*
 * Reads the model at path. On success stores a new model in *pm, which the caller
 * frees with avf_model_free(), and returns 0. On failure *pm is untouched, why
 * holds a one-line reason (why may be NULL), and the return value is a negative
 * errno: that of the failed system call for an unreadable file, -EINVAL for a
 * file that is not a valid model, -ENOMEM.
 */
int avf_model_load(avf_model **pm, const char *path, char *why, size_t why_size);

/*
 * Compares the model's features with the dim names the pipeline produces, in
 * order. Returns 0 when they are the same, else -EINVAL with the first difference
 * in why (indices count from 0).
 */
int avf_model_check_features(const avf_model *m, const char *const *names, int dim, char *why,
                             size_t why_size);

/*
 * Applies head h to the unnormalized vector x (m->dim finite values), through its
 * hidden layer if it has one: out receives nb_outputs probabilities, a sigmoid
 * each for a logistic head, a distribution summing to 1 for a softmax head. Never
 * allocates.
 */
void avf_model_apply(const avf_model *m, int h, const double *x, double *out);

/*
 * The two halves of avf_model_apply(): the logits z of head h for x, and the
 * output activation turning z (nb_outputs values) into probabilities in place.
 * Between them a caller may smooth the logits over segments.
 */
void avf_model_logits(const avf_model *m, int h, const double *x, double *z);
void avf_model_activate(const avf_model *m, int h, double *z);

/* The index of the head called name, or -1. */
int avf_model_find_head(const avf_model *m, const char *name);

#endif
