/*
 * Test helper: builds items the way the memory engine lays them out (one
 * block: header, key, value), for unit tests of the engine's parts.
 */
#ifndef BASALT_TESTS_UNIT_MEMORY_TEST_ITEMS_H
#define BASALT_TESTS_UNIT_MEMORY_TEST_ITEMS_H

#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "engine/item.h"

/* Returns a new item (refcount 1) with this key and nbytes of 'v'; aborts when out of memory. */
static inline struct item *test_item(const char *key, size_t nbytes, rel_time_t exptime,
                                     uint64_t cas)
{
    size_t nkey = strlen(key);
    struct item *it = calloc(1, item_total_size(nkey, nbytes));
    if (it == NULL)
        abort();
    it->cas = cas;
    it->exptime = exptime;
    it->nbytes = (uint32_t)nbytes;
    it->nkey = (uint8_t)nkey;
    atomic_init(&it->refcount, 1);
    memcpy(it->data, key, nkey);
    memset(it->data + nkey, 'v', nbytes);
    return it;
}

static inline uint64_t test_hash(const struct item *it)
{
    return hash_key(item_key(it), it->nkey);
}

#endif
