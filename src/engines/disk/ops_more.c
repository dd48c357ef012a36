/*
 * The disk engine's other ops: incr/decr, the meta protocol's get and
 * invalidate (item state shared with the memory engine through
 * mem_meta_observe), and flush_all, whose deletes are written by a scan job
 * on the writer pool. Ops run on front-end workers; the scan on the writer
 * thread.
 */
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "engines/disk/disk_internal.h"
#include "engines/memory/rules.h"

/* Shard lock held: links a new item holding v as decimal text in place of old/tomb. */
static engine_status link_number(struct disk_engine *de, struct disk_op *o, const void *key,
                                 size_t nkey, struct item *old, struct item *tomb, uint64_t v,
                                 uint32_t flags, rel_time_t exptime, struct disk_reply *r,
                                 uint64_t *qno)
{
    char buf[MEM_U64_DIGITS];
    size_t n = mem_format_u64(v, buf);
    struct item *fresh = disk_item_new(key, nkey, n, flags, exptime);
    if (fresh == NULL)
        return ENGINE_ENOMEM;
    memcpy(item_value(fresh), buf, n);
    fresh->cas = disk_next_cas(de);
    disk_replace(o->s, o->hash, old, tomb, fresh, o->v.now, &o->g);
    *qno = disk_enqueue(de, o->hash, fresh);
    r->cas = fresh->cas;
    r->result = v;
    item_unref(fresh);
    return ENGINE_SUCCESS;
}

/* Shard lock held: incr/decr given the key's entries. */
static engine_status arith_locked(struct disk_engine *de, const void *cookie, struct disk_op *o,
                                  const void *key, size_t nkey, const struct engine_arith *a,
                                  struct disk_reply *r, uint64_t *qno)
{
    struct item *tomb;
    struct item *old = disk_find(de, o->s, o->hash, key, nkey, &o->v, &o->g, &tomb, NULL);
    if (old == NULL) {
        /* A CAS names an item that must exist, so it never creates one. */
        if (!a->create || a->cas != 0)
            return ENGINE_KEY_ENOENT;
        return link_number(de, o, key, nkey, NULL, tomb, a->initial, 0, a->exptime, r, qno);
    }
    if (old->engine_bits & DISK_BIT_STUB)
        return disk_fetch_start(de, o->s, o->hash, old, cookie);
    if (a->cas != 0 && old->cas != a->cas)
        return ENGINE_KEY_EEXISTS;
    uint64_t value;
    if (!mem_arith_apply(item_cvalue(old), old->nbytes, a, &value))
        return ENGINE_DELTA_BADVAL;
    return link_number(de, o, key, nkey, old, NULL, value, old->flags, old->exptime, r, qno);
}

engine_status disk_arithmetic(struct engine *e, const void *cookie, const void *key, size_t nkey,
                              const struct engine_arith *a, uint64_t *result, uint64_t *cas_out)
{
    struct disk_engine *de = disk_of(e);
    struct disk_reply r = {.status = ENGINE_SUCCESS};
    if (!disk_collect(de, cookie, &r)) {
        if (a == NULL)
            return ENGINE_EINVAL;
        struct disk_op op;
        engine_status s = disk_write_begin(&op, de, key, nkey);
        if (s != ENGINE_SUCCESS)
            return s;
        uint64_t qno = 0;
        r.status = arith_locked(de, cookie, &op, key, nkey, a, &r, &qno);
        r.status = disk_op_finish(de, &op, cookie, qno, &r);
    }
    if (r.status == ENGINE_SUCCESS) {
        if (result != NULL)
            *result = r.result;
        if (cas_out != NULL)
            *cas_out = r.cas;
    }
    return r.status;
}

/* Shard lock held: mg on the key's entries; *qno is set when something was queued. */
static engine_status meta_locked(struct disk_engine *de, const void *cookie, struct disk_op *o,
                                 const void *key, size_t nkey, struct engine_meta_get *m,
                                 struct disk_reply *r, uint64_t *qno)
{
    struct item *tomb;
    struct item *it = disk_find(de, o->s, o->hash, key, nkey, &o->v, &o->g, &tomb, NULL);
    if (it == NULL && m->vivify) {
        it = disk_item_new(key, nkey, 0, 0, m->vivify_exptime);
        if (it == NULL)
            return ENGINE_ENOMEM;
        it->cas = disk_next_cas(de);
        disk_replace(o->s, o->hash, NULL, tomb, it, o->v.now, &o->g);
        *qno = disk_enqueue(de, o->hash, it);
        item_unref(it); /* the shard holds it now */
        m->created = true;
    }
    if (it == NULL)
        return ENGINE_KEY_ENOENT;
    if (it->engine_bits & DISK_BIT_STUB)
        return disk_fetch_start(de, o->s, o->hash, it, cookie);
    mem_meta_observe(it, m, o->v.now);
    if (m->touch)
        *qno = disk_enqueue(de, o->hash, it);
    item_ref(it);
    r->item = it;
    return ENGINE_SUCCESS;
}

engine_status disk_meta_get(struct engine *e, const void *cookie, const void *key, size_t nkey,
                            struct engine_meta_get *m, struct item **out)
{
    struct disk_engine *de = disk_of(e);
    struct disk_reply r = {.status = ENGINE_SUCCESS};
    if (disk_collect(de, cookie, &r)) {
        *m = r.meta; /* the state the first call found, not the one after its own changes */
        if (r.status == ENGINE_SUCCESS)
            *out = r.item;
        else if (r.item != NULL)
            item_unref(r.item);
        return r.status;
    }
    if (key == NULL || nkey == 0 || nkey > ITEM_KEY_MAX || out == NULL)
        return ENGINE_EINVAL;
    if ((m->touch || m->vivify) && disk_writes_refused(de))
        return ENGINE_TMPFAIL;
    uint64_t qno = 0;
    m->created = false;
    struct disk_op op;
    disk_op_begin(&op, de, key, nkey);
    r.status = meta_locked(de, cookie, &op, key, nkey, m, &r, &qno);
    disk_op_end(&op);
    if (r.status != ENGINE_SUCCESS)
        return r.status;
    if (qno != 0) {
        r.meta = *m;
        engine_status st = disk_finish(de, cookie, qno, &r);
        if (st != ENGINE_SUCCESS) {
            if (r.item != NULL)
                item_unref(r.item);
            return st;
        }
    }
    *out = r.item;
    return ENGINE_SUCCESS;
}

engine_status disk_invalidate(struct engine *e, const void *cookie, const void *key, size_t nkey,
                              uint64_t cas, bool touch, rel_time_t exptime)
{
    struct disk_engine *de = disk_of(e);
    struct disk_reply r = {.status = ENGINE_SUCCESS};
    if (disk_collect(de, cookie, &r))
        return r.status;
    if (key == NULL || nkey == 0 || nkey > ITEM_KEY_MAX)
        return ENGINE_EINVAL;
    if (touch && disk_writes_refused(de))
        return ENGINE_TMPFAIL;
    uint64_t qno = 0;
    struct disk_op op;
    disk_op_begin(&op, de, key, nkey);
    struct item *it = disk_find(de, op.s, op.hash, key, nkey, &op.v, &op.g, NULL, NULL);
    if (it == NULL) {
        r.status = ENGINE_KEY_ENOENT;
    } else if (cas != 0 && it->cas != cas) {
        r.status = ENGINE_KEY_EEXISTS;
    } else if (touch && (it->engine_bits & DISK_BIT_STUB)) {
        r.status =
            disk_fetch_start(de, op.s, op.hash, it, cookie); /* a new expiry needs a record */
    } else {
        /* The stale mark lives in memory only; a restart forgets it. */
        it->engine_bits = (uint8_t)((it->engine_bits | MEM_BIT_STALE) & ~MEM_BIT_WON);
        if (touch) {
            it->exptime = exptime;
            qno = disk_enqueue(de, op.hash, it);
        }
    }
    return disk_op_finish(de, &op, cookie, qno, &r);
}

/* The scan job's argument. */
struct flush_scan {
    struct disk_engine *de;
    const void *cookie; /* NULL for a delayed flush */
};

struct flushed_list {
    struct item **v;
    size_t n, cap;
    const struct mem_view *view;
};

/* mem_ht_scan visitor: collects live entries that the flush made dead. */
static bool collect_flushed(struct item *it, void *arg)
{
    struct flushed_list *l = arg;
    if ((it->engine_bits & DISK_BIT_TOMB) || mem_item_state(it, l->view) != MEM_FLUSHED)
        return false;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        struct item **nv = realloc(l->v, cap * sizeof(*nv));
        if (nv == NULL)
            return false; /* left for its next lookup, which writes its delete */
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = it;
    return false;
}

/* Turns the flushed entries of a few buckets from *cursor into deletes; returns the last qno. */
static uint64_t entomb_chunk(struct disk_engine *de, struct disk_shard *s, const struct mem_view *v,
                             size_t *cursor)
{
    struct flushed_list l = {.view = v};
    struct mem_grave g = {NULL};
    uint64_t last = 0;
    pthread_mutex_lock(&s->lock);
    mem_ht_scan(&s->ht, cursor, DISK_SCAN_CHUNK, collect_flushed, &l);
    for (size_t k = 0; k < l.n; k++) {
        struct item *it = l.v[k];
        uint64_t qno = disk_entomb(de, s, hash_key(item_key(it), it->nkey), it, &g);
        last = qno > last ? qno : last;
        s->c.reclaimed++;
    }
    pthread_mutex_unlock(&s->lock);
    mem_grave_release(&g);
    free(l.v);
    return last;
}

/* Writer pool: turns every flushed entry into a queued delete, then answers the flush. */
static void flush_scan_job(void *arg, bool cancelled)
{
    struct flush_scan *fs = arg;
    struct disk_engine *de = fs->de;
    struct mem_view v = {.now = clock_now(), .flushed_upto = atomic_load(&de->flushed_upto)};
    uint64_t last = 0;
    for (size_t i = 0; i < DISK_SHARDS && !cancelled; i++) {
        struct disk_shard *s = &de->shards[i];
        size_t cursor = 0;
        do { /* a few buckets per lock hold: front-end threads wait at most that long */
            uint64_t qno = entomb_chunk(de, s, &v, &cursor);
            last = qno > last ? qno : last;
        } while (cursor != 0);
    }
    /* Deletes a lookup queued for a flushed entry meanwhile are covered too. */
    pthread_mutex_lock(&de->q.lock);
    last = de->q.last_qno > last ? de->q.last_qno : last;
    pthread_mutex_unlock(&de->q.lock);
    if (fs->cookie != NULL && cancelled)
        de->host->notify(fs->cookie, ENGINE_TMPFAIL);
    else if (fs->cookie != NULL)
        disk_complete_later(de, fs->cookie, last, ENGINE_SUCCESS);
    free(fs);
}

int disk_flush_scan_schedule(struct disk_engine *de, const void *cookie)
{
    struct flush_scan *fs = malloc(sizeof(*fs));
    if (fs == NULL)
        return -1;
    *fs = (struct flush_scan){.de = de, .cookie = cookie};
    if (executor_submit(de->pools.writer, flush_scan_job, fs) != 0) {
        free(fs);
        return -1;
    }
    return 0;
}

engine_status disk_flush(struct engine *e, const void *cookie, rel_time_t when)
{
    struct disk_engine *de = disk_of(e);
    struct disk_reply r = {.status = ENGINE_SUCCESS};
    if (disk_collect(de, cookie, &r))
        return r.status;
    if (disk_writes_refused(de))
        return ENGINE_TMPFAIL;
    if (when != 0 && when > clock_now()) {
        atomic_store(&de->flush_when, when); /* disk_view applies it when the time comes */
        return ENGINE_SUCCESS;
    }
    /* A flush now supersedes a pending delayed one, as in memcached. */
    atomic_store(&de->flush_when, 0);
    uint64_t upto = atomic_load(&de->cas_counter);
    uint64_t cur = atomic_load(&de->flushed_upto);
    while (cur < upto && !atomic_compare_exchange_weak(&de->flushed_upto, &cur, upto)) {
    }
    if (cookie == NULL || de->host == NULL)
        return disk_flush_scan_schedule(de, NULL) == 0 ? ENGINE_SUCCESS : ENGINE_TMPFAIL;
    return disk_flush_scan_schedule(de, cookie) == 0 ? ENGINE_EWOULDBLOCK : ENGINE_TMPFAIL;
}
