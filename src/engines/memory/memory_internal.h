/*
 * The memory engine's state, shared by its source files (memory.c: the ops,
 * arith.c: incr/decr, reclaim.c: the background reclaimer). Not for other
 * modules: they use memory.h.
 */
#ifndef BASALT_ENGINES_MEMORY_MEMORY_INTERNAL_H
#define BASALT_ENGINES_MEMORY_MEMORY_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/engine.h"
#include "engines/memory/memory.h"
#include "engines/memory/shard.h"

/* Buckets each reclaimer pass scans per shard; bounds the time a shard lock is held. */
#define MEMORY_RECLAIM_BUCKETS 1024
/*
 * Milliseconds between reclaimer passes: the shortest, after a pass that
 * reclaimed something, and the longest, which passes that find nothing
 * double up to (reclaim.c).
 */
#define MEMORY_RECLAIM_INTERVAL_MS 100
#define MEMORY_RECLAIM_INTERVAL_MAX_MS 800

struct memory_reclaimer {
    pthread_mutex_t lock; /* guards stop; the condvar wakes the thread early */
    pthread_cond_t cond;
    bool stop;
    bool running; /* the thread, lock and cond exist and must be torn down */
    pthread_t thread;
};

struct memory_engine {
    struct engine base; /* first: a struct engine * is a struct memory_engine * */
    struct memory_engine_config cfg;
    const struct engine_host *host;
    size_t nshards; /* a power of two */
    struct mem_shard *shards;
    atomic_uint_fast64_t cas_counter;  /* the last CAS handed out */
    atomic_uint_fast64_t flushed_upto; /* items with a CAS at or below are flushed */
    atomic_uint flush_when;            /* server time of a pending delayed flush, 0: none */
    struct memory_reclaimer reclaimer;
};

static inline struct memory_engine *memory_of(struct engine *e)
{
    return (struct memory_engine *)e;
}

/* Returns the shard of a key hash; bits 32 and up, the buckets use the low bits. */
static inline struct mem_shard *memory_shard(struct memory_engine *me, uint64_t hash)
{
    return &me->shards[(size_t)(hash >> 32) & (me->nshards - 1)];
}

/* Returns a new CAS, above every CAS handed out before. */
static inline uint64_t memory_next_cas(struct memory_engine *me)
{
    return atomic_fetch_add_explicit(&me->cas_counter, 1, memory_order_relaxed) + 1;
}

/* Applies a delayed flush whose time has come, then returns the view for one operation. */
struct mem_view memory_view(struct memory_engine *me);

/* Invalidates every item stored so far. */
void memory_flush_now(struct memory_engine *me);

/*
 * Allocates an unlinked item with the key copied and nbytes of value to fill;
 * *out is a new reference. EINVAL for a bad key, E2BIG above item_size_max,
 * ENOMEM when it could never fit a shard or malloc fails.
 */
engine_status memory_new_item(struct memory_engine *me, const void *key, size_t nkey, size_t nbytes,
                              uint32_t flags, rel_time_t exptime, struct item **out);

/*
 * Links fresh in place of expect (NULL: the key must be missing) if expect is
 * still the live item of the key, giving fresh a new CAS and expect's current
 * exptime. Returns false, changing nothing, when another store got there first.
 */
bool memory_commit(struct memory_engine *me, uint64_t hash, struct item *expect, struct item *fresh,
                   uint64_t *cas_out);

/*
 * Under the key's shard lock: returns a new reference to the live item of the
 * key or NULL, and its exptime in *exptime.
 */
struct item *memory_find_ref(struct memory_engine *me, uint64_t hash, const void *key, size_t nkey,
                             rel_time_t *exptime);

/* The arithmetic op (arith.c). */
engine_status memory_arithmetic(struct engine *e, const void *cookie, const void *key, size_t nkey,
                                const struct engine_arith *a, uint64_t *result, uint64_t *cas_out);

/* The meta protocol's ops (meta.c). */
engine_status memory_meta_get(struct engine *e, const void *cookie, const void *key, size_t nkey,
                              struct engine_meta_get *m, struct item **out);
engine_status memory_invalidate(struct engine *e, const void *cookie, const void *key, size_t nkey,
                                uint64_t cas, bool touch, rel_time_t exptime);

/* Starts the reclaimer thread; 0 or -1. */
int memory_reclaimer_start(struct memory_engine *me) WARN_UNUSED;

/* Stops and joins the reclaimer thread if it runs; returns promptly. */
void memory_reclaimer_stop(struct memory_engine *me);

/* One reclaimer pass over every shard; returns the items reclaimed. */
size_t memory_reclaim_pass(struct memory_engine *me);

#endif
