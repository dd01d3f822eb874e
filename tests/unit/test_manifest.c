/*
 * test_manifest.c - manifest parsing: multi-label content, the group column, runs
 * of consecutive rows, refused labels with file:line, and the fold of a group.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/vocab.h"
#include "tools/manifest.h"

#define BIT(c) (1 << (c))

static char dir[] = "/tmp/avf-test-manifest-XXXXXX";
static char path[256];

/* Writes text as the manifest file and loads it; returns avf_manifest_load()'s result. */
static int load(avf_manifest *m, const char *text, char *why, size_t why_size)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return avf_manifest_load(m, path, why, why_size);
}

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof(path), "%s/m.csv", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    rmdir(dir);
    return 0;
}

/* The old six columns: one class each, every row its own run and its file's group. */
static void test_six_columns(void **state)
{
    avf_manifest m;
    char why[256];

    (void)state;
    assert_int_equal(load(&m,
                          "file,start,end,content,valence,arousal\n"
                          "a.wav,,,speech,neutral,low\n"
                          "b.wav,0,4,music,,\n"
                          "a.wav,,,,,high\n",
                          why, sizeof(why)),
                     0);
    assert_int_equal(m.n, 3);
    assert_int_equal(m.rows[0].content, BIT(AVF_SPEECH));
    assert_int_equal(m.rows[1].content, BIT(AVF_MUSIC));
    assert_int_equal(m.rows[2].content, 0); /* no label */
    assert_int_equal(m.rows[0].valence, 1);
    assert_int_equal(m.rows[2].arousal, 2);
    for (int i = 0; i < 3; i++)
        assert_int_equal(m.rows[i].run, i);
    /* the group is the file as written: a.wav's two rows share one */
    assert_int_equal(m.nb_groups, 2);
    assert_string_equal(m.groups[m.rows[0].group], "a.wav");
    assert_int_equal(m.rows[2].group, m.rows[0].group);
    assert_string_equal(m.groups[m.rows[1].group], "b.wav");
    assert_non_null(strstr(m.rows[0].path, "/a.wav"));
    avf_manifest_clear(&m);
}

/* content joined by '+', a group column in any position, runs of consecutive rows */
static void test_multilabel_groups_runs(void **state)
{
    avf_manifest m;
    char why[256];

    (void)state;
    assert_int_equal(load(&m,
                          "group,file,start,end,content,valence,arousal\n"
                          "spk1,a.wav,0,3,speech,neutral,\n"
                          ",a.wav,3,11,music,,\n"           /* continues the run */
                          ",a.wav,11,12,speech+music,,\n"   /* and again */
                          "spk1,b.wav,0,2,noise+speech,,\n" /* another file: a new run */
                          ",b.wav,3,5,silence,,\n"          /* a gap: a new run */
                          ",c.wav,0,2,music+speech+noise,,\n",
                          why, sizeof(why)),
                     0);
    assert_int_equal(m.n, 6);
    assert_int_equal(m.rows[2].content, BIT(AVF_SPEECH) | BIT(AVF_MUSIC));
    assert_int_equal(m.rows[3].content, BIT(AVF_SPEECH) | BIT(AVF_NOISE));
    assert_int_equal(m.rows[5].content, BIT(AVF_SPEECH) | BIT(AVF_MUSIC) | BIT(AVF_NOISE));
    assert_int_equal(m.rows[0].run, 0);
    assert_int_equal(m.rows[1].run, 0);
    assert_int_equal(m.rows[2].run, 0);
    assert_int_equal(m.rows[3].run, 3);
    assert_int_equal(m.rows[4].run, 4);
    assert_int_equal(m.rows[5].run, 5);
    /* a run's rows take its group; an empty group elsewhere is the file's */
    assert_string_equal(m.groups[m.rows[1].group], "spk1");
    assert_string_equal(m.groups[m.rows[2].group], "spk1");
    assert_int_equal(m.rows[3].group, m.rows[0].group);
    assert_string_equal(m.groups[m.rows[4].group], "b.wav");
    assert_string_equal(m.groups[m.rows[5].group], "c.wav");
    assert_int_equal(m.nb_groups, 3);
    avf_manifest_clear(&m);
}

/* Each refusal names file:line and what is allowed. */
static void test_refused(void **state)
{
    static const struct {
        const char *row, *line, *says;
    } cases[] = {
        {"a.wav,,,quiet,,\n", ":2: unknown content 'quiet'", "speech, music, noise or silence"},
        {"a.wav,,,speech+,,\n", ":2: unknown content 'speech+'", "joined by '+'"},
        {"a.wav,,,+music,,\n", ":2: unknown content '+music'", "speech+music"},
        {"a.wav,,,speech+chatter,,\n", ":2: unknown content", "or empty"},
        {"a.wav,,,speech,sad,\n", ":2: unknown label", "negative, neutral or positive"},
        {"a.wav,,,speech,,loud\n", ":2: unknown label", "low, medium or high"},
        {"a.wav,4,2,speech,,\n", ":2: start/end", "start < end"},
        {"a.wav,,,speech\n", ":2: 4 fields", "the header has 6"},
    };
    avf_manifest m;
    char why[512], text[256];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(text, sizeof(text), "file,start,end,content,valence,arousal\n%s", cases[i].row);
        assert_true(load(&m, text, why, sizeof(why)) < 0);
        assert_non_null(strstr(why, path));
        if (!strstr(why, cases[i].line) || !strstr(why, cases[i].says))
            fail_msg("case %zu: '%s'", i, why);
        assert_int_equal(m.n, 0);
    }
    /* a row continuing a run with another group */
    assert_true(load(&m,
                     "file,start,end,content,valence,arousal,group\n"
                     "a.wav,0,3,speech,,,g1\n"
                     "a.wav,3,5,music,,,g2\n",
                     why, sizeof(why)) < 0);
    assert_non_null(strstr(why, ":3: group 'g2' in a run of group 'g1'"));
    assert_true(load(&m, "file,start,content,valence,arousal\n", why, sizeof(why)) < 0);
    assert_non_null(strstr(why, ":1: no 'end' column"));
}

/* The fold is FNV-1a 64 of the name modulo k: fixed, in range, spread evenly. */
static void test_fold(void **state)
{
    int count[5] = {0};
    char name[32];

    (void)state;
    /* FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c (the published test vector) */
    assert_int_equal(avf_manifest_fold("a", 5), (int)(0xaf63dc4c8601ec8cULL % 5));
    assert_int_equal(avf_manifest_fold("a", 7), (int)(0xaf63dc4c8601ec8cULL % 7));
    /* the empty name is the offset basis */
    assert_int_equal(avf_manifest_fold("", 10), (int)(0xcbf29ce484222325ULL % 10));
    for (int i = 0; i < 1000; i++) {
        int f;

        snprintf(name, sizeof(name), "speaker-%d", i);
        f = avf_manifest_fold(name, 5);
        assert_true(f >= 0 && f < 5);
        assert_int_equal(f, avf_manifest_fold(name, 5)); /* the same every time */
        count[f]++;
    }
    for (int f = 0; f < 5; f++)
        assert_true(count[f] > 150 && count[f] < 250);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_six_columns),
        cmocka_unit_test(test_multilabel_groups_runs),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_fold),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
