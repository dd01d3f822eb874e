/*
 * test_runner.c - unit tests of a source's thread (daemon/runner.c) with the
 * pipeline and the publisher behind link seams.
 *
 * The test links with -Wl,--wrap for the scheduler calls runner.c makes, the
 * publisher's send and the segment's message (tests/CMakeLists.txt). Each test
 * scripts what the fake pipelines do, connection after connection: fail to open
 * with an error, give some segments on a given clock, end with an error or with
 * counters, block until released, run until stopped. The runner's thread is real;
 * what it decides shows in what it publishes: the seq and epoch of each segment
 * and where its epoch sits on the timeline, the backoff between connections and
 * its jitter, the states and error texts of the status messages, the counters
 * carried over from ended pipelines, an output file it cannot write, and a runner
 * abandoned at its deadline that publishes nothing more.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <libavutil/error.h>
#include <libavutil/time.h>

#include "base/error.h"
#include "daemon/runner.h"
#include "fusion/events.h"
#include "fusion/message.h"
#include "engine/scheduler.h"
#include "pipeline/segmenter.h"

#define MAX_CONNECTIONS 16
#define MAX_MESSAGES    256

/* What one connection's fake pipeline does. */
typedef struct connection {
    int open_error;     /* avf_sched_open() fails with it */
    const char *reason; /* ... and explains it with this */
    int segments;       /* given one second each from t = 0 */
    int64_t clock_us;   /* avf_sched_clock_offset(), when known */
    int clock_known;
    int wait_error; /* avf_sched_wait() returns it */
    int64_t ended_early_us, declared_end_us;
    uint64_t packet_drops;
    int block;   /* receive blocks until released, then gives one segment */
    int forever; /* a segment every 20 ms until stopped */
} connection;

struct avf_sched {
    const connection *c;
    const atomic_int *stop;
    int given;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static connection script[MAX_CONNECTIONS];
static int nb_opens;
static int64_t open_times[MAX_CONNECTIONS];
static int released;
static char *topics[MAX_MESSAGES], *texts[MAX_MESSAGES];
static int nb_messages;

int __wrap_avf_sched_open(avf_sched **ps, const char *url, const avf_pipeline_config *cfg);
int __wrap_avf_sched_start(avf_sched *s);
int __wrap_avf_sched_receive(avf_sched *s, avf_result **res);
int __wrap_avf_sched_wait(avf_sched *s, avf_pipeline_stats *stats);
void __wrap_avf_sched_counters_get(avf_sched *s, avf_sched_counters *c);
int __wrap_avf_sched_clock_offset(const avf_sched *s, int64_t *offset_us);
void __wrap_avf_sched_free(avf_sched **ps);
int __wrap_avf_publisher_send(avf_publisher *p, const char *topic, char *json);
uint64_t __wrap_avf_publisher_drops(avf_publisher *p, const char *name);
char *__wrap_avf_segment_message(const avf_segment *seg, const avf_fusion_out *out,
                                 const avf_message_meta *meta);
void __wrap_avf_result_free(avf_result **pres);

int __wrap_avf_sched_open(avf_sched **ps, const char *url, const avf_pipeline_config *cfg)
{
    const connection *c;
    avf_sched *s;

    (void)url;
    pthread_mutex_lock(&lock);
    c = &script[nb_opens < MAX_CONNECTIONS ? nb_opens : MAX_CONNECTIONS - 1];
    if (nb_opens < MAX_CONNECTIONS)
        open_times[nb_opens] = av_gettime_relative();
    nb_opens++;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
    if (c->open_error) {
        if (c->reason)
            snprintf(cfg->why, cfg->why_size, "%s", c->reason);
        return c->open_error;
    }
    s = calloc(1, sizeof(*s));
    s->c = c;
    s->stop = cfg->stop;
    *ps = s;
    return 0;
}

int __wrap_avf_sched_start(avf_sched *s)
{
    (void)s;
    return 0;
}

/* The i-th segment of a connection, without fusion outputs or events. */
static avf_result *segment(int i)
{
    avf_result *res = calloc(1, sizeof(*res));

    res->seg = calloc(1, sizeof(*res->seg));
    res->seg->t0_us = i * 1000000LL;
    res->seg->t1_us = (i + 1) * 1000000LL;
    res->seg->nb_frames = 2;
    res->seg->nb_samples = 16000;
    return res;
}

int __wrap_avf_sched_receive(avf_sched *s, avf_result **res)
{
    if (s->c->block) {
        pthread_mutex_lock(&lock);
        while (!released)
            pthread_cond_wait(&changed, &lock);
        pthread_mutex_unlock(&lock);
        if (s->given++)
            return AVF_EOS;
        *res = segment(0);
        return 0;
    }
    if (s->c->forever) {
        for (int i = 0; i < 50 && !atomic_load(s->stop); i++)
            av_usleep(1000);
        if (atomic_load(s->stop))
            return AVF_EOS;
        *res = segment(s->given++);
        return 0;
    }
    if (s->given >= s->c->segments)
        return AVF_EOS;
    *res = segment(s->given++);
    return 0;
}

int __wrap_avf_sched_wait(avf_sched *s, avf_pipeline_stats *stats)
{
    stats->ended_early_us = s->c->ended_early_us ? s->c->ended_early_us : INT64_MIN;
    stats->declared_end_us = s->c->declared_end_us;
    return s->c->wait_error;
}

void __wrap_avf_sched_counters_get(avf_sched *s, avf_sched_counters *c)
{
    memset(c, 0, sizeof(*c));
    c->packet_drops = s->c->packet_drops;
    c->discontinuities = 1;
}

int __wrap_avf_sched_clock_offset(const avf_sched *s, int64_t *offset_us)
{
    if (!s->c->clock_known)
        return AVERROR(ENOSYS);
    *offset_us = s->c->clock_us;
    return 0;
}

void __wrap_avf_sched_free(avf_sched **ps)
{
    free(*ps);
    *ps = NULL;
}

int __wrap_avf_publisher_send(avf_publisher *p, const char *topic, char *json)
{
    (void)p;
    pthread_mutex_lock(&lock);
    if (nb_messages < MAX_MESSAGES && json) {
        topics[nb_messages] = strdup(topic);
        texts[nb_messages++] = json;
        json = NULL;
    }
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
    free(json);
    return 0;
}

uint64_t __wrap_avf_publisher_drops(avf_publisher *p, const char *name)
{
    (void)p;
    return strlen(name); /* something the status must show as it is */
}

char *__wrap_avf_segment_message(const avf_segment *seg, const avf_fusion_out *out,
                                 const avf_message_meta *meta)
{
    (void)out;
    char text[200];

    snprintf(text, sizeof(text),
             "{\"source\":\"%s\",\"seq\":%" PRIu64 ",\"epoch\":%" PRId64 ",\"t0\":%" PRId64
             ",\"offset\":%" PRId64 "}",
             meta->source, meta->seq, meta->epoch, seg->t0_us, meta->offset_us);
    return strdup(text);
}

void __wrap_avf_result_free(avf_result **pres)
{
    if (*pres)
        free((*pres)->seg);
    free(*pres);
    *pres = NULL;
}

static int setup(void **state)
{
    (void)state;
    memset(script, 0, sizeof(script));
    nb_opens = nb_messages = released = 0;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < nb_messages; i++) {
        free(topics[i]);
        free(texts[i]);
    }
    nb_messages = 0;
    return 0;
}

static void conf_of(avf_source_conf *sc, const char *name, const char *type, const char *url)
{
    char why[200];

    avf_source_conf_init(sc, name);
    assert_int_equal(avf_source_conf_set(sc, "type", type, why, sizeof(why)), 0);
    assert_int_equal(avf_source_conf_set(sc, "url", url, why, sizeof(why)), 0);
}

static void set(avf_source_conf *sc, const char *key, const char *value)
{
    char why[200];

    if (avf_source_conf_set(sc, key, value, why, sizeof(why)) < 0)
        fail_msg("%s", why);
}

/* The last status message says state (waits for it up to 5 s); returns it parsed. */
static json_t *wait_state(const char *state)
{
    int64_t deadline = av_gettime_relative() + 5000000;

    pthread_mutex_lock(&lock);
    for (;;) {
        for (int i = nb_messages - 1; i >= 0; i--)
            if (!strncmp(topics[i], "status/", 7)) {
                json_t *status = json_loads(texts[i], 0, NULL);

                if (!strcmp(json_string_value(json_object_get(status, "state")), state)) {
                    pthread_mutex_unlock(&lock);
                    return status;
                }
                json_decref(status);
                break;
            }
        if (av_gettime_relative() > deadline)
            break;
        pthread_mutex_unlock(&lock);
        av_usleep(5000);
        pthread_mutex_lock(&lock);
    }
    pthread_mutex_unlock(&lock);
    fail_msg("no status '%s' within 5 s", state);
    return NULL;
}

static void wait_opens(int n)
{
    int64_t deadline = av_gettime_relative() + 5000000;

    while (av_gettime_relative() < deadline) {
        pthread_mutex_lock(&lock);
        if (nb_opens >= n) {
            pthread_mutex_unlock(&lock);
            return;
        }
        pthread_mutex_unlock(&lock);
        av_usleep(5000);
    }
    fail_msg("fewer than %d connections within 5 s", n);
}

/* Waits up to 5 s for n segment messages. */
static void wait_segments(int n)
{
    int64_t deadline = av_gettime_relative() + 5000000;

    while (av_gettime_relative() < deadline) {
        int got = 0;

        pthread_mutex_lock(&lock);
        for (int i = 0; i < nb_messages; i++)
            got += !strncmp(topics[i], "seg/", 4);
        pthread_mutex_unlock(&lock);
        if (got >= n)
            return;
        av_usleep(5000);
    }
    fail_msg("fewer than %d segments within 5 s", n);
}

/* The segment messages as "seq/epoch/offset_s" joined with ' '. */
static const char *segments_text(void)
{
    static char text[2048];
    size_t n = 0;

    text[0] = 0;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < nb_messages; i++) {
        json_t *m;

        if (strncmp(topics[i], "seg/", 4))
            continue;
        m = json_loads(texts[i], 0, NULL);
        n += snprintf(text + n, sizeof(text) - n, "%s%lld/%lld/%g", n ? " " : "",
                      (long long)json_integer_value(json_object_get(m, "seq")),
                      (long long)json_integer_value(json_object_get(m, "epoch")),
                      (json_integer_value(json_object_get(m, "offset")) +
                       json_integer_value(json_object_get(m, "t0"))) /
                          1e6);
        json_decref(m);
    }
    pthread_mutex_unlock(&lock);
    return text;
}

static int64_t counter(json_t *status, const char *group, const char *name)
{
    json_t *c = json_object_get(status, "counters");

    if (group)
        c = json_object_get(c, group);
    return json_integer_value(json_object_get(c, name));
}

static const char *error_of(json_t *status)
{
    return json_string_value(json_object_get(status, "error"));
}

/* A file: its segments in order from where a resumed source left off; the states
 * it goes through; resume for the next runner of the name. */
static void test_file_resumed(void **state)
{
    avf_runner_env env = {0};
    avf_runner_resume resume = {42, 3, 5000000}, after;
    avf_source_conf sc;
    avf_runner *r = NULL;
    json_t *status;

    (void)state;
    script[0].segments = 3;
    conf_of(&sc, "cam", "file", "/srv/a.mp4");
    assert_int_equal(avf_runner_start(&r, &sc, &env, &resume), 0);
    status = wait_state("ended");
    assert_string_equal(segments_text(), "42/3/5 43/3/6 44/3/7");
    assert_int_equal(json_integer_value(json_object_get(status, "next_seq")), 45);
    assert_int_equal(json_integer_value(json_object_get(status, "epoch")), 3);
    assert_int_equal(counter(status, NULL, "segments"), 3);
    assert_int_equal(counter(status, NULL, "frames"), 6);
    assert_int_equal(counter(status, NULL, "samples"), 48000);
    assert_int_equal(counter(status, NULL, "publish_drops"), 3); /* the publisher's, for "cam" */
    assert_int_equal(counter(status, NULL, "reconnects"), 0);
    assert_true(json_is_null(json_object_get(status, "error")));
    json_decref(status);
    assert_int_equal(avf_runner_state(r), AVF_STATE_ENDED);
    assert_int_equal(avf_runner_alive(r, INT64_MAX), 1); /* ended: never stuck */
    assert_int_equal(avf_runner_free(&r, INT64_MAX, &after), 0);
    assert_null(r);
    assert_int_equal(after.next_seq, 45);
    assert_int_equal(after.next_epoch, 4);
    assert_int_equal(after.timeline_us, 8000000);
    pthread_mutex_lock(&lock);
    assert_string_equal(topics[0], "status/cam/");
    pthread_mutex_unlock(&lock);
    avf_source_conf_clear(&sc);
}

/* A live stream: exponential backoff with jitter between failed connections,
 * reset by one that published; failed attempts use up no epoch; the pipelines'
 * drops carried over. */
static void test_backoff_and_epochs(void **state)
{
    avf_runner_env env = {0};
    avf_source_conf sc;
    avf_runner *r = NULL;
    json_t *status;
    char expected[300], err[100];
    /* from one open to the next: the delay before jitter (x 0.75 .. 1.25) */
    const double delays[] = {0.1, 0.2, 0.3, 0.3, 0.1, 0.2};

    (void)state;
    for (int i = 0; i < 4; i++)
        script[i].open_error = AVERROR(ECONNREFUSED);
    script[4] = (connection){.segments = 2, .packet_drops = 3};
    script[5].open_error = AVERROR(ECONNREFUSED);
    script[6] = (connection){.forever = 1, .packet_drops = 4};
    conf_of(&sc, "live", "stream", "udp://127.0.0.1:9/x");
    set(&sc, "backoff_min", "0.1");
    set(&sc, "backoff_max", "0.3");
    assert_int_equal(avf_runner_start(&r, &sc, &env, NULL), 0);
    status = wait_state("reconnecting");
    snprintf(expected, sizeof(expected), "udp://127.0.0.1:9/x: cannot open: %s",
             avf_strerror(AVERROR(ECONNREFUSED), err, sizeof(err)));
    assert_string_equal(error_of(status), expected);
    json_decref(status);
    wait_opens(7);
    status = wait_state("running");
    for (int i = 0; i < 6; i++) {
        double gap = (open_times[i + 1] - open_times[i]) / 1e6;

        if (gap < 0.75 * delays[i] || gap > 1.25 * delays[i] + 0.08)
            fail_msg("connection %d came %g s after the one before, not %g s +-25 %%", i + 2, gap,
                     delays[i]);
    }
    assert_int_equal(json_integer_value(json_object_get(status, "epoch")), 1);
    assert_int_equal(counter(status, NULL, "reconnects"), 6);
    assert_int_equal(counter(status, "drops", "packets"), 3 + 4); /* ended + running */
    json_decref(status);
    wait_segments(3);
    assert_int_equal(avf_runner_free(&r, INT64_MAX, NULL), 0);
    assert_memory_equal(segments_text(), "0/0/0 1/0/1 2/1/", 16);
    avf_source_conf_clear(&sc);
}

/* Stopping ends a backoff at once, however long it is. */
static void test_stop_during_backoff(void **state)
{
    avf_runner_env env = {0};
    avf_source_conf sc;
    avf_runner *r = NULL;
    json_t *status;
    int64_t t;

    (void)state;
    script[0].open_error = AVERROR(ECONNREFUSED);
    conf_of(&sc, "live", "stream", "rtsp://192.0.2.1/x");
    set(&sc, "backoff_min", "600");
    set(&sc, "backoff_max", "600");
    assert_int_equal(avf_runner_start(&r, &sc, &env, NULL), 0);
    json_decref(wait_state("reconnecting"));
    t = av_gettime_relative();
    assert_int_equal(avf_runner_free(&r, INT64_MAX, NULL), 0);
    assert_true(av_gettime_relative() - t < 500000);
    status = wait_state("ended");
    assert_int_equal(nb_opens, 1);
    json_decref(status);
    avf_source_conf_clear(&sc);
}

/* An input on the wall clock: a new epoch starts where the wall clock says when
 * the source was away, else right after the last one. */
static void test_epoch_placement(void **state)
{
    avf_runner_env env = {0};
    avf_source_conf sc;
    avf_runner *r = NULL;

    (void)state;
    /* the first epoch fixes timeline 0 at CLOCK_MONOTONIC 1 s */
    script[0] = (connection){.segments = 2, .clock_known = 1, .clock_us = 1000000};
    /* away 18 s: its t = 0 is 19 s on the timeline */
    script[1] = (connection){.segments = 1, .clock_known = 1, .clock_us = 20000000};
    /* a clock that would overlap what was published: after the last one instead */
    script[2] = (connection){.segments = 1, .clock_known = 1, .clock_us = 1500000};
    /* no clock: after the last one */
    script[3] = (connection){.segments = 1};
    script[4] = (connection){.forever = 1, .clock_known = 1, .clock_us = 100000000};
    conf_of(&sc, "cam", "stream", "udp://127.0.0.1:9/x");
    set(&sc, "backoff_min", "0.01");
    set(&sc, "backoff_max", "0.01");
    assert_int_equal(avf_runner_start(&r, &sc, &env, NULL), 0);
    wait_opens(5);
    wait_segments(6);
    assert_int_equal(avf_runner_free(&r, INT64_MAX, NULL), 0);
    assert_memory_equal(segments_text(), "0/0/0 1/0/1 2/1/19 3/2/20 4/3/21 5/4/99", 39);
    avf_source_conf_clear(&sc);
}

/* Open and run-time failures: the words of the status and the final state. */
static void expect_end(const connection *c, const char *type, const char *url, const char *state,
                       const char *error)
{
    avf_runner_env env = {0};
    avf_source_conf sc;
    avf_runner *r = NULL;
    json_t *status;

    setup(NULL);
    script[0] = *c;
    conf_of(&sc, "src", type, url);
    set(&sc, "read_timeout", "2.5");
    if (!strcmp(type, "stream"))
        set(&sc, "backoff_min", "600");
    assert_int_equal(avf_runner_start(&r, &sc, &env, NULL), 0);
    status = wait_state(state);
    if (error)
        assert_string_equal(error_of(status), error);
    else
        assert_true(json_is_null(json_object_get(status, "error")));
    json_decref(status);
    assert_int_equal(avf_runner_free(&r, INT64_MAX, NULL), 0);
    avf_source_conf_clear(&sc);
    teardown(NULL);
}

static void test_error_texts(void **state)
{
    char expected[300], err[100];

    (void)state;
    expect_end(&(connection){.open_error = AVERROR_INVALIDDATA}, "file", "/srv/a.mp4", "failed",
               "/srv/a.mp4: cannot open: not a media file FFmpeg can read");
    expect_end(&(connection){.open_error = AVERROR(EACCES), .reason = "outside its folder"}, "file",
               "/srv/a.m3u8", "failed", "/srv/a.m3u8: cannot open: outside its folder");
    expect_end(&(connection){.open_error = AVERROR(ETIMEDOUT)}, "stream", "http://h/x",
               "reconnecting", "http://h/x: cannot open: stalled: no data for 2.5 s");
    /* the URL's password never shows */
    expect_end(&(connection){.open_error = AVERROR_HTTP_UNAUTHORIZED}, "stream",
               "rtsp://u:hunter2@h/x", "reconnecting",
               "rtsp://u:***@h/x: cannot open: authentication failed (the server answered 401 "
               "Unauthorized: check the user and password)");
    expect_end(&(connection){.segments = 1, .wait_error = AVERROR(ETIMEDOUT)}, "stream",
               "udp://h:1/x", "reconnecting", "udp://h:1/x: stalled: no data for 2.5 s");
    snprintf(expected, sizeof(expected), "/srv/a.mp4: %s",
             avf_strerror(AVERROR(EIO), err, sizeof(err)));
    expect_end(&(connection){.segments = 1, .wait_error = AVERROR(EIO)}, "file", "/srv/a.mp4",
               "failed", expected);
    /* a file cut short ends, and says so */
    expect_end(&(connection){.segments = 3, .ended_early_us = 3000000, .declared_end_us = 10000000},
               "file", "/srv/a.mp4", "ended",
               "/srv/a.mp4: ended early at 3.000 s of 10.000 s (cut short or damaged)");
    expect_end(&(connection){.segments = 3}, "file", "/srv/a.mp4", "ended", NULL);
}

/* A looped file that gives nothing fails instead of spinning. */
static void test_looped_file_without_segments(void **state)
{
    avf_runner_env env = {0};
    avf_source_conf sc;
    avf_runner *r = NULL;
    json_t *status;

    (void)state;
    script[0].segments = 2;
    script[1].segments = 2;
    /* the third pass gives nothing */
    conf_of(&sc, "loop", "file", "/srv/a.mp4");
    set(&sc, "loop", "yes");
    assert_int_equal(avf_runner_start(&r, &sc, &env, NULL), 0);
    status = wait_state("failed");
    assert_string_equal(error_of(status), "/srv/a.mp4: end of stream");
    assert_int_equal(nb_opens, 3);
    assert_int_equal(json_integer_value(json_object_get(status, "epoch")), 2);
    assert_int_equal(counter(status, NULL, "reconnects"), 0); /* a pass is no reconnect */
    json_decref(status);
    assert_string_equal(segments_text(), "0/0/0 1/0/1 2/1/2 3/1/3");
    assert_int_equal(avf_runner_free(&r, INT64_MAX, NULL), 0);
    avf_source_conf_clear(&sc);
}

/* An output file that cannot be written: said once in the status, and the
 * segments are still published; one that can: a line per message. */
static void test_output_file(void **state)
{
    avf_runner_env env = {0};
    avf_source_conf sc;
    avf_runner *r = NULL;
    json_t *status;
    char path[64], line[300];
    int statuses = 0, fd, n = 0;
    FILE *f;

    (void)state;
    script[0].segments = 2;
    conf_of(&sc, "out", "file", "/srv/a.mp4");
    set(&sc, "output", "/nonexistent-avfuse-dir/out.jsonl");
    assert_int_equal(avf_runner_start(&r, &sc, &env, NULL), 0);
    status = wait_state("ended");
    assert_string_equal(error_of(status), "output /nonexistent-avfuse-dir/out.jsonl: No such file "
                                          "or directory (segments are still published)");
    json_decref(status);
    assert_int_equal(avf_runner_free(&r, INT64_MAX, NULL), 0);
    assert_string_equal(segments_text(), "0/0/0 1/0/1");
    for (int i = 0; i < nb_messages; i++)
        statuses += !strncmp(topics[i], "status/", 7);
    assert_int_equal(statuses, 4); /* connecting, running, the output's error, ended */
    avf_source_conf_clear(&sc);
    teardown(NULL);
    setup(NULL);

    snprintf(path, sizeof(path), "/tmp/avfuse-runner-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    script[0].segments = 2;
    conf_of(&sc, "out", "file", "/srv/a.mp4");
    set(&sc, "output", path);
    assert_int_equal(avf_runner_start(&r, &sc, &env, NULL), 0);
    json_decref(wait_state("ended"));
    assert_int_equal(avf_runner_free(&r, INT64_MAX, NULL), 0);
    f = fopen(path, "r");
    assert_non_null(f);
    for (int i = 0; i < nb_messages; i++)
        if (!strncmp(topics[i], "seg/", 4)) {
            assert_non_null(fgets(line, sizeof(line), f));
            line[strcspn(line, "\n")] = 0;
            assert_string_equal(line, texts[i]);
            n++;
        }
    assert_int_equal(n, 2);
    assert_null(fgets(line, sizeof(line), f));
    fclose(f);
    unlink(path);
    avf_source_conf_clear(&sc);
}

/* A runner blocked where no stop reaches is abandoned at the deadline: it
 * publishes nothing after that, and its thread frees it when it ends at last. */
static void test_abandoned(void **state)
{
    avf_runner_env env = {0};
    avf_runner_resume resume = {10, 2, 0}, after;
    avf_source_conf sc;
    avf_runner *r = NULL;
    int64_t t, deadline;
    int published;

    (void)state;
    script[0].block = 1;
    conf_of(&sc, "stuck", "file", "/srv/a.mp4");
    assert_int_equal(avf_runner_start(&r, &sc, &env, &resume), 0);
    json_decref(wait_state("running"));
    assert_int_equal(avf_runners_abandoned(), 0);
    t = av_gettime_relative();
    assert_int_equal(avf_runner_free(&r, t + 200000, &after), 1);
    assert_null(r);
    assert_true(av_gettime_relative() - t >= 190000);
    assert_true(av_gettime_relative() - t < 1000000);
    assert_int_equal(after.next_seq, 10);
    assert_int_equal(after.next_epoch, 3);
    assert_int_equal(avf_runners_abandoned(), 1);

    pthread_mutex_lock(&lock);
    published = nb_messages;
    released = 1; /* it gives a segment and ends */
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
    deadline = av_gettime_relative() + 5000000;
    while (avf_runners_abandoned() > 0 && av_gettime_relative() < deadline)
        av_usleep(5000);
    assert_int_equal(avf_runners_abandoned(), 0);
    assert_int_equal(nb_messages, published);
    avf_source_conf_clear(&sc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_file_resumed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backoff_and_epochs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_during_backoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_epoch_placement, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_texts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_looped_file_without_segments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_output_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abandoned, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
