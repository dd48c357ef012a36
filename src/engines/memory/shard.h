/*
 * One shard of the memory engine: a lock, a hash table, an LRU list, a byte
 * budget and counters. Keys are spread over shards by hash so that workers
 * touching different keys rarely wait on the same lock.
 *
 * Every mem_shard_* function except init/deinit runs with s->lock held.
 * Items unlinked under the lock are not released there: they go to a
 * mem_grave whose references the caller drops after unlocking, so freeing
 * memory never lengthens a critical section.
 */
#ifndef BASALT_ENGINES_MEMORY_SHARD_H
#define BASALT_ENGINES_MEMORY_SHARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/clock.h"
#include "base/compiler.h"
#include "base/lock.h"
#include "engine/engine.h"
#include "engine/item.h"
#include "engines/memory/hashtable.h"
#include "engines/memory/lru.h"

/* Second chances one eviction may give before it takes the tail anyway. */
#define MEM_LRU_MAX_MOVES 64
/* Initial hash buckets per shard. */
#define MEM_SHARD_INITIAL_BUCKETS 64

/* What "dead" means for one operation; taken once, before locking. */
struct mem_view {
    rel_time_t now;
    uint64_t flushed_upto; /* items with a CAS at or below this are flushed */
};

enum mem_state { MEM_LIVE, MEM_EXPIRED, MEM_FLUSHED };

/* Counters, guarded by the shard lock; summed over shards for get_stats. */
struct mem_counters {
    uint64_t total_items;
    uint64_t evictions;
    uint64_t reclaimed;
    uint64_t expired_unfetched;
    uint64_t evicted_unfetched;
    uint64_t get_expired;
    uint64_t get_flushed;
};

struct mem_shard {
    /* Shards sit in an array: each starts a cache line, so two never share one. */
    _Alignas(64) struct lock lock;
    struct mem_ht ht;
    struct mem_lru lru;
    size_t bytes; /* item_total_size of every linked item */
    size_t limit;
    size_t reclaim_cursor; /* where the reclaimer's next scan starts */
    struct mem_counters c;
};

/* Items unlinked under a lock whose engine reference is dropped after it. */
struct mem_grave {
    struct item *head; /* chained through engine_next */
};

/* Returns whether it is live, expired or flushed under v; pure. */
enum mem_state mem_item_state(const struct item *it, const struct mem_view *v);

/* Sets up an empty shard with a budget of limit bytes; 0 or -1 when out of memory. */
int mem_shard_init(struct mem_shard *s, size_t limit) WARN_UNUSED;

/* Drops the shard's reference on every linked item and frees the shard's memory. */
void mem_shard_deinit(struct mem_shard *s);

/*
 * Returns the live item with this key, borrowed (valid while the lock is
 * held), or NULL. A dead item found on the way is unlinked into g and counted
 * as reclaimed; *dead (if not NULL) says what was found dead, else MEM_LIVE.
 */
struct item *mem_shard_find(struct mem_shard *s, uint64_t hash, const void *key, size_t nkey,
                            const struct mem_view *v, struct mem_grave *g, enum mem_state *dead);

/* True when an item of total bytes can ever be linked in this shard. */
static inline bool mem_shard_fits(const struct mem_shard *s, size_t total)
{
    return total <= s->limit;
}

/*
 * Links it (key not linked, CAS already set, must fit) and takes the
 * engine's reference on it; first evicts or reclaims from the LRU tail into g
 * until the budget holds it.
 */
void mem_shard_link(struct mem_shard *s, uint64_t hash, struct item *it, const struct mem_view *v,
                    struct mem_grave *g);

/* Unlinks a linked item into g (the engine's reference goes with it). */
void mem_shard_unlink(struct mem_shard *s, uint64_t hash, struct item *it, struct mem_grave *g);

/* Unlinks the dead items of up to max_buckets buckets into g; returns how many. */
size_t mem_shard_reclaim(struct mem_shard *s, const struct mem_view *v, size_t max_buckets,
                         struct mem_grave *g);

/* Drops the references held by g; call without any shard lock. */
void mem_grave_release(struct mem_grave *g);

/*
 * Meta get on a found item (caller holds its lock): reports its state into m
 * (fetched, last access, stale, win sent), marks the hit, applies m's touch
 * and decides whether this caller wins (W). Shared with the disk engine.
 */
void mem_meta_observe(struct item *it, struct engine_meta_get *m, rel_time_t now);

#endif
