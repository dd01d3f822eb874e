/*
 * test_queue.c - unit tests of the bounded queue (pipeline/queue.c).
 *
 * The queue is what keeps stages from deadlocking or leaking at shutdown, so the
 * tests pin down its contract: FIFO order, back-pressure or drop-oldest when full,
 * end-of-stream from either side, and who frees which item. Blocking behaviour is
 * checked with a helper thread that runs one queue call: the test first shows the
 * call has not returned after a short probe, then that it returns within a timeout
 * once unblocked. Calls that a bug could leave blocked run on such a thread too, so
 * that a broken queue fails the test after the timeout instead of hanging it, and
 * a per-test alarm ends the run if anything else gets stuck.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "pipeline/queue.h"

/* Long enough for a blocked call to show itself, short enough to keep tests fast. */
#define PROBE_MS 100
/* Generous so that a loaded machine or valgrind does not cause false failures. */
#define RETURN_TIMEOUT_MS 5000
/* Longer than any test takes under valgrind, timeouts included. */
#define WATCHDOG_S 30

#define MAX_FREED 32

/* Written by free_item, which may run on a helper thread; read after joining it. */
static atomic_int nb_freed;
static int freed_values[MAX_FREED];

static int *new_item(int value)
{
    int *item = malloc(sizeof(*item));

    assert_non_null(item);
    *item = value;
    return item;
}

/* The queue's free function: records which items the queue itself freed. */
static void free_item(void *item)
{
    int i = atomic_fetch_add(&nb_freed, 1);

    if (i < MAX_FREED)
        freed_values[i] = *(int *)item;
    free(item);
}

static void watchdog_fired(int sig)
{
    static const char msg[] = "test_queue: a test ran past the watchdog, queue call stuck?\n";

    (void)sig;
    (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
    _exit(1);
}

/*
 * Arms a per-test watchdog: the helper threads catch the calls expected to block,
 * this catches any other call that a bug leaves blocked on the test's own thread.
 */
static int setup(void **state)
{
    struct sigaction sa = {.sa_handler = watchdog_fired};

    (void)state;
    atomic_store(&nb_freed, 0);
    for (int i = 0; i < MAX_FREED; i++)
        freed_values[i] = -1;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
    alarm(WATCHDOG_S);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    alarm(0);
    return 0;
}

/* Receives one item, checks its value and frees it as its new owner. */
static void expect_receive(avf_queue *q, int value)
{
    void *item = NULL;

    assert_int_equal(avf_queue_receive(q, &item), 0);
    assert_non_null(item);
    assert_int_equal(*(int *)item, value);
    free(item);
}

/*
 * One avf_queue_send() or avf_queue_receive() running on its own thread. It lives
 * on the heap so that a thread left behind by a failed test never writes into a
 * stack frame that is gone.
 */
struct call {
    avf_queue *q;
    int is_send;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    void *item;   /* protected by lock: the item to send, or the item received */
    int returned; /* protected by lock */
    int ret;      /* protected by lock */
};

static void *call_main(void *arg)
{
    struct call *c = arg;
    void *item;
    int ret;

    pthread_mutex_lock(&c->lock);
    item = c->item;
    pthread_mutex_unlock(&c->lock);
    ret = c->is_send ? avf_queue_send(c->q, item) : avf_queue_receive(c->q, &item);
    pthread_mutex_lock(&c->lock);
    c->item = item;
    c->ret = ret;
    c->returned = 1;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

static struct call *call_start(avf_queue *q, int is_send, void *item)
{
    struct call *c = calloc(1, sizeof(*c));
    pthread_condattr_t attr;

    assert_non_null(c);
    c->q = q;
    c->is_send = is_send;
    c->item = item;
    assert_int_equal(pthread_mutex_init(&c->lock, NULL), 0);
    /* monotonic, so that a clock step cannot stretch or cut a timeout */
    assert_int_equal(pthread_condattr_init(&attr), 0);
    assert_int_equal(pthread_condattr_setclock(&attr, CLOCK_MONOTONIC), 0);
    assert_int_equal(pthread_cond_init(&c->cond, &attr), 0);
    pthread_condattr_destroy(&attr);
    assert_int_equal(pthread_create(&c->thread, NULL, call_main, c), 0);
    return c;
}

/* Returns 1 when the call returned within ms milliseconds, else 0. */
static int call_returns_within(struct call *c, int ms)
{
    struct timespec deadline;
    int returned;

    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += ms / 1000;
    deadline.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->lock);
    while (!c->returned)
        if (pthread_cond_timedwait(&c->cond, &c->lock, &deadline) == ETIMEDOUT)
            break;
    returned = c->returned;
    pthread_mutex_unlock(&c->lock);
    return returned;
}

/*
 * Waits for the call to return, joins and frees it, and returns the call's result;
 * *item receives the item sent or received. A call still stuck after the timeout
 * fails the test: its thread is detached and left blocked (process exit ends it),
 * because nothing in a queue that failed to wake it can be trusted to do so now.
 */
static int call_finish(struct call *c, void **item)
{
    int ret;

    if (!call_returns_within(c, RETURN_TIMEOUT_MS)) {
        pthread_detach(c->thread);
        fail_msg("queue call still blocked after %d ms", RETURN_TIMEOUT_MS);
    }
    pthread_join(c->thread, NULL);
    ret = c->ret;
    *item = c->item;
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
    free(c);
    return ret;
}

/* avf_queue_receive() for calls that must return at once: fails instead of hanging. */
static int receive_in_time(avf_queue *q, void **item)
{
    return call_finish(call_start(q, 0, NULL), item);
}

static void test_new_rejects_bad_arguments(void **state)
{
    avf_queue *q;

    (void)state;
    assert_null(avf_queue_new(0, 1, AVF_QUEUE_BLOCK, free_item));
    assert_null(avf_queue_new(4, 0, AVF_QUEUE_BLOCK, free_item));
    assert_null(avf_queue_new(4, -1, AVF_QUEUE_DROP_OLDEST, free_item));
    assert_null(avf_queue_new(4, 1, AVF_QUEUE_BLOCK, NULL));
    /* the smallest valid queue, so that the NULLs above are down to the arguments */
    q = avf_queue_new(1, 1, AVF_QUEUE_BLOCK, free_item);
    assert_non_null(q);
    avf_queue_free(&q);
}

static void test_free_accepts_null_and_clears_pointer(void **state)
{
    avf_queue *q = NULL;

    (void)state;
    avf_queue_free(NULL);
    avf_queue_free(&q);
    assert_null(q);
    q = avf_queue_new(2, 1, AVF_QUEUE_BLOCK, free_item);
    assert_non_null(q);
    avf_queue_free(&q);
    assert_null(q);
    assert_int_equal(atomic_load(&nb_freed), 0);
}

static void test_free_frees_items_left(void **state)
{
    avf_queue *q = avf_queue_new(4, 1, AVF_QUEUE_BLOCK, free_item);

    (void)state;
    assert_non_null(q);
    for (int i = 1; i <= 3; i++)
        assert_int_equal(avf_queue_send(q, new_item(i)), 0);
    avf_queue_free(&q);
    assert_null(q);
    assert_int_equal(atomic_load(&nb_freed), 3);
    assert_int_equal(freed_values[0], 1);
    assert_int_equal(freed_values[1], 2);
    assert_int_equal(freed_values[2], 3);
}

static void test_fifo_order(void **state)
{
    avf_queue *q = avf_queue_new(3, 1, AVF_QUEUE_BLOCK, free_item);
    int next_send = 1, next_recv = 1;

    (void)state;
    assert_non_null(q);
    /* two in, one out, many times: the ring wraps around several times */
    while (next_send <= 20) {
        if (next_send - next_recv >= 2) {
            expect_receive(q, next_recv++);
            expect_receive(q, next_recv++);
        }
        assert_int_equal(avf_queue_send(q, new_item(next_send++)), 0);
        assert_int_equal(avf_queue_send(q, new_item(next_send++)), 0);
        assert_int_equal(avf_queue_depth(q), (size_t)(next_send - next_recv));
        expect_receive(q, next_recv++);
    }
    while (next_recv < next_send)
        expect_receive(q, next_recv++);
    assert_int_equal(avf_queue_depth(q), 0);
    /* received items belong to the receiver: the queue freed none of them */
    assert_int_equal(atomic_load(&nb_freed), 0);
    avf_queue_free(&q);
}

static void test_depth(void **state)
{
    avf_queue *q = avf_queue_new(3, 1, AVF_QUEUE_BLOCK, free_item);

    (void)state;
    assert_non_null(q);
    assert_int_equal(avf_queue_depth(q), 0);
    assert_int_equal(avf_queue_send(q, new_item(1)), 0);
    assert_int_equal(avf_queue_depth(q), 1);
    assert_int_equal(avf_queue_send(q, new_item(2)), 0);
    assert_int_equal(avf_queue_send(q, new_item(3)), 0);
    assert_int_equal(avf_queue_depth(q), 3);
    expect_receive(q, 1);
    assert_int_equal(avf_queue_depth(q), 2);
    avf_queue_finish_recv(q);
    assert_int_equal(avf_queue_depth(q), 0);
    avf_queue_free(&q);
}

static void test_block_waits_for_room(void **state)
{
    avf_queue *q = avf_queue_new(2, 1, AVF_QUEUE_BLOCK, free_item);
    struct call *sender;
    void *item;

    (void)state;
    assert_non_null(q);
    assert_int_equal(avf_queue_send(q, new_item(1)), 0);
    assert_int_equal(avf_queue_send(q, new_item(2)), 0);
    sender = call_start(q, 1, new_item(3));
    assert_false(call_returns_within(sender, PROBE_MS));
    assert_int_equal(avf_queue_depth(q), 2);
    /* taking one item makes room, which must wake the sender */
    expect_receive(q, 1);
    assert_int_equal(call_finish(sender, &item), 0);
    assert_int_equal(avf_queue_depth(q), 2);
    expect_receive(q, 2);
    expect_receive(q, 3);
    assert_int_equal(avf_queue_drops(q), 0);
    assert_int_equal(atomic_load(&nb_freed), 0);
    avf_queue_free(&q);
}

static void test_drop_oldest(void **state)
{
    avf_queue *q = avf_queue_new(3, 1, AVF_QUEUE_DROP_OLDEST, free_item);

    (void)state;
    assert_non_null(q);
    for (int i = 1; i <= 3; i++)
        assert_int_equal(avf_queue_send(q, new_item(i)), 0);
    assert_int_equal(avf_queue_drops(q), 0);
    /* on a thread, so that a send that blocks instead of dropping fails, not hangs */
    for (int i = 4; i <= 5; i++) {
        void *item;

        assert_int_equal(call_finish(call_start(q, 1, new_item(i)), &item), 0);
    }
    assert_int_equal(avf_queue_drops(q), 2);
    assert_int_equal(atomic_load(&nb_freed), 2);
    assert_int_equal(freed_values[0], 1);
    assert_int_equal(freed_values[1], 2);
    assert_int_equal(avf_queue_depth(q), 3);
    expect_receive(q, 3);
    expect_receive(q, 4);
    expect_receive(q, 5);
    assert_int_equal(avf_queue_drops(q), 2);
    avf_queue_free(&q);
}

static void test_eos_waits_for_all_senders(void **state)
{
    avf_queue *q = avf_queue_new(4, 2, AVF_QUEUE_BLOCK, free_item);
    struct call *receiver;
    void *item = &item;

    (void)state;
    assert_non_null(q);
    assert_int_equal(avf_queue_send(q, new_item(1)), 0);
    avf_queue_finish_send(q);
    expect_receive(q, 1);
    /* one sender of two is still running: an empty queue is not the end */
    receiver = call_start(q, 0, NULL);
    assert_false(call_returns_within(receiver, PROBE_MS));
    avf_queue_finish_send(q);
    assert_int_equal(call_finish(receiver, &item), AVF_EOS);
    assert_null(item);
    avf_queue_free(&q);
}

static void test_eos_only_after_drain(void **state)
{
    avf_queue *q = avf_queue_new(4, 2, AVF_QUEUE_BLOCK, free_item);
    void *item = &item;

    (void)state;
    assert_non_null(q);
    assert_int_equal(avf_queue_send(q, new_item(1)), 0);
    assert_int_equal(avf_queue_send(q, new_item(2)), 0);
    avf_queue_finish_send(q);
    avf_queue_finish_send(q);
    /* both senders finished, but what they sent must still arrive */
    expect_receive(q, 1);
    expect_receive(q, 2);
    assert_int_equal(receive_in_time(q, &item), AVF_EOS);
    assert_null(item);
    /* and the end stays the end for a receiver that asks again */
    item = &item;
    assert_int_equal(receive_in_time(q, &item), AVF_EOS);
    assert_null(item);
    assert_int_equal(atomic_load(&nb_freed), 0);
    avf_queue_free(&q);
}

static void test_finish_recv_refuses_send(void **state)
{
    avf_queue *q = avf_queue_new(4, 1, AVF_QUEUE_BLOCK, free_item);
    int *late;

    (void)state;
    assert_non_null(q);
    assert_int_equal(avf_queue_send(q, new_item(1)), 0);
    assert_int_equal(avf_queue_send(q, new_item(2)), 0);
    avf_queue_finish_recv(q);
    assert_int_equal(atomic_load(&nb_freed), 2);
    assert_int_equal(freed_values[0], 1);
    assert_int_equal(freed_values[1], 2);
    assert_int_equal(avf_queue_depth(q), 0);

    late = new_item(3);
    assert_int_equal(avf_queue_send(q, late), AVF_EOS);
    /* refused means still ours: the queue neither freed nor kept it */
    assert_int_equal(atomic_load(&nb_freed), 2);
    assert_int_equal(*late, 3);
    assert_int_equal(avf_queue_depth(q), 0);
    free(late);
    avf_queue_free(&q);
    assert_int_equal(atomic_load(&nb_freed), 2);
}

static void test_finish_recv_releases_blocked_sender(void **state)
{
    avf_queue *q = avf_queue_new(1, 1, AVF_QUEUE_BLOCK, free_item);
    struct call *sender;
    void *item;

    (void)state;
    assert_non_null(q);
    assert_int_equal(avf_queue_send(q, new_item(1)), 0);
    sender = call_start(q, 1, new_item(2));
    assert_false(call_returns_within(sender, PROBE_MS));
    /* a receiver that quits must not leave its producer waiting for room forever */
    avf_queue_finish_recv(q);
    assert_int_equal(call_finish(sender, &item), AVF_EOS);
    /* refused, so the item came back to the sender untouched */
    assert_non_null(item);
    assert_int_equal(*(int *)item, 2);
    assert_int_equal(atomic_load(&nb_freed), 1);
    assert_int_equal(freed_values[0], 1);
    free(item);
    avf_queue_free(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_rejects_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_accepts_null_and_clears_pointer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_frees_items_left, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fifo_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_depth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_block_waits_for_room, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_oldest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eos_waits_for_all_senders, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eos_only_after_drain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_finish_recv_refuses_send, setup, teardown),
        cmocka_unit_test_setup_teardown(test_finish_recv_releases_blocked_sender, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
