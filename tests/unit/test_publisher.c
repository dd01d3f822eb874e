/*
 * test_publisher.c - unit tests of the PUB socket's thread (daemon/publisher.c)
 * with libzmq's send behind a link seam.
 *
 * The test links with -Wl,--wrap=zmq_send, zmq_setsockopt and avf_curve_server
 * (tests/CMakeLists.txt): the publisher's sends reach __wrap_zmq_send below, which
 * logs each one and refuses those a test scripts (EAGAIN: a subscriber is full
 * and the socket is in ZMQ_XPUB_NODROP mode), and passes the others to the real
 * libzmq socket. What the publisher promises then shows in the log: a refused
 * frame is counted once per message as a drop of its source and sent again with
 * NODROP off, so every other subscriber still gets it; NODROP is back on for the
 * next frame; a send that fails otherwise drops the rest of the message; closing
 * sends everything queued first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "base/error.h"
#include "daemon/curve.h"
#include "daemon/publisher.h"

#define MAX_CALLS 512

/* One call the publisher made: a send ('s') or a NODROP setting ('n'). */
typedef struct call {
    char kind;
    char data[48];
    int flags, value, ret;
} call;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static call calls[MAX_CALLS];
static int nb_calls;
static int refuse[MAX_CALLS]; /* errno for the send of that index, 0: the real send */
static int nb_sends;
static int curve_error; /* avf_curve_server() fails with it when not 0 */
static int curve_calls;
static void *ctx;

int __real_zmq_send(void *s, const void *buf, size_t len, int flags);
int __wrap_zmq_send(void *s, const void *buf, size_t len, int flags);
int __real_zmq_setsockopt(void *s, int option, const void *value, size_t len);
int __wrap_zmq_setsockopt(void *s, int option, const void *value, size_t len);
int __wrap_avf_curve_server(void *sock, const avf_curve_keypair *kp);

int __wrap_zmq_send(void *s, const void *buf, size_t len, int flags)
{
    call *c = NULL;
    int err, ret;

    pthread_mutex_lock(&lock);
    err = nb_sends < MAX_CALLS ? refuse[nb_sends] : 0;
    nb_sends++;
    if (nb_calls < MAX_CALLS) {
        c = &calls[nb_calls++];
        c->kind = 's';
        snprintf(c->data, sizeof(c->data), "%.*s", (int)len, (const char *)buf);
        c->flags = flags;
    }
    pthread_mutex_unlock(&lock);
    if (err) {
        ret = -1;
        errno = err;
    } else {
        ret = __real_zmq_send(s, buf, len, flags);
    }
    if (c)
        c->ret = ret;
    return ret;
}

int __wrap_zmq_setsockopt(void *s, int option, const void *value, size_t len)
{
    if (option == ZMQ_XPUB_NODROP) {
        pthread_mutex_lock(&lock);
        if (nb_calls < MAX_CALLS) {
            calls[nb_calls].kind = 'n';
            calls[nb_calls++].value = *(const int *)value;
        }
        pthread_mutex_unlock(&lock);
    }
    return __real_zmq_setsockopt(s, option, value, len);
}

int __wrap_avf_curve_server(void *sock, const avf_curve_keypair *kp)
{
    (void)sock;
    (void)kp;
    curve_calls++;
    errno = curve_error;
    return curve_error ? -curve_error : 0;
}

static int setup(void **state)
{
    (void)state;
    memset(calls, 0, sizeof(calls));
    memset(refuse, 0, sizeof(refuse));
    nb_calls = nb_sends = curve_error = curve_calls = 0;
    ctx = zmq_ctx_new();
    return ctx ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    zmq_ctx_term(ctx);
    return 0;
}

static avf_publisher *open_publisher(const char *endpoints)
{
    avf_publisher *p = NULL;
    char why[300] = "";

    if (avf_publisher_open(&p, ctx, endpoints, 100, 0, NULL, why, sizeof(why)) < 0)
        fail_msg("cannot open: %s", why);
    return p;
}

static void send_text(avf_publisher *p, const char *topic, const char *json)
{
    assert_int_equal(avf_publisher_send(p, topic, strdup(json)), 0);
}

/* The log as text: "n1 s+seg/a/ s{} ...", '+' a frame with more, '!' refused. */
static const char *log_text(int from)
{
    static char text[4096];
    size_t n = 0;

    text[0] = 0;
    for (int i = from; i < nb_calls && n < sizeof(text); i++) {
        const call *c = &calls[i];

        if (c->kind == 'n')
            n += snprintf(text + n, sizeof(text) - n, "%sn%d", i > from ? " " : "", c->value);
        else
            n += snprintf(text + n, sizeof(text) - n, "%ss%s%s%s", i > from ? " " : "",
                          c->flags & ZMQ_SNDMORE ? "+" : "", c->ret < 0 ? "!" : "", c->data);
    }
    return text;
}

static void test_sends_two_frames(void **state)
{
    avf_publisher *p = open_publisher("inproc://pub-two");

    (void)state;
    send_text(p, "seg/cam/", "{\"seq\":0}");
    avf_publisher_close(&p);
    assert_null(p);
    /* NODROP on at open; every frame without blocking */
    assert_string_equal(log_text(0), "n1 s+seg/cam/ s{\"seq\":0}");
    for (int i = 1; i < nb_calls; i++)
        assert_true(calls[i].flags & ZMQ_DONTWAIT);
    assert_int_equal(curve_calls, 0);
}

/* A refused frame: one drop for its source, sent again lossy, NODROP back on. */
static void test_refused_frame_is_counted_and_resent(void **state)
{
    avf_publisher *p = open_publisher("inproc://pub-refused");

    (void)state;
    refuse[0] = EAGAIN;
    send_text(p, "seg/cam/", "{\"seq\":0}");
    send_text(p, "seg/cam/", "{\"seq\":1}");
    avf_publisher_shut(p);
    assert_string_equal(log_text(0), "n1 s+!seg/cam/ n0 s+seg/cam/ n1 s{\"seq\":0} "
                                     "s+seg/cam/ s{\"seq\":1}");
    assert_int_equal(avf_publisher_drops(p, "cam"), 1);
    assert_int_equal(avf_publisher_drops(p, "other"), 0);
    avf_publisher_close(&p);
}

/* Both frames of a message refused: still one drop, each frame resent. */
static void test_refused_twice_counted_once(void **state)
{
    avf_publisher *p = open_publisher("inproc://pub-twice");

    (void)state;
    refuse[0] = EAGAIN;
    refuse[2] = EAGAIN;
    send_text(p, "evt/cam/", "{}");
    avf_publisher_shut(p);
    assert_string_equal(log_text(0), "n1 s+!evt/cam/ n0 s+evt/cam/ n1 s!{} n0 s{} n1");
    assert_int_equal(avf_publisher_drops(p, "cam"), 1);
    avf_publisher_close(&p);
}

/* Drops are counted by the source named in the topic, whatever the kind. */
static void test_drops_per_source(void **state)
{
    avf_publisher *p = open_publisher("inproc://pub-sources");
    const char *topics[] = {"seg/a/", "evt/a/", "status/b/", "seg/ab/", "seg/a/"};

    (void)state;
    /* each message's first frame refused: sends 0, 3, 6, 9 (of 3 each); the last
     * message goes through */
    for (int i = 0; i < 4; i++)
        refuse[3 * i] = EAGAIN;
    for (int i = 0; i < 5; i++)
        send_text(p, topics[i], "{}");
    avf_publisher_shut(p);
    assert_int_equal(nb_sends, 4 * 3 + 2);
    assert_int_equal(avf_publisher_drops(p, "a"), 2);
    assert_int_equal(avf_publisher_drops(p, "b"), 1);
    assert_int_equal(avf_publisher_drops(p, "ab"), 1);
    assert_int_equal(avf_publisher_drops(p, "status"), 0);
    avf_publisher_close(&p);
}

/* A send that fails for another reason is not retried and drops the rest of the
 * message; a failed resend does too; the next message goes out whole. */
static void test_failed_send_drops_the_rest(void **state)
{
    avf_publisher *p = open_publisher("inproc://pub-failed");

    (void)state;
    refuse[0] = EHOSTUNREACH;
    refuse[1] = EAGAIN;
    refuse[2] = ENOMEM;
    send_text(p, "seg/cam/", "{\"seq\":0}");
    send_text(p, "seg/cam/", "{\"seq\":1}");
    send_text(p, "seg/cam/", "{\"seq\":2}");
    avf_publisher_shut(p);
    assert_string_equal(log_text(0), "n1 s+!seg/cam/ s+!seg/cam/ n0 s+!seg/cam/ n1 "
                                     "s+seg/cam/ s{\"seq\":2}");
    assert_int_equal(avf_publisher_drops(p, "cam"), 1);
    avf_publisher_close(&p);
}

/* Closing sends everything queued first; afterwards sends are refused (and their
 * text freed: the sanitizer build would see a leak) and drops still answer. */
static void test_close_sends_the_queue(void **state)
{
    avf_publisher *p = open_publisher("inproc://pub-close");

    (void)state;
    refuse[1] = EAGAIN;
    for (int i = 0; i < 150; i++) {
        char json[32];

        snprintf(json, sizeof(json), "{\"seq\":%d}", i);
        send_text(p, "seg/cam/", json);
    }
    avf_publisher_shut(p);
    assert_int_equal(nb_sends, 2 * 150 + 1);
    assert_string_equal(calls[nb_calls - 1].data, "{\"seq\":149}");
    assert_int_equal(avf_publisher_send(p, "seg/cam/", strdup("{}")), AVF_EOS);
    assert_int_equal(nb_sends, 2 * 150 + 1);
    assert_int_equal(avf_publisher_drops(p, "cam"), 1);
    avf_publisher_shut(p); /* twice: nothing more */
    avf_publisher_close(&p);
    avf_publisher_close(&p); /* NULL accepted */
}

static void test_open_errors(void **state)
{
    avf_publisher *p = NULL, *q = NULL;
    avf_curve_keypair kp = {0};
    char why[300], expected[300];

    (void)state;
    assert_int_equal(avf_publisher_open(&p, ctx, "nonsense://x", 100, 0, NULL, why, sizeof(why)),
                     -EPROTONOSUPPORT);
    snprintf(expected, sizeof(expected), "cannot bind nonsense://x: %s",
             zmq_strerror(EPROTONOSUPPORT));
    assert_string_equal(why, expected);
    assert_null(p);

    /* CURVE is set up before any endpoint is bound */
    curve_error = EINVAL;
    assert_int_equal(
        avf_publisher_open(&p, ctx, "inproc://pub-curve", 100, 0, &kp, why, sizeof(why)), -EINVAL);
    snprintf(expected, sizeof(expected), "cannot make the publishing socket a CURVE server: %s",
             zmq_strerror(EINVAL));
    assert_string_equal(why, expected);
    assert_int_equal(curve_calls, 1);
    curve_error = 0;

    /* every endpoint of the list is bound, spaces after the commas skipped: the
     * second one is taken after that */
    assert_int_equal(avf_publisher_open(&p, ctx, "inproc://pub-curve, inproc://pub-second", 100, 0,
                                        &kp, why, sizeof(why)),
                     0);
    assert_int_equal(curve_calls, 2);
    assert_int_equal(
        avf_publisher_open(&q, ctx, "inproc://pub-second", 100, 0, NULL, why, sizeof(why)),
        -EADDRINUSE);
    snprintf(expected, sizeof(expected), "cannot bind inproc://pub-second: %s",
             zmq_strerror(EADDRINUSE));
    assert_string_equal(why, expected);
    avf_publisher_close(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sends_two_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_frame_is_counted_and_resent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_twice_counted_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drops_per_source, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_send_drops_the_rest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_sends_the_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
