/*
 * Shard operations: lookup with lazy reclaim of dead items, linking with LRU
 * eviction, unlinking and the reclaimer's bucket scan (see shard.h). Runs on
 * front-end workers and on the reclaimer thread, always under the shard lock
 * except init, deinit and mem_grave_release.
 */
#include "engines/memory/shard.h"

#include <assert.h>
#include <string.h>

#include "base/hash.h"

enum mem_state mem_item_state(const struct item *it, const struct mem_view *v)
{
    if (it->cas <= v->flushed_upto)
        return MEM_FLUSHED;
    if (clock_is_expired(it->exptime, v->now))
        return MEM_EXPIRED;
    return MEM_LIVE;
}

int mem_shard_init(struct mem_shard *s, size_t limit)
{
    memset(s, 0, sizeof(*s));
    if (mem_ht_init(&s->ht, MEM_SHARD_INITIAL_BUCKETS) != 0)
        return -1;
    lock_init(&s->lock);
    mem_lru_init(&s->lru);
    s->limit = limit;
    return 0;
}

void mem_shard_deinit(struct mem_shard *s)
{
    /* The LRU list holds every linked item exactly once. */
    struct item *it = s->lru.head;
    while (it != NULL) {
        struct item *next = it->engine_lnext;
        it->engine_bits &= (uint8_t)~MEM_BIT_LINKED;
        item_unref(it);
        it = next;
    }
    mem_lru_init(&s->lru);
    mem_ht_deinit(&s->ht);
    s->bytes = 0;
}

static void grave_push(struct mem_grave *g, struct item *it)
{
    it->engine_next = g->head;
    g->head = it;
}

void mem_grave_release(struct mem_grave *g)
{
    struct item *it = g->head;
    while (it != NULL) {
        struct item *next = it->engine_next;
        it->engine_next = NULL;
        item_unref(it);
        it = next;
    }
    g->head = NULL;
}

/* Everything unlinking does once the item is out of the hash table. */
static void detach(struct mem_shard *s, struct item *it, struct mem_grave *g)
{
    mem_lru_remove(&s->lru, it);
    s->bytes -= item_total_size(it->nkey, it->nbytes);
    it->engine_bits &= (uint8_t) ~(MEM_BIT_LINKED | MEM_BIT_ACTIVE);
    grave_push(g, it);
}

/* Counts a dead item as reclaimed; it is about to be unlinked. */
static void count_reclaimed(struct mem_shard *s, const struct item *it, enum mem_state st)
{
    s->c.reclaimed++;
    if (st == MEM_EXPIRED && !(it->engine_bits & MEM_BIT_FETCHED))
        s->c.expired_unfetched++;
}

void mem_shard_unlink(struct mem_shard *s, uint64_t hash, struct item *it, struct mem_grave *g)
{
    bool found = mem_ht_remove(&s->ht, hash, it);
    assert(found);
    (void)found;
    detach(s, it, g);
}

struct item *mem_shard_find(struct mem_shard *s, uint64_t hash, const void *key, size_t nkey,
                            const struct mem_view *v, struct mem_grave *g, enum mem_state *dead)
{
    if (dead != NULL)
        *dead = MEM_LIVE;
    struct item *it = mem_ht_find(&s->ht, hash, key, nkey);
    if (it == NULL)
        return NULL;
    enum mem_state st = mem_item_state(it, v);
    if (st == MEM_LIVE)
        return it;
    /* Dead items are missing to every caller; unlinking now frees their memory early. */
    count_reclaimed(s, it, st);
    mem_shard_unlink(s, hash, it, g);
    if (dead != NULL)
        *dead = st;
    return NULL;
}

/* Evicts or reclaims from the LRU tail until need more bytes fit in the budget. */
static void make_room(struct mem_shard *s, size_t need, const struct mem_view *v,
                      struct mem_grave *g)
{
    while (s->bytes + need > s->limit && s->lru.tail != NULL) {
        struct item *victim = mem_lru_victim(&s->lru, MEM_LRU_MAX_MOVES);
        enum mem_state st = mem_item_state(victim, v);
        if (st != MEM_LIVE) {
            count_reclaimed(s, victim, st);
        } else {
            s->c.evictions++;
            if (!(victim->engine_bits & MEM_BIT_FETCHED))
                s->c.evicted_unfetched++;
        }
        /* Other holders keep the victim alive; only the engine's reference goes. */
        mem_shard_unlink(s, hash_key(item_key(victim), victim->nkey), victim, g);
    }
}

void mem_shard_link(struct mem_shard *s, uint64_t hash, struct item *it, const struct mem_view *v,
                    struct mem_grave *g)
{
    size_t total = item_total_size(it->nkey, it->nbytes);
    make_room(s, total, v, g);
    item_ref(it);
    it->engine_bits = MEM_BIT_LINKED | MEM_BIT_STORED;
    it->engine_atime = v->now;
    mem_ht_insert(&s->ht, hash, it);
    mem_lru_push_head(&s->lru, it);
    s->bytes += total;
}

struct reclaim_scan {
    struct mem_shard *s;
    const struct mem_view *v;
    struct mem_grave *g;
    size_t reclaimed;
};

/* mem_ht_scan visitor: claims dead items (the scan unlinks them from the table). */
static bool reclaim_visit(struct item *it, void *arg)
{
    struct reclaim_scan *r = arg;
    enum mem_state st = mem_item_state(it, r->v);
    if (st == MEM_LIVE)
        return false;
    count_reclaimed(r->s, it, st);
    detach(r->s, it, r->g);
    r->reclaimed++;
    return true;
}

size_t mem_shard_reclaim(struct mem_shard *s, const struct mem_view *v, size_t max_buckets,
                         struct mem_grave *g)
{
    struct reclaim_scan r = {.s = s, .v = v, .g = g, .reclaimed = 0};
    mem_ht_scan(&s->ht, &s->reclaim_cursor, max_buckets, reclaim_visit, &r);
    return r.reclaimed;
}

void mem_meta_observe(struct item *it, struct engine_meta_get *m, rel_time_t now)
{
    m->fetched = (it->engine_bits & MEM_BIT_FETCHED) != 0;
    m->last_access = it->engine_atime;
    m->win_sent = (it->engine_bits & MEM_BIT_WON) != 0;
    m->stale = (it->engine_bits & MEM_BIT_STALE) != 0;
    it->engine_bits |= MEM_BIT_ACTIVE | MEM_BIT_FETCHED;
    it->engine_atime = now;
    if (m->touch)
        it->exptime = m->exptime;
    bool won = m->created;
    if (m->recache && !m->win_sent && !m->created && it->exptime != 0 &&
        it->exptime < m->recache_before)
        won = true;
    /* A stale item asks its first reader to refresh it. */
    if (m->stale && !m->win_sent)
        won = true;
    m->won = won;
    if (won)
        it->engine_bits |= MEM_BIT_WON;
    m->exptime_now = it->exptime;
}
