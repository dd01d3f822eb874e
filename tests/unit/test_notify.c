/*
 * test_notify.c - unit tests of the systemd notify module (daemon/notify.c).
 *
 * There is no systemd as PID 1 here, and none is needed: the service manager's end
 * of the protocol is a unix datagram socket named by $NOTIFY_SOCKET, so each test
 * binds one in a temporary folder (or in the abstract namespace), points the
 * variable at it, calls the module and reads back the exact datagram. The same file
 * is built twice, against libsystemd (test_notify) and against the module's own
 * protocol code (test_notify_builtin), so both paths say the same bytes.
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
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon/notify.h"

#define THREADS    4
#define PER_THREAD 50

struct fixture {
    char dir[64];
    char path[96];
    int fd;
};

static void set_timeout(int fd)
{
    struct timeval tv = {.tv_sec = 5};

    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
}

/* A datagram socket at DIR/notify, and $NOTIFY_SOCKET naming it. */
static int setup_path(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    assert_non_null(f);
    strcpy(f->dir, "/tmp/test_notify.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/notify", f->dir);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
    f->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(f->fd >= 0);
    assert_int_equal(bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    set_timeout(f->fd);
    assert_int_equal(setenv("NOTIFY_SOCKET", f->path, 1), 0);
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    close(f->fd);
    if (f->dir[0]) {
        unlink(f->path);
        rmdir(f->dir);
    }
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    free(f);
    return 0;
}

/* Reads one datagram (fails after 5 s) and returns it NUL-terminated. */
static void recv_msg(struct fixture *f, char *buf, size_t size)
{
    ssize_t n = recv(f->fd, buf, size - 1, 0);

    assert_true(n >= 0);
    buf[n] = '\0';
}

static void expect_msg(struct fixture *f, const char *want)
{
    char buf[1024];

    recv_msg(f, buf, sizeof(buf));
    assert_string_equal(buf, want);
}

static void expect_nothing(struct fixture *f)
{
    char buf[64];

    assert_int_equal(recv(f->fd, buf, sizeof(buf), MSG_DONTWAIT), -1);
    assert_int_equal(errno, EAGAIN);
}

static uint64_t monotonic_usec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void test_ready_stopping_watchdog(void **state)
{
    struct fixture *f = *state;

    assert_true(avf_notify_ready() > 0);
    expect_msg(f, "READY=1");
    assert_true(avf_notify_watchdog() > 0);
    expect_msg(f, "WATCHDOG=1");
    assert_true(avf_notify_stopping() > 0);
    expect_msg(f, "STOPPING=1");
    expect_nothing(f);
}

static void test_reloading(void **state)
{
    struct fixture *f = *state;
    uint64_t before, after;
    unsigned long long stamp;
    char got[128], want[128];

    before = monotonic_usec();
    assert_true(avf_notify_reloading() > 0);
    after = monotonic_usec();
    recv_msg(f, got, sizeof(got));
    /* the exact bytes, once the one unknown number is read */
    assert_int_equal(sscanf(got, "RELOADING=1 MONOTONIC_USEC=%llu", &stamp), 1);
    snprintf(want, sizeof(want), "RELOADING=1\nMONOTONIC_USEC=%llu", stamp);
    assert_string_equal(got, want);
    assert_true(stamp >= before && stamp <= after);
    expect_nothing(f);
}

static void test_status(void **state)
{
    struct fixture *f = *state;

    assert_true(avf_notify_status("%d sources running, %s", 3, "1 reconnecting") > 0);
    expect_msg(f, "STATUS=3 sources running, 1 reconnecting");
    assert_true(avf_notify_status("%s", "") > 0);
    expect_msg(f, "STATUS=");
}

/* A newline in the text (an error message, a URL) must not add an assignment. */
static void test_status_control_chars(void **state)
{
    struct fixture *f = *state;

    assert_true(avf_notify_status("lobby: %s", "bad\nREADY=1\tx\x7f") > 0);
    expect_msg(f, "STATUS=lobby: bad READY=1 x ");
}

/* Long text is cut to 511 bytes, never inside a UTF-8 character. */
static void test_status_truncated_utf8(void **state)
{
    struct fixture *f = *state;
    char text[600], want[600], got[1024];

    /* 510 ASCII bytes then "é" (2 bytes): the cut at 511 would split it */
    memset(text, 'a', 510);
    strcpy(text + 510, "\xc3\xa9zzz");
    assert_true(avf_notify_status("%s", text) > 0);
    memcpy(want, "STATUS=", 7);
    memset(want + 7, 'a', 510);
    want[7 + 510] = '\0';
    expect_msg(f, want);

    /* 509 ASCII bytes then "é": it fits whole */
    text[509] = '\xc3';
    text[510] = '\xa9';
    text[511] = '\0';
    assert_true(avf_notify_status("%s", text) > 0);
    recv_msg(f, got, sizeof(got));
    assert_int_equal(strlen(got), 7 + 511);
    assert_memory_equal(got + 7 + 509, "\xc3\xa9", 2);

    /* 508 ASCII bytes then a 4-byte character: 3 of its bytes fit, none is sent */
    memset(text, 'a', 508);
    strcpy(text + 508, "\xf0\x9f\x8e\xa5");
    assert_true(avf_notify_status("%s", text) > 0);
    recv_msg(f, got, sizeof(got));
    assert_int_equal(strlen(got), 7 + 508);
    assert_int_equal(got[strlen(got) - 1], 'a');
}

/* "@name" is a name in the abstract namespace, not a path. */
static void test_abstract_socket(void **state)
{
    struct fixture *f = *state;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char name[64], buf[64];
    socklen_t len;
    ssize_t n;
    int fd;

    (void)f;
    len = (socklen_t)snprintf(name, sizeof(name), "@avfuse-test-notify-%ld", (long)getpid());
    memcpy(sa.sun_path, name, len);
    sa.sun_path[0] = '\0';
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, offsetof(struct sockaddr_un, sun_path) + len),
                     0);
    set_timeout(fd);
    assert_int_equal(setenv("NOTIFY_SOCKET", name, 1), 0);
    assert_true(avf_notify_ready() > 0);
    n = recv(fd, buf, sizeof(buf) - 1, 0);
    assert_true(n >= 0);
    buf[n] = '\0';
    assert_string_equal(buf, "READY=1");
    close(fd);
}

/* Without $NOTIFY_SOCKET (a foreground run) every call does nothing and says 0. */
static void test_no_socket_is_noop(void **state)
{
    struct fixture *f = *state;

    unsetenv("NOTIFY_SOCKET");
    assert_int_equal(setenv("WATCHDOG_USEC", "30000000", 1), 0);
    assert_int_equal(avf_notify_ready(), 0);
    assert_int_equal(avf_notify_reloading(), 0);
    assert_int_equal(avf_notify_stopping(), 0);
    assert_int_equal(avf_notify_status("x %d", 1), 0);
    assert_int_equal(avf_notify_watchdog(), 0);
    assert_int_equal(avf_notify_watchdog_usec(), 0);
    expect_nothing(f);
}

/* A socket nobody listens on is an error, not a crash or a hang. */
static void test_dead_socket_fails(void **state)
{
    struct fixture *f = *state;
    char path[160];

    snprintf(path, sizeof(path), "%s/nobody", f->dir);
    assert_int_equal(setenv("NOTIFY_SOCKET", path, 1), 0);
    assert_true(avf_notify_ready() < 0);
    assert_true(avf_notify_status("x") < 0);
    assert_int_equal(setenv("NOTIFY_SOCKET", "relative/name", 1), 0);
    assert_true(avf_notify_ready() < 0);
}

static void test_watchdog_usec(void **state)
{
    char pid[32];

    (void)state;
    assert_int_equal(avf_notify_watchdog_usec(), 0); /* unset */

    assert_int_equal(setenv("WATCHDOG_USEC", "30000000", 1), 0);
    assert_int_equal(avf_notify_watchdog_usec(), 30000000);

    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    assert_int_equal(setenv("WATCHDOG_PID", pid, 1), 0);
    assert_int_equal(avf_notify_watchdog_usec(), 30000000);

    /* inherited from a parent that systemd watches: not ours to feed */
    snprintf(pid, sizeof(pid), "%ld", (long)getppid());
    assert_int_equal(setenv("WATCHDOG_PID", pid, 1), 0);
    assert_int_equal(avf_notify_watchdog_usec(), 0);

    unsetenv("WATCHDOG_PID");
    unsetenv("WATCHDOG_USEC");
    assert_int_equal(avf_notify_watchdog_usec(), 0);
}

static void test_watchdog_usec_malformed(void **state)
{
    static const char *const bad[] = {
        "", "0", "-5", "abc", "30s", "18446744073709551615", "99999999999999999999"};

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(setenv("WATCHDOG_USEC", bad[i], 1), 0);
        if (avf_notify_watchdog_usec() != 0)
            fail_msg("WATCHDOG_USEC=\"%s\" should count as off", bad[i]);
    }
    assert_int_equal(setenv("WATCHDOG_USEC", "1000000", 1), 0);
    assert_int_equal(setenv("WATCHDOG_PID", "not-a-pid", 1), 0);
    assert_int_equal(avf_notify_watchdog_usec(), 0);
}

static void *send_statuses(void *arg)
{
    long t = (long)(intptr_t)arg;

    for (int i = 0; i < PER_THREAD; i++)
        if (avf_notify_status("thread %ld message %d", t, i) <= 0)
            return (void *)1;
    return NULL;
}

/* Threads notify at once: every datagram arrives whole, none is lost. */
static void test_threads(void **state)
{
    struct fixture *f = *state;
    pthread_t th[THREADS];
    int next[THREADS] = {0};
    void *ret;

    for (long t = 0; t < THREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, send_statuses, (void *)(intptr_t)t), 0);
    for (int n = 0; n < THREADS * PER_THREAD; n++) {
        char buf[128];
        long t;
        int i;

        recv_msg(f, buf, sizeof(buf));
        assert_int_equal(sscanf(buf, "STATUS=thread %ld message %d", &t, &i), 2);
        assert_true(t >= 0 && t < THREADS);
        assert_int_equal(i, next[t]); /* one thread's messages stay in order */
        next[t]++;
    }
    for (int t = 0; t < THREADS; t++) {
        assert_int_equal(pthread_join(th[t], &ret), 0);
        assert_null(ret);
    }
    expect_nothing(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ready_stopping_watchdog, setup_path, teardown),
        cmocka_unit_test_setup_teardown(test_reloading, setup_path, teardown),
        cmocka_unit_test_setup_teardown(test_status, setup_path, teardown),
        cmocka_unit_test_setup_teardown(test_status_control_chars, setup_path, teardown),
        cmocka_unit_test_setup_teardown(test_status_truncated_utf8, setup_path, teardown),
        cmocka_unit_test_setup_teardown(test_abstract_socket, setup_path, teardown),
        cmocka_unit_test_setup_teardown(test_no_socket_is_noop, setup_path, teardown),
        cmocka_unit_test_setup_teardown(test_dead_socket_fails, setup_path, teardown),
        cmocka_unit_test_setup_teardown(test_watchdog_usec, setup_path, teardown),
        cmocka_unit_test_setup_teardown(test_watchdog_usec_malformed, setup_path, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup_path, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
