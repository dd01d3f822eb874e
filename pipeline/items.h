/*
 * items.h - recycled timeline items, so that decoding allocates nothing per frame.
 *
 * A decoder takes its items from a pool of its own; whoever is done with an item (the
 * segment thread, a queue dropping it, a test) hands it back with avf_item_free(),
 * from any thread. An item keeps its buffers between uses: its AVFrame (unreferenced,
 * not freed), its sample buffer and its feature-row buffer, so that after the first
 * few frames the hot path only takes and returns items. The owner frees the pool when
 * it is done; items still out keep the pool alive and the last one back frees it, so
 * items may outlive the decoder that made them.
 */
#ifndef AVF_ITEMS_H
#define AVF_ITEMS_H

#include "pipeline/decode.h"

typedef struct avf_item_pool avf_item_pool;

/*
 * Returns a new, empty pool that keeps at most max_free idle items (those beyond
 * are freed when they come back), or NULL when out of memory. The owner releases
 * it with avf_item_pool_free().
 */
avf_item_pool *avf_item_pool_new(int max_free);

/*
 * The owner is done with the pool: idle items are freed now, the pool itself once
 * every item taken from it is back. Accepts NULL; sets *pp to NULL.
 */
void avf_item_pool_free(avf_item_pool **pp);

/*
 * Takes an item of the given type, with every field zero or empty except the kept
 * buffers (samples_cap, rows_cap, spare). On 0, *item is the caller's to free with
 * avf_item_free(), which returns it to the pool. Returns AVERROR(ENOMEM) when the
 * pool is empty and a new item cannot be allocated.
 */
int avf_item_pool_get(avf_item_pool *p, enum avf_item_type type, avf_item **item);

/* Returns an item taken from p; avf_item_free() calls it for pooled items. */
void avf_item_pool_put(avf_item_pool *p, avf_item *item);

/* Frees an item and every buffer it keeps, pooled or not; accepts NULL. */
void avf_item_destroy(avf_item *item);

/* Pool statistics, for tests and measurements. */
typedef struct avf_item_pool_stats {
    uint64_t gets;      /* items handed out */
    uint64_t allocated; /* items allocated because none was idle */
} avf_item_pool_stats;

void avf_item_pool_get_stats(avf_item_pool *p, avf_item_pool_stats *stats);

#endif
