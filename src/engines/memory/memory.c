/*
 * The memory engine's ops (see memory.h): items in sharded hash tables with
 * per-shard LRU eviction, lazy and background expiry, and flush by CAS
 * watermark. Called concurrently from every front-end worker; the reclaimer
 * thread (reclaim.c) shares the shards under the same locks.
 *
 * Per-item overhead, on 64-bit Linux with glibc malloc:
 *   header      54 bytes  offsetof(struct item, data): three chain pointers
 *                         (24), cas (8), exptime, flags, nbytes, refcount,
 *                         last access (4 each), nkey and engine_bits (1
 *                         each). No hash is
 *                         stored: it is recomputed when a table grows.
 *   table slot  5.3-10.7  one 8-byte bucket pointer per bucket; a shard's
 *                         table doubles when items pass 1.5 per bucket, so
 *                         there are 0.67-1.33 buckets per item (plus the old
 *                         table while a resize runs).
 *   malloc      8-23      glibc adds its 8-byte size word to header + key +
 *                         value and rounds up to 16 (32 at least): 15.5 on
 *                         average over sizes.
 *   total       67-88 bytes, about 77 on average, beside key and value.
 * The header is below memcached's 56 (48 + 8 for the CAS), which likewise
 * pays a bucket share and rounding (to its slab class) on top. The "bytes"
 * counter and the limit count header + key + value, as memcached counts its
 * item sizes.
 */
#include "engines/memory/memory.h"

#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/log.h"
#include "engines/memory/memory_internal.h"
#include "engines/memory/rules.h"

static bool key_ok(const void *key, size_t nkey)
{
    return key != NULL && nkey >= 1 && nkey <= ITEM_KEY_MAX;
}

void memory_flush_now(struct memory_engine *me)
{
    uint64_t upto = atomic_load(&me->cas_counter);
    uint64_t cur = atomic_load(&me->flushed_upto);
    /* Two racing flushes must not move the watermark back and revive items. */
    while (cur < upto && !atomic_compare_exchange_weak(&me->flushed_upto, &cur, upto)) {
    }
}

struct mem_view memory_view(struct memory_engine *me)
{
    struct mem_view v = {.now = clock_now()};
    unsigned when = atomic_load_explicit(&me->flush_when, memory_order_relaxed);
    /* Only one caller wins the exchange and applies the delayed flush. */
    if (when != 0 && v.now >= when && atomic_compare_exchange_strong(&me->flush_when, &when, 0))
        memory_flush_now(me);
    v.flushed_upto = atomic_load(&me->flushed_upto);
    return v;
}

engine_status memory_new_item(struct memory_engine *me, const void *key, size_t nkey, size_t nbytes,
                              uint32_t flags, rel_time_t exptime, struct item **out)
{
    if (!key_ok(key, nkey))
        return ENGINE_EINVAL;
    if (nbytes > me->cfg.item_size_max || nbytes > UINT32_MAX)
        return ENGINE_E2BIG;
    size_t total = item_total_size(nkey, nbytes);
    /* Every shard has the same budget; an item above it could never be linked. */
    if (!mem_shard_fits(&me->shards[0], total))
        return ENGINE_ENOMEM;
    struct item *it = malloc(total);
    if (it == NULL)
        return ENGINE_ENOMEM;
    item_init(it, key, nkey, nbytes, flags, exptime);
    *out = it;
    return ENGINE_SUCCESS;
}

struct item *memory_find_ref(struct memory_engine *me, uint64_t hash, const void *key, size_t nkey,
                             rel_time_t *exptime)
{
    struct mem_view v = memory_view(me);
    struct mem_shard *s = memory_shard(me, hash);
    struct mem_grave g = {NULL};
    lock_take(&s->lock);
    struct item *it = mem_shard_find(s, hash, key, nkey, &v, &g, NULL);
    if (it != NULL) {
        item_ref(it);
        *exptime = it->exptime;
    }
    lock_drop(&s->lock);
    mem_grave_release(&g);
    return it;
}

bool memory_commit(struct memory_engine *me, uint64_t hash, struct item *expect, struct item *fresh,
                   uint64_t *cas_out)
{
    struct mem_view v = memory_view(me);
    struct mem_shard *s = memory_shard(me, hash);
    struct mem_grave g = {NULL};
    lock_take(&s->lock);
    struct item *cur = mem_shard_find(s, hash, item_key(fresh), fresh->nkey, &v, &g, NULL);
    /* expect is referenced by the caller, so its address cannot have been reused. */
    bool ok = cur == expect;
    if (ok) {
        if (expect != NULL) {
            fresh->exptime = expect->exptime; /* a touch may have moved it since */
            mem_shard_unlink(s, hash, expect, &g);
        }
        /* A CAS set on the allocated item is kept: meta's E flag, done by append too. */
        fresh->cas = fresh->cas != 0 ? fresh->cas : memory_next_cas(me);
        mem_shard_link(s, hash, fresh, &v, &g);
        s->c.total_items++;
        if (cas_out != NULL)
            *cas_out = fresh->cas;
    }
    lock_drop(&s->lock);
    mem_grave_release(&g);
    return ok;
}

/* get and get_and_touch: finds the live item, marks the hit, optionally sets exptime. */
static engine_status lookup(struct memory_engine *me, const void *key, size_t nkey, bool touch,
                            rel_time_t exptime, struct item **out)
{
    if (!key_ok(key, nkey))
        return ENGINE_EINVAL;
    uint64_t hash = hash_key(key, nkey);
    struct mem_view v = memory_view(me);
    struct mem_shard *s = memory_shard(me, hash);
    struct mem_grave g = {NULL};
    enum mem_state dead;
    lock_take(&s->lock);
    struct item *it = mem_shard_find(s, hash, key, nkey, &v, &g, &dead);
    if (it != NULL) {
        /* A bit instead of an LRU move: hits stay cheap, eviction gives a second chance. */
        it->engine_bits |= MEM_BIT_ACTIVE | MEM_BIT_FETCHED;
        it->engine_atime = v.now;
        if (touch)
            it->exptime = exptime;
        if (out != NULL)
            item_ref(it);
    } else if (dead == MEM_EXPIRED) {
        s->c.get_expired++;
    } else if (dead == MEM_FLUSHED) {
        s->c.get_flushed++;
    }
    lock_drop(&s->lock);
    mem_grave_release(&g);
    if (it == NULL)
        return ENGINE_KEY_ENOENT;
    if (out != NULL)
        *out = it;
    return ENGINE_SUCCESS;
}

static engine_status memory_get(struct engine *e, const void *cookie, const void *key, size_t nkey,
                                struct item **out)
{
    if (out == NULL)
        return ENGINE_EINVAL;
    return lookup(memory_of(e), key, nkey, false, 0, out);
}

static engine_status memory_get_and_touch(struct engine *e, const void *cookie, const void *key,
                                          size_t nkey, rel_time_t exptime, struct item **out)
{
    return lookup(memory_of(e), key, nkey, true, exptime, out);
}

static engine_status memory_allocate(struct engine *e, const void *cookie, const void *key,
                                     size_t nkey, size_t nbytes, uint32_t flags, rel_time_t exptime,
                                     struct item **out)
{
    return memory_new_item(memory_of(e), key, nkey, nbytes, flags, exptime, out);
}

/*
 * Append and prepend build a new item from the stored one. The copy is made
 * outside the lock and committed only if the stored item did not change
 * meanwhile; otherwise the whole step is retried.
 */
static engine_status store_concat(struct memory_engine *me, struct item *it, uint64_t cas,
                                  enum engine_store_op op, uint64_t *cas_out)
{
    uint64_t hash = hash_key(item_key(it), it->nkey);
    for (;;) {
        rel_time_t exptime;
        struct item *old = memory_find_ref(me, hash, item_key(it), it->nkey, &exptime);
        if (old == NULL)
            return cas != 0 ? ENGINE_KEY_ENOENT : ENGINE_NOT_STORED;
        engine_status st = ENGINE_SUCCESS;
        struct item *fresh = NULL;
        if (cas != 0 && old->cas != cas)
            st = ENGINE_KEY_EEXISTS;
        else if ((size_t)old->nbytes + it->nbytes > me->cfg.item_size_max)
            st = ENGINE_E2BIG;
        else
            st = memory_new_item(me, item_key(it), it->nkey, (size_t)old->nbytes + it->nbytes,
                                 old->flags, exptime, &fresh);
        if (st == ENGINE_SUCCESS) {
            mem_concat_value(fresh, old, it, op);
            fresh->cas = it->cas; /* 0, or the caller's explicit CAS */
            bool done = memory_commit(me, hash, old, fresh, cas_out);
            item_unref(fresh);
            if (!done) {
                item_unref(old);
                continue;
            }
        }
        item_unref(old);
        return st;
    }
}

static engine_status memory_store(struct engine *e, const void *cookie, struct item *it,
                                  uint64_t cas, enum engine_store_op op, uint64_t *cas_out)
{
    struct memory_engine *me = memory_of(e);
    if (it == NULL || !key_ok(item_key(it), it->nkey))
        return ENGINE_EINVAL;
    if (op == ENGINE_STORE_APPEND || op == ENGINE_STORE_PREPEND)
        return store_concat(me, it, cas, op, cas_out);
    if (op != ENGINE_STORE_SET && op != ENGINE_STORE_ADD && op != ENGINE_STORE_REPLACE &&
        op != ENGINE_STORE_INVALIDATE)
        return ENGINE_EINVAL;
    uint64_t hash = hash_key(item_key(it), it->nkey);
    struct mem_view v = memory_view(me);
    struct mem_shard *s = memory_shard(me, hash);
    struct mem_grave g = {NULL};
    lock_take(&s->lock);
    engine_status st = ENGINE_SUCCESS;
    /*
     * Stored items are shared read-only; storing one again would rewrite its
     * CAS under readers. Items from allocate always fit a shard.
     */
    if (it->engine_bits & MEM_BIT_STORED)
        st = ENGINE_EINVAL;
    else if (!mem_shard_fits(s, item_total_size(it->nkey, it->nbytes)))
        st = ENGINE_ENOMEM;
    if (st == ENGINE_SUCCESS) {
        struct item *old = mem_shard_find(s, hash, item_key(it), it->nkey, &v, &g, NULL);
        st = mem_store_rule(op, cas, old);
        bool stale = st == ENGINE_SUCCESS && old != NULL && op == ENGINE_STORE_INVALIDATE &&
                     cas != 0 && cas < old->cas;
        if (st == ENGINE_SUCCESS) {
            if (old != NULL)
                mem_shard_unlink(s, hash, old, &g);
            it->cas = it->cas != 0 ? it->cas : memory_next_cas(me);
            mem_shard_link(s, hash, it, &v, &g);
            if (stale)
                it->engine_bits |= MEM_BIT_STALE;
            s->c.total_items++;
            if (cas_out != NULL)
                *cas_out = it->cas;
        }
    }
    lock_drop(&s->lock);
    mem_grave_release(&g);
    return st;
}

static engine_status memory_remove(struct engine *e, const void *cookie, const void *key,
                                   size_t nkey, uint64_t cas)
{
    struct memory_engine *me = memory_of(e);
    if (!key_ok(key, nkey))
        return ENGINE_EINVAL;
    uint64_t hash = hash_key(key, nkey);
    struct mem_view v = memory_view(me);
    struct mem_shard *s = memory_shard(me, hash);
    struct mem_grave g = {NULL};
    lock_take(&s->lock);
    struct item *it = mem_shard_find(s, hash, key, nkey, &v, &g, NULL);
    engine_status st = ENGINE_SUCCESS;
    if (it == NULL)
        st = ENGINE_KEY_ENOENT;
    else if (cas != 0 && it->cas != cas)
        st = ENGINE_KEY_EEXISTS;
    else
        mem_shard_unlink(s, hash, it, &g);
    lock_drop(&s->lock);
    mem_grave_release(&g);
    return st;
}

static engine_status memory_flush(struct engine *e, const void *cookie, rel_time_t when)
{
    struct memory_engine *me = memory_of(e);
    if (when == 0 || when <= clock_now()) {
        /* A flush now supersedes a pending delayed one, as in memcached. */
        atomic_store(&me->flush_when, 0);
        memory_flush_now(me);
    } else {
        atomic_store(&me->flush_when, when);
    }
    return ENGINE_SUCCESS;
}

static void memory_get_stats(struct engine *e, struct engine_stats *out)
{
    struct memory_engine *me = memory_of(e);
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < me->nshards; i++) {
        struct mem_shard *s = &me->shards[i];
        lock_take(&s->lock);
        out->curr_items += s->ht.count;
        out->bytes += s->bytes;
        out->total_items += s->c.total_items;
        out->evictions += s->c.evictions;
        out->reclaimed += s->c.reclaimed;
        out->expired_unfetched += s->c.expired_unfetched;
        out->evicted_unfetched += s->c.evicted_unfetched;
        out->get_expired += s->c.get_expired;
        out->get_flushed += s->c.get_flushed;
        lock_drop(&s->lock);
    }
    out->limit_maxbytes = me->cfg.limit_bytes;
}

static void memory_reset_stats(struct engine *e)
{
    struct memory_engine *me = memory_of(e);
    for (size_t i = 0; i < me->nshards; i++) {
        struct mem_shard *s = &me->shards[i];
        lock_take(&s->lock);
        memset(&s->c, 0, sizeof(s->c));
        lock_drop(&s->lock);
    }
}

static void memory_disconnect(struct engine *e, const void *cookie)
{
    /* Nothing is ever pending: this engine completes every op in the caller's thread. */
}

/* Frees the shards (the first n initialized) and the engine. */
static void free_engine(struct memory_engine *me, size_t n)
{
    for (size_t i = 0; i < n; i++)
        mem_shard_deinit(&me->shards[i]);
    free(me->shards);
    free(me);
}

static void memory_destroy(struct engine *e)
{
    struct memory_engine *me = memory_of(e);
    memory_reclaimer_stop(me);
    free_engine(me, me->nshards);
}

/* Keys of one prefetch round: their hashes wait on the stack between the two passes. */
#define MEMORY_PREFETCH_ROUND 32

/*
 * The front-end has a batch of gets. Instead of one lookup's cache misses at
 * a time (bucket slot, then item), the misses of the whole batch overlap: a
 * first pass starts loading every key's bucket slot, a second reads the
 * slots (by then arriving) and starts loading each chain's first item.
 */
static void memory_prefetch(struct engine *e, const struct engine_key *keys, size_t n)
{
    struct memory_engine *me = memory_of(e);
    uint64_t hash[MEMORY_PREFETCH_ROUND];
    for (size_t from = 0; from < n; from += MEMORY_PREFETCH_ROUND) {
        size_t m = n - from < MEMORY_PREFETCH_ROUND ? n - from : MEMORY_PREFETCH_ROUND;
        for (size_t i = 0; i < m; i++) {
            hash[i] = hash_key(keys[from + i].key, keys[from + i].nkey);
            struct mem_shard *s = memory_shard(me, hash[i]);
            lock_take(&s->lock);
            mem_ht_prefetch_bucket(&s->ht, hash[i]);
            lock_drop(&s->lock);
        }
        for (size_t i = 0; i < m; i++) {
            struct mem_shard *s = memory_shard(me, hash[i]);
            lock_take(&s->lock);
            mem_ht_prefetch(&s->ht, hash[i]);
            lock_drop(&s->lock);
        }
    }
}

static const struct engine_ops memory_ops = {
    .destroy = memory_destroy,
    .get = memory_get,
    .get_and_touch = memory_get_and_touch,
    .allocate = memory_allocate,
    .store = memory_store,
    .remove = memory_remove,
    .arithmetic = memory_arithmetic,
    .flush = memory_flush,
    .get_stats = memory_get_stats,
    .reset_stats = memory_reset_stats,
    .meta_get = memory_meta_get,
    .invalidate = memory_invalidate,
    .disconnect = memory_disconnect,
    .prefetch = memory_prefetch,
};

/*
 * The shard count for cfg: as asked, or the most (up to the default) that
 * give each shard at least twice item_size_max, so that a large item does not
 * evict a whole shard. The defaults (64 MiB, 1 MiB) give 32 shards of 2 MiB.
 */
static size_t pick_shards(const struct memory_engine_config *cfg)
{
    if (cfg->shards != 0)
        return cfg->shards;
    size_t n = MEMORY_SHARDS_DEFAULT;
    while (n > 1 && cfg->limit_bytes / n < 2 * cfg->item_size_max)
        n /= 2;
    return n;
}

static bool config_ok(const struct memory_engine_config *cfg)
{
    if (cfg->limit_bytes == 0 || cfg->item_size_max == 0) {
        log_warn("memory engine: the memory limit and the item size max must be above 0");
        return false;
    }
    unsigned n = cfg->shards;
    if (n > MEMORY_SHARDS_MAX || (n & (n - 1)) != 0) {
        log_warn("memory engine: shards must be a power of two up to %u", MEMORY_SHARDS_MAX);
        return false;
    }
    return true;
}

/* Allocates the engine and its shards; NULL when out of memory. */
static struct memory_engine *alloc_engine(const struct memory_engine_config *cfg)
{
    struct memory_engine *me = calloc(1, sizeof(*me));
    if (me == NULL)
        return NULL;
    me->nshards = pick_shards(cfg);
    me->shards = aligned_alloc(_Alignof(struct mem_shard), me->nshards * sizeof(*me->shards));
    if (me->shards == NULL) {
        free(me);
        return NULL;
    }
    return me;
}

struct engine *memory_engine_create(const struct memory_engine_config *cfg,
                                    const struct engine_host *host)
{
    if (!config_ok(cfg))
        return NULL;
    struct memory_engine *me = alloc_engine(cfg);
    if (me == NULL) {
        log_warn("memory engine: out of memory");
        return NULL;
    }
    me->base.ops = &memory_ops;
    me->cfg = *cfg;
    me->host = host;
    atomic_init(&me->cas_counter, 0);
    atomic_init(&me->flushed_upto, 0);
    atomic_init(&me->flush_when, 0);
    size_t budget = cfg->limit_bytes / me->nshards;
    for (size_t i = 0; i < me->nshards; i++) {
        if (mem_shard_init(&me->shards[i], budget) != 0) {
            log_warn("memory engine: out of memory");
            free_engine(me, i);
            return NULL;
        }
    }
    if (cfg->reclaim_thread && memory_reclaimer_start(me) != 0) {
        log_warn("memory engine: cannot start the reclaimer thread");
        free_engine(me, me->nshards);
        return NULL;
    }
    return &me->base;
}
