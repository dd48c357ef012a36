/*
 * Background fetches of non-resident values. A read that finds a stub
 * returns EWOULDBLOCK after joining the fetch of that stub (or starting one
 * on the reader pool); the job does one store_read (one pread, CRC checked)
 * under the shared store lock, puts a resident item in place of the stub if
 * the stub is still the key's entry, and notifies every waiting cookie,
 * which then re-runs its op and finds the value resident. Starting and
 * joining run on front-end workers under the shard lock; the job on a
 * reader thread.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "engines/disk/disk_internal.h"

/* Tries a read this many times when a compaction moved the record in between. */
#define FETCH_ATTEMPTS 3

static int add_cookie(struct disk_fetch *f, const void *cookie)
{
    if (f->ncookies == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 4;
        const void **nc = realloc(f->cookies, cap * sizeof(*nc));
        if (nc == NULL)
            return -1;
        f->cookies = nc;
        f->cap = cap;
    }
    f->cookies[f->ncookies++] = cookie;
    return 0;
}

static void fetch_job(void *arg, bool cancelled);

engine_status disk_fetch_start(struct disk_engine *de, struct disk_shard *s, uint64_t hash,
                               struct item *stub, const void *cookie)
{
    if (de->host == NULL || cookie == NULL)
        return ENGINE_TMPFAIL;
    for (struct disk_fetch *f = s->fetches; f != NULL; f = f->next) {
        if (f->stub == stub)
            return add_cookie(f, cookie) == 0 ? ENGINE_EWOULDBLOCK : ENGINE_ENOMEM;
    }
    struct disk_fetch *f = calloc(1, sizeof(*f));
    if (f == NULL || add_cookie(f, cookie) != 0) {
        free(f);
        return ENGINE_ENOMEM;
    }
    *f = (struct disk_fetch){.de = de,
                             .shard = s,
                             .hash = hash,
                             .stub = stub,
                             .cookies = f->cookies,
                             .ncookies = 1,
                             .cap = f->cap};
    item_ref(stub);
    if (executor_submit(de->pools.reader, fetch_job, f) != 0) {
        item_unref(stub);
        free(f->cookies);
        free(f);
        return ENGINE_TMPFAIL;
    }
    f->next = s->fetches;
    s->fetches = f;
    return ENGINE_EWOULDBLOCK;
}

/* Reads the stub's record and returns a new unlinked item with its value, or NULL. */
static struct item *read_value(struct disk_engine *de, struct disk_fetch *f)
{
    struct disk_shard *s = f->shard;
    struct item *stub = f->stub;
    for (int attempt = 0; attempt < FETCH_ATTEMPTS; attempt++) {
        pthread_mutex_lock(&s->lock);
        struct disk_meta m = *disk_meta(stub); /* compaction may move loc: read it each time */
        pthread_mutex_unlock(&s->lock);
        char *buf = malloc(m.loc.len ? m.loc.len : 1);
        if (buf == NULL)
            return NULL;
        struct store_record rec;
        pthread_rwlock_rdlock(&de->store_lock);
        enum store_err err = store_read(de->store, &m.loc, buf, m.loc.len, &rec);
        pthread_rwlock_unlock(&de->store_lock);
        struct item *it = NULL;
        if (err == STORE_OK && rec.seq == m.seq && rec.nvalue == m.nvalue &&
            rec.kind == STORE_KIND_VALUE) {
            it = disk_item_new(item_key(stub), stub->nkey, rec.nvalue, stub->flags, 0);
            if (it != NULL) {
                memcpy(item_value(it), rec.value, rec.nvalue);
                *disk_meta(it) = m;
                disk_meta(it)->pending = 0;
            }
            free(buf);
            return it;
        }
        free(buf);
        pthread_mutex_lock(&s->lock);
        bool moved = memcmp(&m.loc, &disk_meta(stub)->loc, sizeof(m.loc)) != 0;
        pthread_mutex_unlock(&s->lock);
        if (!moved) {
            log_warn("disk engine: cannot read the value of a key at segment %llu offset %llu: %s",
                     (unsigned long long)m.loc.segno, (unsigned long long)m.loc.offset,
                     err == STORE_OK ? "another record is there" : store_last_error(de->store));
            return NULL;
        }
    }
    return NULL;
}

/* Shard lock held: puts fresh in place of the stub if the stub is still the entry. */
static void install(struct disk_fetch *f, struct item *fresh, struct mem_grave *g)
{
    struct disk_shard *s = f->shard;
    struct item *stub = f->stub;
    if (mem_ht_find(&s->ht, f->hash, item_key(stub), stub->nkey) != stub)
        return; /* replaced or removed meanwhile: the value read is stale */
    /* Metadata may have changed while reading (invalidate); the stub's is current. Marked
     * active so that eviction spares it until the waiting reads have run again. */
    fresh->cas = stub->cas;
    fresh->exptime = stub->exptime;
    fresh->engine_bits =
        (uint8_t)((stub->engine_bits & ~(MEM_BIT_LINKED | DISK_BIT_STUB)) | MEM_BIT_ACTIVE);
    *disk_meta(fresh) = *disk_meta(stub);
    disk_unlink(s, f->hash, stub, g);
    disk_link(s, f->hash, fresh, stub->engine_atime);
    disk_make_room(s, g);
}

/* Records one fetch's latency. */
static void count_fetch(struct disk_engine *de, const struct timespec *t0, bool ok)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    uint64_t us = (uint64_t)(t1.tv_sec - t0->tv_sec) * 1000000u + (uint64_t)(t1.tv_nsec / 1000) -
                  (uint64_t)(t0->tv_nsec / 1000);
    atomic_fetch_add_explicit(&de->n.fetches, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&de->n.fetch_us_total, us, memory_order_relaxed);
    if (!ok)
        atomic_fetch_add_explicit(&de->n.fetch_errors, 1, memory_order_relaxed);
    size_t b = 0;
    while (b + 1 < DISK_HIST_BUCKETS && us >= (UINT64_C(16) << b))
        b++;
    atomic_fetch_add_explicit(&de->n.fetch_hist[b], 1, memory_order_relaxed);
}

static void fetch_job(void *arg, bool cancelled)
{
    struct disk_fetch *f = arg;
    struct disk_engine *de = f->de;
    struct disk_shard *s = f->shard;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (!cancelled && de->cfg.fetch_delay_us > 0) {
        struct timespec d = {.tv_sec = de->cfg.fetch_delay_us / 1000000u,
                             .tv_nsec = (long)(de->cfg.fetch_delay_us % 1000000u) * 1000L};
        nanosleep(&d, NULL);
    }
    struct item *fresh = cancelled ? NULL : read_value(de, f);
    struct mem_grave g = {NULL};
    pthread_mutex_lock(&s->lock);
    if (fresh != NULL)
        install(f, fresh, &g);
    for (struct disk_fetch **p = &s->fetches; *p != NULL; p = &(*p)->next) {
        if (*p == f) {
            *p = f->next;
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
    mem_grave_release(&g);
    if (fresh != NULL)
        item_unref(fresh);
    if (!cancelled)
        count_fetch(de, &t0, fresh != NULL);
    /* Every waiter is notified exactly once; a failed read answers them with an error. */
    engine_status st = fresh != NULL ? ENGINE_SUCCESS : ENGINE_FAILED;
    for (size_t i = 0; i < f->ncookies; i++)
        de->host->notify(f->cookies[i], st);
    item_unref(f->stub);
    free(f->cookies);
    free(f);
}
