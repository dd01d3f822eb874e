/*
 * test_scores.c - the scores of a hand-computed confusion matrix, and the mixture
 * and music-onset figures of hand-built result sequences.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <math.h>

#include <cmocka.h>

#include "fusion/scores.h"

enum { SPEECH, MUSIC, NOISE, SILENCE };
#define BIT(c) (1 << (c))

static void test_hand_computed(void **state)
{
    /* truth \ predicted:  A  B  C
     *               A    5  1  0
     *               B    2  3  1
     *               C    0  0  4      */
    static const int m[3][3] = {{5, 1, 0}, {2, 3, 1}, {0, 0, 4}};
    avf_confusion c;
    avf_scores s;

    (void)state;
    avf_confusion_init(&c, 3);
    for (int t = 0; t < 3; t++)
        for (int p = 0; p < 3; p++)
            for (int n = 0; n < m[t][p]; n++)
                avf_confusion_add(&c, t, p);
    avf_confusion_scores(&c, &s);
    /* A: P = 5/7, R = 5/6; B: P = 3/4, R = 3/6; C: P = 4/5, R = 4/4 */
    assert_float_equal(s.precision[0], 5.0 / 7, 1e-12);
    assert_float_equal(s.recall[0], 5.0 / 6, 1e-12);
    assert_float_equal(s.precision[1], 0.75, 1e-12);
    assert_float_equal(s.recall[1], 0.5, 1e-12);
    assert_float_equal(s.precision[2], 0.8, 1e-12);
    assert_float_equal(s.recall[2], 1.0, 1e-12);
    assert_float_equal(s.f1[0], 2 * (5.0 / 7) * (5.0 / 6) / (5.0 / 7 + 5.0 / 6), 1e-12);
    assert_float_equal(s.f1[1], 0.6, 1e-12);
    assert_float_equal(s.f1[2], 2 * 0.8 / 1.8, 1e-12);
    assert_float_equal(s.macro_f1, (s.f1[0] + s.f1[1] + s.f1[2]) / 3, 1e-12);
    assert_float_equal(s.uar, (5.0 / 6 + 0.5 + 1.0) / 3, 1e-12);
    assert_float_equal(s.accuracy, 12.0 / 16, 1e-12);
    assert_int_equal(s.total, 16);
    assert_int_equal(s.support[1], 6);
}

static void test_missing_class_not_averaged(void **state)
{
    avf_confusion c;
    avf_scores s;

    (void)state;
    avf_confusion_init(&c, 3);
    avf_confusion_add(&c, 0, 0);
    avf_confusion_add(&c, 1, 0);
    avf_confusion_add(&c, 1, 1);
    avf_confusion_add(&c, 7, 0); /* out of range: ignored */
    avf_confusion_scores(&c, &s);
    /* class 2 has no support: the averages are over classes 0 and 1 */
    assert_float_equal(s.uar, (1.0 + 0.5) / 2, 1e-12);
    assert_int_equal(s.total, 3);
    assert_float_equal(s.precision[2], 0, 0);
}

/* A mixture is found when every true class gets >= 0.5, whatever the others get. */
static void test_mixtures(void **state)
{
    const int sm = BIT(SPEECH) | BIT(MUSIC), sn = BIT(SPEECH) | BIT(NOISE);
    avf_mixture_scores a, b;
    int64_t total;

    (void)state;
    avf_mixture_init(&a);
    avf_mixture_add(&a, sm, (double[]){0.9, 0.5, 0.7, 0});     /* found: 0.5 counts */
    avf_mixture_add(&a, sm, (double[]){0.9, 0.49, 0, 0});      /* music missed */
    avf_mixture_add(&a, sm, (double[]){0.2, 0.8, 0, 0});       /* speech missed */
    avf_mixture_add(&a, sn, (double[]){0.6, 0, 0.6, 0});       /* found */
    avf_mixture_add(&a, BIT(MUSIC), (double[]){0, 0.1, 0, 0}); /* one class: not a mixture */
    avf_mixture_add(&a, 0, (double[]){0, 0, 0, 0});            /* no label */
    assert_float_equal(avf_mixture_share(&a, sm, &total), 1.0 / 3, 1e-12);
    assert_int_equal(total, 3);
    assert_float_equal(avf_mixture_share(&a, sn, &total), 1.0, 1e-12);
    assert_int_equal(total, 1);
    assert_float_equal(avf_mixture_share(&a, -1, &total), 2.0 / 4, 1e-12);
    assert_int_equal(total, 4);
    assert_true(isnan(avf_mixture_share(&a, BIT(MUSIC) | BIT(NOISE), &total)));
    avf_mixture_init(&b);
    avf_mixture_add(&b, sm, (double[]){1, 1, 0, 0});
    avf_mixture_merge(&a, &b);
    assert_float_equal(avf_mixture_share(&a, sm, &total), 2.0 / 4, 1e-12);
}

/* A segment of run `run`, row `row` (whose content is content, from start), ending at t1. */
static int seg(avf_onset_scores *o, int run, int row, int content, double start, double t1,
               double music)
{
    const avf_onset_segment s = {run, row, content, start, t1 - 1, t1, music};

    return avf_onset_add(o, &s);
}

/*
 * Run 0: 3 s of speech, then music from 3 s recognised in its second segment
 * (delay 2 s). Run 1: a source starting on music, right at once (1 s). Run 2:
 * noise, then music in two rows: the start is the first music row's, found in
 * the second row (delay 4 s); its second music row is no start of its own. Run 3:
 * music never reaching 0.5 (never). Run 4: speech+music from 0, then speech, then
 * music again: two starts, 1 s and 1 s.
 */
static void test_music_onset(void **state)
{
    const int sp = BIT(SPEECH), mu = BIT(MUSIC), no = BIT(NOISE), sm = sp | mu;
    avf_onset_scores o, pooled;

    (void)state;
    avf_onset_init(&o, MUSIC);
    for (int t = 1; t <= 3; t++)
        assert_int_equal(seg(&o, 0, 0, sp, 0, t, 0.9), 0); /* speech is no music start */
    seg(&o, 0, 1, mu, 3, 4, 0.2);
    seg(&o, 0, 1, mu, 3, 5, 0.7);
    seg(&o, 0, 1, mu, 3, 6, 0.1); /* after the onset: no matter */
    seg(&o, 1, 2, mu, 0, 1, 0.5);
    seg(&o, 2, 3, no, 0, 1, 0.6); /* music said during noise: no start there */
    seg(&o, 2, 4, mu, 1, 2, 0.1);
    seg(&o, 2, 4, mu, 1, 3, 0.1);
    seg(&o, 2, 5, mu, 3, 4, 0.3);
    seg(&o, 2, 5, mu, 3, 5, 0.8);
    seg(&o, 3, 6, mu, 0, 1, 0.3);
    seg(&o, 3, 6, mu, 0, 2, 0.4);
    seg(&o, 4, 7, sm, 0, 1, 0.6);
    seg(&o, 4, 8, sp, 1, 2, 0.0);
    seg(&o, 4, 9, mu, 2, 3, 0.9);
    avf_onset_finish(&o);
    assert_int_equal(o.starts, 6);
    assert_int_equal(o.never, 1);
    assert_int_equal(o.nb_delays, 5);
    assert_float_equal(o.delays[0], 2.0, 1e-12);
    assert_float_equal(o.delays[1], 1.0, 1e-12);
    assert_float_equal(o.delays[2], 4.0, 1e-12);
    assert_float_equal(o.delays[3], 1.0, 1e-12);
    assert_float_equal(o.delays[4], 1.0, 1e-12);
    /* within 1 s: 3 of the 6 starts (never counts against); median of 1,1,1,2,4 */
    assert_float_equal(avf_onset_share_within(&o, 1.0), 3.0 / 6, 1e-12);
    assert_float_equal(avf_onset_median(&o), 1.0, 1e-12);
    /* pooling keeps every delay: an even count's median is the mean of the middle two */
    avf_onset_init(&pooled, MUSIC);
    assert_int_equal(avf_onset_merge(&pooled, &o), 0);
    seg(&o, 5, 10, mu, 0, 1, 0.1);
    seg(&o, 5, 10, mu, 0, 2, 0.1);
    seg(&o, 5, 10, mu, 0, 3, 0.9); /* 3 s */
    avf_onset_finish(&o);
    assert_int_equal(avf_onset_merge(&pooled, &o), 0);
    assert_int_equal(pooled.starts, 6 + 7);
    assert_int_equal(pooled.never, 2);
    assert_float_equal(avf_onset_median(&o), 1.5, 1e-12); /* 1,1,1,2,3,4 */
    avf_onset_clear(&o);
    assert_int_equal(o.starts, 0);
    assert_true(isnan(avf_onset_share_within(&o, 1.0)));
    assert_true(isnan(avf_onset_median(&o)));
    avf_onset_clear(&pooled);
}

/* A row starting between segment boundaries counts from its first whole segment. */
static void test_music_onset_unaligned_row(void **state)
{
    const avf_onset_segment s = {0, 0, BIT(MUSIC), 31.688, 32, 33, 0.9};
    avf_onset_scores o;

    (void)state;
    avf_onset_init(&o, MUSIC);
    assert_int_equal(avf_onset_add(&o, &s), 0);
    avf_onset_finish(&o);
    assert_int_equal(o.nb_delays, 1);
    assert_float_equal(o.delays[0], 1.0, 1e-12);
    avf_onset_clear(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mixtures),
        cmocka_unit_test(test_music_onset),
        cmocka_unit_test(test_music_onset_unaligned_row),
        cmocka_unit_test(test_hand_computed),
        cmocka_unit_test(test_missing_class_not_averaged),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
