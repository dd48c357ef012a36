/*
 * The disk engine's write path after memory: the queue of records (filled
 * by mutations on front-end workers under their shard lock), the flusher
 * job on the writer pool that appends batches and fsyncs them, the waiters
 * of durability=sync (group commit: one fsync completes every write it
 * covers), and the failed state after a write or fsync error. The flusher
 * is the only job that appends; at most one runs (q.scheduled).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/hash.h"
#include "base/log.h"
#include "engines/disk/disk_internal.h"

static int qvec_push(struct disk_qvec *v, const struct disk_qrec *r)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 64;
        struct disk_qrec *nv = realloc(v->v, cap * sizeof(*nv));
        if (nv == NULL)
            return -1;
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n++] = *r;
    return 0;
}

static void qvec_release(struct disk_qvec *v)
{
    for (size_t i = 0; i < v->n; i++)
        item_unref(v->v[i].it);
    free(v->v);
    *v = (struct disk_qvec){0};
}

/* Moves every record of front before those of back; front ends empty. */
static void qvec_prepend(struct disk_qvec *back, struct disk_qvec *front)
{
    if (front->n == 0)
        return;
    for (size_t i = 0; i < back->n; i++)
        (void)qvec_push(front, &back->v[i]); /* grows by doubling; see below on failure */
    free(back->v);
    *back = *front;
    *front = (struct disk_qvec){0};
}

/* A vector the flusher is done with becomes the spare if it is the larger one. */
static void keep_spare(struct disk_engine *de, struct disk_qvec v)
{
    if (v.cap > de->spare.cap) {
        free(de->spare.v);
        de->spare = (struct disk_qvec){.v = v.v, .n = 0, .cap = v.cap};
    } else {
        free(v.v);
    }
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void flusher_job(void *arg, bool cancelled);
static void notify_waiters(struct disk_engine *de, bool failed);

/* Queue lock held: submits the flusher unless one is queued or running. */
static void kick_locked(struct disk_engine *de)
{
    if (de->q.scheduled)
        return;
    if (executor_submit(de->pools.writer, flusher_job, de) == 0)
        de->q.scheduled = true;
}

uint64_t disk_enqueue(struct disk_engine *de, uint64_t hash, struct item *it)
{
    bool tomb = (it->engine_bits & DISK_BIT_TOMB) != 0;
    struct disk_qrec r = {.it = it,
                          .hash = hash,
                          .cas = it->cas,
                          .exptime = disk_abs_time(it->exptime),
                          .flags = it->flags,
                          .kind = tomb ? STORE_KIND_TOMBSTONE : STORE_KIND_VALUE};
    pthread_mutex_lock(&de->q.lock);
    r.qno = ++de->q.last_qno;
    if (qvec_push(&de->q.q, &r) == 0) {
        item_ref(it);
        disk_meta(it)->pending++;
    } else {
        /* Out of memory: the write stays in memory only; say so rather than hide it. */
        log_warn("disk engine: out of memory queueing a write; it is not persisted");
    }
    kick_locked(de);
    pthread_mutex_unlock(&de->q.lock);
    return r.qno;
}

bool disk_writes_refused(struct disk_engine *de)
{
    /* Every mutation asks: no lock unless writes fail (then the retry kick needs it). */
    if (!atomic_load_explicit(&de->q.failed, memory_order_relaxed))
        return false;
    pthread_mutex_lock(&de->q.lock);
    bool failed = de->q.failed;
    if (failed && disk_now_ms() >= de->q.retry_at_ms) {
        de->q.retry_at_ms = disk_now_ms() + de->cfg.flush_interval_ms;
        kick_locked(de);
    }
    pthread_mutex_unlock(&de->q.lock);
    return failed;
}

/* Queue lock held: a waiter to fill, reused when one is spare; NULL when out of memory. */
static struct disk_waiter *waiter_new_locked(struct disk_engine *de)
{
    struct disk_waiter *w = de->q.spare_waiters;
    if (w == NULL)
        return malloc(sizeof(*w));
    de->q.spare_waiters = w->next;
    de->q.nspare_waiters--;
    return w;
}

/* Queue lock held: frees w (its item reference already handed out), or keeps it for reuse. */
static void waiter_free_locked(struct disk_engine *de, struct disk_waiter *w)
{
    w->item = NULL;
    if (de->q.nspare_waiters >= DISK_SPARE_WAITERS) {
        free(w);
        return;
    }
    w->next = de->q.spare_waiters;
    de->q.spare_waiters = w;
    de->q.nspare_waiters++;
}

/* Queue lock held: puts w (filled) at the head of the waiters and in cookie's private slot. */
static void waiter_link_locked(struct disk_engine *de, struct disk_waiter *w)
{
    w->next = de->q.waiters;
    w->pprev = &de->q.waiters;
    if (w->next != NULL)
        w->next->pprev = &w->next;
    de->q.waiters = w;
    de->host->set_private(w->cookie, w);
}

/* Queue lock held: takes w out of the waiters. */
static void waiter_unlink_locked(struct disk_waiter *w)
{
    *w->pprev = w->next;
    if (w->next != NULL)
        w->next->pprev = w->pprev;
}

engine_status disk_finish(struct disk_engine *de, const void *cookie, uint64_t qno,
                          struct disk_reply *r)
{
    if (!de->cfg.sync || cookie == NULL || de->host == NULL)
        return r->status;
    pthread_mutex_lock(&de->q.lock);
    if (qno <= de->q.durable_qno) {
        pthread_mutex_unlock(&de->q.lock);
        return r->status;
    }
    struct disk_waiter *w = de->q.failed ? NULL : waiter_new_locked(de);
    if (w == NULL) {
        /* Not durable and no way to wait for it (or the disk fails): never claim success. */
        pthread_mutex_unlock(&de->q.lock);
        return ENGINE_TMPFAIL;
    }
    *w = (struct disk_waiter){.cookie = cookie,
                              .qno = qno,
                              .status = r->status,
                              .cas = r->cas,
                              .result = r->result,
                              .item = r->item,
                              .meta = r->meta};
    r->item = NULL;
    waiter_link_locked(de, w);
    pthread_mutex_unlock(&de->q.lock);
    return ENGINE_EWOULDBLOCK;
}

engine_status disk_op_finish(struct disk_engine *de, struct disk_op *op, const void *cookie,
                             uint64_t qno, struct disk_reply *r)
{
    disk_op_end(op);
    if (r->status != ENGINE_SUCCESS || qno == 0)
        return r->status;
    return disk_finish(de, cookie, qno, r);
}

void disk_complete_later(struct disk_engine *de, const void *cookie, uint64_t qno,
                         engine_status status)
{
    pthread_mutex_lock(&de->q.lock);
    struct disk_waiter *w = waiter_new_locked(de);
    if (w == NULL) {
        pthread_mutex_unlock(&de->q.lock);
        /* Cannot park: the command is answered with the notify's status instead. */
        de->host->notify(cookie, ENGINE_ENOMEM);
        return;
    }
    *w = (struct disk_waiter){.cookie = cookie,
                              .qno = de->cfg.sync && !de->q.failed ? qno : 0,
                              .status = de->q.failed && de->cfg.sync ? ENGINE_TMPFAIL : status};
    waiter_link_locked(de, w);
    pthread_mutex_unlock(&de->q.lock);
    notify_waiters(de, false);
}

/* Frees a list of unlinked waiters (linked by next) and the item references they hold. */
static void waiters_free(struct disk_waiter *w)
{
    while (w != NULL) {
        struct disk_waiter *next = w->next;
        if (w->item != NULL)
            item_unref(w->item);
        free(w);
        w = next;
    }
}

bool disk_collect(struct disk_engine *de, const void *cookie, struct disk_reply *r)
{
    if (de->host == NULL || cookie == NULL)
        return false;
    /* The private slot holds the cookie's only waiter (set and cleared under the queue lock).
     */
    struct disk_waiter *w = de->host->get_private(cookie);
    if (w == NULL)
        return false;
    pthread_mutex_lock(&de->q.lock);
    bool done = w->cookie == cookie && w->done;
    if (done) {
        waiter_unlink_locked(w);
        de->host->set_private(cookie, NULL);
        *r = (struct disk_reply){.status = w->status,
                                 .cas = w->cas,
                                 .result = w->result,
                                 .item = w->item,
                                 .meta = w->meta};
        waiter_free_locked(de, w);
    }
    pthread_mutex_unlock(&de->q.lock);
    return done;
}

void disk_waiters_disconnect(struct disk_engine *de, const void *cookie)
{
    struct disk_waiter *dead = NULL;
    pthread_mutex_lock(&de->q.lock);
    for (struct disk_waiter *w = de->q.waiters, *next; w != NULL; w = next) {
        next = w->next;
        if (w->cookie == cookie && w->done) {
            waiter_unlink_locked(w);
            de->host->set_private(cookie, NULL); /* nothing is left to collect */
            w->next = dead;
            dead = w;
        } else if (w->cookie == cookie) {
            w->orphan = true;
        }
    }
    pthread_mutex_unlock(&de->q.lock);
    waiters_free(dead);
}

/* Cookies notified per hold of the queue lock. */
#define NOTIFY_CHUNK 64u

/*
 * Queue lock held: completes at most NOTIFY_CHUNK waiters up to
 * durable_qno (any not done with TMPFAIL when failed), putting their
 * cookies into cookies and the orphans to free into *orphans; returns how
 * many.
 */
static size_t complete_waiters(struct disk_engine *de, bool failed,
                               const void *cookies[NOTIFY_CHUNK], struct disk_waiter **orphans)
{
    size_t n = 0;
    for (struct disk_waiter *w = de->q.waiters, *next; w != NULL && n < NOTIFY_CHUNK; w = next) {
        next = w->next;
        if (w->done || (!failed && w->qno > de->q.durable_qno))
            continue;
        cookies[n++] = w->cookie;
        w->done = true;
        if (failed)
            w->status = ENGINE_TMPFAIL;
        if (w->orphan) {
            /* Its connection is closing; the slot must not point at a freed waiter. */
            de->host->set_private(w->cookie, NULL);
            waiter_unlink_locked(w);
            w->next = *orphans;
            *orphans = w;
        }
    }
    return n;
}

/* Notifies the waiters made complete by the last durable_qno or failure. */
static void notify_waiters(struct disk_engine *de, bool failed)
{
    const void *cookies[NOTIFY_CHUNK];
    size_t n;
    do {
        struct disk_waiter *orphans = NULL;
        pthread_mutex_lock(&de->q.lock);
        n = complete_waiters(de, failed, cookies, &orphans);
        pthread_mutex_unlock(&de->q.lock);
        for (size_t i = 0; i < n; i++)
            de->host->notify(cookies[i], ENGINE_SUCCESS);
        waiters_free(orphans);
    } while (n == NOTIFY_CHUNK);
}

/* Shard lock held: a durable record's entry learns where it is, and stops being dirty. */
static void complete_locked(struct disk_shard *s, const struct disk_qrec *r, struct mem_grave *g)
{
    struct item *it = r->it;
    struct disk_meta *m = disk_meta(it);
    m->pending--;
    bool linked = mem_ht_find(&s->ht, r->hash, item_key(it), it->nkey) == it;
    disk_set_loc(s, it, r->seq, &r->loc, linked);
    if (linked && (it->engine_bits & DISK_BIT_TOMB) && m->pending == 0)
        disk_unlink(s, r->hash, it, g); /* the delete is durable: the key needs no entry */
    else if (linked)
        disk_make_room(s, g);
}

/*
 * Completes the durable records v[0..n), shard by shard (one lock hold per
 * shard and DISK_SCAN_CHUNK records, not one per record), in write order
 * within a shard; order is scratch for n indexes. Drops the queue's
 * references after each hold.
 */
static void complete_records(struct disk_engine *de, const struct disk_qrec *v, size_t n,
                             uint32_t *order)
{
    size_t start[DISK_SHARDS + 1] = {0};
    for (size_t i = 0; i < n; i++)
        start[(disk_shard(de, v[i].hash) - de->shards) + 1]++;
    for (size_t k = 0; k < DISK_SHARDS; k++)
        start[k + 1] += start[k];
    size_t fill[DISK_SHARDS];
    memcpy(fill, start, sizeof(fill));
    for (size_t i = 0; i < n; i++)
        order[fill[disk_shard(de, v[i].hash) - de->shards]++] = (uint32_t)i;
    for (size_t k = 0; k < DISK_SHARDS; k++) {
        struct disk_shard *s = &de->shards[k];
        for (size_t i = start[k]; i < start[k + 1];) {
            size_t end = i + DISK_SCAN_CHUNK < start[k + 1] ? i + DISK_SCAN_CHUNK : start[k + 1];
            struct mem_grave g = {NULL};
            pthread_mutex_lock(&s->lock);
            for (size_t j = i; j < end; j++)
                complete_locked(s, &v[order[j]], &g);
            pthread_mutex_unlock(&s->lock);
            mem_grave_release(&g);
            for (; i < end; i++)
                item_unref(v[order[i]].it);
        }
    }
}

/* Grows the flusher's scratch to n records; -1 when out of memory. */
static int scratch_reserve(struct disk_scratch *sc, size_t n)
{
    if (n <= sc->cap)
        return 0;
    size_t cap = sc->cap ? sc->cap : 64;
    while (cap < n)
        cap *= 2;
    struct store_record *recs = realloc(sc->recs, cap * sizeof(*recs));
    if (recs != NULL)
        sc->recs = recs;
    struct store_loc *locs = realloc(sc->locs, cap * sizeof(*locs));
    if (locs != NULL)
        sc->locs = locs;
    uint32_t *order = realloc(sc->order, cap * sizeof(*order));
    if (order != NULL)
        sc->order = order;
    if (recs == NULL || locs == NULL || order == NULL)
        return -1;
    sc->cap = cap;
    return 0;
}

/* The records being appended, as the store wants them, into recs. */
static void to_records(const struct disk_qvec *b, struct store_record *recs)
{
    for (size_t i = 0; i < b->n; i++) {
        const struct disk_qrec *q = &b->v[i];
        bool tomb = q->kind == STORE_KIND_TOMBSTONE;
        recs[i] = (struct store_record){.cas = q->cas,
                                        .exptime = q->exptime,
                                        .flags = q->flags,
                                        .kind = q->kind,
                                        .nkey = q->it->nkey,
                                        .nvalue = tomb ? 0 : q->it->nbytes,
                                        .key = item_key(q->it),
                                        .value = tomb ? NULL : item_cvalue(q->it)};
    }
}

/* A write or fsync failed: everything not durable goes back to the queue to be written again.
 */
static void enter_failed(struct disk_engine *de, struct disk_qvec *batch, const char *what)
{
    atomic_fetch_add_explicit(&de->n.write_errors, 1, memory_order_relaxed);
    qvec_prepend(batch, &de->inflight);
    pthread_mutex_lock(&de->q.lock);
    qvec_prepend(&de->q.q, batch);
    if (!de->q.failed)
        log_warn("disk engine: %s failed (%s); writes answer TMPFAIL until the disk accepts them",
                 what, store_last_error(de->store));
    de->q.failed = true;
    de->q.retry_at_ms = disk_now_ms() + de->cfg.flush_interval_ms;
    pthread_mutex_unlock(&de->q.lock);
    notify_waiters(de, true);
}

/* Appends batch; its records move to inflight. 0, or -1 (failed state entered). */
static int append_batch(struct disk_engine *de, struct disk_qvec *batch)
{
    /* inflight is completed with order scratch for all of it: reserve for both. */
    struct disk_scratch *sc = &de->scratch;
    struct store_record *recs = NULL;
    struct store_loc *locs = NULL;
    enum store_err err = STORE_ENOMEM;
    if (scratch_reserve(sc, batch->n + de->inflight.n) == 0) {
        recs = sc->recs;
        locs = sc->locs;
        to_records(batch, recs);
        pthread_rwlock_wrlock(&de->store_lock);
        err = store_append(de->store, recs, batch->n, locs, NULL);
        pthread_rwlock_unlock(&de->store_lock);
    }
    if (err == STORE_OK) {
        for (size_t i = 0; i < batch->n; i++) {
            batch->v[i].seq = recs[i].seq;
            batch->v[i].loc = locs[i];
        }
    }
    if (err == STORE_ECRASHED)
        raise(SIGKILL); /* a test's injected crash point: die as a crash would */
    if (err != STORE_OK) {
        enter_failed(de, batch, "write");
        return -1;
    }
    /* inflight then batch, in write order. */
    qvec_prepend(batch, &de->inflight);
    de->inflight = *batch;
    *batch = (struct disk_qvec){0};
    atomic_fetch_add_explicit(&de->n.flush_batches, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&de->appended_since_compact, 1, memory_order_relaxed);
    return 0;
}

/* fsyncs what inflight holds and completes it. 0, or -1 (failed state entered). */
static int sync_inflight(struct disk_engine *de)
{
    uint64_t t0 = disk_now_ms();
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    pthread_rwlock_wrlock(&de->store_lock);
    enum store_err err = store_sync(de->store);
    pthread_rwlock_unlock(&de->store_lock);
    clock_gettime(CLOCK_MONOTONIC, &b);
    uint64_t us = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000u + (uint64_t)(b.tv_nsec / 1000) -
                  (uint64_t)(a.tv_nsec / 1000);
    atomic_fetch_add_explicit(&de->n.fsyncs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&de->n.fsync_us_total, us, memory_order_relaxed);
    if (us > atomic_load_explicit(&de->n.fsync_us_max, memory_order_relaxed))
        atomic_store_explicit(&de->n.fsync_us_max, us, memory_order_relaxed);
    de->last_sync_ms = t0;
    if (err != STORE_OK) {
        struct disk_qvec none = {0};
        enter_failed(de, &none, "fsync");
        return -1;
    }
    struct disk_qvec done = de->inflight;
    de->inflight = (struct disk_qvec){0};
    complete_records(de, done.v, done.n, de->scratch.order);
    atomic_fetch_add_explicit(&de->n.flushed_records, done.n, memory_order_relaxed);
    uint64_t last = done.n ? done.v[done.n - 1].qno : 0;
    keep_spare(de, done);
    pthread_mutex_lock(&de->q.lock);
    if (last > de->q.durable_qno)
        de->q.durable_qno = last;
    bool was_failed = de->q.failed;
    de->q.failed = false;
    pthread_mutex_unlock(&de->q.lock);
    if (was_failed)
        log_warn("disk engine: the disk accepts writes again");
    notify_waiters(de, false);
    return 0;
}

/* Takes everything queued into *batch. */
static void take_batch(struct disk_engine *de, struct disk_qvec *batch)
{
    pthread_mutex_lock(&de->q.lock);
    if (de->q.q.n == 0) {
        pthread_mutex_unlock(&de->q.lock);
        *batch = (struct disk_qvec){0};
        return;
    }
    /* The queue continues in the spare vector, so mutations rarely grow one. */
    *batch = de->q.q;
    de->q.q = de->spare;
    pthread_mutex_unlock(&de->q.lock);
    de->spare = (struct disk_qvec){0};
}

/* Ends the job if nothing is left to do; true when it ended. */
static bool maybe_stop(struct disk_engine *de)
{
    pthread_mutex_lock(&de->q.lock);
    bool idle = de->q.q.n == 0 && de->inflight.n == 0;
    if (idle)
        de->q.scheduled = false;
    pthread_mutex_unlock(&de->q.lock);
    return idle;
}

/* Leaves the job after a failure; a later mutation kicks the retry. */
static void stop_failed(struct disk_engine *de)
{
    pthread_mutex_lock(&de->q.lock);
    de->q.scheduled = false;
    pthread_mutex_unlock(&de->q.lock);
}

/*
 * The flusher (writer pool): appends what is queued, and fsyncs at once
 * with durability=sync (every mutation waits for it; a waiter may register
 * only after its record was taken, so no waiter list is consulted), else
 * when flush_interval_ms has passed since the last fsync or nothing more
 * comes. Runs until the queue is empty and durable.
 */
static void flusher_job(void *arg, bool cancelled)
{
    struct disk_engine *de = arg;
    if (cancelled) {
        stop_failed(de); /* destroy writes what is left */
        return;
    }
    for (;;) {
        struct disk_qvec batch;
        take_batch(de, &batch);
        /* append_batch empties batch: what decides below is whether anything came. */
        size_t appended = batch.n;
        if (appended > 0 && append_batch(de, &batch) != 0) {
            stop_failed(de);
            return;
        }
        if (de->inflight.n == 0) {
            if (maybe_stop(de))
                break;
            continue;
        }
        uint64_t since = disk_now_ms() - de->last_sync_ms;
        if (!de->cfg.sync && appended > 0 && since < de->cfg.flush_interval_ms) {
            /* async: gather more for one fsync, but never past the interval. */
            sleep_ms((unsigned)(de->cfg.flush_interval_ms - since));
            continue;
        }
        if (sync_inflight(de) != 0) {
            stop_failed(de);
            return;
        }
    }
    disk_compact_maybe(de);
}

void disk_flush_all_now(struct disk_engine *de)
{
    struct disk_qvec batch;
    take_batch(de, &batch);
    if (batch.n > 0 && append_batch(de, &batch) != 0)
        return;
    if (de->inflight.n > 0 && sync_inflight(de) != 0)
        return;
}

void disk_queue_deinit(struct disk_engine *de)
{
    /* Waiters are all notified and collected by now: the front-end is gone. */
    waiters_free(de->q.waiters);
    de->q.waiters = NULL;
    waiters_free(de->q.spare_waiters);
    de->q.spare_waiters = NULL;
    qvec_release(&de->q.q);
    qvec_release(&de->inflight);
    free(de->spare.v);
    de->spare = (struct disk_qvec){0};
    free(de->scratch.recs);
    free(de->scratch.locs);
    free(de->scratch.order);
    de->scratch = (struct disk_scratch){0};
}
