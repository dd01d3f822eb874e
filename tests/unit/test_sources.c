/*
 * test_sources.c - unit tests of the daemon's set of sources (daemon/sources.c)
 * with the runners replaced by link seams.
 *
 * The test links with -Wl,--wrap for every runner function sources.c calls
 * (tests/CMakeLists.txt), so sources.c drives the fake runners below: they start
 * no thread, log what they were asked in order, and stop, end or stay stuck as a
 * test tells them. That shows what the set promises without a pipeline: a reload
 * touches only the sources added, removed or changed; the runners to stop are
 * stopped together and given one shared 1 s deadline; a source that stops and
 * comes back under its name continues where it left off (its seq, epoch and
 * timeline), also after it was abandoned; max_sources counts abandoned runners.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/time.h>

#include "base/error.h"
#include "daemon/sources.h"

/* The fake runner: the struct is opaque to sources.c, so the test defines it. */
struct avf_runner {
    avf_source_conf conf;
    int id;                    /* in the order of starts, from 1 */
    int has_resume;            /* start was given a resume */
    avf_runner_resume resumed; /* what start was given */
    avf_runner_resume left;    /* what free reports */
    enum avf_runner_state state;
    int stuck; /* free returns 1: abandoned */
    int alive;
    struct avf_runner *next_stuck;
};

static char events[1024]; /* "start a,stop a,free a," in call order */
static int nb_starts;
static int start_error;         /* returned by the next starts when not 0 */
static int abandoned;           /* what avf_runners_abandoned() says */
static int64_t deadlines[8];    /* the deadline_us of each free, minus the time of the call */
static int64_t deadline_abs[8]; /* the deadline_us of each free */
static int nb_frees;
static avf_runner *started[16]; /* every runner started, by id - 1 */
static avf_runner *stuck_list;  /* abandoned fakes, freed at teardown */

static void note(const char *what, const char *name)
{
    size_t n = strlen(events);

    snprintf(events + n, sizeof(events) - n, "%s %s,", what, name);
}

int __wrap_avf_runner_start(avf_runner **pr, const avf_source_conf *conf, const avf_runner_env *env,
                            const avf_runner_resume *resume);
void __wrap_avf_runner_stop(avf_runner *r);
int __wrap_avf_runner_free(avf_runner **pr, int64_t deadline_us, avf_runner_resume *resume);
int __wrap_avf_runners_abandoned(void);
int __wrap_avf_runner_reap(avf_runner *r);
const avf_source_conf *__wrap_avf_runner_conf(const avf_runner *r);
enum avf_runner_state __wrap_avf_runner_state(avf_runner *r);
char *__wrap_avf_runner_status(avf_runner *r);
void __wrap_avf_runner_publish_status(avf_runner *r);
void __wrap_avf_runner_reopen_output(avf_runner *r);
int __wrap_avf_runner_alive(avf_runner *r, int64_t now_us);

int __wrap_avf_runner_start(avf_runner **pr, const avf_source_conf *conf, const avf_runner_env *env,
                            const avf_runner_resume *resume)
{
    avf_runner *r;

    (void)env;
    note("start", conf->name);
    if (start_error)
        return start_error;
    r = calloc(1, sizeof(*r));
    assert_non_null(r);
    assert_int_equal(avf_source_conf_copy(&r->conf, conf), 0);
    r->id = ++nb_starts;
    r->has_resume = resume != NULL;
    if (resume)
        r->resumed = *resume;
    r->left = (avf_runner_resume){(uint64_t)r->id * 100, r->id * 10, r->id * 1000000};
    r->state = AVF_STATE_RUNNING;
    r->alive = 1;
    if (r->id <= 16)
        started[r->id - 1] = r;
    *pr = r;
    return 0;
}

void __wrap_avf_runner_stop(avf_runner *r)
{
    note("stop", r->conf.name);
}

int __wrap_avf_runner_free(avf_runner **pr, int64_t deadline_us, avf_runner_resume *resume)
{
    avf_runner *r = *pr;
    int stuck = r->stuck;

    note("free", r->conf.name);
    if (nb_frees < 8) {
        deadline_abs[nb_frees] = deadline_us;
        deadlines[nb_frees] = deadline_us - av_gettime_relative();
    }
    nb_frees++;
    if (resume)
        *resume = r->left;
    started[r->id - 1] = NULL;
    if (stuck) {
        abandoned++;
        r->next_stuck = stuck_list;
        stuck_list = r;
    } else {
        avf_source_conf_clear(&r->conf);
        free(r);
    }
    *pr = NULL;
    return stuck;
}

int __wrap_avf_runners_abandoned(void)
{
    return abandoned;
}

int __wrap_avf_runner_reap(avf_runner *r)
{
    note("reap", r->conf.name);
    return 1;
}

const avf_source_conf *__wrap_avf_runner_conf(const avf_runner *r)
{
    return &r->conf;
}

enum avf_runner_state __wrap_avf_runner_state(avf_runner *r)
{
    return r->state;
}

char *__wrap_avf_runner_status(avf_runner *r)
{
    char text[200];

    snprintf(text, sizeof(text),
             "{\"source\":\"%s\",\"state\":\"running\",\"epoch\":%d,\"next_seq\":%d}", r->conf.name,
             r->id, r->id * 7);
    return strdup(text);
}

void __wrap_avf_runner_publish_status(avf_runner *r)
{
    note("publish", r->conf.name);
}

void __wrap_avf_runner_reopen_output(avf_runner *r)
{
    note("reopen", r->conf.name);
}

int __wrap_avf_runner_alive(avf_runner *r, int64_t now_us)
{
    (void)now_us;
    return r->alive;
}

static int setup(void **state)
{
    (void)state;
    events[0] = 0;
    nb_starts = nb_frees = start_error = abandoned = 0;
    memset(started, 0, sizeof(started));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    while (stuck_list) {
        avf_runner *r = stuck_list;

        stuck_list = r->next_stuck;
        avf_source_conf_clear(&r->conf);
        free(r);
    }
    return 0;
}

/* A file source called name reading url. */
static void file_conf(avf_source_conf *sc, const char *name, const char *url)
{
    char why[200];

    avf_source_conf_init(sc, name);
    assert_int_equal(avf_source_conf_set(sc, "type", "file", why, sizeof(why)), 0);
    assert_int_equal(avf_source_conf_set(sc, "url", url, why, sizeof(why)), 0);
}

/* The strings of a JSON array joined with ','. */
static const char *names(json_t *report, const char *key)
{
    static char text[200];
    json_t *list = json_object_get(report, key), *v;
    size_t i;

    assert_true(json_is_array(list));
    text[0] = 0;
    json_array_foreach(list, i, v)
    {
        size_t n = strlen(text);

        snprintf(text + n, sizeof(text) - n, "%s%s", i ? "," : "", json_string_value(v));
    }
    return text;
}

static avf_runner *find_started(const char *name)
{
    for (int i = 0; i < 16; i++)
        if (started[i] && !strcmp(started[i]->conf.name, name))
            return started[i];
    fail_msg("no running fake called %s", name);
    return NULL;
}

static void test_add_remove(void **state)
{
    avf_runner_env env = {0};
    avf_sources *set = avf_sources_new(&env);
    avf_source_conf a, bad;
    char why[400];

    (void)state;
    assert_non_null(set);
    file_conf(&a, "a", "/srv/a.mp4");
    assert_int_equal(avf_sources_add(set, &a, why, sizeof(why)), 0);
    assert_int_equal(avf_sources_count(set), 1);
    assert_string_equal(find_started("a")->conf.url, "/srv/a.mp4");
    assert_false(find_started("a")->has_resume); /* a new source starts at seq 0 */

    assert_int_equal(avf_sources_add(set, &a, why, sizeof(why)), AVF_ERR_CONFIG);
    assert_string_equal(why, "source a already exists");
    avf_source_conf_init(&bad, "b"); /* no type: refused before any runner starts */
    assert_int_equal(avf_sources_add(set, &bad, why, sizeof(why)), AVF_ERR_CONFIG);
    assert_string_equal(why, "source b: type is missing");

    start_error = AVERROR(ENOMEM);
    file_conf(&bad, "c", "/srv/c.mp4");
    assert_int_equal(avf_sources_add(set, &bad, why, sizeof(why)), AVERROR(ENOMEM));
    assert_string_equal(why, "source c: cannot start");
    assert_int_equal(avf_sources_count(set), 1);
    start_error = 0;

    assert_int_equal(avf_sources_remove(set, "zz", why, sizeof(why)), AVF_ERR_CONFIG);
    assert_string_equal(why, "no source called 'zz'");
    assert_int_equal(avf_sources_remove(set, "a", why, sizeof(why)), 0);
    assert_int_equal(avf_sources_count(set), 0);
    assert_string_equal(events, "start a,start c,stop a,free a,");
    avf_sources_free(&set);
    assert_null(set);
    avf_sources_free(&set);
    avf_source_conf_clear(&a);
    avf_source_conf_clear(&bad);
}

/* A reload stops the removed and changed sources together, leaves the unchanged
 * ones alone, and restarts a changed one where it left off. */
static void test_reload_touches_only_the_diff(void **state)
{
    avf_runner_env env = {0};
    avf_sources *set = avf_sources_new(&env);
    avf_source_conf first[3], second[3];
    avf_config c1 = {.max_sources = 8, .sources = first, .nb_sources = 3};
    avf_config c2 = {.max_sources = 8, .sources = second, .nb_sources = 3};
    json_t *report = json_object();
    avf_runner *a;
    int b_id;

    (void)state;
    file_conf(&first[0], "a", "/srv/a.mp4");
    file_conf(&first[1], "b", "/srv/b.mp4");
    file_conf(&first[2], "c", "/srv/c.mp4");
    assert_int_equal(avf_sources_apply(set, &c1, report), 0);
    assert_string_equal(names(report, "added"), "a,b,c");
    assert_string_equal(names(report, "removed"), "");
    assert_string_equal(names(report, "changed"), "");
    a = find_started("a");
    b_id = find_started("b")->id;

    file_conf(&second[0], "d", "/srv/d.mp4");  /* added */
    file_conf(&second[1], "b", "/srv/b2.mp4"); /* changed */
    file_conf(&second[2], "a", "/srv/a.mp4");  /* unchanged, elsewhere in the file */
    events[0] = 0;
    nb_frees = 0;
    assert_int_equal(avf_sources_apply(set, &c2, report), 0);
    assert_string_equal(names(report, "added"), "d");
    assert_string_equal(names(report, "removed"), "c");
    assert_string_equal(names(report, "changed"), "b");
    /* both stopped before either is waited for, then given the same deadline */
    assert_string_equal(events, "stop b,stop c,free b,free c,start d,start b,");
    assert_int_equal(nb_frees, 2);
    assert_true(deadline_abs[0] == deadline_abs[1]);
    assert_true(deadlines[0] > 900000 && deadlines[0] <= 1000000);
    assert_ptr_equal(find_started("a"), a); /* the very same runner, never stopped */
    assert_false(find_started("a")->has_resume);
    /* the changed source continues its seq, epoch and timeline */
    assert_true(find_started("b")->has_resume);
    assert_int_equal(find_started("b")->resumed.next_seq, b_id * 100);
    assert_int_equal(find_started("b")->resumed.next_epoch, b_id * 10);
    assert_int_equal(find_started("b")->resumed.timeline_us, b_id * 1000000);
    assert_false(find_started("d")->has_resume);
    assert_int_equal(avf_sources_count(set), 3);

    /* the same configuration again: nothing at all happens */
    events[0] = 0;
    assert_int_equal(avf_sources_apply(set, &c2, report), 0);
    assert_string_equal(events, "");
    assert_string_equal(names(report, "added"), "");
    assert_string_equal(names(report, "changed"), "");
    avf_sources_free(&set);
    json_decref(report);
    for (int i = 0; i < 3; i++) {
        avf_source_conf_clear(&first[i]);
        avf_source_conf_clear(&second[i]);
    }
}

/* remove then add: the seq, epoch and timeline go on, from the latest stop. */
static void test_comes_back_where_it_left_off(void **state)
{
    avf_runner_env env = {0};
    avf_sources *set = avf_sources_new(&env);
    avf_source_conf a, other;
    char why[400];
    avf_runner *r;

    (void)state;
    file_conf(&a, "a", "/srv/a.mp4");
    file_conf(&other, "other", "/srv/o.mp4");
    assert_int_equal(avf_sources_add(set, &a, why, sizeof(why)), 0);
    assert_int_equal(avf_sources_add(set, &other, why, sizeof(why)), 0);
    find_started("a")->left = (avf_runner_resume){42, 3, 7000000};
    find_started("other")->left = (avf_runner_resume){9, 9, 9};
    assert_int_equal(avf_sources_remove(set, "a", why, sizeof(why)), 0);
    assert_int_equal(avf_sources_remove(set, "other", why, sizeof(why)), 0);
    assert_int_equal(avf_sources_add(set, &a, why, sizeof(why)), 0);
    r = find_started("a");
    assert_true(r->has_resume);
    assert_int_equal(r->resumed.next_seq, 42);
    assert_int_equal(r->resumed.next_epoch, 3);
    assert_int_equal(r->resumed.timeline_us, 7000000);

    /* a second stop replaces what the first one kept */
    r->left = (avf_runner_resume){50, 4, 8000000};
    assert_int_equal(avf_sources_remove(set, "a", why, sizeof(why)), 0);
    assert_int_equal(avf_sources_add(set, &a, why, sizeof(why)), 0);
    r = find_started("a");
    assert_int_equal(r->resumed.next_seq, 50);
    assert_int_equal(r->resumed.next_epoch, 4);
    assert_int_equal(r->resumed.timeline_us, 8000000);
    avf_sources_free(&set);
    avf_source_conf_clear(&a);
    avf_source_conf_clear(&other);
}

/* A runner that does not stop within 1 s is abandoned: its name is free at
 * once, the new source continues from it, and it counts against max_sources. */
static void test_abandoned_runner(void **state)
{
    avf_runner_env env = {0};
    avf_sources *set = avf_sources_new(&env);
    avf_source_conf a, b;
    avf_source_conf confs[2];
    avf_config c = {.max_sources = 2, .sources = confs, .nb_sources = 0};
    char why[400];
    int64_t before;

    (void)state;
    file_conf(&a, "a", "/srv/a.mp4");
    file_conf(&b, "b", "/srv/b.mp4");
    assert_int_equal(avf_sources_apply(set, &c, NULL), 0); /* max_sources = 2 */
    assert_int_equal(avf_sources_add(set, &a, why, sizeof(why)), 0);
    find_started("a")->stuck = 1;
    find_started("a")->left = (avf_runner_resume){77, 5, 3000000};
    before = av_gettime_relative();
    assert_int_equal(avf_sources_remove(set, "a", why, sizeof(why)), 0);
    assert_true(deadline_abs[0] >= before + 1000000 &&
                deadline_abs[0] <= av_gettime_relative() + 1000000);
    assert_int_equal(avf_sources_count(set), 0);
    assert_int_equal(abandoned, 1);

    assert_int_equal(avf_sources_add(set, &a, why, sizeof(why)), 0);
    assert_int_equal(find_started("a")->resumed.next_seq, 77);
    assert_int_equal(find_started("a")->resumed.next_epoch, 5);
    /* one running and one abandoned: the limit of 2 is reached */
    assert_int_equal(avf_sources_add(set, &b, why, sizeof(why)), AVF_ERR_CONFIG);
    assert_string_equal(why, "source b: 2 sources run already (counting those abandoned, still "
                             "stuck), max_sources = 2 (raise it in [daemon], or remove a source "
                             "first)");
    abandoned = 0; /* its thread ended at last */
    assert_int_equal(avf_sources_add(set, &b, why, sizeof(why)), 0);
    avf_sources_free(&set);
    avf_source_conf_clear(&a);
    avf_source_conf_clear(&b);
}

/* The applied configuration's max_sources: sources beyond it are refused, the
 * others run, and the first error is returned. */
static void test_max_sources(void **state)
{
    avf_runner_env env = {0};
    avf_sources *set = avf_sources_new(&env);
    avf_source_conf confs[3], d;
    avf_config c = {.max_sources = 2, .sources = confs, .nb_sources = 3};
    json_t *report = json_object();
    char why[400];

    (void)state;
    file_conf(&confs[0], "a", "/srv/a.mp4");
    file_conf(&confs[1], "b", "/srv/b.mp4");
    file_conf(&confs[2], "c", "/srv/c.mp4");
    file_conf(&d, "d", "/srv/d.mp4");
    assert_int_equal(avf_sources_apply(set, &c, report), AVF_ERR_CONFIG);
    assert_string_equal(names(report, "added"), "a,b");
    assert_int_equal(avf_sources_count(set), 2);
    assert_string_equal(events, "start a,start b,");
    assert_int_equal(avf_sources_add(set, &d, why, sizeof(why)), AVF_ERR_CONFIG);
    assert_string_equal(why, "source d: 2 sources run already, max_sources = 2 (raise it in "
                             "[daemon], or remove a source first)");
    /* raised by a reload: the source left out before starts now */
    c.max_sources = 3;
    assert_int_equal(avf_sources_apply(set, &c, report), 0);
    assert_string_equal(names(report, "added"), "c");
    assert_int_equal(avf_sources_count(set), 3);
    avf_sources_free(&set);
    json_decref(report);
    for (int i = 0; i < 3; i++)
        avf_source_conf_clear(&confs[i]);
    avf_source_conf_clear(&d);
}

/* reap joins only the runners that ended or failed; active counts the others;
 * alive names the first runner that makes no progress. */
static void test_reap_active_alive(void **state)
{
    avf_runner_env env = {0};
    avf_sources *set = avf_sources_new(&env);
    avf_source_conf confs[3];
    avf_config c = {.max_sources = 8, .sources = confs, .nb_sources = 3};
    char stuck[8];
    json_t *list;

    (void)state;
    file_conf(&confs[0], "a", "/srv/a.mp4");
    file_conf(&confs[1], "bbbbbbbbbbbb", "/srv/b.mp4");
    file_conf(&confs[2], "c", "/srv/c.mp4");
    assert_int_equal(avf_sources_apply(set, &c, NULL), 0);
    find_started("a")->state = AVF_STATE_ENDED;
    find_started("c")->state = AVF_STATE_FAILED;
    find_started("bbbbbbbbbbbb")->state = AVF_STATE_RECONNECTING;
    assert_int_equal(avf_sources_active(set), 1);
    events[0] = 0;
    avf_sources_reap(set);
    assert_string_equal(events, "reap a,reap c,");

    assert_int_equal(avf_sources_alive(set, stuck, sizeof(stuck)), 1);
    find_started("bbbbbbbbbbbb")->alive = 0;
    assert_int_equal(avf_sources_alive(set, stuck, sizeof(stuck)), 0);
    assert_string_equal(stuck, "bbbbbbb"); /* cut to fit, NUL-terminated */
    assert_int_equal(avf_sources_alive(set, NULL, 0), 0);

    events[0] = 0;
    avf_sources_publish_status(set);
    avf_sources_reopen_outputs(set);
    assert_string_equal(events, "publish a,publish bbbbbbbbbbbb,publish c,"
                                "reopen a,reopen bbbbbbbbbbbb,reopen c,");
    list = avf_sources_list(set);
    assert_int_equal(json_array_size(list), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 2), "url")),
                        "/srv/c.mp4");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 2), "epoch")), 3);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 2), "next_seq")), 21);
    json_decref(list);

    /* freeing the set stops all three together */
    events[0] = 0;
    avf_sources_free(&set);
    assert_string_equal(events, "stop a,stop bbbbbbbbbbbb,stop c,free a,free bbbbbbbbbbbb,free c,");
    for (int i = 0; i < 3; i++)
        avf_source_conf_clear(&confs[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_add_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_touches_only_the_diff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_comes_back_where_it_left_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abandoned_runner, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_sources, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reap_active_alive, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
