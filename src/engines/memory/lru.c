/*
 * Shard LRU list with second chance (see lru.h). Runs on any thread that
 * holds the owning shard's lock: front-end workers and the reclaimer.
 */
#include "engines/memory/lru.h"

void mem_lru_init(struct mem_lru *l)
{
    l->head = NULL;
    l->tail = NULL;
    l->count = 0;
}

void mem_lru_push_head(struct mem_lru *l, struct item *it)
{
    it->engine_prev = NULL;
    it->engine_lnext = l->head;
    if (l->head != NULL)
        l->head->engine_prev = it;
    else
        l->tail = it;
    l->head = it;
    l->count++;
}

void mem_lru_remove(struct mem_lru *l, struct item *it)
{
    if (it->engine_prev != NULL)
        it->engine_prev->engine_lnext = it->engine_lnext;
    else
        l->head = it->engine_lnext;
    if (it->engine_lnext != NULL)
        it->engine_lnext->engine_prev = it->engine_prev;
    else
        l->tail = it->engine_prev;
    it->engine_prev = NULL;
    it->engine_lnext = NULL;
    l->count--;
}

struct item *mem_lru_victim(struct mem_lru *l, size_t max_moves)
{
    /* A list of one cannot reorder: moving its only item changes nothing. */
    for (size_t moves = 0; moves < max_moves && l->count > 1; moves++) {
        struct item *it = l->tail;
        if (!(it->engine_bits & MEM_BIT_ACTIVE))
            return it;
        it->engine_bits &= (uint8_t)~MEM_BIT_ACTIVE;
        mem_lru_remove(l, it);
        mem_lru_push_head(l, it);
    }
    return l->tail;
}
