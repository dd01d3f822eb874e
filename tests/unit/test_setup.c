/*
 * test_setup.c - the one loader of extractors and model (daemon/setup.c): the
 * built-ins alone, the committed default model, a model that is missing where one
 * is required, and a model that needs a feature no extractor provides.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libavutil/error.h>

#include "base/error.h"
#include "daemon/setup.h"

static void assert_empty(const avf_setup *s)
{
    assert_null(s->registry);
    assert_null(s->plugins);
    assert_int_equal(s->nb_plugins, 0);
    assert_null(s->available);
    assert_null(s->model);
    assert_null(s->fused);
}

static void test_extractors_only(void **state)
{
    avf_setup_options o = {.model = AVF_MODEL_NONE, .component = "test"};
    avf_pipeline_config cfg;
    avf_setup s;

    (void)state;
    assert_int_equal(avf_setup_load(&s, &o), 0);
    /* the built-in video and audio extractors */
    assert_int_equal(s.nb_plugins, 2);
    assert_non_null(s.available);
    assert_true(s.available->dim > 0);
    assert_null(s.model);
    assert_null(s.fused);
    assert_ptr_equal(avf_setup_layout(&s), s.available);
    avf_pipeline_config_default(&cfg);
    avf_setup_apply(&s, &cfg);
    assert_ptr_equal(cfg.plugins, s.plugins);
    assert_int_equal(cfg.nb_plugins, 2);
    assert_null(cfg.model);
    assert_null(cfg.fused);
    avf_setup_free(&s);
    assert_empty(&s);
    avf_setup_free(&s); /* twice is harmless */
}

static void test_default_model(void **state)
{
    avf_setup_options o = {
        .model_path = AVF_TEST_MODEL, .model = AVF_MODEL_REQUIRED, .component = "test"};
    avf_pipeline_config cfg;
    avf_setup s;

    (void)state;
    assert_int_equal(avf_setup_load(&s, &o), 0);
    assert_non_null(s.model);
    assert_non_null(s.fused);
    /* the model's own layout runs the pipeline: no wider than every extractor's */
    assert_ptr_equal(avf_setup_layout(&s), s.fused);
    assert_true(s.fused->dim <= s.available->dim);
    avf_pipeline_config_default(&cfg);
    avf_setup_apply(&s, &cfg);
    assert_ptr_equal(cfg.model, s.model);
    assert_ptr_equal(cfg.fused, s.fused);
    avf_setup_free(&s);
    assert_empty(&s);
}

static void test_missing_model(void **state)
{
    avf_setup_options o = {.model_path = "/nonexistent/avfuse/x.model",
                           .model = AVF_MODEL_REQUIRED,
                           .component = "test"};
    avf_setup s;

    (void)state;
    assert_int_equal(avf_setup_load(&s, &o), AVERROR(ENOENT));
    assert_empty(&s);
    /* a named model that is missing is an error even where a model is optional */
    o.model = AVF_MODEL_OPTIONAL;
    assert_int_equal(avf_setup_load(&s, &o), AVERROR(ENOENT));
    assert_empty(&s);
}

static void test_model_needs_missing_feature(void **state)
{
    const char *features[] = {"audio.rms_dbfs",   "audio.no_such_feature",
                              "av.offset_abs_ms", "av.confidence",
                              "mask.video",       "mask.audio"};
    const char *outputs[] = {"a", "b"};
    char path[] = "/tmp/avfuse-test-setup-XXXXXX";
    avf_setup_options o = {.model_path = path, .model = AVF_MODEL_OPTIONAL, .component = "test"};
    avf_model *m = avf_model_new(6, features, "needs-more");
    avf_setup s;
    int fd = mkstemp(path);

    (void)state;
    assert_true(fd >= 0);
    close(fd);
    assert_non_null(m);
    assert_true(avf_model_add_head(m, "extra", 0, 2, outputs) >= 0);
    assert_int_equal(avf_model_save(m, path, NULL, 0), 0);
    avf_model_free(&m);
    assert_int_equal(avf_setup_load(&s, &o), AVF_ERR_CONFIG);
    assert_empty(&s);
    /* the same model with a feature that is there loads */
    features[1] = "audio.zcr";
    m = avf_model_new(6, features, "fits");
    assert_non_null(m);
    assert_true(avf_model_add_head(m, "extra", 0, 2, outputs) >= 0);
    assert_int_equal(avf_model_save(m, path, NULL, 0), 0);
    avf_model_free(&m);
    assert_int_equal(avf_setup_load(&s, &o), 0);
    assert_non_null(s.model);
    assert_non_null(s.fused);
    fd = 0;
    for (int i = 0; i < s.fused->dim; i++)
        fd +=
            !strcmp(s.fused->names[i], "audio.zcr") || !strcmp(s.fused->names[i], "audio.rms_dbfs");
    assert_int_equal(fd, 2);
    avf_setup_free(&s);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_extractors_only),
        cmocka_unit_test(test_default_model),
        cmocka_unit_test(test_missing_model),
        cmocka_unit_test(test_model_needs_missing_feature),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
