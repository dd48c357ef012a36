/*
 * The LRU list of one shard: linked items from most recently linked (head)
 * to least (tail), chained through item.engine_prev / item.engine_lnext.
 *
 * Hits do not move items: they set MEM_BIT_ACTIVE, and the eviction scan
 * gives such items a second chance (clears the bit, moves them to the head)
 * when it reaches them at the tail. Not thread-safe: the shard's lock guards
 * every call. The list holds no references.
 */
#ifndef BASALT_ENGINES_MEMORY_LRU_H
#define BASALT_ENGINES_MEMORY_LRU_H

#include <stddef.h>

#include "engine/item.h"

/* item.engine_bits of the memory engine. */
enum mem_item_bits {
    MEM_BIT_LINKED = 1u << 0,  /* in the hash table and the LRU */
    MEM_BIT_ACTIVE = 1u << 1,  /* hit since it last passed the LRU tail */
    MEM_BIT_FETCHED = 1u << 2, /* hit at least once since it was stored */
    MEM_BIT_STORED = 1u << 3,  /* has been linked once; an item is stored only once */
    MEM_BIT_STALE = 1u << 4,   /* invalidated (meta md I): served with X until replaced */
    MEM_BIT_WON = 1u << 5,     /* a meta "win" (W) was handed out for this item */
};

struct mem_lru {
    struct item *head;
    struct item *tail;
    size_t count;
};

/* Sets up an empty list. */
void mem_lru_init(struct mem_lru *l);

/* Links it at the head. */
void mem_lru_push_head(struct mem_lru *l, struct item *it);

/* Unlinks it, which must be on the list. */
void mem_lru_remove(struct mem_lru *l, struct item *it);

/*
 * Returns the item to evict next (NULL when empty), borrowed and still
 * linked: walks from the tail, moving items with MEM_BIT_ACTIVE to the head
 * (bit cleared), at most max_moves times so one call stays short; after that
 * the tail is returned whatever its bit.
 */
struct item *mem_lru_victim(struct mem_lru *l, size_t max_moves);

#endif
