/*
 * model.c - the model in memory, its file, and applying a head.
 *
 * The file is a header line with a SHA-256 of the body, then the body as indented
 * JSON (docs/model-format.md). JSON because a reviewer reads a model diff like any
 * other; the checksum because a truncated or hand-damaged file would otherwise
 * still parse and quietly give other probabilities. Reals are written with 17
 * significant digits, which round-trip every double, and jansson keeps key order,
 * so the same model always gives the same bytes: that is what lets the training
 * script reproduce the committed model byte for byte.
 *
 * A head is linear or has one tanh hidden layer; the hidden layer is an optional
 * key of the head, absent for a linear head, so that files of linear heads are the
 * same bytes as before hidden layers existed. Smoothing over segments is another
 * optional key, absent when a head has none, for the same reason.
 *
 * Loading parses into a fresh model, checks the structure while parsing (where
 * the JSON path of a bad value is known), then runs the same semantic checks that
 * saving runs first, so a file save writes is always one load accepts.
 */
#include "fusion/model.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <libavutil/mem.h>
#include <libavutil/sha.h>

#include "base/why.h"

#define HEADER_MAGIC "avfuse-model "
#define SHA_HEX_LEN  64
#define DUMP_FLAGS   (JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17))
/* Far above any real model (70 features x a few heads is ~100 kB); refusing
 * larger files keeps a wrong path from reading a disk image into memory. */
#define MAX_FILE_BYTES (64 << 20)
#define MAX_DIM        (1 << 20)

static void free_strings(char **s, int n)
{
    if (!s)
        return;
    for (int i = 0; i < n; i++)
        free(s[i]);
    free(s);
}

static char **copy_strings(const char *const *s, int n)
{
    char **out = calloc((size_t)n, sizeof(*out));

    if (!out)
        return NULL;
    for (int i = 0; i < n; i++) {
        if (!s[i] || !(out[i] = strdup(s[i]))) {
            free_strings(out, n);
            return NULL;
        }
    }
    return out;
}

static void free_head(avf_head *hd)
{
    free(hd->name);
    free_strings(hd->outputs, hd->nb_outputs);
    free(hd->weights);
    free(hd->bias);
    free(hd->hidden_weights);
    free(hd->hidden_bias);
    free(hd->smoothing);
}

/* The length of a row of hd->weights: what the output layer is applied to. */
static int output_inputs(const avf_head *hd, int dim)
{
    return hd->hidden > 0 ? hd->hidden : dim;
}

avf_model *avf_model_new(int dim, const char *const *features, const char *name)
{
    avf_model *m = NULL;

    if (dim < 1 || dim > MAX_DIM || !features || !name)
        return NULL;
    m = calloc(1, sizeof(*m));
    if (!m)
        goto fail;
    m->dim = dim;
    m->name = strdup(name);
    m->features = copy_strings(features, dim);
    m->mean = calloc((size_t)dim, sizeof(*m->mean));
    m->std = malloc((size_t)dim * sizeof(*m->std));
    if (!m->name || !m->features || !m->mean || !m->std)
        goto fail;
    for (int i = 0; i < dim; i++)
        m->std[i] = 1;
    return m;
fail:
    avf_model_free(&m);
    return NULL;
}

void avf_model_free(avf_model **pm)
{
    avf_model *m;

    if (!pm || !*pm)
        return;
    m = *pm;
    free(m->name);
    free_strings(m->features, m->dim);
    free(m->mean);
    free(m->std);
    for (int h = 0; h < m->nb_heads; h++)
        free_head(&m->heads[h]);
    free(m->heads);
    free(m->training);
    free(m);
    *pm = NULL;
}

int avf_model_add_head(avf_model *m, const char *name, int type, int nb_outputs,
                       const char *const *outputs)
{
    return avf_model_add_mlp_head(m, name, type, nb_outputs, outputs, 0);
}

int avf_model_add_mlp_head(avf_model *m, const char *name, int type, int nb_outputs,
                           const char *const *outputs, int hidden)
{
    avf_head hd = {0}, *heads;

    if (!m || !name || !outputs || (type != AVF_HEAD_LOGISTIC && type != AVF_HEAD_SOFTMAX) ||
        nb_outputs < (type == AVF_HEAD_SOFTMAX ? 2 : 1) || hidden < 0 || hidden > MAX_DIM ||
        avf_model_find_head(m, name) >= 0)
        return -EINVAL;
    hd.type = type;
    hd.hidden = hidden;
    hd.name = strdup(name);
    hd.outputs = copy_strings(outputs, nb_outputs);
    if (hd.outputs)
        hd.nb_outputs = nb_outputs;
    hd.weights =
        calloc((size_t)nb_outputs * (size_t)output_inputs(&hd, m->dim), sizeof(*hd.weights));
    hd.bias = calloc((size_t)nb_outputs, sizeof(*hd.bias));
    if (hidden > 0) {
        hd.hidden_weights = calloc((size_t)hidden * (size_t)m->dim, sizeof(*hd.hidden_weights));
        hd.hidden_bias = calloc((size_t)hidden, sizeof(*hd.hidden_bias));
    }
    heads = realloc(m->heads, (size_t)(m->nb_heads + 1) * sizeof(*heads));
    if (heads)
        m->heads = heads;
    if (!hd.name || !hd.outputs || !hd.weights || !hd.bias ||
        (hidden > 0 && (!hd.hidden_weights || !hd.hidden_bias)) || !heads) {
        free_head(&hd);
        return -ENOMEM;
    }
    m->heads[m->nb_heads] = hd;
    return m->nb_heads++;
}

/* A smoothing weight: the previous segment's share of a logit, below 1 so that
 * the segment itself always counts. */
static int smoothing_valid(double w)
{
    return w >= 0 && w < 1;
}

int avf_model_set_smoothing(avf_model *m, int h, const double *w)
{
    avf_head *hd;
    double *copy = NULL;

    if (!m || h < 0 || h >= m->nb_heads)
        return -EINVAL;
    hd = &m->heads[h];
    if (w) {
        for (int o = 0; o < hd->nb_outputs; o++)
            if (!smoothing_valid(w[o]))
                return -EINVAL;
        copy = malloc((size_t)hd->nb_outputs * sizeof(*copy));
        if (!copy)
            return -ENOMEM;
        memcpy(copy, w, (size_t)hd->nb_outputs * sizeof(*copy));
    }
    free(hd->smoothing);
    hd->smoothing = copy;
    return 0;
}

int avf_smoothing_restarts(const double *z, const double *s_prev, const double *w, int n,
                           double restart)
{
    if (!(restart > 0))
        return 0;
    for (int o = 0; o < n; o++)
        if (w[o] > 0 &&
            ((z[o] >= restart && s_prev[o] < 0) || (z[o] <= -restart && s_prev[o] >= 0)))
            return 1;
    return 0;
}

int avf_model_find_head(const avf_model *m, const char *name)
{
    for (int h = 0; m && name && h < m->nb_heads; h++)
        if (m->heads[h].name && !strcmp(m->heads[h].name, name))
            return h;
    return -1;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Sets *dup to a name that occurs twice among the n names, or NULL. Sorting a copy
 * keeps this O(n log n) for a file with absurd counts.
 */
static int find_duplicate(char *const *names, int n, const char **dup)
{
    const char **sorted;

    *dup = NULL;
    if (n < 2)
        return 0;
    sorted = malloc((size_t)n * sizeof(*sorted));
    if (!sorted)
        return -ENOMEM;
    memcpy(sorted, names, (size_t)n * sizeof(*sorted));
    qsort(sorted, (size_t)n, sizeof(*sorted), compare_names);
    for (int i = 1; i < n && !*dup; i++)
        if (!strcmp(sorted[i - 1], sorted[i]))
            *dup = sorted[i];
    free(sorted);
    return 0;
}

/*
 * Whether s is UTF-8 as jansson accepts it (no overlong forms, surrogates or code
 * points above U+10FFFF): a name jansson cannot encode could not be saved.
 */
static int utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        unsigned c = *p++, cp, min;
        int extra;

        if (c < 0x80)
            continue;
        if ((c & 0xe0) == 0xc0) {
            extra = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            extra = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            extra = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        for (int i = 0; i < extra; i++) {
            if ((*p & 0xc0) != 0x80) /* also stops at the terminating NUL */
                return 0;
            cp = cp << 6 | (*p++ & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
    }
    return 1;
}

static int check_name(const char *name, const char *what, char *why, size_t why_size)
{
    if (!name || !name[0])
        return avf_why(why, why_size, -EINVAL, "%s has no name", what);
    if (!utf8_valid(name))
        return avf_why(why, why_size, -EINVAL, "%s name is not valid UTF-8", what);
    return 0;
}

/* Checks n names are present, valid and distinct; what is "feature", "head 'x' output" */
static int check_names(char *const *names, int n, const char *what, char *why, size_t why_size)
{
    const char *dup;
    char item[192];
    int ret;

    if (!names)
        return avf_why(why, why_size, -EINVAL, "%s names are missing", what);
    for (int i = 0; i < n; i++) {
        snprintf(item, sizeof(item), "%s %d", what, i);
        if ((ret = check_name(names[i], item, why, why_size)) < 0)
            return ret;
    }
    if ((ret = find_duplicate(names, n, &dup)) < 0)
        return avf_why(why, why_size, ret, "out of memory");
    if (dup)
        return avf_why(why, why_size, -EINVAL, "duplicate %s name '%s'", what, dup);
    return 0;
}

static int check_finite(const double *v, size_t n, const char *what, char *why, size_t why_size)
{
    if (!v)
        return avf_why(why, why_size, -EINVAL, "%s is missing", what);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return avf_why(why, why_size, -EINVAL, "%s[%zu] is not a finite number", what, i);
    return 0;
}

static int check_head(const avf_head *hd, int h, int dim, char *why, size_t why_size)
{
    char what[192];
    int ret;

    snprintf(what, sizeof(what), "head %d", h);
    if ((ret = check_name(hd->name, what, why, why_size)) < 0)
        return ret;
    if (hd->type != AVF_HEAD_LOGISTIC && hd->type != AVF_HEAD_SOFTMAX)
        return avf_why(why, why_size, -EINVAL, "head '%s' has unknown type %d", hd->name, hd->type);
    if (hd->nb_outputs < 1)
        return avf_why(why, why_size, -EINVAL, "head '%s' has no outputs", hd->name);
    if (hd->type == AVF_HEAD_SOFTMAX && hd->nb_outputs < 2)
        return avf_why(why, why_size, -EINVAL, "softmax head '%s' has 1 output, needs 2 or more",
                       hd->name);
    snprintf(what, sizeof(what), "head '%s' output", hd->name);
    if ((ret = check_names(hd->outputs, hd->nb_outputs, what, why, why_size)) < 0)
        return ret;
    if (hd->hidden < 0 || hd->hidden > MAX_DIM)
        return avf_why(why, why_size, -EINVAL, "head '%s' has %d hidden units", hd->name,
                       hd->hidden);
    if (hd->hidden > 0) {
        snprintf(what, sizeof(what), "head '%s' hidden.weights", hd->name);
        if ((ret = check_finite(hd->hidden_weights, (size_t)hd->hidden * (size_t)dim, what, why,
                                why_size)) < 0)
            return ret;
        snprintf(what, sizeof(what), "head '%s' hidden.bias", hd->name);
        if ((ret = check_finite(hd->hidden_bias, (size_t)hd->hidden, what, why, why_size)) < 0)
            return ret;
    }
    for (int o = 0; hd->smoothing && o < hd->nb_outputs; o++)
        if (!smoothing_valid(hd->smoothing[o]))
            return avf_why(why, why_size, -EINVAL,
                           "head '%s': smoothing[%d] is %.17g, must be from 0 to below 1", hd->name,
                           o, hd->smoothing[o]);
    if (!(hd->smoothing_restart >= 0 && isfinite(hd->smoothing_restart)) ||
        (hd->smoothing_restart > 0 && !hd->smoothing))
        return avf_why(why, why_size, -EINVAL,
                       "head '%s': smoothing_restart is %.17g, must be a number of 0 or more in a "
                       "head with smoothing",
                       hd->name, hd->smoothing_restart);
    snprintf(what, sizeof(what), "head '%s' weights", hd->name);
    if ((ret = check_finite(hd->weights, (size_t)hd->nb_outputs * (size_t)output_inputs(hd, dim),
                            what, why, why_size)) < 0)
        return ret;
    snprintf(what, sizeof(what), "head '%s' bias", hd->name);
    return check_finite(hd->bias, (size_t)hd->nb_outputs, what, why, why_size);
}

static int check_head_names(const avf_model *m, char *why, size_t why_size)
{
    char **names = malloc((size_t)(m->nb_heads ? m->nb_heads : 1) * sizeof(*names));
    const char *dup;
    int ret;

    if (!names)
        return avf_why(why, why_size, -ENOMEM, "out of memory");
    for (int h = 0; h < m->nb_heads; h++)
        names[h] = m->heads[h].name;
    ret = find_duplicate(names, m->nb_heads, &dup);
    if (ret < 0)
        avf_why(why, why_size, ret, "out of memory");
    else if (dup)
        ret = avf_why(why, why_size, -EINVAL, "duplicate head name '%s'", dup);
    free(names);
    return ret;
}

/* The semantic checks save runs before writing and load runs after parsing. */
static int check_model(const avf_model *m, char *why, size_t why_size)
{
    int ret;

    if (!m)
        return avf_why(why, why_size, -EINVAL, "no model");
    if ((ret = check_name(m->name, "the model", why, why_size)) < 0)
        return ret;
    if (m->dim < 1 || m->dim > MAX_DIM)
        return avf_why(why, why_size, -EINVAL, "the model has %d features", m->dim);
    if ((ret = check_names(m->features, m->dim, "feature", why, why_size)) < 0 ||
        (ret = check_finite(m->mean, (size_t)m->dim, "normalization.mean", why, why_size)) < 0 ||
        (ret = check_finite(m->std, (size_t)m->dim, "normalization.std", why, why_size)) < 0)
        return ret;
    for (int i = 0; i < m->dim; i++)
        if (m->std[i] <= 0)
            return avf_why(why, why_size, -EINVAL, "normalization.std[%d] is %g, must be > 0", i,
                           m->std[i]);
    if (m->nb_heads < 0 || (m->nb_heads > 0 && !m->heads))
        return avf_why(why, why_size, -EINVAL, "the model's heads are missing");
    for (int h = 0; h < m->nb_heads; h++)
        if ((ret = check_head(&m->heads[h], h, m->dim, why, why_size)) < 0)
            return ret;
    return check_head_names(m, why, why_size);
}

static int sha256_hex(const char *data, size_t len, char hex[SHA_HEX_LEN + 1])
{
    struct AVSHA *sha = av_sha_alloc();
    uint8_t digest[32];

    if (!sha)
        return -ENOMEM;
    av_sha_init(sha, 256);
    av_sha_update(sha, (const uint8_t *)data, len);
    av_sha_final(sha, digest);
    av_free(sha);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    return 0;
}

/* ---- writing ---- */

/*
 * The json_*_new setters take ownership of the value even when they fail, and
 * treat a NULL value as a failure, so a whole tree can be built without checking
 * every allocation: one check of each setter's result suffices.
 */
static json_t *real_array(const double *v, int n)
{
    json_t *a = json_array();

    for (int i = 0; a && i < n; i++) {
        if (json_array_append_new(a, json_real(v[i])) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *string_array(char *const *s, int n)
{
    json_t *a = json_array();

    for (int i = 0; a && i < n; i++) {
        if (json_array_append_new(a, json_string(s[i])) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* n rows of len values each from v, row-major, as an array of arrays */
static json_t *real_rows(const double *v, int n, int len)
{
    json_t *rows = json_array();
    int ok = rows != NULL;

    for (int r = 0; ok && r < n; r++)
        ok = json_array_append_new(rows, real_array(v + (size_t)r * len, len)) == 0;
    if (!ok)
        json_decref(rows);
    return ok ? rows : NULL;
}

/* {"size": H, "bias": [H], "weights": [H rows of dim]}; the size is an integer */
static json_t *hidden_to_json(const avf_head *hd, int dim)
{
    json_t *o = json_object();
    int ok = o != NULL;

    ok = ok && json_object_set_new(o, "size", json_integer(hd->hidden)) == 0;
    ok = ok && json_object_set_new(o, "bias", real_array(hd->hidden_bias, hd->hidden)) == 0;
    ok = ok &&
         json_object_set_new(o, "weights", real_rows(hd->hidden_weights, hd->hidden, dim)) == 0;
    if (!ok)
        json_decref(o);
    return ok ? o : NULL;
}

static json_t *head_to_json(const avf_head *hd, int dim)
{
    const int in = output_inputs(hd, dim);
    json_t *o = json_object(), *rows = real_rows(hd->weights, hd->nb_outputs, in);
    const char *type = hd->type == AVF_HEAD_SOFTMAX ? "softmax" : "logistic";
    int ok = o && rows;

    ok = ok && json_object_set_new(o, "name", json_string(hd->name)) == 0;
    ok = ok && json_object_set_new(o, "type", json_string(type)) == 0;
    ok = ok && json_object_set_new(o, "outputs", string_array(hd->outputs, hd->nb_outputs)) == 0;
    /* absent for a linear head: its bytes stay those of a file from before hidden layers */
    if (ok && hd->hidden > 0)
        ok = json_object_set_new(o, "hidden", hidden_to_json(hd, dim)) == 0;
    /* absent without smoothing, for the same reason */
    if (ok && hd->smoothing)
        ok = json_object_set_new(o, "smoothing", real_array(hd->smoothing, hd->nb_outputs)) == 0;
    /* absent when it never restarts: a model from before the rule keeps its bytes */
    if (ok && hd->smoothing_restart > 0)
        ok = json_object_set_new(o, "smoothing_restart", json_real(hd->smoothing_restart)) == 0;
    ok = ok && json_object_set_new(o, "bias", real_array(hd->bias, hd->nb_outputs)) == 0;
    if (ok) {
        ok = json_object_set_new(o, "weights", rows) == 0;
        rows = NULL;
    }
    json_decref(rows);
    if (!ok)
        json_decref(o);
    return ok ? o : NULL;
}

/* Builds the body in the documented key order; m passed check_model(). */
static int model_to_json(const avf_model *m, json_t **out, char *why, size_t why_size)
{
    json_t *root = NULL, *norm = NULL, *heads = NULL, *training;
    json_error_t jerr;
    int ok;

    if (!m->training) {
        training = json_null();
    } else {
        training = json_loads(m->training, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(training)) {
            json_decref(training);
            return avf_why(why, why_size, -EINVAL, "training is not a JSON object%s%s",
                           training ? "" : ": ", training ? "" : jerr.text);
        }
    }
    root = json_object();
    norm = json_object();
    heads = json_array();
    ok = root && norm && heads;
    for (int h = 0; ok && h < m->nb_heads; h++)
        ok = json_array_append_new(heads, head_to_json(&m->heads[h], m->dim)) == 0;
    ok = ok && json_object_set_new(norm, "mean", real_array(m->mean, m->dim)) == 0;
    ok = ok && json_object_set_new(norm, "std", real_array(m->std, m->dim)) == 0;
    ok = ok && json_object_set_new(root, "format", json_string(AVF_MODEL_FORMAT)) == 0;
    ok = ok && json_object_set_new(root, "name", json_string(m->name)) == 0;
    ok = ok && json_object_set_new(root, "features", string_array(m->features, m->dim)) == 0;
    if (ok) {
        /* these three take ownership whatever happens */
        ok = json_object_set_new(root, "normalization", norm) == 0;
        ok = json_object_set_new(root, "heads", heads) == 0 && ok;
        ok = json_object_set_new(root, "training", training) == 0 && ok;
        norm = heads = training = NULL;
    }
    json_decref(training);
    json_decref(heads);
    json_decref(norm);
    if (!ok) {
        json_decref(root);
        return avf_why(why, why_size, -ENOMEM, "out of memory");
    }
    *out = root;
    return 0;
}

int avf_model_save(const avf_model *m, const char *path, char *why, size_t why_size)
{
    json_t *root = NULL;
    char *body = NULL, *tmp = NULL, hex[SHA_HEX_LEN + 1];
    size_t body_len;
    FILE *f = NULL;
    int ret;

    if (!path)
        return avf_why(why, why_size, -EINVAL, "no path");
    if ((ret = check_model(m, why, why_size)) < 0 ||
        (ret = model_to_json(m, &root, why, why_size)) < 0)
        return ret;
    body = json_dumps(root, DUMP_FLAGS);
    tmp = malloc(strlen(path) + sizeof(".tmp"));
    if (!body || !tmp) {
        ret = avf_why(why, why_size, -ENOMEM, "out of memory");
        goto done;
    }
    /* The body ends with a newline, as a text file does, and the checksum covers it.
     * The newline takes the place of the NUL: body is a length from here on. */
    body_len = strlen(body);
    body[body_len++] = '\n';
    if ((ret = sha256_hex(body, body_len, hex)) < 0) {
        avf_why(why, why_size, ret, "out of memory");
        goto done;
    }
    sprintf(tmp, "%s.tmp", path);
    f = fopen(tmp, "wb");
    if (!f) {
        ret = avf_why(why, why_size, -errno, "%s: %s", tmp, strerror(errno));
        goto done;
    }
    errno = EIO; /* what a short write without an errno reports */
    if (fprintf(f, "%s%d sha256=%s\n", HEADER_MAGIC, AVF_MODEL_FILE_VERSION, hex) < 0 ||
        fwrite(body, 1, body_len, f) != body_len || fflush(f) != 0 || fsync(fileno(f)) < 0) {
        ret = avf_why(why, why_size, -errno, "%s: %s", tmp, strerror(errno));
        fclose(f);
        unlink(tmp);
        goto done;
    }
    if (fclose(f) != 0 || rename(tmp, path) < 0) {
        ret = avf_why(why, why_size, -errno, "%s: %s", path, strerror(errno));
        unlink(tmp);
    }
done:
    free(tmp);
    free(body);
    json_decref(root);
    return ret;
}

/* ---- reading ---- */

static int read_file(const char *path, char **data, size_t *len, char *why, size_t why_size)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t size = 0, cap = 0, got;
    int ret = 0;

    if (!f)
        return avf_why(why, why_size, -errno, "%s: %s", path, strerror(errno));
    do {
        if (size == cap) {
            char *bigger = NULL;

            if (cap >= MAX_FILE_BYTES) {
                ret = avf_why(why, why_size, -EFBIG, "%s: too large for a model file", path);
                break;
            }
            cap = cap ? 2 * cap : 65536;
            if (!(bigger = realloc(buf, cap))) {
                ret = avf_why(why, why_size, -ENOMEM, "%s: out of memory", path);
                break;
            }
            buf = bigger;
        }
        got = fread(buf + size, 1, cap - size, f);
        size += got;
    } while (got > 0);
    if (ret == 0 && ferror(f))
        ret = avf_why(why, why_size, -EIO, "%s: read error", path);
    fclose(f);
    if (ret < 0) {
        free(buf);
        return ret;
    }
    *data = buf;
    *len = size;
    return 0;
}

/* Checks the first line and the checksum; sets *body_off to where the body starts. */
static int check_header(const char *data, size_t len, size_t *body_off, char *why, size_t why_size)
{
    static const char sha_tag[] = " sha256=";
    const size_t magic_len = strlen(HEADER_MAGIC), tag_len = strlen(sha_tag);
    const char *p, *end = data + len, *hex;
    char want[SHA_HEX_LEN + 1];
    size_t digits = 0;
    int ret;

    if (len == 0)
        return avf_why(why, why_size, -EINVAL, "not an avfuse model file: the file is empty");
    if (len < magic_len || memcmp(data, HEADER_MAGIC, magic_len))
        return avf_why(why, why_size, -EINVAL,
                       "not an avfuse model file: the first line is not '" HEADER_MAGIC
                       "%d sha256=...'",
                       AVF_MODEL_FILE_VERSION);
    p = data + magic_len;
    while (p + digits < end && p[digits] >= '0' && p[digits] <= '9')
        digits++;
    if (digits == 0 || digits > 9)
        return avf_why(why, why_size, -EINVAL, "not an avfuse model file: no version after '%s'",
                       HEADER_MAGIC);
    /* the version is read before the rest, which a later version may change */
    if (digits != 1 || p[0] != '0' + AVF_MODEL_FILE_VERSION)
        return avf_why(why, why_size, -EINVAL,
                       "unknown model file version %.*s (this build reads version %d)", (int)digits,
                       p, AVF_MODEL_FILE_VERSION);
    p += digits;
    hex = p + tag_len;
    if ((size_t)(end - p) < tag_len + SHA_HEX_LEN + 1 || memcmp(p, sha_tag, tag_len) ||
        hex[SHA_HEX_LEN] != '\n')
        return avf_why(why, why_size, -EINVAL,
                       "corrupt: the first line is not '" HEADER_MAGIC "%d sha256=<64 hex digits>'",
                       AVF_MODEL_FILE_VERSION);
    for (int i = 0; i < SHA_HEX_LEN; i++)
        if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
            return avf_why(why, why_size, -EINVAL,
                           "corrupt: the checksum is not 64 lowercase hex digits");
    *body_off = (size_t)(hex + SHA_HEX_LEN + 1 - data);
    if ((ret = sha256_hex(data + *body_off, len - *body_off, want)) < 0)
        return avf_why(why, why_size, ret, "out of memory");
    if (memcmp(want, hex, SHA_HEX_LEN))
        return avf_why(why, why_size, -EINVAL,
                       "corrupt: checksum mismatch (the file is truncated or damaged)");
    return 0;
}

static const char *type_name(json_type type)
{
    switch (type) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

/* Refuses keys a v1 file does not have: a misspelt key would else go unnoticed. */
static int only_keys(json_t *o, const char *const *keys, const char *where, char *why,
                     size_t why_size)
{
    const char *key;
    json_t *v;

    json_object_foreach(o, key, v)
    {
        int known = 0;

        for (int i = 0; keys[i] && !known; i++)
            known = !strcmp(key, keys[i]);
        if (!known)
            return avf_why(why, why_size, -EINVAL, "unknown key '%s%s%s'", where,
                           where[0] ? "." : "", key);
    }
    return 0;
}

/* Sets *v to the value of key in o, which must be of the given type (not a number). */
static int get(json_t *o, const char *key, json_type type, const char *where, json_t **v, char *why,
               size_t why_size)
{
    const char *dot = where[0] ? "." : "";

    *v = json_object_get(o, key);
    if (!*v)
        return avf_why(why, why_size, -EINVAL, "missing key '%s%s%s'", where, dot, key);
    if (json_typeof(*v) != type)
        return avf_why(why, why_size, -EINVAL, "'%s%s%s' is %s, expected %s", where, dot, key,
                       type_name(json_typeof(*v)), type_name(type));
    return 0;
}

/*
 * Reads an array of n numbers; against says what n counts, for the message
 * ("features has", "hidden.size is").
 */
static int read_reals(json_t *a, int n, const char *what, const char *against, double *out,
                      char *why, size_t why_size)
{
    if (!json_is_array(a))
        return avf_why(why, why_size, -EINVAL, "'%s' is %s, expected an array", what,
                       type_name(json_typeof(a)));
    if (json_array_size(a) != (size_t)n)
        return avf_why(why, why_size, -EINVAL, "%s has %zu values, %s %d", what, json_array_size(a),
                       against, n);
    for (int i = 0; i < n; i++) {
        json_t *v = json_array_get(a, (size_t)i);

        if (!json_is_number(v))
            return avf_why(why, why_size, -EINVAL, "%s[%d] is %s, expected a number", what, i,
                           type_name(json_typeof(v)));
        out[i] = json_number_value(v);
    }
    return 0;
}

/* Reads an array of strings into *out, a new array of n copies. */
static int read_strings(json_t *a, const char *what, char ***out, char *why, size_t why_size)
{
    size_t n = json_array_size(a);
    const char **s = malloc((n ? n : 1) * sizeof(*s));

    if (!s)
        return avf_why(why, why_size, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(a, i);

        if (!json_is_string(v)) {
            free(s);
            return avf_why(why, why_size, -EINVAL, "%s[%zu] is %s, expected a string", what, i,
                           type_name(json_typeof(v)));
        }
        s[i] = json_string_value(v);
    }
    *out = copy_strings(s, (int)n);
    free(s);
    return *out ? 0 : avf_why(why, why_size, -ENOMEM, "out of memory");
}

/*
 * Reads the "hidden" object of head hd (name already read) into hd->hidden and
 * its arrays. The messages name the head, which is known by now: "head 'content':
 * hidden.weights has 31 rows, hidden.size is 32".
 */
static int hidden_from_json(json_t *o, const char *where, int dim, avf_head *hd, char *why,
                            size_t why_size)
{
    static const char *const keys[] = {"size", "bias", "weights", NULL};
    json_t *size, *bias, *weights;
    char at[48], what[256];
    double h;
    int ret;

    snprintf(at, sizeof(at), "%s.hidden", where);
    if ((ret = only_keys(o, keys, at, why, why_size)) < 0)
        return ret;
    size = json_object_get(o, "size");
    if (!size)
        return avf_why(why, why_size, -EINVAL, "missing key '%s.size'", at);
    if (!json_is_number(size))
        return avf_why(why, why_size, -EINVAL, "'%s.size' is %s, expected a number", at,
                       type_name(json_typeof(size)));
    h = json_number_value(size);
    if (!(h >= 1 && h <= MAX_DIM) || h != floor(h))
        return avf_why(why, why_size, -EINVAL,
                       "head '%s': hidden.size is %.17g, expected a whole number from 1 to %d",
                       hd->name, h, MAX_DIM);
    if ((ret = get(o, "bias", JSON_ARRAY, at, &bias, why, why_size)) < 0 ||
        (ret = get(o, "weights", JSON_ARRAY, at, &weights, why, why_size)) < 0)
        return ret;
    hd->hidden = (int)h;
    /* the counts are checked against the file before hidden x dim values are allocated */
    if (json_array_size(weights) != (size_t)hd->hidden)
        return avf_why(why, why_size, -EINVAL,
                       "head '%s': hidden.weights has %zu rows, "
                       "hidden.size is %d",
                       hd->name, json_array_size(weights), hd->hidden);
    if (json_array_size(bias) != (size_t)hd->hidden)
        return avf_why(why, why_size, -EINVAL,
                       "head '%s': hidden.bias has %zu values, hidden.size is %d", hd->name,
                       json_array_size(bias), hd->hidden);
    hd->hidden_bias = malloc((size_t)hd->hidden * sizeof(*hd->hidden_bias));
    hd->hidden_weights = malloc((size_t)hd->hidden * (size_t)dim * sizeof(*hd->hidden_weights));
    if (!hd->hidden_bias || !hd->hidden_weights)
        return avf_why(why, why_size, -ENOMEM, "out of memory");
    snprintf(what, sizeof(what), "head '%s': hidden.bias", hd->name);
    if ((ret = read_reals(bias, hd->hidden, what, "hidden.size is", hd->hidden_bias, why,
                          why_size)) < 0)
        return ret;
    for (int r = 0; r < hd->hidden; r++) {
        snprintf(what, sizeof(what), "head '%s': hidden.weights[%d]", hd->name, r);
        if ((ret = read_reals(json_array_get(weights, (size_t)r), dim, what, "features has",
                              hd->hidden_weights + (size_t)r * dim, why, why_size)) < 0)
            return ret;
    }
    return 0;
}

static int head_from_json(json_t *o, int index, int dim, avf_head *hd, char *why, size_t why_size)
{
    static const char *const keys[] = {"name",   "type",      "outputs",
                                       "hidden", "smoothing", "smoothing_restart",
                                       "bias",   "weights",   NULL};
    json_t *name, *type, *outputs, *hidden = NULL, *smoothing = NULL, *restart = NULL, *bias,
                                   *weights;
    char where[32], what[64];
    size_t n;
    int in = dim, ret;

    snprintf(where, sizeof(where), "heads[%d]", index);
    if (!json_is_object(o))
        return avf_why(why, why_size, -EINVAL, "'%s' is %s, expected an object", where,
                       type_name(json_typeof(o)));
    if ((ret = only_keys(o, keys, where, why, why_size)) < 0 ||
        (ret = get(o, "name", JSON_STRING, where, &name, why, why_size)) < 0 ||
        (ret = get(o, "type", JSON_STRING, where, &type, why, why_size)) < 0 ||
        (ret = get(o, "outputs", JSON_ARRAY, where, &outputs, why, why_size)) < 0 ||
        (ret = get(o, "bias", JSON_ARRAY, where, &bias, why, why_size)) < 0 ||
        (ret = get(o, "weights", JSON_ARRAY, where, &weights, why, why_size)) < 0)
        return ret;
    if (json_object_get(o, "hidden") &&
        (ret = get(o, "hidden", JSON_OBJECT, where, &hidden, why, why_size)) < 0)
        return ret;
    if (json_object_get(o, "smoothing") &&
        (ret = get(o, "smoothing", JSON_ARRAY, where, &smoothing, why, why_size)) < 0)
        return ret;
    if ((restart = json_object_get(o, "smoothing_restart"))) {
        /* the range is check_head()'s, after parsing */
        if (!json_is_number(restart))
            return avf_why(why, why_size, -EINVAL,
                           "'%s.smoothing_restart' is %s, expected a number", where,
                           type_name(json_typeof(restart)));
        hd->smoothing_restart = json_number_value(restart);
    }
    if (!strcmp(json_string_value(type), "logistic"))
        hd->type = AVF_HEAD_LOGISTIC;
    else if (!strcmp(json_string_value(type), "softmax"))
        hd->type = AVF_HEAD_SOFTMAX;
    else
        return avf_why(why, why_size, -EINVAL,
                       "%s.type is '%s', unknown head type (expected 'logistic' or 'softmax')",
                       where, json_string_value(type));
    n = json_array_size(outputs);
    if (n == 0)
        return avf_why(why, why_size, -EINVAL, "%s ('%s') has no outputs", where,
                       json_string_value(name));
    if (n > MAX_DIM)
        return avf_why(why, why_size, -EINVAL, "%s has %zu outputs", where, n);
    if (!(hd->name = strdup(json_string_value(name))))
        return avf_why(why, why_size, -ENOMEM, "out of memory");
    snprintf(what, sizeof(what), "%s.outputs", where);
    if ((ret = read_strings(outputs, what, &hd->outputs, why, why_size)) < 0)
        return ret;
    hd->nb_outputs = (int)n;
    if (hidden) {
        if ((ret = hidden_from_json(hidden, where, dim, hd, why, why_size)) < 0)
            return ret;
        in = hd->hidden;
    }
    if (smoothing) {
        /* the range is check_head()'s, after parsing */
        if (!(hd->smoothing = malloc(n * sizeof(*hd->smoothing))))
            return avf_why(why, why_size, -ENOMEM, "out of memory");
        snprintf(what, sizeof(what), "%s.smoothing", where);
        if ((ret = read_reals(smoothing, (int)n, what, "outputs has", hd->smoothing, why,
                              why_size)) < 0)
            return ret;
    }
    hd->bias = malloc(n * sizeof(*hd->bias));
    hd->weights = malloc(n * (size_t)in * sizeof(*hd->weights));
    if (!hd->bias || !hd->weights)
        return avf_why(why, why_size, -ENOMEM, "out of memory");
    snprintf(what, sizeof(what), "%s.bias", where);
    if ((ret = read_reals(bias, (int)n, what, "outputs has", hd->bias, why, why_size)) < 0)
        return ret;
    if (json_array_size(weights) != n)
        return avf_why(why, why_size, -EINVAL, "%s.weights has %zu rows, outputs has %zu", where,
                       json_array_size(weights), n);
    for (size_t r = 0; r < n; r++) {
        snprintf(what, sizeof(what), "%s.weights[%zu]", where, r);
        if ((ret = read_reals(json_array_get(weights, r), in, what,
                              hd->hidden > 0 ? "hidden.size is" : "features has",
                              hd->weights + r * (size_t)in, why, why_size)) < 0)
            return ret;
    }
    return 0;
}

/* Fills the empty model m from the body: structure only, check_model() does the rest. */
static int model_from_json(json_t *root, avf_model *m, char *why, size_t why_size)
{
    static const char *const keys[] = {"format", "name",     "features", "normalization",
                                       "heads",  "training", NULL};
    static const char *const norm_keys[] = {"mean", "std", NULL};
    json_t *format, *name, *features, *norm, *mean, *std, *heads, *training;
    size_t n;
    int ret;

    if (!json_is_object(root))
        return avf_why(why, why_size, -EINVAL, "the body is %s, expected an object",
                       type_name(json_typeof(root)));
    if ((ret = get(root, "format", JSON_STRING, "", &format, why, why_size)) < 0)
        return ret;
    if (strcmp(json_string_value(format), AVF_MODEL_FORMAT))
        return avf_why(why, why_size, -EINVAL, "format is '%s', expected '%s'",
                       json_string_value(format), AVF_MODEL_FORMAT);
    if ((ret = only_keys(root, keys, "", why, why_size)) < 0 ||
        (ret = get(root, "name", JSON_STRING, "", &name, why, why_size)) < 0 ||
        (ret = get(root, "features", JSON_ARRAY, "", &features, why, why_size)) < 0 ||
        (ret = get(root, "normalization", JSON_OBJECT, "", &norm, why, why_size)) < 0 ||
        (ret = only_keys(norm, norm_keys, "normalization", why, why_size)) < 0 ||
        (ret = get(norm, "mean", JSON_ARRAY, "normalization", &mean, why, why_size)) < 0 ||
        (ret = get(norm, "std", JSON_ARRAY, "normalization", &std, why, why_size)) < 0 ||
        (ret = get(root, "heads", JSON_ARRAY, "", &heads, why, why_size)) < 0)
        return ret;
    training = json_object_get(root, "training");
    if (training && !json_is_object(training) && !json_is_null(training))
        return avf_why(why, why_size, -EINVAL, "'training' is %s, expected an object or null",
                       type_name(json_typeof(training)));
    n = json_array_size(features);
    if (n == 0 || n > MAX_DIM)
        return avf_why(why, why_size, -EINVAL, "features has %zu names", n);
    if (!(m->name = strdup(json_string_value(name))))
        return avf_why(why, why_size, -ENOMEM, "out of memory");
    if ((ret = read_strings(features, "features", &m->features, why, why_size)) < 0)
        return ret;
    m->dim = (int)n;
    m->mean = malloc(n * sizeof(*m->mean));
    m->std = malloc(n * sizeof(*m->std));
    if (!m->mean || !m->std)
        return avf_why(why, why_size, -ENOMEM, "out of memory");
    if ((ret = read_reals(mean, m->dim, "normalization.mean", "features has", m->mean, why,
                          why_size)) < 0 ||
        (ret = read_reals(std, m->dim, "normalization.std", "features has", m->std, why,
                          why_size)) < 0)
        return ret;
    n = json_array_size(heads);
    if (n > MAX_DIM)
        return avf_why(why, why_size, -EINVAL, "heads has %zu entries", n);
    if (n > 0 && !(m->heads = calloc(n, sizeof(*m->heads))))
        return avf_why(why, why_size, -ENOMEM, "out of memory");
    m->nb_heads = (int)n;
    for (int h = 0; h < m->nb_heads; h++)
        if ((ret = head_from_json(json_array_get(heads, (size_t)h), h, m->dim, &m->heads[h], why,
                                  why_size)) < 0)
            return ret;
    /* kept as compact text; saving parses it again and indents it with the rest */
    if (json_is_object(training) &&
        !(m->training =
              json_dumps(training, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17))))
        return avf_why(why, why_size, -ENOMEM, "out of memory");
    return 0;
}

int avf_model_load(avf_model **pm, const char *path, char *why, size_t why_size)
{
    avf_model *m = NULL;
    json_t *root = NULL;
    json_error_t jerr;
    char *data = NULL;
    size_t len = 0, body_off = 0;
    int ret;

    if (!pm || !path)
        return avf_why(why, why_size, -EINVAL, "no path");
    if ((ret = read_file(path, &data, &len, why, why_size)) < 0 ||
        (ret = check_header(data, len, &body_off, why, why_size)) < 0)
        goto done;
    root = json_loadb(data + body_off, len - body_off, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        /* jansson counts lines from the body; the file has the header line first */
        ret = avf_why(why, why_size, -EINVAL, "invalid JSON at line %d, column %d: %s",
                      jerr.line > 0 ? jerr.line + 1 : 0, jerr.column, jerr.text);
        goto done;
    }
    if (!(m = calloc(1, sizeof(*m)))) {
        ret = avf_why(why, why_size, -ENOMEM, "out of memory");
        goto done;
    }
    if ((ret = model_from_json(root, m, why, why_size)) < 0 ||
        (ret = check_model(m, why, why_size)) < 0)
        goto done;
    *pm = m;
    m = NULL;
done:
    avf_model_free(&m);
    json_decref(root);
    free(data);
    return ret;
}

int avf_model_check_features(const avf_model *m, const char *const *names, int dim, char *why,
                             size_t why_size)
{
    int common = dim < m->dim ? dim : m->dim;

    /* a name difference says more than the counts: usually one feature was inserted */
    for (int i = 0; i < common; i++)
        if (!names[i] || strcmp(names[i], m->features[i]))
            return avf_why(why, why_size, -EINVAL,
                           "model expects feature %d '%s', the pipeline has '%s'%s", i,
                           m->features[i], names[i] ? names[i] : "(null)",
                           dim != m->dim ? " (and the counts differ)" : "");
    if (dim != m->dim)
        return avf_why(why, why_size, -EINVAL, "model has %d features, the pipeline %d", m->dim,
                       dim);
    return 0;
}

static double sigmoid(double z)
{
    /* exp() of a negative number only: never inf/inf */
    if (z >= 0)
        return 1 / (1 + exp(-z));
    return exp(z) / (1 + exp(z));
}

/*
 * The logits of a head with a hidden layer into out. One hidden unit at a time,
 * each added into every output as soon as it is known: that needs no buffer of
 * hidden values, so apply never allocates whatever the size.
 */
static void mlp_logits(const avf_model *m, const avf_head *hd, const double *x, double *out)
{
    for (int o = 0; o < hd->nb_outputs; o++)
        out[o] = hd->bias[o];
    for (int u = 0; u < hd->hidden; u++) {
        const double *w = hd->hidden_weights + (size_t)u * m->dim;
        double a = hd->hidden_bias[u];

        for (int i = 0; i < m->dim; i++)
            a += w[i] * ((x[i] - m->mean[i]) / m->std[i]);
        a = tanh(a);
        for (int o = 0; o < hd->nb_outputs; o++)
            out[o] += hd->weights[(size_t)o * hd->hidden + u] * a;
    }
}

static void linear_logits(const avf_model *m, const avf_head *hd, const double *x, double *out)
{
    for (int o = 0; o < hd->nb_outputs; o++) {
        const double *w = hd->weights + (size_t)o * m->dim;
        double z = hd->bias[o];

        for (int i = 0; i < m->dim; i++)
            z += w[i] * ((x[i] - m->mean[i]) / m->std[i]);
        out[o] = z;
    }
}

void avf_model_logits(const avf_model *m, int h, const double *x, double *z)
{
    const avf_head *hd = &m->heads[h];

    if (hd->hidden > 0)
        mlp_logits(m, hd, x, z);
    else
        linear_logits(m, hd, x, z);
}

void avf_model_apply(const avf_model *m, int h, const double *x, double *out)
{
    avf_model_logits(m, h, x, out);
    avf_model_activate(m, h, out);
}

void avf_model_activate(const avf_model *m, int h, double *out)
{
    const avf_head *hd = &m->heads[h];
    double max = -INFINITY, sum = 0;

    for (int o = 0; o < hd->nb_outputs; o++)
        if (out[o] > max)
            max = out[o];
    if (hd->type == AVF_HEAD_LOGISTIC) {
        for (int o = 0; o < hd->nb_outputs; o++)
            out[o] = sigmoid(out[o]);
        return;
    }
    /* shifting by the largest logit keeps exp() finite and changes nothing else;
     * when logits overflowed (huge weights), those at the infinite maximum share it
     * all, as the limit would (inf - inf would make every probability NaN) */
    for (int o = 0; o < hd->nb_outputs; o++) {
        out[o] = isinf(max) ? out[o] == max : exp(out[o] - max);
        sum += out[o];
    }
    for (int o = 0; o < hd->nb_outputs; o++)
        out[o] /= sum;
}
