/*
 * Items: one key and its value, reference counted, shared between threads.
 *
 * An item is one malloc'd block: this header, then the key, then the value.
 * Whoever holds a pointer holds a reference: engines hold one while the item
 * is linked (findable), the front-end holds one per reply that references the
 * value. The last item_unref() frees the block. Only the owning engine writes
 * the engine_* fields and exptime (get_and_touch changes it), under its own
 * locks, so nobody else may read those; everything else is immutable once the
 * item is stored (a new value is a new item).
 *
 * sizeof(struct item) is rounded up past the start of data: a block for a
 * small item is shorter than the struct, so never copy or initialise an item
 * as a whole struct; use item_total_size().
 */
#ifndef BASALT_ENGINE_ITEM_H
#define BASALT_ENGINE_ITEM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/clock.h"

#define ITEM_KEY_MAX 250

struct item {
    struct item *engine_next;  /* engine-private: hash chain */
    struct item *engine_prev;  /* engine-private: LRU */
    struct item *engine_lnext; /* engine-private: LRU */
    uint64_t cas;
    rel_time_t exptime; /* server time; 0 = never; engine-owned (see above) */
    uint32_t flags;     /* the client's opaque flags */
    uint32_t nbytes;    /* value length */
    atomic_uint refcount;
    rel_time_t engine_atime; /* engine-private: server time of the last store or hit */
    uint8_t nkey;
    uint8_t engine_bits; /* engine-private flags */
    char data[];         /* key (nkey bytes), then value (nbytes) */
};

_Static_assert(offsetof(struct item, data) == 54, "the item header is 54 bytes");

/* The bytes an item of this key and value length occupies, header included. */
static inline size_t item_total_size(size_t nkey, size_t nbytes)
{
    return offsetof(struct item, data) + nkey + nbytes;
}

static inline const char *item_key(const struct item *it)
{
    return it->data;
}

static inline char *item_value(struct item *it)
{
    return it->data + it->nkey;
}

static inline const char *item_cvalue(const struct item *it)
{
    return it->data + it->nkey;
}

/*
 * Initialises the header of a fresh block of at least item_total_size(nkey,
 * nbytes) bytes: one reference, CAS 0, engine fields cleared, key copied.
 * Field by field: the block may be shorter than sizeof(struct item).
 */
void item_init(struct item *it, const void *key, size_t nkey, size_t nbytes, uint32_t flags,
               rel_time_t exptime);

/* Takes one more reference. */
static inline void item_ref(struct item *it)
{
    atomic_fetch_add_explicit(&it->refcount, 1, memory_order_relaxed);
}

/* Drops one reference; the last one frees the item. Safe from any thread. */
void item_unref(struct item *it);

#endif
