/*
 * Shard hash table with incremental rehash (see hashtable.h). Runs on any
 * thread that holds the owning shard's lock: front-end workers and the
 * reclaimer.
 */
#include "engines/memory/hashtable.h"

#include <stdlib.h>
#include <string.h>

#include "base/hash.h"

int mem_ht_init(struct mem_ht *ht, size_t size)
{
    memset(ht, 0, sizeof(*ht));
    ht->buckets = calloc(size, sizeof(*ht->buckets));
    if (ht->buckets == NULL)
        return -1;
    ht->size = size;
    return 0;
}

void mem_ht_deinit(struct mem_ht *ht)
{
    free(ht->buckets);
    free(ht->old);
    memset(ht, 0, sizeof(*ht));
}

static bool key_matches(const struct item *it, const void *key, size_t nkey)
{
    return it->nkey == nkey && memcmp(item_key(it), key, nkey) == 0;
}

/* True when old bucket i has not been moved yet (its items are still in ht->old). */
static bool old_bucket_live(const struct mem_ht *ht, size_t i)
{
    return ht->old != NULL && i < ht->old_size && i >= ht->migrate_pos;
}

/* Moves up to MEM_HT_MIGRATE_STEP old buckets; frees the old table when it is empty. */
static void migrate_step(struct mem_ht *ht)
{
    if (ht->old == NULL)
        return;
    size_t end = ht->migrate_pos + MEM_HT_MIGRATE_STEP;
    if (end > ht->old_size)
        end = ht->old_size;
    for (size_t i = ht->migrate_pos; i < end; i++) {
        struct item *it = ht->old[i];
        while (it != NULL) {
            struct item *next = it->engine_next;
            /* Items do not keep their hash: recomputing it is cheaper than 8 bytes per item. */
            size_t b = hash_key(item_key(it), it->nkey) & (ht->size - 1);
            it->engine_next = ht->buckets[b];
            ht->buckets[b] = it;
            it = next;
        }
        ht->old[i] = NULL;
    }
    ht->migrate_pos = end;
    if (end == ht->old_size) {
        free(ht->old);
        ht->old = NULL;
        ht->old_size = 0;
        ht->migrate_pos = 0;
    }
}

/* Starts a resize when the load factor passes 1.5; a failed allocation is retried later. */
static void maybe_grow(struct mem_ht *ht)
{
    if (ht->old != NULL || ht->count <= ht->size + ht->size / 2)
        return;
    struct item **bigger = calloc(ht->size * 2, sizeof(*bigger));
    if (bigger == NULL)
        return; /* a fuller table is slower, not wrong */
    ht->old = ht->buckets;
    ht->old_size = ht->size;
    ht->migrate_pos = 0;
    ht->buckets = bigger;
    ht->size *= 2;
}

static struct item *chain_find(struct item *it, const void *key, size_t nkey)
{
    for (; it != NULL; it = it->engine_next)
        if (key_matches(it, key, nkey))
            return it;
    return NULL;
}

struct item *mem_ht_find(struct mem_ht *ht, uint64_t hash, const void *key, size_t nkey)
{
    migrate_step(ht);
    if (ht->old != NULL) {
        size_t o = hash & (ht->old_size - 1);
        if (old_bucket_live(ht, o)) {
            struct item *it = chain_find(ht->old[o], key, nkey);
            if (it != NULL)
                return it;
        }
    }
    return chain_find(ht->buckets[hash & (ht->size - 1)], key, nkey);
}

/* The bucket slot a lookup of hash reads first: the old table's while that bucket waits there. */
static struct item *const *lookup_slot(const struct mem_ht *ht, uint64_t hash)
{
    if (ht->old != NULL) {
        size_t o = hash & (ht->old_size - 1);
        if (old_bucket_live(ht, o))
            return &ht->old[o];
    }
    return &ht->buckets[hash & (ht->size - 1)];
}

void mem_ht_prefetch_bucket(const struct mem_ht *ht, uint64_t hash)
{
    __builtin_prefetch(lookup_slot(ht, hash));
}

void mem_ht_prefetch(const struct mem_ht *ht, uint64_t hash)
{
    const struct item *it = *lookup_slot(ht, hash);
    if (it != NULL)
        __builtin_prefetch(it);
}

void mem_ht_insert(struct mem_ht *ht, uint64_t hash, struct item *it)
{
    migrate_step(ht);
    maybe_grow(ht);
    size_t b = hash & (ht->size - 1);
    it->engine_next = ht->buckets[b];
    ht->buckets[b] = it;
    ht->count++;
}

static bool chain_remove(struct item **pp, struct item *it)
{
    for (; *pp != NULL; pp = &(*pp)->engine_next) {
        if (*pp == it) {
            *pp = it->engine_next;
            it->engine_next = NULL;
            return true;
        }
    }
    return false;
}

bool mem_ht_remove(struct mem_ht *ht, uint64_t hash, struct item *it)
{
    migrate_step(ht);
    bool found = false;
    if (ht->old != NULL) {
        size_t o = hash & (ht->old_size - 1);
        if (old_bucket_live(ht, o))
            found = chain_remove(&ht->old[o], it);
    }
    if (!found)
        found = chain_remove(&ht->buckets[hash & (ht->size - 1)], it);
    if (found)
        ht->count--;
    return found;
}

/* Visits one chain, unlinking the items visit claims; returns the items seen. */
static size_t scan_chain(struct mem_ht *ht, struct item **pp,
                         bool (*visit)(struct item *it, void *arg), void *arg)
{
    size_t seen = 0;
    while (*pp != NULL) {
        struct item *it = *pp;
        /* Read next first: a claimed item's engine_next belongs to visit afterwards. */
        struct item *next = it->engine_next;
        seen++;
        if (visit(it, arg)) {
            *pp = next;
            ht->count--;
        } else {
            pp = &it->engine_next;
        }
    }
    return seen;
}

size_t mem_ht_scan(struct mem_ht *ht, size_t *cursor, size_t max,
                   bool (*visit)(struct item *it, void *arg), void *arg)
{
    migrate_step(ht);
    size_t seen = 0;
    size_t c = *cursor < ht->size ? *cursor : 0;
    /* Stop at the table's end so one round of the cursor is one pass over the table. */
    for (size_t n = 0; n < max && c < ht->size; n++, c++) {
        /*
         * Old bucket c only ever spills into new buckets c and c + old_size,
         * which the cursor has not passed yet, so visiting it here together
         * with new bucket c covers every item once per round.
         */
        if (old_bucket_live(ht, c))
            seen += scan_chain(ht, &ht->old[c], visit, arg);
        seen += scan_chain(ht, &ht->buckets[c], visit, arg);
    }
    *cursor = c >= ht->size ? 0 : c;
    return seen;
}
