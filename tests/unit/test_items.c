/*
 * test_items.c - the item pool: items come back reset with their buffers kept, idle
 * items beyond the cap are freed, a pool released while items are out lives until
 * the last one is back, and a producer and a consumer thread share one pool.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include <libavutil/frame.h>

#include "pipeline/decode.h"
#include "pipeline/items.h"
#include "pipeline/queue.h"

static void test_reuse_keeps_buffers(void **state)
{
    avf_item_pool *p = avf_item_pool_new(4);
    avf_item_pool_stats st;
    avf_item *item, *again;
    float *samples, *rows;
    AVFrame *spare;

    (void)state;
    assert_non_null(p);
    assert_int_equal(avf_item_pool_get(p, AVF_ITEM_AUDIO, &item), 0);
    assert_int_equal(avf_item_reserve_samples(item, 1000), 0);
    assert_int_equal(avf_item_reserve_rows(item, 2, 50), 0);
    item->spare = av_frame_alloc();
    assert_non_null(item->spare);
    item->spare->format = AV_PIX_FMT_GRAY8;
    item->spare->width = item->spare->height = 8;
    assert_int_equal(av_frame_get_buffer(item->spare, 0), 0);
    item->frame = item->spare;
    item->pos = 123;
    item->nb_samples = 1000;
    item->nb_rows = 2;
    samples = item->samples;
    rows = item->rows;
    spare = item->spare;
    avf_item_free(&item);
    assert_null(item);

    assert_int_equal(avf_item_pool_get(p, AVF_ITEM_VIDEO, &again), 0);
    assert_int_equal(again->type, AVF_ITEM_VIDEO);
    assert_null(again->frame);
    assert_int_equal(again->pos, 0);
    assert_int_equal(again->nb_samples, 0);
    assert_int_equal(again->nb_rows, 0);
    assert_ptr_equal(again->samples, samples);
    assert_ptr_equal(again->rows, rows);
    assert_ptr_equal(again->spare, spare);
    assert_null(again->spare->buf[0]); /* the picture went back when the item did */
    assert_int_equal(avf_item_reserve_samples(again, 500), 0);
    assert_ptr_equal(again->samples, samples);
    avf_item_free(&again);

    avf_item_pool_get_stats(p, &st);
    assert_int_equal(st.gets, 2);
    assert_int_equal(st.allocated, 1);
    avf_item_pool_free(&p);
    assert_null(p);
}

static void test_idle_cap(void **state)
{
    avf_item_pool *p = avf_item_pool_new(2);
    avf_item *items[5];
    avf_item_pool_stats st;

    (void)state;
    for (int i = 0; i < 5; i++)
        assert_int_equal(avf_item_pool_get(p, AVF_ITEM_AUDIO, &items[i]), 0);
    for (int i = 0; i < 5; i++)
        avf_item_free(&items[i]); /* three of them are freed, two kept */
    for (int i = 0; i < 5; i++)
        assert_int_equal(avf_item_pool_get(p, AVF_ITEM_AUDIO, &items[i]), 0);
    avf_item_pool_get_stats(p, &st);
    assert_int_equal(st.gets, 10);
    assert_int_equal(st.allocated, 8);
    for (int i = 0; i < 5; i++)
        avf_item_free(&items[i]);
    avf_item_pool_free(&p);
}

static void test_items_outlive_pool(void **state)
{
    avf_item_pool *p = avf_item_pool_new(8);
    avf_item *a, *b;

    (void)state;
    assert_int_equal(avf_item_pool_get(p, AVF_ITEM_AUDIO, &a), 0);
    assert_int_equal(avf_item_pool_get(p, AVF_ITEM_AUDIO, &b), 0);
    assert_int_equal(avf_item_reserve_samples(b, 10), 0);
    avf_item_pool_free(&p);
    assert_null(p);
    avf_item_free(&a);
    avf_item_free(&b); /* the last one back frees the pool (valgrind, ASan: no leak) */
    avf_item_pool_free(&p);
}

#define CROSS_ITEMS 20000

typedef struct cross {
    avf_item_pool *pool;
    avf_queue *q;
} cross;

static void free_item(void *p)
{
    avf_item *item = p;

    avf_item_free(&item);
}

static void *produce(void *arg)
{
    cross *c = arg;

    for (int i = 0; i < CROSS_ITEMS; i++) {
        avf_item *item;

        if (avf_item_pool_get(c->pool, AVF_ITEM_AUDIO, &item) < 0 ||
            avf_item_reserve_samples(item, 64 + i % 64) < 0)
            break;
        item->pos = i;
        if (avf_queue_send(c->q, item) < 0) {
            avf_item_free(&item);
            break;
        }
    }
    avf_queue_finish_send(c->q);
    return NULL;
}

/* The decoder's thread takes, the segment thread gives back, through a queue. */
static void test_two_threads(void **state)
{
    cross c = {avf_item_pool_new(64), avf_queue_new(16, 1, AVF_QUEUE_BLOCK, free_item)};
    avf_item_pool_stats st;
    pthread_t thread;
    avf_item *item;
    int64_t next = 0;

    (void)state;
    assert_non_null(c.pool);
    assert_non_null(c.q);
    assert_int_equal(pthread_create(&thread, NULL, produce, &c), 0);
    while (avf_queue_receive(c.q, (void **)&item) == 0) {
        assert_int_equal(item->pos, next++);
        avf_item_free(&item);
    }
    pthread_join(thread, NULL);
    assert_int_equal(next, CROSS_ITEMS);
    avf_item_pool_get_stats(c.pool, &st);
    assert_int_equal(st.gets, CROSS_ITEMS);
    /* no more items than the queue holds, plus one in each thread's hands */
    assert_true(st.allocated <= 16 + 2);
    avf_queue_free(&c.q);
    avf_item_pool_free(&c.pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reuse_keeps_buffers),
        cmocka_unit_test(test_idle_cap),
        cmocka_unit_test(test_items_outlive_pool),
        cmocka_unit_test(test_two_threads),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
