/*
 * items.c - a free list of timeline items shared by one producer and its consumers.
 *
 * Items are taken by one decoder thread and come back from the segment thread (or
 * from a queue that drops them), so the idle items sit in a small stack guarded by
 * one mutex: a lock per frame costs far less than the malloc, free and AVFrame setup
 * it replaces, and it keeps the pool obviously correct. The pool counts the items it
 * has out; when its owner lets go (avf_item_pool_free()) while some are still out,
 * the last one to come back frees it.
 */
#include "pipeline/items.h"

#include <pthread.h>
#include <stdlib.h>

#include <libavutil/error.h>

struct avf_item_pool {
    pthread_mutex_t lock;
    int max_free;              /* immutable */
    avf_item **idle;           /* max_free slots; protected by lock */
    int nb_idle;               /* protected by lock */
    int64_t outstanding;       /* items out of the pool; protected by lock */
    int closing;               /* the owner let go; protected by lock */
    avf_item_pool_stats stats; /* protected by lock */
};

void avf_item_destroy(avf_item *item)
{
    if (!item)
        return;
    if (item->frame != item->spare)
        av_frame_free(&item->frame);
    av_frame_free(&item->spare);
    free(item->samples);
    free(item->rows);
    free(item);
}

avf_item_pool *avf_item_pool_new(int max_free)
{
    avf_item_pool *p;

    if (max_free < 0)
        return NULL;
    p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->idle = calloc((size_t)(max_free > 0 ? max_free : 1), sizeof(*p->idle));
    if (!p->idle || pthread_mutex_init(&p->lock, NULL) != 0) {
        free(p->idle);
        free(p);
        return NULL;
    }
    p->max_free = max_free;
    return p;
}

/* Called once nobody can reach p any more. */
static void pool_destroy(avf_item_pool *p)
{
    for (int i = 0; i < p->nb_idle; i++)
        avf_item_destroy(p->idle[i]);
    pthread_mutex_destroy(&p->lock);
    free(p->idle);
    free(p);
}

void avf_item_pool_free(avf_item_pool **pp)
{
    avf_item_pool *p;
    int last;

    if (!pp || !*pp)
        return;
    p = *pp;
    *pp = NULL;
    pthread_mutex_lock(&p->lock);
    p->closing = 1;
    last = p->outstanding == 0;
    pthread_mutex_unlock(&p->lock);
    if (last)
        pool_destroy(p);
}

int avf_item_pool_get(avf_item_pool *p, enum avf_item_type type, avf_item **pitem)
{
    avf_item *item = NULL;

    pthread_mutex_lock(&p->lock);
    if (p->nb_idle > 0)
        item = p->idle[--p->nb_idle];
    else
        p->stats.allocated++;
    p->stats.gets++;
    p->outstanding++;
    pthread_mutex_unlock(&p->lock);
    if (!item) {
        item = calloc(1, sizeof(*item));
        if (!item) {
            pthread_mutex_lock(&p->lock);
            p->outstanding--;
            pthread_mutex_unlock(&p->lock);
            *pitem = NULL;
            return AVERROR(ENOMEM);
        }
        item->pool = p;
    }
    item->type = type;
    item->t_us = item->end_us = 0;
    item->frame = NULL;
    item->pos = 0;
    item->nb_samples = 0;
    item->nb_rows = 0;
    item->rows_pos = 0;
    *pitem = item;
    return 0;
}

void avf_item_pool_put(avf_item_pool *p, avf_item *item)
{
    int last;

    /* the picture goes back to its own pool now, not when the item is reused */
    if (item->frame && item->frame == item->spare)
        av_frame_unref(item->frame);
    else
        av_frame_free(&item->frame);
    item->frame = NULL;
    pthread_mutex_lock(&p->lock);
    p->outstanding--;
    if (!p->closing && p->nb_idle < p->max_free) {
        p->idle[p->nb_idle++] = item;
        item = NULL;
    }
    last = p->closing && p->outstanding == 0;
    pthread_mutex_unlock(&p->lock);
    if (item) {
        item->pool = NULL;
        avf_item_destroy(item);
    }
    if (last)
        pool_destroy(p);
}

void avf_item_pool_get_stats(avf_item_pool *p, avf_item_pool_stats *stats)
{
    pthread_mutex_lock(&p->lock);
    *stats = p->stats;
    pthread_mutex_unlock(&p->lock);
}
