/*
 * The disk engine's state, shared by its source files: disk.c (create,
 * warm-up, destroy, stats), index.c (shards: entries, stubs, eviction),
 * ops.c and ops_more.c (the engine ops), queue.c (the write queue, the
 * flusher job, sync waiters), fetch.c (background fetches), compact.c
 * (compaction on the aux pool). Not for other modules: they use disk.h.
 *
 * Entries. Every live key has one linked item in its shard's hash table
 * (the memory engine's mem_ht): a resident item (key and value, the same
 * block the front-end reads), a stub (key and metadata, value on disk), or
 * a tombstone entry (a delete whose record is not yet durable; missing to
 * every op). Every item of this engine carries a struct disk_meta after its
 * value (see disk_meta()); it is engine-private and written only under the
 * shard lock. A resident item is clean when its newest record is durable
 * (pending == 0 and seq != 0): only clean values are evicted (replaced by a
 * stub), least recently used first.
 *
 * Locks, in the order they may be taken: a shard lock, then the queue lock.
 * The store lock (rwlock: reads shared; append, sync and compaction installs
 * exclusive) is never taken with a shard lock held.
 */
#ifndef BASALT_ENGINES_DISK_DISK_INTERNAL_H
#define BASALT_ENGINES_DISK_DISK_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "engines/disk/disk.h"
#include "engines/memory/shard.h"

#define DISK_SHARDS 16u
#define DISK_LRU_MAX_MOVES 64
#define DISK_DEFAULT_SEGMENT (64u * 1024u * 1024u)
/* Buckets a background scan (flush, compaction) visits per hold of a shard lock. */
#define DISK_SCAN_CHUNK 256u
/* Freed sync waiters kept for reuse: one per connection waiting at once is typical. */
#define DISK_SPARE_WAITERS 1024u
/* Fetch latency histogram buckets: < 2^(i+4) microseconds, the last one open. */
#define DISK_HIST_BUCKETS 10

/* engine_bits beside the memory engine's MEM_BIT_* (the meta state bits are shared). */
enum disk_item_bits {
    DISK_BIT_STUB = 1u << 6, /* value not resident: nbytes is 0, meta.nvalue the length */
    DISK_BIT_TOMB = 1u << 7, /* a delete not yet durable: missing to every op */
};

/* The engine-private trailer of every item (see disk_meta()). */
struct disk_meta {
    uint64_t seq;         /* the newest durable record of this item (0: none yet) */
    struct store_loc loc; /* where that record is */
    uint32_t nvalue;      /* value bytes (a stub's nbytes is 0) */
    uint32_t pending;     /* records queued or written but not yet durable */
};

static inline size_t disk_meta_offset(size_t nkey, size_t nbytes)
{
    return (item_total_size(nkey, nbytes) + 7u) & ~(size_t)7u;
}

/* The bytes of an item block of this engine. */
static inline size_t disk_block_size(size_t nkey, size_t nbytes)
{
    return disk_meta_offset(nkey, nbytes) + sizeof(struct disk_meta);
}

static inline struct disk_meta *disk_meta(struct item *it)
{
    return (struct disk_meta *)(void *)((char *)it + disk_meta_offset(it->nkey, it->nbytes));
}

/* A background fetch of one stub, shared by every read that waits for it. */
struct disk_fetch {
    struct disk_fetch *next; /* in the shard's list */
    struct disk_engine *de;
    struct disk_shard *shard;
    uint64_t hash;
    struct item *stub; /* a reference */
    const void **cookies;
    size_t ncookies, cap;
};

struct disk_shard {
    _Alignas(64) pthread_mutex_t lock;
    struct mem_ht ht;
    struct mem_lru lru;  /* resident live items; stubs and tombstones are not on it */
    size_t bytes;        /* blocks of live entries (resident and stubs) */
    size_t items;        /* live entries */
    size_t resident;     /* resident live entries */
    size_t tombs;        /* tombstone entries */
    uint64_t live_bytes; /* on-disk bytes of the newest durable records of live entries */
    size_t limit;        /* the shard's share of the quota */
    struct disk_fetch *fetches;
    struct mem_counters c;
    uint64_t value_evictions;
};

/* One record waiting to be written; holds a reference on it. */
struct disk_qrec {
    struct item *it;
    uint64_t hash;    /* of its key: picks the shard when the record completes */
    uint64_t qno;     /* position in the write order */
    uint64_t cas;     /* snapshot at queue time */
    uint64_t exptime; /* absolute Unix seconds, 0 never */
    uint32_t flags;
    uint8_t kind;         /* enum store_kind */
    uint64_t seq;         /* once appended: the record's seq ... */
    struct store_loc loc; /* ... and where it went */
};

struct disk_qvec {
    struct disk_qrec *v;
    size_t n, cap;
};

/* The flusher's reusable arrays for one batch: records and locations, and a completion order. */
struct disk_scratch {
    struct store_record *recs;
    struct store_loc *locs;
    uint32_t *order;
    size_t cap;
};

/* A command waiting (durability=sync) for the fsync that covers its write. */
struct disk_waiter {
    struct disk_waiter *next, **pprev; /* in q.waiters (pprev: the pointer to this one) */
    const void *cookie;
    uint64_t qno;
    engine_status status; /* the reply once durable; TMPFAIL when the write failed */
    uint64_t cas, result;
    struct item *item;           /* a reference to hand out (get_and_touch, meta get), or NULL */
    struct engine_meta_get meta; /* meta get: what the first call found */
    bool done;                   /* notified; collected by the command's next call */
    bool orphan;                 /* its connection closed: freed once done */
};

/* What a mutation answers; kept in a waiter while it waits. */
struct disk_reply {
    engine_status status;
    uint64_t cas, result;
    struct item *item;
    struct engine_meta_get meta;
};

struct disk_queue {
    pthread_mutex_t lock;
    struct disk_qvec q;   /* queued, not yet appended */
    uint64_t last_qno;    /* the last qno handed out */
    uint64_t durable_qno; /* every record up to here is durable */
    bool scheduled;       /* a flusher job is queued or running */
    atomic_bool failed;   /* the last write or fsync failed: mutations get TMPFAIL (written
                             under lock; mutations read it without) */
    uint64_t retry_at_ms; /* when a failed state may retry */
    struct disk_waiter *waiters;
    struct disk_waiter *spare_waiters; /* freed waiters kept for reuse (DISK_SPARE_WAITERS) */
    size_t nspare_waiters;
};

/* Counters for stats; relaxed atomics. */
struct disk_counters {
    atomic_uint_fast64_t fetches, fetch_errors, fetch_us_total;
    atomic_uint_fast64_t fetch_hist[DISK_HIST_BUCKETS];
    atomic_uint_fast64_t flush_batches, flushed_records, fsyncs, fsync_us_total, fsync_us_max;
    atomic_uint_fast64_t write_errors, compactions, compact_dropped_bytes;
    uint64_t warmup_ms, warmup_records;
};

struct disk_engine {
    struct engine base; /* first: a struct engine * is a struct disk_engine * */
    struct disk_engine_config cfg;
    char data_dir[1024];
    const struct engine_host *host;
    struct disk_pools pools;
    struct store *store;
    pthread_rwlock_t store_lock;
    struct disk_shard shards[DISK_SHARDS];
    atomic_uint_fast64_t cas_counter;  /* the last CAS handed out */
    atomic_uint_fast64_t flushed_upto; /* items with a CAS at or below are flushed */
    atomic_uint flush_when;            /* server time of a pending delayed flush, 0: none */
    struct disk_queue q;
    struct disk_qvec inflight;     /* appended, not yet fsynced; the flusher's own */
    struct disk_qvec spare;        /* an empty vector with room: the next queue; the flusher's */
    struct disk_scratch scratch;   /* the flusher's own */
    uint64_t last_sync_ms;         /* flusher's own */
    atomic_bool compact_scheduled; /* a compaction job is queued or running */
    atomic_uint_fast64_t last_compact_ms;
    atomic_uint_fast64_t appended_since_compact;
    struct disk_counters n;
};

static inline struct disk_engine *disk_of(struct engine *e)
{
    return (struct disk_engine *)e;
}

static inline struct disk_shard *disk_shard(struct disk_engine *de, uint64_t hash)
{
    return &de->shards[(size_t)(hash >> 32) & (DISK_SHARDS - 1)];
}

static inline uint64_t disk_next_cas(struct disk_engine *de)
{
    return atomic_fetch_add_explicit(&de->cas_counter, 1, memory_order_relaxed) + 1;
}

/* Milliseconds on the monotonic clock. */
uint64_t disk_now_ms(void);

/* Server time to absolute Unix seconds (0 stays 0), and back; pure but for the process start. */
uint64_t disk_abs_time(rel_time_t t);
rel_time_t disk_rel_time(uint64_t abs);

/* One op on one key: its shard, locked, the view and the grave of what it unlinks. */
struct disk_op {
    uint64_t hash;
    struct disk_shard *s;
    struct mem_view v;
    struct mem_grave g;
};

/* Takes the view, then locks key's shard. */
void disk_op_begin(struct disk_op *op, struct disk_engine *de, const void *key, size_t nkey);

/* Unlocks the shard and drops the references of what the op unlinked. */
void disk_op_end(struct disk_op *op);

/*
 * A mutation's start: ENGINE_EINVAL for a bad key, ENGINE_TMPFAIL while the
 * disk refuses writes, else ENGINE_SUCCESS with op begun (disk_op_begin).
 */
engine_status disk_write_begin(struct disk_op *op, struct disk_engine *de, const void *key,
                               size_t nkey);

/* index.c: entries; every function but disk_item_new runs with the shard lock held. */

/* Allocates an unlinked item with key and nbytes of value to fill; NULL when out of memory. */
struct item *disk_item_new(const void *key, size_t nkey, size_t nbytes, uint32_t flags,
                           rel_time_t exptime);

/* Applies a delayed flush whose time has come, then returns the view for one operation. */
struct mem_view disk_view(struct disk_engine *de);

/*
 * Returns the live entry of key (resident or stub), borrowed, or NULL;
 * *tomb (may be NULL) gets the key's tombstone entry if there is one. An
 * expired entry is unlinked into g; a flushed one becomes a tombstone (its
 * delete queued). *dead says which, else MEM_LIVE.
 */
struct item *disk_find(struct disk_engine *de, struct disk_shard *s, uint64_t hash, const void *key,
                       size_t nkey, const struct mem_view *v, struct mem_grave *g,
                       struct item **tomb, enum mem_state *dead);

/* Links it (resident or stub; the key has no entry) and takes the table's reference. */
void disk_link(struct disk_shard *s, uint64_t hash, struct item *it, rel_time_t now);

/* Unlinks a linked entry into g. */
void disk_unlink(struct disk_shard *s, uint64_t hash, struct item *it, struct mem_grave *g);

/*
 * Replaces the key's entries (old live entry and/or tombstone, either NULL)
 * with fresh, which becomes linked and resident, and evicts clean values
 * while the shard is above its share of the quota.
 */
void disk_replace(struct disk_shard *s, uint64_t hash, struct item *old, struct item *tomb,
                  struct item *fresh, rel_time_t now, struct mem_grave *g);

/* A linked entry's record changed: moves its live bytes from the old location to the new. */
void disk_set_loc(struct disk_shard *s, struct item *it, uint64_t seq, const struct store_loc *loc,
                  bool linked);

/* Replaces a live entry by a tombstone entry and queues its delete; its qno, 0 when out of memory.
 */
uint64_t disk_entomb(struct disk_engine *de, struct disk_shard *s, uint64_t hash, struct item *it,
                     struct mem_grave *g) WARN_UNUSED;

/* Links it without taking a reference or making room (warm-up: the table takes the caller's). */
void disk_link_loaded(struct disk_shard *s, uint64_t hash, struct item *it);

/* Evicts clean values, least recently used first, while the shard is above its share. */
void disk_make_room(struct disk_shard *s, struct mem_grave *g);

/* queue.c: the write queue and the flusher. */

/*
 * Queues the newest state of it (a value, or a delete for a tombstone
 * entry; hash is its key's) with its current cas, flags and exptime; shard
 * lock held. Returns
 * the record's qno.
 */
uint64_t disk_enqueue(struct disk_engine *de, uint64_t hash, struct item *it);

/* True (and kicks a retry when due) while writes fail: mutations answer TMPFAIL. */
bool disk_writes_refused(struct disk_engine *de);

/*
 * Completes a mutation that queued up to qno: returns r's status at once
 * (async, or already durable), or parks cookie until the covering fsync
 * (EWOULDBLOCK; r's item reference moves into the waiter).
 */
engine_status disk_finish(struct disk_engine *de, const void *cookie, uint64_t qno,
                          struct disk_reply *r);

/*
 * Ends a mutation's locked part (disk_op_end), then, if it succeeded and
 * queued something (qno != 0), completes it with disk_finish.
 */
engine_status disk_op_finish(struct disk_engine *de, struct disk_op *op, const void *cookie,
                             uint64_t qno, struct disk_reply *r);

/*
 * Parks cookie (whose op already returned EWOULDBLOCK) until qno is durable
 * (at once when not sync), then notifies it; its next call collects status.
 */
void disk_complete_later(struct disk_engine *de, const void *cookie, uint64_t qno,
                         engine_status status);

/* If cookie's command waited for an fsync, moves its reply into *r and returns true. */
bool disk_collect(struct disk_engine *de, const void *cookie, struct disk_reply *r);

/* The connection of cookie closes: frees its collected waiters, orphans the others. */
void disk_waiters_disconnect(struct disk_engine *de, const void *cookie);

/* Writes and fsyncs everything queued, on the calling thread (destroy). */
void disk_flush_all_now(struct disk_engine *de);

/* Frees the queue's memory and references. */
void disk_queue_deinit(struct disk_engine *de);

/* fetch.c: reads of non-resident values. */

/*
 * Makes cookie wait for stub's value: joins the fetch in flight or starts
 * one on the reader pool. Shard lock held. EWOULDBLOCK, or TMPFAIL/ENOMEM
 * when no fetch could start.
 */
engine_status disk_fetch_start(struct disk_engine *de, struct disk_shard *s, uint64_t hash,
                               struct item *stub, const void *cookie);

/* ops_more.c: flush_all. */
engine_status disk_flush(struct engine *e, const void *cookie, rel_time_t when);

/* Queues the scan that turns flushed entries into deletes (writer pool); cookie may be NULL. */
int disk_flush_scan_schedule(struct disk_engine *de, const void *cookie) WARN_UNUSED;

/* stats.c */

/* The get_stats_extra op: the disk_* counters. */
void disk_stats_extra(struct engine *e,
                      void (*emit)(void *ctx, const char *name, const char *value), void *ctx);

/* The test_control op: "fault:write:N[:COUNT][:ERRNO]", "fault:fsync:...", "fault:clear". */
engine_status disk_test_control(struct engine *e, const void *cookie, const char *arg, size_t len);

/* One fault spec ("write:N[:COUNT][:ERRNO]", "fsync:..." or "crash:POINT", writable) into f;
 * 0 or -1. */
int disk_fault_parse_one(char *item, struct store_faults *f) WARN_UNUSED;

/* compact.c */

/* Starts a compaction job on the aux pool when a sealed segment is worth compacting. */
void disk_compact_maybe(struct disk_engine *de);

/* The engine ops of ops.c and ops_more.c. */
engine_status disk_get(struct engine *e, const void *cookie, const void *key, size_t nkey,
                       struct item **out);
engine_status disk_get_and_touch(struct engine *e, const void *cookie, const void *key, size_t nkey,
                                 rel_time_t exptime, struct item **out);
engine_status disk_allocate(struct engine *e, const void *cookie, const void *key, size_t nkey,
                            size_t nbytes, uint32_t flags, rel_time_t exptime, struct item **out);
engine_status disk_store(struct engine *e, const void *cookie, struct item *it, uint64_t cas,
                         enum engine_store_op op, uint64_t *cas_out);
engine_status disk_remove(struct engine *e, const void *cookie, const void *key, size_t nkey,
                          uint64_t cas);
engine_status disk_arithmetic(struct engine *e, const void *cookie, const void *key, size_t nkey,
                              const struct engine_arith *a, uint64_t *result, uint64_t *cas_out);
engine_status disk_meta_get(struct engine *e, const void *cookie, const void *key, size_t nkey,
                            struct engine_meta_get *m, struct item **out);
engine_status disk_invalidate(struct engine *e, const void *cookie, const void *key, size_t nkey,
                              uint64_t cas, bool touch, rel_time_t exptime);

#endif
