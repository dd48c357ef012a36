/*
 * The disk engine's item ops: get, get_and_touch, allocate, store (set,
 * add, replace, append, prepend) and remove. Each works on the in-memory
 * index under the key's shard lock and queues the resulting record there
 * (so records of one key are queued in the order memory changed); a read
 * or an op that needs a value that is not resident waits for a background
 * fetch; with durability=sync a mutation waits for its fsync. Called from
 * front-end workers, concurrently.
 */
#include <string.h>

#include "base/hash.h"
#include "engines/disk/disk_internal.h"
#include "engines/memory/rules.h"

static bool key_ok(const void *key, size_t nkey)
{
    return key != NULL && nkey >= 1 && nkey <= ITEM_KEY_MAX;
}

engine_status disk_write_begin(struct disk_op *op, struct disk_engine *de, const void *key,
                               size_t nkey)
{
    if (!key_ok(key, nkey))
        return ENGINE_EINVAL;
    if (disk_writes_refused(de))
        return ENGINE_TMPFAIL;
    disk_op_begin(op, de, key, nkey);
    return ENGINE_SUCCESS;
}

/* Counts a miss on a dead entry as the memory engine does. */
static void count_dead(struct disk_shard *s, enum mem_state dead)
{
    if (dead == MEM_EXPIRED)
        s->c.get_expired++;
    else if (dead == MEM_FLUSHED)
        s->c.get_flushed++;
}

/* Hands out r's item (or drops it) and returns r's status. */
static engine_status reply_item(struct disk_reply *r, struct item **out)
{
    if (out != NULL && r->status == ENGINE_SUCCESS)
        *out = r->item;
    else if (r->item != NULL)
        item_unref(r->item);
    return r->status;
}

/* get and get_and_touch: finds the live value, fetching it first if it is not resident. */
static engine_status lookup(struct disk_engine *de, const void *cookie, const void *key,
                            size_t nkey, bool touch, rel_time_t exptime, struct item **out)
{
    struct disk_reply r = {.status = ENGINE_SUCCESS};
    if (touch && disk_collect(de, cookie, &r))
        return reply_item(&r, out);
    if (!key_ok(key, nkey))
        return ENGINE_EINVAL;
    if (touch && disk_writes_refused(de))
        return ENGINE_TMPFAIL;
    enum mem_state dead;
    uint64_t qno = 0;
    struct disk_op op;
    disk_op_begin(&op, de, key, nkey);
    struct item *it = disk_find(de, op.s, op.hash, key, nkey, &op.v, &op.g, NULL, &dead);
    if (it == NULL) {
        count_dead(op.s, dead);
        r.status = ENGINE_KEY_ENOENT;
    } else if (it->engine_bits & DISK_BIT_STUB) {
        r.status = disk_fetch_start(de, op.s, op.hash, it, cookie);
    } else {
        it->engine_bits |= MEM_BIT_ACTIVE | MEM_BIT_FETCHED;
        it->engine_atime = op.v.now;
        if (touch) {
            it->exptime = exptime;
            qno = disk_enqueue(de, op.hash, it);
        }
        item_ref(it);
        r.item = it;
    }
    disk_op_end(&op);
    if (r.status != ENGINE_SUCCESS)
        return r.status;
    if (touch) {
        engine_status st = disk_finish(de, cookie, qno, &r);
        if (st != ENGINE_SUCCESS) {
            if (r.item != NULL)
                item_unref(r.item);
            return st;
        }
    }
    return reply_item(&r, out);
}

engine_status disk_get(struct engine *e, const void *cookie, const void *key, size_t nkey,
                       struct item **out)
{
    if (out == NULL)
        return ENGINE_EINVAL;
    return lookup(disk_of(e), cookie, key, nkey, false, 0, out);
}

engine_status disk_get_and_touch(struct engine *e, const void *cookie, const void *key, size_t nkey,
                                 rel_time_t exptime, struct item **out)
{
    return lookup(disk_of(e), cookie, key, nkey, true, exptime, out);
}

engine_status disk_allocate(struct engine *e, const void *cookie, const void *key, size_t nkey,
                            size_t nbytes, uint32_t flags, rel_time_t exptime, struct item **out)
{
    struct disk_engine *de = disk_of(e);
    if (!key_ok(key, nkey))
        return ENGINE_EINVAL;
    if (nbytes > de->cfg.item_size_max || nbytes > UINT32_MAX)
        return ENGINE_E2BIG;
    struct item *it = disk_item_new(key, nkey, nbytes, flags, exptime);
    if (it == NULL)
        return ENGINE_ENOMEM;
    *out = it;
    return ENGINE_SUCCESS;
}

/* Shard lock held: append/prepend of it to the live entry old (resident). */
static engine_status concat_locked(struct disk_engine *de, struct disk_op *o, struct item *old,
                                   struct item *it, uint64_t cas, enum engine_store_op op,
                                   struct disk_reply *r, uint64_t *qno)
{
    if (cas != 0 && old->cas != cas)
        return ENGINE_KEY_EEXISTS;
    if ((size_t)old->nbytes + it->nbytes > de->cfg.item_size_max)
        return ENGINE_E2BIG;
    struct item *fresh = disk_item_new(item_key(it), it->nkey, (size_t)old->nbytes + it->nbytes,
                                       old->flags, old->exptime);
    if (fresh == NULL)
        return ENGINE_ENOMEM;
    mem_concat_value(fresh, old, it, op);
    fresh->cas = it->cas != 0 ? it->cas : disk_next_cas(de); /* explicit CAS (meta E) is kept */
    disk_replace(o->s, o->hash, old, NULL, fresh, o->v.now, &o->g);
    *qno = disk_enqueue(de, o->hash, fresh);
    r->cas = fresh->cas;
    item_unref(fresh);
    return ENGINE_SUCCESS;
}

/* Shard lock held: set/add/replace of it given the key's entries. */
static engine_status store_locked(struct disk_engine *de, struct disk_op *o, struct item *old,
                                  struct item *tomb, struct item *it, uint64_t cas,
                                  enum engine_store_op op, struct disk_reply *r, uint64_t *qno)
{
    engine_status st = mem_store_rule(op, cas, old);
    if (st != ENGINE_SUCCESS)
        return st;
    /* ms with I and an older CAS: stored, but stale (the mark lives in memory only). */
    bool stale = old != NULL && op == ENGINE_STORE_INVALIDATE && cas != 0 && cas < old->cas;
    it->cas = it->cas != 0 ? it->cas : disk_next_cas(de);
    disk_replace(o->s, o->hash, old, tomb, it, o->v.now, &o->g);
    if (stale)
        it->engine_bits |= MEM_BIT_STALE;
    *qno = disk_enqueue(de, o->hash, it);
    r->cas = it->cas;
    return ENGINE_SUCCESS;
}

/* A store that waited for its fsync counts as an access when it completes. */
static void touch_stored(struct disk_engine *de, struct item *it)
{
    struct disk_op op;
    disk_op_begin(&op, de, item_key(it), it->nkey);
    it->engine_atime = op.v.now;
    disk_op_end(&op);
}

static bool store_op_ok(enum engine_store_op op)
{
    return op == ENGINE_STORE_SET || op == ENGINE_STORE_ADD || op == ENGINE_STORE_REPLACE ||
           op == ENGINE_STORE_APPEND || op == ENGINE_STORE_PREPEND || op == ENGINE_STORE_INVALIDATE;
}

engine_status disk_store(struct engine *e, const void *cookie, struct item *it, uint64_t cas,
                         enum engine_store_op op_kind, uint64_t *cas_out)
{
    struct disk_engine *de = disk_of(e);
    struct disk_reply r = {.status = ENGINE_SUCCESS};
    if (disk_collect(de, cookie, &r)) {
        if (r.status == ENGINE_SUCCESS && it != NULL)
            touch_stored(de, it);
    } else {
        if (it == NULL || !store_op_ok(op_kind))
            return ENGINE_EINVAL;
        struct disk_op op;
        engine_status s = disk_write_begin(&op, de, item_key(it), it->nkey);
        if (s != ENGINE_SUCCESS)
            return s;
        bool concat = op_kind == ENGINE_STORE_APPEND || op_kind == ENGINE_STORE_PREPEND;
        uint64_t qno = 0;
        struct item *tomb;
        struct item *old =
            disk_find(de, op.s, op.hash, item_key(it), it->nkey, &op.v, &op.g, &tomb, NULL);
        if (!concat && (it->engine_bits & MEM_BIT_STORED))
            r.status = ENGINE_EINVAL; /* stored items are shared read-only */
        else if (!concat)
            r.status = store_locked(de, &op, old, tomb, it, cas, op_kind, &r, &qno);
        else if (old == NULL)
            r.status = cas != 0 ? ENGINE_KEY_ENOENT : ENGINE_NOT_STORED;
        else if (old->engine_bits & DISK_BIT_STUB)
            r.status = disk_fetch_start(de, op.s, op.hash, old, cookie);
        else
            r.status = concat_locked(de, &op, old, it, cas, op_kind, &r, &qno);
        r.status = disk_op_finish(de, &op, cookie, qno, &r);
    }
    if (r.status == ENGINE_SUCCESS && cas_out != NULL)
        *cas_out = r.cas;
    return r.status;
}

engine_status disk_remove(struct engine *e, const void *cookie, const void *key, size_t nkey,
                          uint64_t cas)
{
    struct disk_engine *de = disk_of(e);
    struct disk_reply r = {.status = ENGINE_SUCCESS};
    if (disk_collect(de, cookie, &r))
        return r.status;
    struct disk_op op;
    engine_status s = disk_write_begin(&op, de, key, nkey);
    if (s != ENGINE_SUCCESS)
        return s;
    uint64_t qno = 0;
    struct item *it = disk_find(de, op.s, op.hash, key, nkey, &op.v, &op.g, NULL, NULL);
    if (it == NULL)
        r.status = ENGINE_KEY_ENOENT;
    else if (cas != 0 && it->cas != cas)
        r.status = ENGINE_KEY_EEXISTS;
    else if ((qno = disk_entomb(de, op.s, op.hash, it, &op.g)) == 0)
        r.status = ENGINE_ENOMEM;
    return disk_op_finish(de, &op, cookie, qno, &r);
}
