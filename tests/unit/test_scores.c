/*
 * test_scores.c - the scores of a hand-computed confusion matrix.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fusion/scores.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_computed),
        cmocka_unit_test(test_missing_class_not_averaged),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
