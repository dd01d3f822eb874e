/*
 * test_model.c - the model file: an exact round trip (every double, and the same
 * bytes when saved again), refusal of every kind of bad file with a reason that
 * names the problem, the feature check against the pipeline, and applying heads
 * against a computation done by hand; the same for heads with a hidden layer,
 * whose key a linear head's file does not have.
 *
 * Bad bodies are made by editing a good one with jansson and writing it back with
 * a correct checksum, so that each case reaches the check it is meant for.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <libavutil/mem.h>
#include <libavutil/sha.h>

#include "fusion/model.h"

#define DIM 4

static const char *const feature_names[DIM] = {"audio.rms_dbfs", "audio.zcr", "audio.centroid_hz",
                                               "video.motion"};

typedef struct fixture {
    char dir[64];
    char path[128]; /* the model file each test works on */
    char why[256];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/avf_test_model.XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/model.json", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    DIR *d = opendir(f->dir);
    struct dirent *e;
    char path[384];

    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", f->dir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* splitmix64, for doubles that use every bit of the mantissa */
static double next_double(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return ((double)(z >> 11) / 9007199254740992.0 - 0.5) * 20;
}

/* Two heads whose values need all 17 digits to round-trip, and awkward normalization. */
static avf_model *make_model(void)
{
    static const char *const content[] = {"speech", "music", "noise", "silence"};
    static const char *const valence[] = {"negative", "neutral", "positive"};
    avf_model *m = avf_model_new(DIM, feature_names, "default-1");
    uint64_t seed = 42;

    assert_non_null(m);
    m->mean[0] = -23.456789012345678;
    m->mean[1] = 0.1;
    m->mean[2] = 1e-300;
    m->mean[3] = -0.0;
    m->std[0] = 1.0 / 3;
    m->std[1] = 7e5;
    m->std[2] = M_PI;
    m->std[3] = 4.9406564584124654e-324; /* the smallest subnormal: still > 0 */
    assert_int_equal(avf_model_add_head(m, "content", AVF_HEAD_LOGISTIC, 4, content), 0);
    assert_int_equal(avf_model_add_head(m, "valence", AVF_HEAD_SOFTMAX, 3, valence), 1);
    for (int h = 0; h < m->nb_heads; h++) {
        for (int i = 0; i < m->heads[h].nb_outputs * DIM; i++)
            m->heads[h].weights[i] = next_double(&seed);
        for (int o = 0; o < m->heads[h].nb_outputs; o++)
            m->heads[h].bias[o] = next_double(&seed) * 1e-12;
    }
    m->training = strdup("{\"rows\": 50000, \"sources\": [\"a\", \"b\"], \"split\": 0.1, "
                         "\"per_class\": {\"speech\": 12000}}");
    assert_non_null(m->training);
    return m;
}

/*
 * A model with heads of both kinds: content with a hidden layer of 32 units and
 * smoothing weights, a linear valence head between, and a softmax arousal head
 * with 2 hidden units.
 */
static avf_model *make_mlp_model(void)
{
    static const char *const content[] = {"speech", "music", "noise", "silence"};
    static const char *const three[] = {"low", "medium", "high"};
    avf_model *m = avf_model_new(DIM, feature_names, "mlp-1");
    uint64_t seed = 4242;

    assert_non_null(m);
    for (int i = 0; i < DIM; i++) {
        m->mean[i] = next_double(&seed);
        m->std[i] = 1 + fabs(next_double(&seed));
    }
    assert_int_equal(avf_model_add_mlp_head(m, "content", AVF_HEAD_LOGISTIC, 4, content, 32), 0);
    assert_int_equal(avf_model_add_head(m, "valence", AVF_HEAD_SOFTMAX, 3, three), 1);
    assert_int_equal(avf_model_add_mlp_head(m, "arousal", AVF_HEAD_SOFTMAX, 3, three, 2), 2);
    for (int h = 0; h < m->nb_heads; h++) {
        avf_head *hd = &m->heads[h];
        int in = hd->hidden ? hd->hidden : DIM;

        for (int i = 0; i < hd->hidden * DIM; i++)
            hd->hidden_weights[i] = next_double(&seed);
        for (int u = 0; u < hd->hidden; u++)
            hd->hidden_bias[u] = next_double(&seed) * 1e-3;
        for (int i = 0; i < hd->nb_outputs * in; i++)
            hd->weights[i] = next_double(&seed);
        for (int o = 0; o < hd->nb_outputs; o++)
            hd->bias[o] = next_double(&seed);
    }
    assert_int_equal(avf_model_set_smoothing(m, 0, (double[]){0.5, 0.25, 0.5, 0}), 0);
    m->heads[0].smoothing_restart = 2.5;
    return m;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf;
    long size;

    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, fp), (size_t)size);
    buf[size] = '\0';
    fclose(fp);
    *len = (size_t)size;
    return buf;
}

static void write_all(const char *path, const char *data, size_t len)
{
    FILE *fp = fopen(path, "wb");

    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    fclose(fp);
}

/* Writes body behind a header with its correct checksum. */
static void write_with_checksum(const char *path, const char *body)
{
    struct AVSHA *sha = av_sha_alloc();
    uint8_t digest[32];
    FILE *fp = fopen(path, "wb");

    assert_non_null(sha);
    assert_non_null(fp);
    av_sha_init(sha, 256);
    av_sha_update(sha, (const uint8_t *)body, strlen(body));
    av_sha_final(sha, digest);
    av_free(sha);
    fprintf(fp, "avfuse-model 1 sha256=");
    for (int i = 0; i < 32; i++)
        fprintf(fp, "%02x", digest[i]);
    fprintf(fp, "\n%s", body);
    fclose(fp);
}

static void assert_models_equal(const avf_model *a, const avf_model *b)
{
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->dim, b->dim);
    for (int i = 0; i < a->dim; i++)
        assert_string_equal(a->features[i], b->features[i]);
    /* bits, not values: -0.0 and subnormals must survive too */
    assert_memory_equal(a->mean, b->mean, (size_t)a->dim * sizeof(double));
    assert_memory_equal(a->std, b->std, (size_t)a->dim * sizeof(double));
    assert_int_equal(a->nb_heads, b->nb_heads);
    for (int h = 0; h < a->nb_heads; h++) {
        const avf_head *x = &a->heads[h], *y = &b->heads[h];

        assert_string_equal(x->name, y->name);
        assert_int_equal(x->type, y->type);
        assert_int_equal(x->nb_outputs, y->nb_outputs);
        for (int o = 0; o < x->nb_outputs; o++)
            assert_string_equal(x->outputs[o], y->outputs[o]);
        assert_int_equal(x->hidden, y->hidden);
        assert_memory_equal(x->weights, y->weights,
                            (size_t)x->nb_outputs * (size_t)(x->hidden ? x->hidden : a->dim) *
                                sizeof(double));
        assert_memory_equal(x->bias, y->bias, (size_t)x->nb_outputs * sizeof(double));
        assert_memory_equal(&x->smoothing_restart, &y->smoothing_restart, sizeof(double));
        if (x->smoothing)
            assert_memory_equal(x->smoothing, y->smoothing, (size_t)x->nb_outputs * sizeof(double));
        else
            assert_null(y->smoothing);
        if (x->hidden == 0) {
            assert_null(y->hidden_weights);
            assert_null(y->hidden_bias);
            continue;
        }
        assert_memory_equal(x->hidden_weights, y->hidden_weights,
                            (size_t)x->hidden * (size_t)a->dim * sizeof(double));
        assert_memory_equal(x->hidden_bias, y->hidden_bias, (size_t)x->hidden * sizeof(double));
    }
}

static void test_round_trip_exact(void **state)
{
    fixture *f = *state;
    avf_model *m = make_model(), *back = NULL, *back2 = NULL;
    char path2[192], tmp[192];
    char *bytes1, *bytes2;
    size_t len1, len2;
    json_t *training;

    assert_int_equal(avf_model_save(m, f->path, f->why, sizeof(f->why)), 0);
    snprintf(tmp, sizeof(tmp), "%s.tmp", f->path);
    assert_int_equal(access(tmp, F_OK), -1); /* renamed into place */
    assert_int_equal(avf_model_load(&back, f->path, f->why, sizeof(f->why)), 0);
    assert_non_null(back);
    assert_models_equal(m, back);
    training = json_loads(back->training, 0, NULL);
    assert_non_null(training);
    assert_int_equal(json_integer_value(json_object_get(training, "rows")), 50000);
    assert_float_equal(json_real_value(json_object_get(training, "split")), 0.1, 0);
    json_decref(training);

    /* the loaded model saves to the same bytes, and so does the original again */
    snprintf(path2, sizeof(path2), "%s/again.json", f->dir);
    assert_int_equal(avf_model_save(back, path2, f->why, sizeof(f->why)), 0);
    bytes1 = read_all(f->path, &len1);
    bytes2 = read_all(path2, &len2);
    assert_int_equal(len1, len2);
    assert_memory_equal(bytes1, bytes2, len1);
    free(bytes2);
    assert_int_equal(avf_model_save(m, path2, f->why, sizeof(f->why)), 0);
    bytes2 = read_all(path2, &len2);
    assert_int_equal(len1, len2);
    assert_memory_equal(bytes1, bytes2, len1);

    /* the documented layout: header line, then the body's keys in order */
    assert_int_equal(strncmp(bytes1, "avfuse-model 1 sha256=", 22), 0);
    assert_int_equal(strspn(bytes1 + 22, "0123456789abcdef"), 64);
    assert_true(bytes1[86] == '\n' && bytes1[87] == '{');
    assert_true(strstr(bytes1, "\"format\"") < strstr(bytes1, "\"name\""));
    assert_true(strstr(bytes1, "\"features\"") < strstr(bytes1, "\"normalization\""));
    assert_true(strstr(bytes1, "\"heads\"") < strstr(bytes1, "\"training\""));
    assert_non_null(strstr(bytes1, "\"type\": \"softmax\""));
    assert_true(bytes1[len1 - 1] == '\n');
    free(bytes1);
    free(bytes2);

    /* a model without training data saves "training": null and loads back NULL */
    free(back->training);
    back->training = NULL;
    assert_int_equal(avf_model_save(back, path2, f->why, sizeof(f->why)), 0);
    assert_int_equal(avf_model_load(&back2, path2, f->why, sizeof(f->why)), 0);
    assert_null(back2->training);
    assert_models_equal(back, back2);
    avf_model_free(&back2);
    avf_model_free(&back);
    avf_model_free(&m);
    assert_null(m);
    avf_model_free(&m); /* a second free is harmless */
    avf_model_free(NULL);
}

static void test_mlp_round_trip_exact(void **state)
{
    fixture *f = *state;
    avf_model *m = make_mlp_model(), *back = NULL;
    char path2[192];
    char *bytes1, *bytes2, *content, *valence, *arousal, *smoothing;
    size_t len1, len2;

    assert_int_equal(avf_model_save(m, f->path, f->why, sizeof(f->why)), 0);
    assert_int_equal(avf_model_load(&back, f->path, f->why, sizeof(f->why)), 0);
    assert_models_equal(m, back);
    snprintf(path2, sizeof(path2), "%s/again.json", f->dir);
    assert_int_equal(avf_model_save(back, path2, f->why, sizeof(f->why)), 0);
    bytes1 = read_all(f->path, &len1);
    bytes2 = read_all(path2, &len2);
    assert_int_equal(len1, len2);
    assert_memory_equal(bytes1, bytes2, len1);

    /* "hidden" sits between "outputs" and "bias" of the heads that have one, only */
    content = strstr(bytes1, "\"content\"");
    valence = strstr(bytes1, "\"valence\"");
    arousal = strstr(bytes1, "\"arousal\"");
    assert_true(content && valence && arousal && content < valence && valence < arousal);
    assert_true(strstr(content, "\"outputs\"") < strstr(content, "\"hidden\""));
    assert_true(strstr(content, "\"hidden\"") < strstr(content, "\"size\": 32,"));
    assert_true(strstr(content, "\"size\": 32,") < strstr(content, "\"bias\""));
    /* "smoothing" after "hidden" and before "bias", in the head that has it only */
    assert_true(strstr(content, "\"hidden\"") < strstr(content, "\"smoothing\""));
    smoothing = strstr(content, "\"smoothing\"");
    assert_true(strstr(smoothing, "\"bias\"") < strstr(smoothing, "\"weights\""));
    /* "smoothing_restart" right after "smoothing", only where it is not 0 */
    assert_non_null(strstr(smoothing, "\"smoothing_restart\": 2.5,"));
    assert_true(strstr(smoothing, "\"smoothing_restart\"") < strstr(smoothing, "\"bias\""));
    assert_true(strstr(bytes1, "\"smoothing_restart\"") < valence);
    assert_null(strstr(valence, "\"smoothing_restart\""));
    assert_true(strstr(content, "\"smoothing\"") < valence);
    assert_null(strstr(valence, "\"smoothing\""));
    assert_true(strstr(valence, "\"hidden\"") > arousal); /* the next one is arousal's */
    assert_true(strstr(arousal, "\"hidden\"") < strstr(arousal, "\"size\": 2,"));
    free(bytes1);
    free(bytes2);
    avf_model_free(&back);
    avf_model_free(&m);
}

/* Loads f->path expecting a refusal whose reason contains needle; *pm stays put. */
static void assert_refused(fixture *f, int expect, const char *needle)
{
    avf_model *m = NULL;
    int ret;

    f->why[0] = '\0';
    ret = avf_model_load(&m, f->path, f->why, sizeof(f->why));
    if (ret != expect || !strstr(f->why, needle))
        print_error("load gave %d '%s', wanted %d and '%s'\n", ret, f->why, expect, needle);
    assert_int_equal(ret, expect);
    assert_null(m);
    assert_non_null(strstr(f->why, needle));
    assert_null(strchr(f->why, '\n')); /* one line */
}

static void test_refuses_missing_empty_and_text_files(void **state)
{
    fixture *f = *state;

    assert_refused(f, -ENOENT, "No such file");
    assert_non_null(strstr(f->why, f->path)); /* says which file */
    write_all(f->path, "", 0);
    assert_refused(f, -EINVAL, "not an avfuse model file");
    write_all(f->path, "speech 0.9\nmusic 0.1\n", 21);
    assert_refused(f, -EINVAL, "not an avfuse model file");
    write_all(f->path, "\x89PNG\r\n\x1a\n\0\0\0", 11);
    assert_refused(f, -EINVAL, "not an avfuse model file");
    /* and a NULL why is allowed */
    {
        avf_model *m = NULL;

        assert_int_equal(avf_model_load(&m, f->path, NULL, 0), -EINVAL);
    }
}

static void test_refuses_wrong_header(void **state)
{
    static const char sha[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    fixture *f = *state;
    char text[256];

    snprintf(text, sizeof(text), "avfuse-model 2 sha256=%s\n{}\n", sha);
    write_all(f->path, text, strlen(text));
    assert_refused(f, -EINVAL, "unknown model file version 2");
    snprintf(text, sizeof(text), "avfuse-model 10 whatever the future holds\n");
    write_all(f->path, text, strlen(text));
    assert_refused(f, -EINVAL, "unknown model file version 10");
    snprintf(text, sizeof(text), "avfuse-model one sha256=%s\n{}\n", sha);
    write_all(f->path, text, strlen(text));
    assert_refused(f, -EINVAL, "not an avfuse model file");
    snprintf(text, sizeof(text), "avfuse-model 1 md5=%s\n{}\n", sha);
    write_all(f->path, text, strlen(text));
    assert_refused(f, -EINVAL, "first line");
    snprintf(text, sizeof(text), "avfuse-model 1 sha256=%.60s\n{}\n", sha); /* short hash */
    write_all(f->path, text, strlen(text));
    assert_refused(f, -EINVAL, "first line");
    snprintf(text, sizeof(text), "avfuse-model 1 sha256=%.63sG\n{}\n", sha);
    write_all(f->path, text, strlen(text));
    assert_refused(f, -EINVAL, "hex");
    snprintf(text, sizeof(text), "AVFUSE-MODEL 1 sha256=%s\n{}\n", sha);
    write_all(f->path, text, strlen(text));
    assert_refused(f, -EINVAL, "not an avfuse model file");
}

static void test_refuses_truncated_and_flipped(void **state)
{
    fixture *f = *state;
    avf_model *m = make_model();
    size_t len, cuts[8];
    char *good;

    assert_int_equal(avf_model_save(m, f->path, f->why, sizeof(f->why)), 0);
    avf_model_free(&m);
    good = read_all(f->path, &len);
    /* inside the header: a broken first line */
    cuts[0] = 5;
    cuts[1] = 40;
    cuts[2] = 86; /* just before the header's newline */
    for (int i = 0; i < 3; i++) {
        write_all(f->path, good, cuts[i]);
        assert_refused(f, -EINVAL, cuts[i] < 13 ? "not an avfuse model file" : "first line");
    }
    /* inside the body: the checksum catches it, even where the JSON would still parse */
    cuts[0] = 87;
    cuts[1] = 88;
    cuts[2] = len / 3;
    cuts[3] = len / 2;
    cuts[4] = len - 2;
    cuts[5] = len - 1; /* only the final newline: the JSON alone would be fine */
    for (int i = 0; i < 6; i++) {
        write_all(f->path, good, cuts[i]);
        assert_refused(f, -EINVAL, "corrupt: checksum mismatch");
    }
    /* one flipped bit anywhere in the body */
    for (size_t pos = 87; pos < len; pos += len / 7) {
        good[pos] ^= 0x01;
        write_all(f->path, good, len);
        assert_refused(f, -EINVAL, "corrupt: checksum mismatch");
        good[pos] ^= 0x01;
    }
    /* or in the checksum itself */
    good[30] = good[30] == 'a' ? 'b' : 'a';
    write_all(f->path, good, len);
    assert_refused(f, -EINVAL, "corrupt: checksum mismatch");
    /* an extra byte at the end */
    good[30] = good[30] == 'a' ? 'b' : 'a';
    write_all(f->path, good, len);
    {
        FILE *fp = fopen(f->path, "ab");

        assert_non_null(fp);
        fputc(' ', fp);
        fclose(fp);
    }
    assert_refused(f, -EINVAL, "corrupt: checksum mismatch");
    free(good);
}

/* The body of a good model file, parsed, for a test to damage. */
static json_t *good_body(fixture *f)
{
    avf_model *m = make_model();
    json_error_t err;
    size_t len;
    char *text;
    json_t *root;

    assert_int_equal(avf_model_save(m, f->path, f->why, sizeof(f->why)), 0);
    avf_model_free(&m);
    text = read_all(f->path, &len);
    root = json_loads(strchr(text, '\n') + 1, 0, &err);
    free(text);
    assert_non_null(root);
    return root;
}

/* Writes the damaged body with a valid checksum, expects a refusal, frees root. */
static void assert_body_refused(fixture *f, json_t *root, const char *needle)
{
    char *body = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17) |
                                      JSON_ENCODE_ANY);

    assert_non_null(body);
    write_with_checksum(f->path, body);
    free(body);
    json_decref(root);
    assert_refused(f, -EINVAL, needle);
}

static json_t *good_mlp_body(fixture *f)
{
    avf_model *m = make_mlp_model();
    size_t len;
    char *text;
    json_t *root;

    assert_int_equal(avf_model_save(m, f->path, f->why, sizeof(f->why)), 0);
    avf_model_free(&m);
    text = read_all(f->path, &len);
    root = json_loads(strchr(text, '\n') + 1, 0, NULL);
    free(text);
    assert_non_null(root);
    return root;
}

static json_t *head0(json_t *root)
{
    return json_array_get(json_object_get(root, "heads"), 0);
}

static json_t *norm_array(json_t *root, const char *key)
{
    return json_object_get(json_object_get(root, "normalization"), key);
}

static void test_refuses_bad_json(void **state)
{
    fixture *f = *state;
    json_t *root;

    write_with_checksum(f->path, "{\n \"format\": \"avfuse.model.v1\",\n \"name\": }\n");
    assert_refused(f, -EINVAL,
                   "invalid JSON at line 4, column 10"); /* file lines: the header is 1 */
    write_with_checksum(f->path, "{\"format\": \"avfuse.model.v1\", \"format\": \"x\"}");
    assert_refused(f, -EINVAL, "invalid JSON"); /* duplicate keys are ambiguous */
    write_with_checksum(f->path, "");
    assert_refused(f, -EINVAL, "invalid JSON");
    assert_body_refused(f, json_array(), "the body is an array, expected an object");

    root = good_body(f);
    json_object_set_new(root, "format", json_string("avfuse.model.v2"));
    assert_body_refused(f, root, "format is 'avfuse.model.v2', expected 'avfuse.model.v1'");
    root = good_body(f);
    json_object_del(root, "format");
    assert_body_refused(f, root, "missing key 'format'");
}

static void test_refuses_wrong_types(void **state)
{
    fixture *f = *state;
    json_t *root;

    root = good_body(f);
    json_object_set_new(root, "features", json_string("audio.rms_dbfs"));
    assert_body_refused(f, root, "'features' is a string, expected an array");
    root = good_body(f);
    json_object_set_new(root, "name", json_integer(1));
    assert_body_refused(f, root, "'name' is a number, expected a string");
    root = good_body(f);
    json_object_del(root, "heads");
    assert_body_refused(f, root, "missing key 'heads'");
    root = good_body(f);
    json_object_del(json_object_get(root, "normalization"), "std");
    assert_body_refused(f, root, "missing key 'normalization.std'");
    root = good_body(f);
    json_array_set_new(norm_array(root, "mean"), 1, json_string("0.1"));
    assert_body_refused(f, root, "normalization.mean[1] is a string, expected a number");
    root = good_body(f);
    json_array_set_new(json_object_get(root, "features"), 2, json_null());
    assert_body_refused(f, root, "features[2] is null, expected a string");
    root = good_body(f);
    json_object_set_new(head0(root), "outputs", json_object());
    assert_body_refused(f, root, "'heads[0].outputs' is an object, expected an array");
    root = good_body(f);
    json_array_set_new(json_object_get(head0(root), "weights"), 1, json_real(1));
    assert_body_refused(f, root, "'heads[0].weights[1]' is a number, expected an array");
    root = good_body(f);
    json_object_set_new(root, "training", json_string("50000 rows"));
    assert_body_refused(f, root, "'training' is a string, expected an object or null");
    root = good_body(f);
    json_object_set_new(root, "normalisation", json_object());
    assert_body_refused(f, root, "unknown key 'normalisation'");
    root = good_body(f);
    json_object_set_new(head0(root), "activation", json_string("relu"));
    assert_body_refused(f, root, "unknown key 'heads[0].activation'");
}

static void test_refuses_mismatched_lengths(void **state)
{
    fixture *f = *state;
    json_t *root;

    root = good_body(f);
    json_array_remove(norm_array(root, "mean"), 0);
    assert_body_refused(f, root, "normalization.mean has 3 values, features has 4");
    root = good_body(f);
    json_array_append_new(norm_array(root, "std"), json_real(1));
    assert_body_refused(f, root, "normalization.std has 5 values, features has 4");
    root = good_body(f);
    json_array_remove(json_array_get(json_object_get(head0(root), "weights"), 2), 3);
    assert_body_refused(f, root, "heads[0].weights[2] has 3 values, features has 4");
    root = good_body(f);
    json_array_remove(json_object_get(head0(root), "weights"), 0);
    assert_body_refused(f, root, "heads[0].weights has 3 rows, outputs has 4");
    root = good_body(f);
    json_array_remove(json_object_get(head0(root), "bias"), 0);
    assert_body_refused(f, root, "heads[0].bias has 3 values, outputs has 4");
    root = good_body(f);
    json_array_append_new(json_object_get(root, "features"), json_string("video.edges"));
    assert_body_refused(f, root, "normalization.mean has 4 values, features has 5");
}

static void test_refuses_bad_values(void **state)
{
    fixture *f = *state;
    json_t *root, *head;

    root = good_body(f);
    json_array_set_new(norm_array(root, "std"), 2, json_real(0));
    assert_body_refused(f, root, "normalization.std[2] is 0, must be > 0");
    root = good_body(f);
    json_array_set_new(norm_array(root, "std"), 1, json_real(-2.5));
    assert_body_refused(f, root, "normalization.std[1] is -2.5, must be > 0");
    write_with_checksum(f->path, "{\"format\": \"avfuse.model.v1\", \"name\": \"x\", "
                                 "\"features\": [\"a\"], \"normalization\": "
                                 "{\"mean\": [1e999], \"std\": [1]}, \"heads\": []}");
    assert_refused(f, -EINVAL, "invalid JSON"); /* jansson: real number overflow */
    root = good_body(f);
    json_object_set_new(head0(root), "type", json_string("tanh"));
    assert_body_refused(f, root, "unknown head type");
    root = good_body(f);
    head = head0(root);
    json_array_clear(json_object_get(head, "outputs"));
    json_array_clear(json_object_get(head, "bias"));
    json_array_clear(json_object_get(head, "weights"));
    assert_body_refused(f, root, "no outputs");
    root = good_body(f);
    json_array_set_new(json_object_get(root, "features"), 3, json_string("audio.zcr"));
    assert_body_refused(f, root, "duplicate feature name 'audio.zcr'");
    root = good_body(f);
    json_array_set_new(json_object_get(head0(root), "outputs"), 1, json_string("speech"));
    assert_body_refused(f, root, "duplicate head 'content' output name 'speech'");
    root = good_body(f);
    json_object_set_new(json_array_get(json_object_get(root, "heads"), 1), "name",
                        json_string("content"));
    assert_body_refused(f, root, "duplicate head name 'content'");
    root = good_body(f);
    json_array_set_new(json_object_get(root, "features"), 0, json_string(""));
    assert_body_refused(f, root, "feature 0 has no name");
}

static json_t *hidden_of(json_t *root, int h)
{
    return json_object_get(json_array_get(json_object_get(root, "heads"), (size_t)h), "hidden");
}

static void test_refuses_bad_hidden_layers(void **state)
{
    fixture *f = *state;
    json_t *root;

    root = good_mlp_body(f);
    json_array_remove(json_object_get(hidden_of(root, 0), "weights"), 5);
    assert_body_refused(f, root, "head 'content': hidden.weights has 31 rows, hidden.size is 32");
    root = good_mlp_body(f);
    json_object_set_new(hidden_of(root, 0), "size", json_integer(31));
    assert_body_refused(f, root, "head 'content': hidden.weights has 32 rows, hidden.size is 31");
    root = good_mlp_body(f);
    json_array_remove(json_array_get(json_object_get(hidden_of(root, 2), "weights"), 1), 0);
    assert_body_refused(f, root, "head 'arousal': hidden.weights[1] has 3 values, features has 4");
    root = good_mlp_body(f);
    json_array_append_new(json_object_get(hidden_of(root, 2), "bias"), json_real(0));
    assert_body_refused(f, root, "head 'arousal': hidden.bias has 3 values, hidden.size is 2");
    root = good_mlp_body(f);
    json_array_append_new(json_array_get(json_object_get(head0(root), "weights"), 3), json_real(0));
    assert_body_refused(f, root, "heads[0].weights[3] has 33 values, hidden.size is 32");
    /* behind a hidden layer, an output row has one value per hidden unit */
    root = good_mlp_body(f);
    json_array_remove(json_array_get(json_object_get(head0(root), "weights"), 0), 0);
    assert_body_refused(f, root, "heads[0].weights[0] has 31 values, hidden.size is 32");
    root = good_mlp_body(f);
    json_object_set_new(hidden_of(root, 0), "size", json_real(2.5));
    assert_body_refused(f, root, "head 'content': hidden.size is 2.5, expected a whole number");
    root = good_mlp_body(f);
    json_object_set_new(hidden_of(root, 0), "size", json_integer(0));
    assert_body_refused(f, root, "head 'content': hidden.size is 0, expected a whole number");
    root = good_mlp_body(f);
    json_object_set_new(hidden_of(root, 0), "size", json_string("32"));
    assert_body_refused(f, root, "'heads[0].hidden.size' is a string, expected a number");
    root = good_mlp_body(f);
    json_object_del(hidden_of(root, 0), "bias");
    assert_body_refused(f, root, "missing key 'heads[0].hidden.bias'");
    root = good_mlp_body(f);
    json_object_set_new(hidden_of(root, 2), "activation", json_string("relu"));
    assert_body_refused(f, root, "unknown key 'heads[2].hidden.activation'");
    root = good_mlp_body(f);
    json_object_set_new(json_array_get(json_object_get(root, "heads"), 1), "hidden", json_null());
    assert_body_refused(f, root, "'heads[1].hidden' is null, expected an object");
    root = good_mlp_body(f);
    json_array_set_new(json_array_get(json_object_get(hidden_of(root, 0), "weights"), 7), 2,
                       json_string("1"));
    assert_body_refused(f, root, "head 'content': hidden.weights[7][2] is a string");
}

static void test_refuses_bad_smoothing(void **state)
{
    fixture *f = *state;
    json_t *root;

    root = good_mlp_body(f);
    json_array_remove(json_object_get(head0(root), "smoothing"), 3);
    assert_body_refused(f, root, "heads[0].smoothing has 3 values, outputs has 4");
    root = good_mlp_body(f);
    json_array_set_new(json_object_get(head0(root), "smoothing"), 1, json_real(1.0));
    assert_body_refused(f, root, "head 'content': smoothing[1] is 1, must be from 0 to below 1");
    root = good_mlp_body(f);
    json_array_set_new(json_object_get(head0(root), "smoothing"), 2, json_real(-0.5));
    assert_body_refused(f, root, "head 'content': smoothing[2] is -0.5, must be from 0");
    root = good_mlp_body(f);
    json_array_set_new(json_object_get(head0(root), "smoothing"), 0, json_string("0.5"));
    assert_body_refused(f, root, "heads[0].smoothing[0] is a string, expected a number");
    root = good_mlp_body(f);
    json_object_set_new(head0(root), "smoothing", json_real(0.5));
    assert_body_refused(f, root, "'heads[0].smoothing' is a number, expected an array");
    /* the change-point rule: a number of 0 or more, in a head with smoothing */
    root = good_mlp_body(f);
    json_object_set_new(head0(root), "smoothing_restart", json_real(-1));
    assert_body_refused(f, root, "head 'content': smoothing_restart is -1, must be a number of 0");
    root = good_mlp_body(f);
    json_object_set_new(head0(root), "smoothing_restart", json_string("2"));
    assert_body_refused(f, root, "'heads[0].smoothing_restart' is a string, expected a number");
    root = good_mlp_body(f);
    json_object_set_new(json_array_get(json_object_get(root, "heads"), 1), "smoothing_restart",
                        json_integer(3));
    assert_body_refused(f, root,
                        "head 'valence': smoothing_restart is 3, must be a number of 0 "
                        "or more in a head with smoothing");
}

static void test_save_refuses_what_load_would(void **state)
{
    fixture *f = *state;
    avf_model *m = make_model();

    m->heads[1].weights[5] = NAN;
    assert_int_equal(avf_model_save(m, f->path, f->why, sizeof(f->why)), -EINVAL);
    assert_non_null(strstr(f->why, "head 'valence' weights[5] is not a finite number"));
    m->heads[1].weights[5] = 0;
    m->std[3] = 0;
    assert_int_equal(avf_model_save(m, f->path, f->why, sizeof(f->why)), -EINVAL);
    assert_non_null(strstr(f->why, "normalization.std[3]"));
    m->std[3] = 1;
    free(m->training);
    m->training = strdup("[1, 2]");
    assert_int_equal(avf_model_save(m, f->path, f->why, sizeof(f->why)), -EINVAL);
    assert_non_null(strstr(f->why, "training is not a JSON object"));
    free(m->training);
    m->training = strdup("{\"rows\": ");
    assert_int_equal(avf_model_save(m, f->path, f->why, sizeof(f->why)), -EINVAL);
    assert_non_null(strstr(f->why, "training is not a JSON object"));
    free(m->training);
    m->training = NULL;
    free(m->features[1]);
    m->features[1] = strdup("bad\xff name");
    assert_int_equal(avf_model_save(m, f->path, f->why, sizeof(f->why)), -EINVAL);
    assert_non_null(strstr(f->why, "UTF-8"));
    assert_int_equal(access(f->path, F_OK), -1); /* nothing was written */
    /* an unwritable place */
    free(m->features[1]);
    m->features[1] = strdup("audio.zcr");
    assert_int_equal(avf_model_save(m, "/nonexistent-dir/model.json", f->why, sizeof(f->why)),
                     -ENOENT);
    assert_non_null(strstr(f->why, "/nonexistent-dir/model.json.tmp"));
    avf_model_free(&m);

    /* non-finite values in a hidden layer, and a hidden layer without its arrays */
    m = make_mlp_model();
    m->heads[0].hidden_weights[100] = INFINITY;
    assert_int_equal(avf_model_save(m, f->path, f->why, sizeof(f->why)), -EINVAL);
    assert_non_null(strstr(f->why, "head 'content' hidden.weights[100] is not a finite number"));
    m->heads[0].hidden_weights[100] = 0;
    m->heads[2].hidden_bias[1] = NAN;
    assert_int_equal(avf_model_save(m, f->path, f->why, sizeof(f->why)), -EINVAL);
    assert_non_null(strstr(f->why, "head 'arousal' hidden.bias[1] is not a finite number"));
    m->heads[2].hidden_bias[1] = 0;
    m->heads[2].weights[5] = NAN; /* 3 x 2 output weights: the last one */
    assert_int_equal(avf_model_save(m, f->path, f->why, sizeof(f->why)), -EINVAL);
    assert_non_null(strstr(f->why, "head 'arousal' weights[5] is not a finite number"));
    m->heads[2].weights[5] = 0;
    m->heads[0].smoothing[3] = NAN; /* the range check also catches NaN */
    assert_int_equal(avf_model_save(m, f->path, f->why, sizeof(f->why)), -EINVAL);
    assert_non_null(strstr(f->why, "head 'content': smoothing[3] is nan, must be from 0"));
    m->heads[0].smoothing[3] = 0;
    m->heads[2].hidden = -1;
    assert_int_equal(avf_model_save(m, f->path, f->why, sizeof(f->why)), -EINVAL);
    assert_non_null(strstr(f->why, "head 'arousal' has -1 hidden units"));
    m->heads[2].hidden = 2;
    free(m->heads[2].hidden_bias);
    m->heads[2].hidden_bias = NULL;
    assert_int_equal(avf_model_save(m, f->path, f->why, sizeof(f->why)), -EINVAL);
    assert_non_null(strstr(f->why, "head 'arousal' hidden.bias is missing"));
    assert_int_equal(access(f->path, F_OK), -1);
    avf_model_free(&m);
}

static void test_new_and_add_head(void **state)
{
    static const char *const two[] = {"low", "high"}, *const one[] = {"only"};
    avf_model *m = avf_model_new(DIM, feature_names, "x");

    (void)state;
    assert_non_null(m);
    assert_int_equal(m->nb_heads, 0);
    assert_null(m->training);
    for (int i = 0; i < DIM; i++) {
        assert_float_equal(m->mean[i], 0, 0);
        assert_float_equal(m->std[i], 1, 0);
        assert_ptr_not_equal(m->features[i], feature_names[i]); /* copied */
    }
    assert_int_equal(avf_model_add_head(m, "arousal", AVF_HEAD_SOFTMAX, 2, two), 0);
    assert_int_equal(avf_model_add_head(m, "speech", AVF_HEAD_LOGISTIC, 1, one), 1);
    for (int i = 0; i < 2 * DIM; i++)
        assert_float_equal(m->heads[0].weights[i], 0, 0);
    assert_int_equal(avf_model_add_head(m, "arousal", AVF_HEAD_LOGISTIC, 2, two), -EINVAL);
    assert_int_equal(avf_model_add_head(m, "other", 7, 2, two), -EINVAL);
    assert_int_equal(avf_model_add_head(m, "other", AVF_HEAD_SOFTMAX, 1, one), -EINVAL);
    assert_int_equal(avf_model_add_head(m, "other", AVF_HEAD_LOGISTIC, 0, one), -EINVAL);
    assert_int_equal(m->nb_heads, 2);
    assert_int_equal(m->heads[0].hidden, 0);
    assert_null(m->heads[0].hidden_weights);
    assert_int_equal(avf_model_add_mlp_head(m, "other", AVF_HEAD_LOGISTIC, 2, two, -1), -EINVAL);
    assert_int_equal(avf_model_add_mlp_head(m, "speech", AVF_HEAD_LOGISTIC, 2, two, 3), -EINVAL);
    assert_int_equal(avf_model_add_mlp_head(m, "mlp", AVF_HEAD_LOGISTIC, 2, two, 3), 2);
    assert_int_equal(m->heads[2].hidden, 3);
    for (int i = 0; i < 3 * DIM; i++)
        assert_float_equal(m->heads[2].hidden_weights[i], 0, 0);
    for (int i = 0; i < 3; i++)
        assert_float_equal(m->heads[2].hidden_bias[i], 0, 0);
    for (int i = 0; i < 2 * 3; i++) /* outputs x hidden */
        assert_float_equal(m->heads[2].weights[i], 0, 0);
    assert_int_equal(avf_model_add_mlp_head(m, "flat", AVF_HEAD_SOFTMAX, 2, two, 0), 3);
    assert_int_equal(m->heads[3].hidden, 0);
    assert_null(m->heads[3].hidden_bias);
    assert_int_equal(m->nb_heads, 4);
    assert_int_equal(avf_model_find_head(m, "speech"), 1);
    assert_int_equal(avf_model_find_head(m, "valence"), -1);
    avf_model_free(&m);
    assert_null(avf_model_new(0, feature_names, "x"));
    assert_null(avf_model_new(DIM, feature_names, NULL));
}

static void test_check_features(void **state)
{
    fixture *f = *state;
    const char *same[DIM], *more[DIM + 1];
    avf_model *m = make_model();

    memcpy(same, feature_names, sizeof(same));
    assert_int_equal(avf_model_check_features(m, same, DIM, f->why, sizeof(f->why)), 0);
    same[1] = "audio.centroid_hz";
    same[2] = "audio.zcr";
    assert_int_equal(avf_model_check_features(m, same, DIM, f->why, sizeof(f->why)), -EINVAL);
    assert_string_equal(f->why, "model expects feature 1 'audio.zcr', the pipeline has "
                                "'audio.centroid_hz'");
    memcpy(more, feature_names, sizeof(same));
    more[DIM] = "video.edges";
    assert_int_equal(avf_model_check_features(m, more, DIM + 1, f->why, sizeof(f->why)), -EINVAL);
    assert_string_equal(f->why, "model has 4 features, the pipeline 5");
    assert_int_equal(avf_model_check_features(m, more, DIM - 1, f->why, sizeof(f->why)), -EINVAL);
    assert_string_equal(f->why, "model has 4 features, the pipeline 3");
    /* a feature inserted in the middle: the first difference is what helps */
    more[1] = "audio.peak";
    memcpy(more + 2, feature_names + 1, (DIM - 1) * sizeof(*more));
    assert_int_equal(avf_model_check_features(m, more, DIM + 1, f->why, sizeof(f->why)), -EINVAL);
    assert_non_null(strstr(f->why, "model expects feature 1 'audio.zcr', the pipeline has "
                                   "'audio.peak'"));
    avf_model_free(&m);
}

static double sigmoid(double z)
{
    return 1 / (1 + exp(-z));
}

static void test_apply_by_hand(void **state)
{
    static const char *const names[] = {"a", "b"}, *const two[] = {"p", "q"},
                             *const three[] = {"x", "y", "z"};
    static const double x[] = {3, -1}; /* normalized: (3 - 1) / 2 = 1, (-1 + 2) / 0.5 = 2 */
    avf_model *m = avf_model_new(2, names, "tiny");
    double out[3], e[3];

    (void)state;
    assert_non_null(m);
    m->mean[0] = 1;
    m->std[0] = 2;
    m->mean[1] = -2;
    m->std[1] = 0.5;
    assert_int_equal(avf_model_add_head(m, "tags", AVF_HEAD_LOGISTIC, 2, two), 0);
    assert_int_equal(avf_model_add_head(m, "mood", AVF_HEAD_SOFTMAX, 3, three), 1);
    memcpy(m->heads[0].weights, (double[]){1, -1, 0.5, 2}, 4 * sizeof(double));
    memcpy(m->heads[0].bias, (double[]){0.25, -1}, 2 * sizeof(double));
    memcpy(m->heads[1].weights, (double[]){1, 0, 0, 1, -1, -1}, 6 * sizeof(double));
    memcpy(m->heads[1].bias, (double[]){0, 0, 0.5}, 3 * sizeof(double));

    avf_model_apply(m, 0, x, out);
    assert_float_equal(out[0], sigmoid(0.25 + 1 - 2), 1e-15); /* z = -0.75 */
    assert_float_equal(out[1], sigmoid(-1 + 0.5 + 4), 1e-15); /* z = 3.5 */
    avf_model_apply(m, 1, x, out);                            /* z = 1, 2, -2.5 */
    e[0] = exp(1);
    e[1] = exp(2);
    e[2] = exp(-2.5);
    for (int i = 0; i < 3; i++)
        assert_float_equal(out[i], e[i] / (e[0] + e[1] + e[2]), 1e-15);
    assert_float_equal(out[0] + out[1] + out[2], 1, 1e-15);

    /* huge logits: probabilities stay in [0, 1], no NaN */
    for (int i = 0; i < 6; i++)
        m->heads[1].weights[i] *= 1e6;
    for (int i = 0; i < 4; i++)
        m->heads[0].weights[i] *= 1e6;
    avf_model_apply(m, 1, x, out);
    assert_float_equal(out[1], 1, 1e-15);
    assert_float_equal(out[0] + out[1] + out[2], 1, 1e-15);
    avf_model_apply(m, 0, x, out);
    assert_float_equal(out[0], 0, 0);
    assert_float_equal(out[1], 1, 0);
    avf_model_free(&m);
}

/*
 * dim 2, 2 hidden units. x = (3, -1) normalizes to x' = (1, 2) as above;
 * hidden pre-activations 0.5 * 1 - 0.25 * 2 + 0.1 = 0.1 and 1 * 1 + 1 * 2 - 4 = -1.
 */
static void test_apply_mlp_by_hand(void **state)
{
    static const char *const names[] = {"a", "b"}, *const two[] = {"p", "q"},
                             *const three[] = {"x", "y", "z"};
    static const double x[] = {3, -1};
    avf_model *m = avf_model_new(2, names, "tiny-mlp");
    double out[3], a0 = tanh(0.1), a1 = tanh(-1), z[3], e[3];

    (void)state;
    assert_non_null(m);
    m->mean[0] = 1;
    m->std[0] = 2;
    m->mean[1] = -2;
    m->std[1] = 0.5;
    assert_int_equal(avf_model_add_mlp_head(m, "tags", AVF_HEAD_LOGISTIC, 2, two, 2), 0);
    assert_int_equal(avf_model_add_mlp_head(m, "mood", AVF_HEAD_SOFTMAX, 3, three, 2), 1);
    for (int h = 0; h < 2; h++) {
        memcpy(m->heads[h].hidden_weights, (double[]){0.5, -0.25, 1, 1}, 4 * sizeof(double));
        memcpy(m->heads[h].hidden_bias, (double[]){0.1, -4}, 2 * sizeof(double));
    }
    memcpy(m->heads[0].weights, (double[]){2, -1, -3, 0.5}, 4 * sizeof(double));
    memcpy(m->heads[0].bias, (double[]){0.25, 1}, 2 * sizeof(double));
    memcpy(m->heads[1].weights, (double[]){1, 0, 0, 1, -1, -1}, 6 * sizeof(double));
    memcpy(m->heads[1].bias, (double[]){0, 0.5, 0}, 3 * sizeof(double));

    avf_model_apply(m, 0, x, out);
    assert_float_equal(out[0], sigmoid(0.25 + 2 * a0 - a1), 1e-15);
    assert_float_equal(out[1], sigmoid(1 - 3 * a0 + 0.5 * a1), 1e-15);
    /* the numbers themselves, so that the test does not only repeat the code */
    assert_float_equal(out[0], 0.7704634861, 1e-9);
    assert_float_equal(out[1], 0.5793727341, 1e-9);
    avf_model_apply(m, 1, x, out);
    z[0] = a0;
    z[1] = 0.5 + a1;
    z[2] = -a0 - a1;
    for (int i = 0; i < 3; i++)
        e[i] = exp(z[i]);
    for (int i = 0; i < 3; i++)
        assert_float_equal(out[i], e[i] / (e[0] + e[1] + e[2]), 1e-15);
    assert_float_equal(out[0] + out[1] + out[2], 1, 1e-15);

    /* saturated units and huge output weights: still probabilities, no NaN */
    for (int i = 0; i < 4; i++)
        m->heads[1].hidden_weights[i] *= 1e300;
    for (int i = 0; i < 6; i++)
        m->heads[1].weights[i] *= 1e6;
    avf_model_apply(m, 1, x, out);
    for (int i = 0; i < 3; i++)
        assert_true(out[i] >= 0 && out[i] <= 1);
    assert_float_equal(out[0] + out[1] + out[2], 1, 1e-15);
    avf_model_free(&m);
}

/* On the saved test model, at many points: logistic in [0, 1], softmax sums to 1. */
static void test_apply_ranges(void **state)
{
    avf_model *m = make_model();
    uint64_t seed = 7;
    double x[DIM], out[4];

    (void)state;
    m->std[3] = 1; /* the subnormal std would make every input infinite */
    for (int t = 0; t < 1000; t++) {
        double sum = 0;

        for (int i = 0; i < DIM; i++)
            x[i] = m->mean[i] + m->std[i] * next_double(&seed);
        avf_model_apply(m, 0, x, out);
        for (int o = 0; o < 4; o++)
            assert_true(out[o] >= 0 && out[o] <= 1);
        avf_model_apply(m, 1, x, out);
        for (int o = 0; o < 3; o++) {
            assert_true(out[o] >= 0 && out[o] <= 1);
            sum += out[o];
        }
        assert_float_equal(sum, 1, 1e-12);
    }
    avf_model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mlp_round_trip_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_missing_empty_and_text_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_wrong_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_truncated_and_flipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_bad_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_wrong_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_mismatched_lengths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_bad_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_bad_hidden_layers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_bad_smoothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_refuses_what_load_would, setup, teardown),
        cmocka_unit_test(test_new_and_add_head),
        cmocka_unit_test_setup_teardown(test_check_features, setup, teardown),
        cmocka_unit_test(test_apply_by_hand),
        cmocka_unit_test(test_apply_mlp_by_hand),
        cmocka_unit_test(test_apply_ranges),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
