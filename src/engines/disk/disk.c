/*
 * The disk engine's life cycle: create (open the store and warm up: rebuild
 * the index from every record on disk, newest seq per key winning, loading
 * values while the quota allows), the engine-wide ops (stats, disconnect),
 * and destroy (write and fsync what is queued, free everything). Create and
 * destroy run on the main thread before the listener opens and after the
 * pools have stopped; stats and disconnect on front-end workers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/hash.h"
#include "base/log.h"
#include "engines/disk/disk_internal.h"

/* Warm-up logs its progress every this many records. */
#define WARMUP_LOG_EVERY 1000000u

struct warmup {
    struct disk_engine *de;
    uint64_t now_unix;
    uint64_t records, expired, deleted;
};

/* Warm-up: the entry of rec's key, as rec says, unless the index holds a newer record. */
static int warm_visit(void *arg, const struct store_record *rec, const struct store_loc *loc)
{
    struct warmup *w = arg;
    struct disk_engine *de = w->de;
    uint64_t hash = hash_key(rec->key, rec->nkey);
    struct disk_shard *s = disk_shard(de, hash);
    struct mem_grave g = {NULL};
    if (++w->records % WARMUP_LOG_EVERY == 0)
        log_info("disk engine: warm-up: %llu records read", (unsigned long long)w->records);
    if (rec->cas > atomic_load(&de->cas_counter))
        atomic_store(&de->cas_counter, rec->cas);
    struct item *cur = mem_ht_find(&s->ht, hash, rec->key, rec->nkey);
    if (cur != NULL && disk_meta(cur)->seq > rec->seq)
        return 0;
    if (cur != NULL)
        disk_unlink(s, hash, cur, &g);
    mem_grave_release(&g);
    if (rec->kind == STORE_KIND_TOMBSTONE) {
        w->deleted++;
        return 0;
    }
    if (rec->exptime != 0 && rec->exptime <= w->now_unix) {
        w->expired++;
        return 0;
    }
    bool resident = s->bytes + disk_block_size(rec->nkey, rec->nvalue) <= s->limit;
    struct item *it = disk_item_new(rec->key, rec->nkey, resident ? rec->nvalue : 0, rec->flags,
                                    disk_rel_time(rec->exptime));
    if (it == NULL)
        return -1;
    if (resident)
        memcpy(item_value(it), rec->value, rec->nvalue);
    else
        it->engine_bits |= DISK_BIT_STUB;
    it->cas = rec->cas;
    struct disk_meta *m = disk_meta(it);
    m->seq = rec->seq;
    m->loc = *loc;
    m->nvalue = rec->nvalue;
    disk_link_loaded(s, hash, it);
    return 0;
}

/* Opens the store and rebuilds the index; 0, or -1 with err. */
static int warm_up(struct disk_engine *de, char *err, size_t errlen)
{
    struct store_config sc = {
        .dir = de->data_dir,
        .segment_max = de->cfg.segment_max ? de->cfg.segment_max : DISK_DEFAULT_SEGMENT,
        .record_max = (uint32_t)store_record_size(ITEM_KEY_MAX, de->cfg.item_size_max),
        .repair = de->cfg.repair,
        .faults = &de->cfg.faults,
    };
    if (sc.segment_max < 2 * (uint64_t)sc.record_max + STORE_SEGMENT_HEADER)
        sc.segment_max = 2 * (uint64_t)sc.record_max + STORE_SEGMENT_HEADER;
    struct warmup w = {.de = de, .now_unix = (uint64_t)time(NULL)};
    struct store_open_report rep;
    memset(&rep, 0, sizeof(rep));
    uint64_t t0 = disk_now_ms();
    log_info("disk engine: warm-up of %s", de->data_dir);
    enum store_err e = store_open(&sc, warm_visit, &w, &de->store, &rep);
    if (e != STORE_OK) {
        snprintf(err, errlen, "disk engine: cannot open %s: %s%s", de->data_dir,
                 rep.message[0] ? rep.message : "error",
                 e == STORE_ECORRUPT ? " (start with --repair to drop the bad records)" : "");
        return -1;
    }
    de->n.warmup_ms = disk_now_ms() - t0;
    de->n.warmup_records = w.records;
    if (rep.truncated_bytes > 0)
        log_warn("disk engine: cut a torn tail of %llu bytes from the newest segment",
                 (unsigned long long)rep.truncated_bytes);
    if (de->cfg.repair)
        log_warn("disk engine: repair: %llu bad ranges (%llu bytes) dropped, %llu segments "
                 "rewritten",
                 (unsigned long long)rep.dropped_ranges, (unsigned long long)rep.dropped_bytes,
                 (unsigned long long)rep.repaired_segments);
    uint64_t items = 0, resident = 0;
    for (size_t i = 0; i < DISK_SHARDS; i++) {
        items += de->shards[i].items;
        resident += de->shards[i].resident;
    }
    log_info("disk engine: warm-up done in %llu ms: %llu records in %llu segments, %llu items "
             "(%llu resident), %llu expired, %llu deleted",
             (unsigned long long)de->n.warmup_ms, (unsigned long long)w.records,
             (unsigned long long)rep.segments, (unsigned long long)items,
             (unsigned long long)resident, (unsigned long long)w.expired,
             (unsigned long long)w.deleted);
    return 0;
}

static void disk_get_stats(struct engine *e, struct engine_stats *out)
{
    struct disk_engine *de = disk_of(e);
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < DISK_SHARDS; i++) {
        struct disk_shard *s = &de->shards[i];
        pthread_mutex_lock(&s->lock);
        out->curr_items += s->items;
        out->bytes += s->bytes;
        out->total_items += s->c.total_items;
        out->reclaimed += s->c.reclaimed;
        out->get_expired += s->c.get_expired;
        out->get_flushed += s->c.get_flushed;
        pthread_mutex_unlock(&s->lock);
    }
    out->limit_maxbytes = de->cfg.limit_bytes;
}

static void disk_reset_stats(struct engine *e)
{
    struct disk_engine *de = disk_of(e);
    for (size_t i = 0; i < DISK_SHARDS; i++) {
        struct disk_shard *s = &de->shards[i];
        pthread_mutex_lock(&s->lock);
        memset(&s->c, 0, sizeof(s->c));
        pthread_mutex_unlock(&s->lock);
    }
}

static void disk_disconnect(struct engine *e, const void *cookie)
{
    /* Fetches and fsync waits still notify the cookie; only parked replies are dropped. */
    disk_waiters_disconnect(disk_of(e), cookie);
}

/* mem_ht_scan visitor for destroy: every entry leaves the table into the grave. */
static bool bury(struct item *it, void *arg)
{
    struct mem_grave *g = arg;
    it->engine_next = g->head;
    g->head = it;
    return true;
}

/* Frees the first n shards, the queue and the engine. */
static void free_engine(struct disk_engine *de, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct disk_shard *s = &de->shards[i];
        struct mem_grave g = {NULL};
        size_t cursor = 0;
        mem_ht_scan(&s->ht, &cursor, SIZE_MAX, bury, &g);
        mem_grave_release(&g);
        mem_ht_deinit(&s->ht);
        pthread_mutex_destroy(&s->lock);
    }
    disk_queue_deinit(de);
    if (de->store != NULL)
        store_close(&de->store);
    pthread_rwlock_destroy(&de->store_lock);
    pthread_mutex_destroy(&de->q.lock);
    free(de);
}

static void disk_destroy(struct engine *e)
{
    struct disk_engine *de = disk_of(e);
    disk_flush_all_now(de);
    free_engine(de, DISK_SHARDS);
}

static const struct engine_ops disk_ops = {
    .destroy = disk_destroy,
    .get = disk_get,
    .get_and_touch = disk_get_and_touch,
    .allocate = disk_allocate,
    .store = disk_store,
    .remove = disk_remove,
    .arithmetic = disk_arithmetic,
    .flush = disk_flush,
    .get_stats = disk_get_stats,
    .get_stats_extra = disk_stats_extra,
    .reset_stats = disk_reset_stats,
    .meta_get = disk_meta_get,
    .invalidate = disk_invalidate,
    .disconnect = disk_disconnect,
    .test_control = disk_test_control,
};

/* Allocates the engine with its locks and empty shards; NULL when out of memory. */
static struct disk_engine *alloc_engine(const struct disk_engine_config *cfg)
{
    struct disk_engine *de = aligned_alloc(_Alignof(struct disk_engine), sizeof(*de));
    if (de == NULL)
        return NULL;
    memset(de, 0, sizeof(*de));
    pthread_rwlock_init(&de->store_lock, NULL);
    pthread_mutex_init(&de->q.lock, NULL);
    size_t budget = cfg->limit_bytes / DISK_SHARDS;
    for (size_t i = 0; i < DISK_SHARDS; i++) {
        struct disk_shard *s = &de->shards[i];
        if (mem_ht_init(&s->ht, MEM_SHARD_INITIAL_BUCKETS) != 0) {
            free_engine(de, i);
            return NULL;
        }
        pthread_mutex_init(&s->lock, NULL);
        mem_lru_init(&s->lru);
        s->limit = budget;
    }
    return de;
}

struct engine *disk_engine_create(const struct disk_engine_config *cfg,
                                  const struct engine_host *host, const struct disk_pools *pools,
                                  char *err, size_t errlen)
{
    if (cfg->data_dir == NULL || cfg->data_dir[0] == '\0' || cfg->limit_bytes == 0 ||
        cfg->item_size_max == 0 ||
        strlen(cfg->data_dir) >= sizeof(((struct disk_engine *)0)->data_dir)) {
        snprintf(err, errlen,
                 "disk engine: needs a data directory, a memory limit and an item size");
        return NULL;
    }
    struct disk_engine *de = alloc_engine(cfg);
    if (de == NULL) {
        snprintf(err, errlen, "disk engine: out of memory");
        return NULL;
    }
    de->base.ops = &disk_ops;
    de->cfg = *cfg;
    snprintf(de->data_dir, sizeof(de->data_dir), "%s", cfg->data_dir);
    de->cfg.data_dir = de->data_dir;
    if (de->cfg.flush_interval_ms == 0)
        de->cfg.flush_interval_ms = 1;
    de->host = host;
    de->pools = *pools;
    de->last_sync_ms = disk_now_ms();
    if (warm_up(de, err, errlen) != 0) {
        free_engine(de, DISK_SHARDS);
        return NULL;
    }
    return &de->base;
}

/* Reads one errno name or number. */
static int parse_errno(const char *s, int *out)
{
    if (strcmp(s, "EIO") == 0)
        *out = EIO;
    else if (strcmp(s, "ENOSPC") == 0)
        *out = ENOSPC;
    else if (*s >= '1' && *s <= '9')
        *out = atoi(s);
    else
        return -1;
    return 0;
}

int disk_fault_parse_one(char *item, struct store_faults *f)
{
    char *parts[5] = {NULL};
    int n = 0;
    for (char *rest = item, *p; n < 5 && (p = strsep(&rest, ":")) != NULL;)
        parts[n++] = p;
    if (n < 2 || n > 4)
        return -1;
    char *end;
    if (strcmp(parts[0], "crash") == 0) {
        /* enum store_crash: 1 a half segment header, 2..7 the compaction steps. */
        unsigned long point = strtoul(parts[1], &end, 10);
        if (*end != '\0' || point < 1 || point > STORE_CRASH_COMPACT_UNLINKED)
            return -1;
        f->crash_at = (enum store_crash)point;
        return 0;
    }
    unsigned long long at = strtoull(parts[1], &end, 10);
    unsigned long long count = 1;
    if (*end != '\0' || at == 0)
        return -1;
    if (n >= 3 && ((count = strtoull(parts[2], &end, 10)) == 0 || *end != '\0'))
        return -1;
    int e = EIO;
    if (n == 4 && parse_errno(parts[3], &e) != 0)
        return -1;
    if (strcmp(parts[0], "write") == 0) {
        f->write_fail_at = at;
        f->write_fail_n = count;
        f->write_errno = e;
    } else if (strcmp(parts[0], "fsync") == 0) {
        f->fsync_fail_at = at;
        f->fsync_fail_n = count;
        f->fsync_errno = e;
    } else {
        return -1;
    }
    return 0;
}

int disk_faults_parse(const char *s, struct store_faults *f, char *err, size_t errlen)
{
    memset(f, 0, sizeof(*f));
    char *copy = strdup(s);
    if (copy == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = 0;
    char *rest = copy, *item;
    while (rc == 0 && (item = strsep(&rest, "+")) != NULL) {
        if (*item != '\0' && disk_fault_parse_one(item, f) != 0) {
            snprintf(err, errlen,
                     "'%s': expected write:N[:COUNT][:ERRNO] or fsync:N[:COUNT][:ERRNO]", s);
            rc = -1;
        }
    }
    free(copy);
    return rc;
}
