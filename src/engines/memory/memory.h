/*
 * The memory engine: a cache of items in RAM, bounded by a byte limit, that
 * evicts the least recently used items to stay within it. Never blocks, so it
 * never returns ENGINE_EWOULDBLOCK.
 */
#ifndef BASALT_ENGINES_MEMORY_MEMORY_H
#define BASALT_ENGINES_MEMORY_MEMORY_H

#include <stddef.h>

#include "engine/engine.h"

struct memory_engine_config {
    size_t limit_bytes;   /* -m: the most bytes linked items may occupy, headers included */
    size_t item_size_max; /* -I: the largest value allowed */
    /* Run the background reclaimer thread (expired and flushed items). */
    int reclaim_thread;
    /*
     * Number of shards, a power of two up to MEMORY_SHARDS_MAX; 0 picks it:
     * the most (up to MEMORY_SHARDS_DEFAULT) that give each shard at least
     * twice item_size_max. Each shard gets limit_bytes / shards, and an item
     * larger than that share is refused with ENGINE_ENOMEM.
     */
    unsigned shards;
};

#define MEMORY_SHARDS_DEFAULT 32u
#define MEMORY_SHARDS_MAX 256u

/*
 * Creates a memory engine; returns NULL (and logs why) on failure. Free with
 * ops->destroy. host is borrowed and may be NULL: this engine never blocks.
 */
struct engine *memory_engine_create(const struct memory_engine_config *cfg,
                                    const struct engine_host *host);

#endif
