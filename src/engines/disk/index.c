/*
 * The disk engine's in-memory index: per shard, the memory engine's hash
 * table holds one entry per key (resident item, stub or tombstone, see
 * disk_internal.h) and its LRU list orders the resident values for
 * eviction. Eviction replaces a clean resident item by a stub of the same
 * key and metadata. Runs on front-end workers, reader threads (fetches) and
 * the writer thread (flusher), always under the shard lock except
 * disk_item_new.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/hash.h"
#include "engines/disk/disk_internal.h"

uint64_t disk_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t disk_abs_time(rel_time_t t)
{
    if (t == 0)
        return 0;
    return (uint64_t)clock_process_started() + t;
}

rel_time_t disk_rel_time(uint64_t abs)
{
    if (abs == 0)
        return 0;
    uint64_t started = (uint64_t)clock_process_started();
    /* A time at or before the process start is already expired (server time 1). */
    if (abs <= started)
        return 1;
    uint64_t rel = abs - started;
    return rel > UINT32_MAX ? UINT32_MAX : (rel_time_t)rel;
}

struct item *disk_item_new(const void *key, size_t nkey, size_t nbytes, uint32_t flags,
                           rel_time_t exptime)
{
    struct item *it = malloc(disk_block_size(nkey, nbytes));
    if (it == NULL)
        return NULL;
    item_init(it, key, nkey, nbytes, flags, exptime);
    memset(disk_meta(it), 0, sizeof(struct disk_meta));
    disk_meta(it)->nvalue = (uint32_t)nbytes;
    return it;
}

struct mem_view disk_view(struct disk_engine *de)
{
    struct mem_view v = {.now = clock_now()};
    unsigned when = atomic_load_explicit(&de->flush_when, memory_order_relaxed);
    /* Only one caller wins the exchange, applies the delayed flush and persists it. */
    if (when != 0 && v.now >= when && atomic_compare_exchange_strong(&de->flush_when, &when, 0)) {
        uint64_t upto = atomic_load(&de->cas_counter);
        uint64_t cur = atomic_load(&de->flushed_upto);
        while (cur < upto && !atomic_compare_exchange_weak(&de->flushed_upto, &cur, upto)) {
        }
        if (disk_flush_scan_schedule(de, NULL) != 0) {
            /* Lookups still treat the items as flushed; the deletes come with their next use. */
        }
    }
    v.flushed_upto = atomic_load(&de->flushed_upto);
    return v;
}

void disk_op_begin(struct disk_op *op, struct disk_engine *de, const void *key, size_t nkey)
{
    op->hash = hash_key(key, nkey);
    op->v = disk_view(de);
    op->s = disk_shard(de, op->hash);
    op->g.head = NULL;
    pthread_mutex_lock(&op->s->lock);
}

void disk_op_end(struct disk_op *op)
{
    pthread_mutex_unlock(&op->s->lock);
    mem_grave_release(&op->g);
}

static void grave_push(struct mem_grave *g, struct item *it)
{
    it->engine_next = g->head;
    g->head = it;
}

/* Takes a linked entry out of the table, list and counters; the caller keeps or buries it. */
static void detach(struct disk_shard *s, uint64_t hash, struct item *it)
{
    mem_ht_remove(&s->ht, hash, it);
    if (it->engine_bits & DISK_BIT_TOMB) {
        s->tombs--;
    } else {
        s->live_bytes -= disk_meta(it)->seq != 0 ? disk_meta(it)->loc.len : 0;
        s->items--;
        s->bytes -= disk_block_size(it->nkey, it->nbytes);
        if (!(it->engine_bits & DISK_BIT_STUB)) {
            mem_lru_remove(&s->lru, it);
            s->resident--;
        }
    }
    it->engine_bits &= (uint8_t) ~(MEM_BIT_LINKED | MEM_BIT_ACTIVE);
}

void disk_unlink(struct disk_shard *s, uint64_t hash, struct item *it, struct mem_grave *g)
{
    detach(s, hash, it);
    grave_push(g, it);
}

/* Links without making room: warm-up and eviction use it directly. */
static void link_entry(struct disk_shard *s, uint64_t hash, struct item *it)
{
    it->engine_bits |= MEM_BIT_LINKED | MEM_BIT_STORED;
    mem_ht_insert(&s->ht, hash, it);
    if (it->engine_bits & DISK_BIT_TOMB) {
        s->tombs++;
        return;
    }
    s->items++;
    s->live_bytes += disk_meta(it)->seq != 0 ? disk_meta(it)->loc.len : 0;
    s->bytes += disk_block_size(it->nkey, it->nbytes);
    if (!(it->engine_bits & DISK_BIT_STUB)) {
        mem_lru_push_head(&s->lru, it);
        s->resident++;
    }
}

void disk_link_loaded(struct disk_shard *s, uint64_t hash, struct item *it)
{
    link_entry(s, hash, it);
}

void disk_link(struct disk_shard *s, uint64_t hash, struct item *it, rel_time_t now)
{
    item_ref(it);
    it->engine_atime = now;
    link_entry(s, hash, it);
}

void disk_set_loc(struct disk_shard *s, struct item *it, uint64_t seq, const struct store_loc *loc,
                  bool linked)
{
    struct disk_meta *m = disk_meta(it);
    if (seq <= m->seq)
        return;
    bool counted = linked && !(it->engine_bits & DISK_BIT_TOMB);
    if (counted && m->seq != 0)
        s->live_bytes -= m->loc.len;
    m->seq = seq;
    m->loc = *loc;
    if (counted)
        s->live_bytes += loc->len;
}

/* A new entry of it's key and metadata without a value: a stub, or a tombstone when tomb. */
static struct item *shell_of(struct item *it, bool tomb)
{
    struct item *sh = disk_item_new(item_key(it), it->nkey, 0, it->flags, it->exptime);
    if (sh == NULL)
        return NULL;
    sh->cas = it->cas;
    sh->engine_atime = it->engine_atime;
    sh->engine_bits = (uint8_t)(it->engine_bits & ~(MEM_BIT_LINKED | DISK_BIT_STUB));
    sh->engine_bits |= tomb ? DISK_BIT_TOMB : DISK_BIT_STUB;
    struct disk_meta *m = disk_meta(sh);
    *m = *disk_meta(it);
    m->pending = 0;
    return sh;
}

/* Replaces the clean resident item it by a stub; false when out of memory. */
static bool evict_value(struct disk_shard *s, uint64_t hash, struct item *it, struct mem_grave *g)
{
    struct item *stub = shell_of(it, false);
    if (stub == NULL)
        return false;
    disk_unlink(s, hash, it, g);
    link_entry(s, hash, stub); /* the table takes the new reference */
    s->value_evictions++;
    return true;
}

void disk_make_room(struct disk_shard *s, struct mem_grave *g)
{
    /* At most one pass over the list: what is all dirty or recently hit stays over the quota. */
    size_t moves = 0,
           max_moves = s->lru.count < DISK_LRU_MAX_MOVES ? s->lru.count : DISK_LRU_MAX_MOVES;
    while (s->bytes > s->limit && s->lru.tail != NULL && moves < max_moves) {
        struct item *it = s->lru.tail;
        const struct disk_meta *m = disk_meta(it);
        bool clean = m->pending == 0 && m->seq != 0;
        /* Dirty values are still needed for their write; recently hit ones get a second chance. */
        if (!clean || (it->engine_bits & MEM_BIT_ACTIVE)) {
            it->engine_bits &= (uint8_t)~MEM_BIT_ACTIVE;
            mem_lru_remove(&s->lru, it);
            mem_lru_push_head(&s->lru, it);
            moves++;
            continue;
        }
        if (!evict_value(s, hash_key(item_key(it), it->nkey), it, g))
            return;
    }
}

void disk_replace(struct disk_shard *s, uint64_t hash, struct item *old, struct item *tomb,
                  struct item *fresh, rel_time_t now, struct mem_grave *g)
{
    if (old != NULL)
        disk_unlink(s, hash, old, g);
    if (tomb != NULL)
        disk_unlink(s, hash, tomb, g);
    disk_link(s, hash, fresh, now);
    s->c.total_items++;
    disk_make_room(s, g);
}

uint64_t disk_entomb(struct disk_engine *de, struct disk_shard *s, uint64_t hash, struct item *it,
                     struct mem_grave *g)
{
    struct item *tomb = shell_of(it, true);
    if (tomb == NULL)
        return 0;
    disk_unlink(s, hash, it, g);
    link_entry(s, hash, tomb);
    return disk_enqueue(de, hash, tomb);
}

struct item *disk_find(struct disk_engine *de, struct disk_shard *s, uint64_t hash, const void *key,
                       size_t nkey, const struct mem_view *v, struct mem_grave *g,
                       struct item **tomb, enum mem_state *dead)
{
    if (dead != NULL)
        *dead = MEM_LIVE;
    if (tomb != NULL)
        *tomb = NULL;
    struct item *it = mem_ht_find(&s->ht, hash, key, nkey);
    if (it == NULL)
        return NULL;
    if (it->engine_bits & DISK_BIT_TOMB) {
        if (tomb != NULL)
            *tomb = it;
        return NULL;
    }
    enum mem_state st = mem_item_state(it, v);
    if (st == MEM_LIVE)
        return it;
    s->c.reclaimed++;
    if (st == MEM_EXPIRED) {
        /* Its record on disk is expired too: nothing to write. */
        disk_unlink(s, hash, it, g);
    } else if (disk_entomb(de, s, hash, it, g) != 0) {
        if (tomb != NULL)
            *tomb = mem_ht_find(&s->ht, hash, key, nkey);
    }
    if (dead != NULL)
        *dead = st;
    return NULL;
}
