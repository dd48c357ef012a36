/*
 * The hash table of one shard: buckets of items chained through
 * item.engine_next, grown by incremental rehash.
 *
 * When the load factor passes 1.5 a table twice the size is allocated and
 * every later call moves a few buckets from the old table to the new one, so
 * no single call pays for the whole resize. While both tables exist, lookups
 * consult both. Not thread-safe: the shard's lock guards every call. The
 * table links items but holds no references: the caller owns them.
 */
#ifndef BASALT_ENGINES_MEMORY_HASHTABLE_H
#define BASALT_ENGINES_MEMORY_HASHTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/compiler.h"
#include "engine/item.h"

/* Buckets moved from the old table on each call while a resize runs. */
#define MEM_HT_MIGRATE_STEP 4

struct mem_ht {
    struct item **buckets; /* the current table; new items go here */
    size_t size;           /* its bucket count, a power of two */
    struct item **old;     /* the table being emptied, NULL when no resize runs */
    size_t old_size;
    size_t migrate_pos; /* old buckets below this index are already moved */
    size_t count;       /* items in both tables */
};

/* Sets up an empty table of size buckets (a power of two); 0 or -1 when out of memory. */
int mem_ht_init(struct mem_ht *ht, size_t size) WARN_UNUSED;

/* Frees the bucket arrays; the items still linked are the caller's to release. */
void mem_ht_deinit(struct mem_ht *ht);

/* Returns the item with this key (hash is hash_key of it) or NULL; borrowed. */
struct item *mem_ht_find(struct mem_ht *ht, uint64_t hash, const void *key, size_t nkey);

/* Starts loading hash's bucket slot into the CPU cache; changes nothing. */
void mem_ht_prefetch_bucket(const struct mem_ht *ht, uint64_t hash);

/* Starts loading the first item of hash's bucket into the CPU cache; changes nothing. */
void mem_ht_prefetch(const struct mem_ht *ht, uint64_t hash);

/* Links it, whose key must not be in the table; may start or advance a resize. */
void mem_ht_insert(struct mem_ht *ht, uint64_t hash, struct item *it);

/* Unlinks it; false when it was not linked here. */
bool mem_ht_remove(struct mem_ht *ht, uint64_t hash, struct item *it);

/* True while a resize is moving buckets. */
static inline bool mem_ht_migrating(const struct mem_ht *ht)
{
    return ht->old != NULL;
}

/*
 * Visits the items of up to max buckets from *cursor, stopping at the last
 * bucket, and advances the cursor (to 0 after the last bucket: a round is
 * over). visit returning true unlinks the item; visit may then reuse
 * engine_next but must not call other mem_ht functions. Every item linked for
 * a whole round is visited at least once, resize or not. Returns the number
 * of items visited.
 */
size_t mem_ht_scan(struct mem_ht *ht, size_t *cursor, size_t max,
                   bool (*visit)(struct item *it, void *arg), void *arg);

#endif
