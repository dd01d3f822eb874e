/*
 * fuzz_model.c - the model loader (fusion/model.c) on arbitrary files.
 *
 * The checksum in the first line would stop nearly every mutation there, so an
 * input is one of two things: a whole model file when it starts with
 * "avfuse-model " (the header and checksum checks), else a body that gets a
 * header with its correct SHA-256 in front (the JSON and the model checks).
 *
 * A model that loads must be usable: every head applied to the model's mean
 * vector gives probabilities in [0, 1] (a softmax head's summing to 1), and the
 * model saves and loads back to the same values (the save goes to a new folder of
 * $TMPDIR or /tmp, removed at once).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/mem.h>
#include <libavutil/sha.h>

#include "fusion/model.h"
#include "tests/fuzz/fuzz.h"

/* A new empty folder of $TMPDIR (or /tmp) into dir, for one save; 0 or -1. */
static int make_save_dir(char *dir, size_t size)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(dir, size, "%s/avfuse-fuzz-model-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    return mkdtemp(dir) ? 0 : -1;
}

/* "avfuse-model 1 sha256=<hex>\n" + body, in a new buffer. */
static char *with_header(const uint8_t *body, size_t size, size_t *len)
{
    struct AVSHA *sha = av_sha_alloc();
    uint8_t digest[32];
    char head[128], *out;
    int n;

    if (!sha)
        return NULL;
    av_sha_init(sha, 256);
    av_sha_update(sha, body, size);
    av_sha_final(sha, digest);
    av_free(sha);
    n = snprintf(head, sizeof(head), "avfuse-model %d sha256=", AVF_MODEL_FILE_VERSION);
    for (int i = 0; i < 32; i++)
        n += snprintf(head + n, sizeof(head) - (size_t)n, "%02x", digest[i]);
    head[n++] = '\n';
    out = malloc((size_t)n + size);
    if (!out)
        return NULL;
    memcpy(out, head, (size_t)n);
    if (size)
        memcpy(out + n, body, size);
    *len = (size_t)n + size;
    return out;
}

static void check_usable(const avf_model *m)
{
    double out[4096];

    FUZZ_ASSERT(m->dim >= 1 && m->nb_heads >= 0);
    for (int h = 0; h < m->nb_heads; h++) {
        const avf_head *hd = &m->heads[h];
        double sum = 0;

        FUZZ_ASSERT(avf_model_find_head(m, hd->name) == h);
        if (hd->nb_outputs > (int)(sizeof(out) / sizeof(out[0])))
            continue;
        avf_model_apply(m, h, m->mean, out);
        for (int o = 0; o < hd->nb_outputs; o++) {
            FUZZ_ASSERT(out[o] >= 0 && out[o] <= 1);
            sum += out[o];
        }
        if (hd->type == AVF_HEAD_SOFTMAX)
            FUZZ_ASSERT(fabs(sum - 1) < 1e-6);
    }
}

static int same_reals(const double *a, const double *b, size_t n)
{
    return (!a && !b) || (a && b && (n == 0 || !memcmp(a, b, n * sizeof(*a))));
}

static void check_round_trip(const avf_model *m)
{
    avf_model *back = NULL;
    char dir[300], path[320], why[512];
    int saved, loaded;

    if (make_save_dir(dir, sizeof(dir)) < 0)
        return;
    snprintf(path, sizeof(path), "%s/m.model", dir);
    saved = avf_model_save(m, path, why, sizeof(why));
    loaded = saved == 0 ? avf_model_load(&back, path, why, sizeof(why)) : -1;
    unlink(path);
    rmdir(dir);
    FUZZ_ASSERT(saved == 0 && loaded == 0);
    FUZZ_ASSERT(back->dim == m->dim && back->nb_heads == m->nb_heads);
    FUZZ_ASSERT(!strcmp(back->name, m->name));
    for (int i = 0; i < m->dim; i++)
        FUZZ_ASSERT(!strcmp(back->features[i], m->features[i]));
    FUZZ_ASSERT(same_reals(back->mean, m->mean, (size_t)m->dim));
    FUZZ_ASSERT(same_reals(back->std, m->std, (size_t)m->dim));
    for (int h = 0; h < m->nb_heads; h++) {
        const avf_head *a = &m->heads[h], *b = &back->heads[h];
        size_t in = (size_t)(a->hidden > 0 ? a->hidden : m->dim);

        FUZZ_ASSERT(!strcmp(a->name, b->name) && a->type == b->type);
        FUZZ_ASSERT(a->nb_outputs == b->nb_outputs && a->hidden == b->hidden);
        FUZZ_ASSERT(same_reals(a->bias, b->bias, (size_t)a->nb_outputs));
        FUZZ_ASSERT(same_reals(a->weights, b->weights, (size_t)a->nb_outputs * in));
        FUZZ_ASSERT(same_reals(a->hidden_bias, b->hidden_bias, (size_t)a->hidden));
        FUZZ_ASSERT(same_reals(a->smoothing, b->smoothing, (size_t)a->nb_outputs));
        FUZZ_ASSERT(
            same_reals(a->hidden_weights, b->hidden_weights, (size_t)a->hidden * (size_t)m->dim));
    }
    FUZZ_ASSERT((!m->training) == (!back->training));
    avf_model_free(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char magic[] = "avfuse-model ";
    static int ready;
    avf_model *m = NULL;
    char *file = NULL, path[64], why[512];
    size_t len = size;
    int fd, ret;

    if (!ready) {
        fuzz_quiet();
        ready = 1;
    }
    if (size < strlen(magic) || memcmp(data, magic, strlen(magic))) {
        file = with_header(data, size, &len);
        if (!file)
            return 0;
    }
    fd = fuzz_memfile(file ? file : (const char *)data, len, path, sizeof(path));
    free(file);
    if (fd < 0)
        return 0;
    memset(why, 'x', sizeof(why));
    ret = avf_model_load(&m, path, why, sizeof(why));
    close(fd);
    if (ret < 0) {
        FUZZ_ASSERT(!m && memchr(why, 0, sizeof(why)));
        return 0;
    }
    check_usable(m);
    check_round_trip(m);
    avf_model_free(&m);
    return 0;
}
