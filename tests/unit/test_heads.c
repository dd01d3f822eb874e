/*
 * test_heads.c - early fusion and the heads: the fused layout's order and names,
 * an absent modality imputed and masked into finite outputs, the sentiment
 * mapping, the video arousal model's response to motion, the smoothing of a
 * head's logits over segments, the basis of sentiment (voice, scene, none) with
 * the values each leaves unset, and the fit of the optional affect head.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fusion/dataset.h"
#include "fusion/fit.h"
#include "fusion/heads.h"
#include "fusion/model.h"
#include "fusion/vector.h"

static const avf_plugin_feature vfeat[] = {{"motion", AVF_POOL_MEAN}, {"cuts", AVF_POOL_SUM}};
static const avf_plugin_feature afeat[] = {{"rms_dbfs", AVF_POOL_MEAN_DB},
                                           {"pitch_hz", AVF_POOL_MEAN}};
static const avf_plugin_descriptor vdesc = {AVFUSE_PLUGIN_ABI_VERSION,
                                            sizeof(avf_plugin_descriptor),
                                            "v",
                                            "",
                                            AVF_PLUGIN_VIDEO,
                                            2,
                                            vfeat,
                                            NULL,
                                            NULL,
                                            NULL,
                                            NULL};
static const avf_plugin_descriptor adesc = {AVFUSE_PLUGIN_ABI_VERSION,
                                            sizeof(avf_plugin_descriptor),
                                            "a",
                                            "",
                                            AVF_PLUGIN_AUDIO,
                                            2,
                                            afeat,
                                            NULL,
                                            NULL,
                                            NULL,
                                            NULL};

static avf_fused_layout *layout(void)
{
    /* audio descriptor first: the layout still puts video first */
    const avf_plugin_descriptor *descs[] = {&adesc, &vdesc};
    avf_fused_layout *l = avf_fused_layout_new(descs, 2);

    assert_non_null(l);
    return l;
}

static void test_layout_order(void **state)
{
    static const char *const expect[] = {"video.motion",   "video.cuts",   "audio.rms_dbfs",
                                         "audio.pitch_hz", "audio.silent", "av.offset_abs_ms",
                                         "av.confidence",  "mask.video",   "mask.audio"};
    avf_fused_layout *l = layout();

    (void)state;
    assert_int_equal(l->dim, 9);
    for (int i = 0; i < 9; i++)
        assert_string_equal(l->names[i], expect[i]);
    assert_int_equal(l->mask_video, 7);
    assert_int_equal(l->mask_audio, 8);
    assert_int_equal(l->rms, 2);
    assert_int_equal(l->silent, 4);
    avf_fused_layout_free(&l);
    assert_null(l);
}

static void test_vector_absent_video(void **state)
{
    avf_fused_layout *l = layout();
    avf_feature_layout alayout = {2, (const char *const[]){"pitch_hz", "rms_dbfs"}, NULL};
    double afeatures[2] = {180.0, -23.0}, x[9];
    avf_segment seg = {0};
    avf_fusion_out out = {0};
    int *map = avf_fused_map(l, NULL, &alayout);

    (void)state;
    assert_non_null(map);
    /* columns are found by name, whatever the extractor's order */
    assert_int_equal(map[2], 1);
    assert_int_equal(map[3], 0);
    assert_int_equal(map[0], -1);
    seg.audio_present = 1;
    out.audio_features = afeatures;
    avf_fused_vector(l, map, &seg, &out, x);
    assert_true(isnan(x[0]) && isnan(x[1]) && isnan(x[5]));
    assert_float_equal(x[2], -23.0, 0);
    assert_float_equal(x[3], 180.0, 0);
    assert_float_equal(x[4], 0, 0); /* -23 dBFS is not silent */
    assert_float_equal(x[7], 0, 0);
    assert_float_equal(x[8], 1, 0);
    /* audio.silent follows the level that defines the silence class, and is absent
     * with the audio */
    afeatures[1] = -50.5;
    avf_fused_vector(l, map, &seg, &out, x);
    assert_float_equal(x[4], 1, 0);
    afeatures[1] = -49.5;
    avf_fused_vector(l, map, &seg, &out, x);
    assert_float_equal(x[4], 0, 0);
    seg.audio_present = 0;
    avf_fused_vector(l, map, &seg, &out, x);
    assert_true(isnan(x[2]) && isnan(x[4]));
    free(map);
    avf_fused_layout_free(&l);
}

static avf_model *model_for(const avf_fused_layout *l)
{
    avf_model *m = avf_model_new(l->dim, (const char *const *)l->names, "test");
    int h;

    assert_non_null(m);
    for (int i = 0; i < l->dim; i++) {
        m->mean[i] = i == 2 ? -30 : 0.5;
        m->std[i] = 2;
    }
    h = avf_model_add_head(m, "content", AVF_HEAD_LOGISTIC, 4, avf_content_names);
    assert_true(h >= 0);
    for (int i = 0; i < 4 * l->dim; i++)
        m->heads[h].weights[i] = sin(i + 1.0);
    h = avf_model_add_head(m, "valence", AVF_HEAD_SOFTMAX, 3, avf_valence_names);
    assert_true(h >= 0);
    for (int i = 0; i < 3 * l->dim; i++)
        m->heads[h].weights[i] = cos(i + 1.0);
    h = avf_model_add_head(m, "arousal", AVF_HEAD_SOFTMAX, 3, avf_arousal_names);
    assert_true(h >= 0);
    m->heads[h].bias[2] = 1.0; /* leans "high" */
    return m;
}

static void assert_finite_result(const avf_head_result *r)
{
    assert_true(r->content_valid && r->sentiment_valid && r->valence_valid && r->arousal_valid);
    for (int c = 0; c < 4; c++)
        assert_true(isfinite(r->content[c]) && r->content[c] >= 0 && r->content[c] <= 1);
    assert_true(isfinite(r->valence) && fabs(r->valence) <= 1);
    assert_true(isfinite(r->arousal) && fabs(r->arousal) <= 1);
    assert_true(isfinite(r->confidence) && r->confidence > 0 && r->confidence <= 1);
}

static void test_absent_modalities_give_finite_output(void **state)
{
    avf_fused_layout *l = layout();
    avf_model *m = model_for(l);
    char why[128];
    avf_heads *h = avf_heads_new(m, l, why, sizeof(why));
    avf_head_result r;
    double nothing[9] = {NAN, NAN, NAN, NAN, NAN, NAN, NAN, 0, 0};
    double audio_only[9] = {NAN, NAN, -20, NAN, 0, NAN, NAN, 0, 1};

    (void)state;
    assert_non_null(h);
    m->heads[0].bias[0] = 50; /* speech, so that the voice heads answer */
    m->heads[0].bias[3] = -50;
    /* neither modality: nothing to judge */
    avf_heads_apply(h, nothing, &r);
    assert_true(r.content_valid && r.sentiment_valid);
    assert_int_equal(r.basis, AVF_BASIS_NONE);
    assert_false(r.valence_valid || r.arousal_valid);
    /* imputation wrote the training means into the vector */
    assert_float_equal(nothing[2], -30, 0);
    avf_heads_apply(h, audio_only, &r);
    assert_int_equal(r.basis, AVF_BASIS_VOICE);
    assert_finite_result(&r);
    assert_true(isnan(r.video_arousal)); /* no video, no video share */
    assert_float_equal(r.arousal, r.voice_arousal, 0);
    avf_heads_free(&h);
    assert_null(h);
    avf_model_free(&m);
    avf_fused_layout_free(&l);
}

static void test_video_arousal_follows_motion(void **state)
{
    avf_fused_layout *l = layout();
    avf_model *m = model_for(l);
    char why[128];
    avf_heads *h = avf_heads_new(m, l, why, sizeof(why));
    avf_head_result calm, busy;
    double still[9] = {0.0, 0, -60, NAN, 1, NAN, NAN, 1, 1};
    double action[9] = {0.08, 1, -10, NAN, 0, NAN, NAN, 1, 1};

    (void)state;
    m->heads[0].bias[0] = 50; /* speech: the voice heads answer, blended with video */
    m->heads[0].bias[3] = -50;
    avf_heads_apply(h, still, &calm);
    avf_heads_reset(h); /* action is judged alone, not smoothed with still */
    avf_heads_apply(h, action, &busy);
    assert_finite_result(&calm);
    assert_finite_result(&busy);
    assert_true(calm.video_arousal < -0.9);
    assert_true(busy.video_arousal > 0.2);
    /* with video, each model contributes half */
    assert_float_equal(busy.arousal, 0.5 * busy.voice_arousal + 0.5 * busy.video_arousal, 1e-12);
    avf_heads_free(&h);
    avf_model_free(&m);
    avf_fused_layout_free(&l);
}

static double sigmoid(double z)
{
    return 1 / (1 + exp(-z));
}

/* s_t = (1 - w) z_t + w s_(t-1) per output, from a source's first segment, and
 * again from scratch after a reset. */
static void test_content_smoothing(void **state)
{
    static const double w[4] = {0.5, 0.25, 0.5, 0};
    avf_fused_layout *l = layout();
    avf_model *m = model_for(l);
    const double a[9] = {0.01, 0, -28, 1.5, 0, 0.1, 1, 1, 1};
    const double b[9] = {0.06, 1, -33, -0.5, 1, 2.5, 0.2, 1, 1};
    double za[4], zb[4], x[9], s2[4];
    avf_head_result r;
    char why[128];
    avf_heads *h;

    (void)state;
    assert_int_equal(avf_model_set_smoothing(m, 0, w), 0);
    m->heads[0].bias[3] = -50; /* never silent, until said below */
    h = avf_heads_new(m, l, why, sizeof(why));
    assert_non_null(h);
    avf_model_logits(m, 0, a, za);
    avf_model_logits(m, 0, b, zb);
    /* the first segment has nothing to be smoothed with */
    memcpy(x, a, sizeof(x));
    avf_heads_apply(h, x, &r);
    for (int o = 0; o < 4; o++)
        assert_float_equal(r.content[o], sigmoid(za[o]), 1e-12);
    memcpy(x, b, sizeof(x));
    avf_heads_apply(h, x, &r);
    for (int o = 0; o < 4; o++) {
        s2[o] = (1 - w[o]) * zb[o] + w[o] * za[o];
        assert_float_equal(r.content[o], sigmoid(s2[o]), 1e-12);
    }
    /* silence (weight 0) follows its own segment alone; the others did move */
    assert_float_equal(r.content[3], sigmoid(zb[3]), 1e-12);
    assert_true(fabs(r.content[0] - sigmoid(zb[0])) > 1e-3);
    /* the recursion uses the smoothed value, not the previous raw logit */
    memcpy(x, b, sizeof(x));
    avf_heads_apply(h, x, &r);
    for (int o = 0; o < 4; o++)
        assert_float_equal(r.content[o], sigmoid((1 - w[o]) * zb[o] + w[o] * s2[o]), 1e-12);
    avf_heads_reset(h);
    memcpy(x, b, sizeof(x));
    avf_heads_apply(h, x, &r);
    for (int o = 0; o < 4; o++)
        assert_float_equal(r.content[o], sigmoid(zb[o]), 1e-12);
    /* a silent segment is not smoothed, and the one after it starts afresh */
    m->heads[0].bias[3] = 50;
    memcpy(x, a, sizeof(x));
    avf_heads_apply(h, x, &r);
    assert_true(r.content[3] > 0.5);
    for (int o = 0; o < 3; o++)
        assert_float_equal(r.content[o], sigmoid(za[o]), 1e-12);
    m->heads[0].bias[3] = -50;
    memcpy(x, b, sizeof(x));
    avf_heads_apply(h, x, &r);
    for (int o = 0; o < 3; o++)
        assert_float_equal(r.content[o], sigmoid(zb[o]), 1e-12);
    /* out-of-range weights are refused and leave the head as it was */
    assert_int_equal(avf_model_set_smoothing(m, 0, (double[]){0.5, 1.0, 0, 0}), -EINVAL);
    assert_int_equal(avf_model_set_smoothing(m, 0, (double[]){-0.1, 0, 0, 0}), -EINVAL);
    assert_int_equal(avf_model_set_smoothing(m, 7, w), -EINVAL);
    assert_float_equal(m->heads[0].smoothing[1], 0.25, 0);
    assert_int_equal(avf_model_set_smoothing(m, 0, NULL), 0);
    assert_null(m->heads[0].smoothing);
    avf_heads_free(&h);
    avf_model_free(&m);
    avf_fused_layout_free(&l);
}

/*
 * A model whose content head answers by its biases alone (speech, silence; zero
 * weights), with the valence and arousal heads of model_for(), and an affect head
 * with bias affect_bias unless it is NAN. content == 0: no content head.
 */
static avf_model *basis_model(const avf_fused_layout *l, int content, double speech, double silence,
                              double affect_bias)
{
    static const char *const affect[] = {"affect"};
    avf_model *m = avf_model_new(l->dim, (const char *const *)l->names, "basis");
    int h;

    assert_non_null(m);
    if (content) {
        h = avf_model_add_head(m, "content", AVF_HEAD_LOGISTIC, 4, avf_content_names);
        assert_true(h >= 0);
        m->heads[h].bias[AVF_SPEECH] = speech;
        m->heads[h].bias[AVF_MUSIC] = -speech;
        m->heads[h].bias[AVF_SILENCE] = silence;
    }
    h = avf_model_add_head(m, "valence", AVF_HEAD_SOFTMAX, 3, avf_valence_names);
    assert_true(h >= 0);
    for (int i = 0; i < 3 * l->dim; i++)
        m->heads[h].weights[i] = cos(i + 1.0);
    m->heads[h].bias[AVF_NEGATIVE] = 1.0;
    h = avf_model_add_head(m, "arousal", AVF_HEAD_SOFTMAX, 3, avf_arousal_names);
    assert_true(h >= 0);
    m->heads[h].bias[2] = 1.0;
    if (!isnan(affect_bias)) {
        h = avf_model_add_head(m, "affect", AVF_HEAD_LOGISTIC, 1, affect);
        assert_true(h >= 0);
        m->heads[h].bias[0] = affect_bias;
    }
    return m;
}

/* Applies a fresh heads of m to a copy of x (the copy is imputed in place). */
static void apply_once(const avf_model *m, const avf_fused_layout *l, const double *x,
                       double *imputed, avf_head_result *r)
{
    char why[128];
    avf_heads *h = avf_heads_new(m, l, why, sizeof(why));

    assert_non_null(h);
    memcpy(imputed, x, 9 * sizeof(*x));
    avf_heads_apply(h, imputed, r);
    avf_heads_free(&h);
}

static void assert_no_valence(const avf_head_result *r)
{
    assert_false(r->valence_valid);
    assert_float_equal(r->valence, 0, 0);
    assert_float_equal(r->confidence, 0, 0);
}

/* A silent lobby, on camera or not: basis none, no value at all. */
static void test_basis_silence_is_none(void **state)
{
    const double quiet[9] = {0.03, 0, -70, NAN, 1, NAN, NAN, 1, 1};
    const double audio_quiet[9] = {NAN, NAN, -70, NAN, 1, NAN, NAN, 0, 1};
    avf_fused_layout *l = layout();
    avf_model *m = basis_model(l, 1, -5, 5, 5); /* even an affect head that says yes */
    avf_head_result r;
    double x[9];

    (void)state;
    apply_once(m, l, quiet, x, &r);
    assert_true(r.sentiment_valid);
    assert_int_equal(r.basis, AVF_BASIS_NONE);
    assert_no_valence(&r);
    assert_false(r.arousal_valid);
    apply_once(m, l, audio_quiet, x, &r);
    assert_int_equal(r.basis, AVF_BASIS_NONE);
    assert_false(r.valence_valid || r.arousal_valid);
    avf_model_free(&m);
    /* without a content head, the input audio.silent decides */
    m = basis_model(l, 0, 0, 0, NAN);
    apply_once(m, l, audio_quiet, x, &r);
    assert_false(r.content_valid);
    assert_int_equal(r.basis, AVF_BASIS_NONE);
    assert_false(r.valence_valid || r.arousal_valid);
    avf_model_free(&m);
    avf_fused_layout_free(&l);
}

/* Speech: the voice heads answer, confidence = P(label) x P(speech). */
static void test_basis_speech_is_voice(void **state)
{
    const double talk[9] = {NAN, NAN, -22, 180, 0, NAN, NAN, 0, 1};
    avf_fused_layout *l = layout();
    avf_model *m = basis_model(l, 1, 1.0, -5, 5);
    avf_head_result r;
    double x[9], p[3];

    (void)state;
    apply_once(m, l, talk, x, &r);
    assert_int_equal(r.basis, AVF_BASIS_VOICE);
    assert_true(r.valence_valid && r.arousal_valid);
    assert_true(isnan(r.affect)); /* the affect head is not asked where someone speaks */
    avf_model_apply(m, 1, x, p);
    assert_float_equal(r.valence, p[AVF_POSITIVE] - p[AVF_NEGATIVE], 1e-12);
    assert_true(p[r.label] >= p[0] && p[r.label] >= p[1] && p[r.label] >= p[2]);
    assert_float_equal(r.confidence, p[r.label] * r.content[AVF_SPEECH], 1e-12);
    assert_true(r.confidence < p[r.label]); /* P(speech) = 0.73 here */
    avf_model_apply(m, 2, x, p);
    assert_float_equal(r.arousal, p[2] - p[0], 1e-12);
    avf_model_free(&m);
    avf_fused_layout_free(&l);
}

/* Music: the scene's arousal (sound energy without video, the picture's model
 * with it), and no valence from a model without an affect head. */
static void test_basis_music_is_scene(void **state)
{
    const double music[9] = {NAN, NAN, -20, 440, 0, NAN, NAN, 0, 1};
    const double clip[9] = {0.08, 1, -20, 440, 0, NAN, NAN, 1, 1};
    avf_fused_layout *l = layout();
    avf_model *m = basis_model(l, 1, -5, -5, NAN);
    avf_head_result r;
    double x[9];

    (void)state;
    apply_once(m, l, music, x, &r);
    assert_int_equal(r.basis, AVF_BASIS_SCENE);
    assert_no_valence(&r);
    assert_true(r.arousal_valid);
    assert_float_equal(r.arousal, 2 * (40.0 / 60) - 1, 1e-12); /* E = (-20 + 60) / 60 */
    assert_true(isnan(r.affect));
    apply_once(m, l, clip, x, &r);
    assert_int_equal(r.basis, AVF_BASIS_SCENE);
    assert_no_valence(&r);
    assert_true(r.arousal_valid && isfinite(r.video_arousal));
    assert_float_equal(r.arousal, r.video_arousal, 0);
    /* (M 1 + R 0.2 + E 0.667) / 3, mapped to -1..1 */
    assert_float_equal(r.arousal, 2 * (1 + 0.2 + 40.0 / 60) / 3 - 1, 1e-12);
    avf_model_free(&m);
    /* an affect head that says no leaves the valence unset too */
    m = basis_model(l, 1, -5, -5, -2);
    apply_once(m, l, music, x, &r);
    assert_int_equal(r.basis, AVF_BASIS_SCENE);
    assert_no_valence(&r);
    assert_float_equal(r.affect, 1 / (1 + exp(2.0)), 1e-12);
    avf_model_free(&m);
    /* without a content head nobody is known to speak: scene, no valence */
    m = basis_model(l, 0, 0, 0, NAN);
    apply_once(m, l, music, x, &r);
    assert_int_equal(r.basis, AVF_BASIS_SCENE);
    assert_no_valence(&r);
    assert_true(r.arousal_valid);
    avf_model_free(&m);
    avf_fused_layout_free(&l);
}

/* A cry: the affect head says it is a kind trained with valence labels, so the
 * voice heads answer, with confidence scaled by that probability. */
static void test_basis_affect_gives_scene_valence(void **state)
{
    const double cry[9] = {0.01, 0, -15, 450, 0, NAN, NAN, 1, 1};
    avf_fused_layout *l = layout();
    avf_model *m = basis_model(l, 1, -5, -5, 2);
    double x[9], p[3], affect = 1 / (1 + exp(-2.0));
    avf_head_result r;

    (void)state;
    apply_once(m, l, cry, x, &r);
    assert_int_equal(r.basis, AVF_BASIS_SCENE);
    assert_true(r.valence_valid && r.arousal_valid);
    assert_float_equal(r.affect, affect, 1e-12);
    avf_model_apply(m, 1, x, p);
    assert_float_equal(r.valence, p[AVF_POSITIVE] - p[AVF_NEGATIVE], 1e-12);
    assert_float_equal(r.confidence, p[r.label] * affect, 1e-12);
    /* arousal as for a voice: the arousal head blended with the picture */
    assert_float_equal(r.arousal, 0.5 * r.voice_arousal + 0.5 * r.video_arousal, 1e-12);
    avf_model_free(&m);
    avf_fused_layout_free(&l);
}

/* The fit adds an affect head only when segments nobody speaks in come both with
 * and without a valence, and it tells them apart. */
static void test_fit_affect_head(void **state)
{
    avf_fit_options opt = {1e-3, 300, 0, 0, 0};
    avf_fused_layout *l = layout();
    avf_dataset d;
    avf_model *m = NULL;
    char why[256] = "";
    double out;

    (void)state;
    avf_dataset_init(&d, 9);
    for (int i = 0; i < 40; i++) {
        /* pitch tells cries (high) from music (low); speech in between */
        double x[9] = {NAN, NAN, -20 - i % 5, 0, 0, NAN, NAN, 0, 1};
        const int kind = i % 4;
        const int content = kind == 0   ? AVF_NOISE
                            : kind == 1 ? AVF_MUSIC
                            : kind == 2 ? AVF_SPEECH
                                        : AVF_SILENCE;
        const avf_dataset_label label = {.content = 1 << content,
                                         .valence = kind == 0 || kind == 2 ? AVF_NEGATIVE : -1,
                                         .arousal = kind == 0 ? 2 : -1,
                                         .row = i,
                                         .group = i,
                                         .run = i};

        x[3] = kind == 0 ? 500 + i : kind == 1 ? 100 + i : 250 + i;
        assert_int_equal(avf_dataset_append(&d, x, &label), 0);
    }
    assert_int_equal(avf_fit(&m, l, &d, "t", NULL, &opt, why, sizeof(why)), 0);
    assert_true(avf_model_find_head(m, "affect") >= 0);
    for (int i = 0; i < 2; i++) { /* row 0 a cry, row 1 music */
        double x[9];

        for (int c = 0; c < 9; c++)
            x[c] = isnan(d.x[i * 9 + c]) ? m->mean[c] : d.x[i * 9 + c];
        avf_model_apply(m, avf_model_find_head(m, "affect"), x, &out);
        assert_true(i == 0 ? out > 0.5 : out < 0.5);
    }
    avf_model_free(&m);
    /* no non-speech row with a valence: no affect head */
    for (int i = 0; i < d.n; i++)
        if (d.content[i] == 1 << AVF_NOISE)
            d.valence[i] = -1;
    assert_int_equal(avf_fit(&m, l, &d, "t", NULL, &opt, why, sizeof(why)), 0);
    assert_int_equal(avf_model_find_head(m, "affect"), -1);
    avf_model_free(&m);
    avf_dataset_clear(&d);
    avf_fused_layout_free(&l);
}

/* The rule alone: a smoothed output whose new logit is >= restart on the other
 * side of 0 from the smoothed one. */
static void test_smoothing_restarts_rule(void **state)
{
    static const double w[4] = {0.5, 0.5, 0.5, 0};
    static const double s[4] = {3, -4, -2, -9};

    (void)state;
    /* music: -4 then +2.5 with restart 2 */
    assert_true(avf_smoothing_restarts((double[]){3, 2.5, -2, -9}, s, w, 4, 2));
    assert_false(avf_smoothing_restarts((double[]){3, 2.5, -2, -9}, s, w, 4, 3));
    assert_false(avf_smoothing_restarts((double[]){3, 2.5, -2, -9}, s, w, 4, 0)); /* 0: never */
    /* speech: +3 then -2 (exactly the threshold counts) */
    assert_true(avf_smoothing_restarts((double[]){-2, -4, -2, -9}, s, w, 4, 2));
    /* large moves on the same side of 0 are no change of content */
    assert_false(avf_smoothing_restarts((double[]){30, -40, -20, -9}, s, w, 4, 1));
    /* an output without smoothing weight (silence) never restarts it */
    assert_false(avf_smoothing_restarts((double[]){3, -4, -2, 9}, s, w, 4, 1));
}

/* Through the heads: a segment that clearly disagrees starts the smoothing afresh,
 * one that disagrees weakly is smoothed as before, and restart 0 never restarts. */
static void test_content_smoothing_restart(void **state)
{
    static const double w[4] = {0.5, 0.5, 0.5, 0};
    const double in[9] = {0.01, 0, -28, 1.5, 0, 0.1, 1, 1, 1};
    avf_fused_layout *l = layout();
    avf_model *m = model_for(l);
    avf_head *hd = &m->heads[0];
    avf_head_result r;
    double x[9];
    char why[128];
    avf_heads *h;

    (void)state;
    assert_int_equal(avf_model_set_smoothing(m, 0, w), 0);
    memset(hd->weights, 0, (size_t)4 * m->dim * sizeof(double)); /* logits = bias */
    hd->smoothing_restart = 2;
    h = avf_heads_new(m, l, why, sizeof(why));
    assert_non_null(h);
    memcpy(hd->bias, (double[]){3, -4, -1, -50}, 4 * sizeof(double));
    memcpy(x, in, sizeof(x));
    avf_heads_apply(h, x, &r); /* speech */
    /* music +1 against -4: weak, smoothed to -1.5 */
    memcpy(hd->bias, (double[]){-1, 1, -1, -50}, 4 * sizeof(double));
    memcpy(x, in, sizeof(x));
    avf_heads_apply(h, x, &r);
    assert_float_equal(r.content[1], sigmoid(-1.5), 1e-12);
    assert_float_equal(r.content[0], sigmoid(1.0), 1e-12);
    /* music +3 against -1.5: a restart, the segment alone */
    memcpy(hd->bias, (double[]){-1, 3, -1, -50}, 4 * sizeof(double));
    memcpy(x, in, sizeof(x));
    avf_heads_apply(h, x, &r);
    assert_float_equal(r.content[1], sigmoid(3), 1e-12);
    assert_float_equal(r.content[0], sigmoid(-1), 1e-12);
    /* and the state goes on from there: the next segment is smoothed with it */
    memcpy(hd->bias, (double[]){-3, 2, -1, -50}, 4 * sizeof(double));
    memcpy(x, in, sizeof(x));
    avf_heads_apply(h, x, &r);
    assert_float_equal(r.content[1], sigmoid(2.5), 1e-12);
    /* without the rule the same change is smoothed */
    hd->smoothing_restart = 0;
    memcpy(hd->bias, (double[]){3, -3, -1, -50}, 4 * sizeof(double));
    memcpy(x, in, sizeof(x));
    avf_heads_apply(h, x, &r);
    assert_float_equal(r.content[1], sigmoid(-0.25), 1e-12);
    avf_heads_free(&h);
    avf_model_free(&m);
    avf_fused_layout_free(&l);
}

static void test_wrong_head_outputs_refused(void **state)
{
    static const char *const wrong[] = {"speech", "music", "noise", "quiet"};
    avf_fused_layout *l = layout();
    avf_model *m = avf_model_new(l->dim, (const char *const *)l->names, "bad");
    char why[256] = "";

    (void)state;
    assert_true(avf_model_add_head(m, "content", AVF_HEAD_LOGISTIC, 4, wrong) >= 0);
    assert_null(avf_heads_new(m, l, why, sizeof(why)));
    assert_non_null(strstr(why, "content"));
    avf_model_free(&m);
    /* the affect head has one output, named affect */
    m = basis_model(l, 1, 0, 0, NAN);
    assert_true(avf_model_add_head(m, "affect", AVF_HEAD_LOGISTIC, 2, wrong) >= 0);
    assert_null(avf_heads_new(m, l, why, sizeof(why)));
    assert_string_equal(why, "head 'affect' must have the output affect");
    avf_model_free(&m);
    avf_fused_layout_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_order),
        cmocka_unit_test(test_vector_absent_video),
        cmocka_unit_test(test_absent_modalities_give_finite_output),
        cmocka_unit_test(test_video_arousal_follows_motion),
        cmocka_unit_test(test_content_smoothing),
        cmocka_unit_test(test_basis_silence_is_none),
        cmocka_unit_test(test_basis_speech_is_voice),
        cmocka_unit_test(test_basis_music_is_scene),
        cmocka_unit_test(test_basis_affect_gives_scene_valence),
        cmocka_unit_test(test_fit_affect_head),
        cmocka_unit_test(test_smoothing_restarts_rule),
        cmocka_unit_test(test_content_smoothing_restart),
        cmocka_unit_test(test_wrong_head_outputs_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
