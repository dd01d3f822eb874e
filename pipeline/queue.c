/*
 * queue.c - bounded FIFO of opaque items between two pipeline stages.
 *
 * A ring of pointers guarded by one mutex, with one condition variable for "not
 * empty" and one for "not full". Modelled on FFmpeg's fftools/thread_queue.c: both
 * sides can declare end-of-stream, and a send after the receiver quit is refused
 * with AVF_EOS so that no producer ever waits on a consumer that is gone.
 */
#include "pipeline/queue.h"

#include <pthread.h>
#include <stdlib.h>

#include "base/error.h"

struct avf_queue {
    pthread_mutex_t lock;
    pthread_cond_t not_empty;
    pthread_cond_t not_full;
    avf_queue_free_fn free_item;  /* immutable after creation */
    enum avf_queue_policy policy; /* immutable after creation */
    size_t capacity;              /* immutable after creation */
    void **items;                 /* ring; protected by lock */
    size_t head;                  /* protected by lock */
    size_t count;                 /* protected by lock */
    int senders_left;             /* protected by lock */
    int recv_finished;            /* protected by lock */
    uint64_t drops;               /* protected by lock */
};

avf_queue *avf_queue_new(size_t capacity, int nb_senders, enum avf_queue_policy policy,
                         avf_queue_free_fn free_item)
{
    avf_queue *q;

    if (capacity == 0 || nb_senders < 1 || !free_item)
        return NULL;
    q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->items = calloc(capacity, sizeof(*q->items));
    if (!q->items)
        goto fail;
    if (pthread_mutex_init(&q->lock, NULL) != 0)
        goto fail;
    if (pthread_cond_init(&q->not_empty, NULL) != 0)
        goto fail_mutex;
    if (pthread_cond_init(&q->not_full, NULL) != 0)
        goto fail_cond;
    q->capacity = capacity;
    q->senders_left = nb_senders;
    q->policy = policy;
    q->free_item = free_item;
    return q;

fail_cond:
    pthread_cond_destroy(&q->not_empty);
fail_mutex:
    pthread_mutex_destroy(&q->lock);
fail:
    free(q->items);
    free(q);
    return NULL;
}

/* Called with q->lock held. */
static void *queue_pop(avf_queue *q)
{
    void *item = q->items[q->head];

    q->items[q->head] = NULL;
    q->head = (q->head + 1) % q->capacity;
    q->count--;
    return item;
}

/* Called with q->lock held. */
static void queue_drain(avf_queue *q)
{
    while (q->count > 0)
        q->free_item(queue_pop(q));
}

void avf_queue_free(avf_queue **pq)
{
    avf_queue *q;

    if (!pq || !*pq)
        return;
    q = *pq;
    queue_drain(q);
    pthread_cond_destroy(&q->not_full);
    pthread_cond_destroy(&q->not_empty);
    pthread_mutex_destroy(&q->lock);
    free(q->items);
    free(q);
    *pq = NULL;
}

int avf_queue_send(avf_queue *q, void *item)
{
    int ret = 0;

    pthread_mutex_lock(&q->lock);
    while (!q->recv_finished && q->count == q->capacity) {
        if (q->policy == AVF_QUEUE_DROP_OLDEST) {
            q->free_item(queue_pop(q));
            q->drops++;
        } else {
            pthread_cond_wait(&q->not_full, &q->lock);
        }
    }
    if (q->recv_finished) {
        ret = AVF_EOS;
    } else {
        q->items[(q->head + q->count) % q->capacity] = item;
        q->count++;
        pthread_cond_signal(&q->not_empty);
    }
    pthread_mutex_unlock(&q->lock);
    return ret;
}

int avf_queue_receive(avf_queue *q, void **item)
{
    int ret = 0;

    pthread_mutex_lock(&q->lock);
    while (q->count == 0 && q->senders_left > 0 && !q->recv_finished)
        pthread_cond_wait(&q->not_empty, &q->lock);
    if (q->count > 0 && !q->recv_finished) {
        *item = queue_pop(q);
        pthread_cond_signal(&q->not_full);
    } else {
        *item = NULL;
        ret = AVF_EOS;
    }
    pthread_mutex_unlock(&q->lock);
    return ret;
}

void avf_queue_finish_send(avf_queue *q)
{
    pthread_mutex_lock(&q->lock);
    if (q->senders_left > 0)
        q->senders_left--;
    pthread_cond_broadcast(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
}

void avf_queue_finish_recv(avf_queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->recv_finished = 1;
    queue_drain(q);
    pthread_cond_broadcast(&q->not_full);
    pthread_cond_broadcast(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
}

uint64_t avf_queue_drops(avf_queue *q)
{
    uint64_t drops;

    pthread_mutex_lock(&q->lock);
    drops = q->drops;
    pthread_mutex_unlock(&q->lock);
    return drops;
}

size_t avf_queue_depth(avf_queue *q)
{
    size_t depth;

    pthread_mutex_lock(&q->lock);
    depth = q->count;
    pthread_mutex_unlock(&q->lock);
    return depth;
}
