/*
 * The memory engine's meta protocol ops: mg's item state (fetched, last
 * access, stale, win handed out), vivify on miss, recache, and md's
 * invalidate. The state lives in the item's engine bits and last-access
 * time, written only under the key's shard lock. Called from front-end
 * workers, concurrently.
 */
#include <stdlib.h>

#include "base/hash.h"
#include "engines/memory/lru.h"
#include "engines/memory/memory_internal.h"

/* Links an empty item for key (mg N); NULL when it cannot be allocated. Shard lock held. */
static struct item *meta_vivify(struct memory_engine *me, struct mem_shard *s, uint64_t hash,
                                const void *key, size_t nkey, const struct engine_meta_get *m,
                                const struct mem_view *v, struct mem_grave *g)
{
    struct item *it = NULL;
    if (memory_new_item(me, key, nkey, 0, 0, m->vivify_exptime, &it) != ENGINE_SUCCESS)
        return NULL;
    it->cas = memory_next_cas(me);
    mem_shard_link(s, hash, it, v, g);
    s->c.total_items++;
    item_unref(it); /* the shard holds it now; the caller takes its own reference */
    return it;
}

engine_status memory_meta_get(struct engine *e, const void *cookie, const void *key, size_t nkey,
                              struct engine_meta_get *m, struct item **out)
{
    struct memory_engine *me = memory_of(e);
    if (key == NULL || nkey == 0 || nkey > ITEM_KEY_MAX || out == NULL)
        return ENGINE_EINVAL;
    uint64_t hash = hash_key(key, nkey);
    struct mem_view v = memory_view(me);
    struct mem_shard *s = memory_shard(me, hash);
    struct mem_grave g = {NULL};
    m->created = false;
    lock_take(&s->lock);
    struct item *it = mem_shard_find(s, hash, key, nkey, &v, &g, NULL);
    if (it == NULL && m->vivify) {
        it = meta_vivify(me, s, hash, key, nkey, m, &v, &g);
        m->created = it != NULL;
    }
    if (it != NULL) {
        mem_meta_observe(it, m, v.now);
        item_ref(it);
    }
    lock_drop(&s->lock);
    mem_grave_release(&g);
    if (it == NULL)
        return ENGINE_KEY_ENOENT;
    *out = it;
    return ENGINE_SUCCESS;
}

engine_status memory_invalidate(struct engine *e, const void *cookie, const void *key, size_t nkey,
                                uint64_t cas, bool touch, rel_time_t exptime)
{
    struct memory_engine *me = memory_of(e);
    if (key == NULL || nkey == 0 || nkey > ITEM_KEY_MAX)
        return ENGINE_EINVAL;
    uint64_t hash = hash_key(key, nkey);
    struct mem_view v = memory_view(me);
    struct mem_shard *s = memory_shard(me, hash);
    struct mem_grave g = {NULL};
    engine_status st = ENGINE_SUCCESS;
    lock_take(&s->lock);
    struct item *it = mem_shard_find(s, hash, key, nkey, &v, &g, NULL);
    if (it == NULL) {
        st = ENGINE_KEY_ENOENT;
    } else if (cas != 0 && it->cas != cas) {
        st = ENGINE_KEY_EEXISTS;
    } else {
        it->engine_bits = (uint8_t)((it->engine_bits | MEM_BIT_STALE) & ~MEM_BIT_WON);
        if (touch)
            it->exptime = exptime;
    }
    lock_drop(&s->lock);
    mem_grave_release(&g);
    return st;
}
