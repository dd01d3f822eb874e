/*
 * queue.h - bounded queue between two pipeline stages.
 *
 * One mutex, two condition variables, a fixed capacity and an end-of-stream flag
 * from either side. A queue has a fixed number of senders: the receiver sees
 * AVF_EOS once every sender has called avf_queue_finish_send() and the queue is
 * empty. When the receiver quits (avf_queue_finish_recv()), pending items are freed
 * and every later send returns AVF_EOS, so producers stop instead of blocking.
 *
 * Policy when full: AVF_QUEUE_BLOCK waits for room (files: back-pressure, nothing
 * lost); AVF_QUEUE_DROP_OLDEST frees the oldest item and counts it (live sources
 * never block on a slow consumer).
 */
#ifndef AVF_QUEUE_H
#define AVF_QUEUE_H

#include <stddef.h>
#include <stdint.h>

typedef struct avf_queue avf_queue;

enum avf_queue_policy {
    AVF_QUEUE_BLOCK = 0,
    AVF_QUEUE_DROP_OLDEST = 1,
};

/* Frees one item: used for items dropped or left in the queue. */
typedef void (*avf_queue_free_fn)(void *item);

/*
 * Returns a whole queue or NULL (out of memory, capacity 0, nb_senders < 1, or a
 * NULL free_item). The caller frees it with avf_queue_free().
 */
avf_queue *avf_queue_new(size_t capacity, int nb_senders, enum avf_queue_policy policy,
                         avf_queue_free_fn free_item);
/* Frees the queue and any items still in it; accepts NULL; sets *pq to NULL. */
void avf_queue_free(avf_queue **pq);

/*
 * Adds item. Takes ownership on success (returns 0); returns AVF_EOS when the
 * receiver has finished, in which case the item is untouched and still the
 * caller's. Blocks while full under AVF_QUEUE_BLOCK.
 */
int avf_queue_send(avf_queue *q, void *item);

/*
 * Takes the oldest item into *item; the caller owns it from then on. Blocks while
 * empty. Returns 0, or AVF_EOS once all senders finished and nothing is left.
 */
int avf_queue_receive(avf_queue *q, void **item);

/* One sender is done. Safe to call from any thread. */
void avf_queue_finish_send(avf_queue *q);
/* The receiver is done: pending items are freed and senders get AVF_EOS. */
void avf_queue_finish_recv(avf_queue *q);

/* Items dropped by AVF_QUEUE_DROP_OLDEST since creation. */
uint64_t avf_queue_drops(avf_queue *q);
/* Items currently queued. */
size_t avf_queue_depth(avf_queue *q);

#endif
