/*
 * Compaction on the aux pool. After the flusher goes idle (at most once per
 * second) a job sums, from the index, the live bytes of every segment; each
 * sealed segment whose live fraction is below compact_threshold is
 * rewritten with the store's begin / run / install (docs/storage.md has why
 * a crash at any step leaves exactly one copy of every record), and the
 * index entries of the records that moved learn their new offsets.
 *
 * What a rewrite keeps (the liveness rule of docs/storage.md): the record an
 * entry points at; any record of a key whose newest record is not durable
 * yet (it could still be cut by a failed write); a tombstone, or an expired
 * value, while an older segment exists (it may hide an older record there).
 * Dropped: records superseded by a durable newer one, and records of keys
 * gone from the index whose removal is durable.
 *
 * Locks: the store lock (exclusive) for begin and install, then shard locks
 * while the index is updated; the rewrite itself runs with no lock, taking
 * shard locks one record at a time. Runs on the aux thread only.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/hash.h"
#include "base/log.h"
#include "engines/disk/disk_internal.h"

#define COMPACT_MIN_INTERVAL_MS 1000

/* Live bytes per segment, summed from the index. */
struct seg_live {
    struct store_segment_info info;
    uint64_t live;
};

struct live_scan {
    struct seg_live *segs;
    size_t n;
};

/* A kept record's key, to find its entry when the record moves. */
struct kept {
    uint64_t seq;
    uint8_t nkey;
    char key[STORE_KEY_MAX];
};

struct rewrite {
    struct disk_engine *de;
    uint64_t segno;
    uint64_t durable; /* store_durable_seq() when the rewrite began */
    bool oldest;      /* no segment has a lower number */
    uint64_t now_unix;
    struct kept *kept;
    size_t nkept, cap;
};

static struct seg_live *find_seg(struct live_scan *ls, uint64_t segno)
{
    size_t lo = 0, hi = ls->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ls->segs[mid].info.segno < segno)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ls->n && ls->segs[lo].info.segno == segno ? &ls->segs[lo] : NULL;
}

/* mem_ht_scan visitor: adds an entry's record to its segment's live bytes. */
static bool add_live(struct item *it, void *arg)
{
    const struct disk_meta *m = disk_meta(it);
    if (m->seq == 0 || (it->engine_bits & DISK_BIT_TOMB))
        return false;
    struct seg_live *sl = find_seg(arg, m->loc.segno);
    if (sl != NULL)
        sl->live += m->loc.len;
    return false;
}

/* The segments with their live bytes; NULL when out of memory. */
static struct seg_live *measure(struct disk_engine *de, size_t *n)
{
    pthread_rwlock_rdlock(&de->store_lock);
    size_t count = store_segment_count(de->store);
    struct seg_live *segs = calloc(count ? count : 1, sizeof(*segs));
    for (size_t i = 0; segs != NULL && i < count; i++) {
        if (store_segment_at(de->store, i, &segs[i].info) != 0)
            count = i;
    }
    pthread_rwlock_unlock(&de->store_lock);
    if (segs == NULL)
        return NULL;
    struct live_scan ls = {.segs = segs, .n = count};
    for (size_t i = 0; i < DISK_SHARDS; i++) {
        struct disk_shard *s = &de->shards[i];
        size_t cursor = 0;
        do { /* a few buckets per lock hold: front-end threads wait at most that long */
            pthread_mutex_lock(&s->lock);
            mem_ht_scan(&s->ht, &cursor, DISK_SCAN_CHUNK, add_live, &ls);
            pthread_mutex_unlock(&s->lock);
        } while (cursor != 0);
    }
    *n = count;
    return segs;
}

/* Whether a record with no entry and no newer durable record must stay. */
static bool keep_orphan(const struct rewrite *rw, const struct store_record *rec)
{
    bool expired = rec->exptime != 0 && rec->exptime <= rw->now_unix;
    if (rec->kind == STORE_KIND_TOMBSTONE || expired)
        return !rw->oldest; /* it may hide an older record of its key */
    return false;           /* its key's removal is durable (entries stay until then) */
}

/* The store's live(): see the rule at the top. */
static bool is_live(struct rewrite *rw, const struct store_record *rec, const struct store_loc *loc)
{
    uint64_t hash = hash_key(rec->key, rec->nkey);
    struct disk_shard *s = disk_shard(rw->de, hash);
    pthread_mutex_lock(&s->lock);
    struct item *it = mem_ht_find(&s->ht, hash, rec->key, rec->nkey);
    bool keep;
    if (it == NULL) {
        keep = keep_orphan(rw, rec);
    } else {
        const struct disk_meta *m = disk_meta(it);
        bool points_here =
            m->seq == rec->seq && m->loc.segno == loc->segno && m->loc.offset == loc->offset;
        bool newer_durable = m->pending == 0 && m->seq > rec->seq && m->seq <= rw->durable &&
                             !(it->engine_bits & DISK_BIT_TOMB);
        keep = points_here || !newer_durable;
    }
    pthread_mutex_unlock(&s->lock);
    return keep;
}

static bool live_cb(void *arg, const struct store_record *rec, const struct store_loc *loc)
{
    struct rewrite *rw = arg;
    if (!is_live(rw, rec, loc))
        return false;
    if (rw->nkept == rw->cap) {
        size_t cap = rw->cap ? 2 * rw->cap : 256;
        struct kept *nk = realloc(rw->kept, cap * sizeof(*nk));
        if (nk == NULL)
            return true; /* kept, but its entry will not learn the move: see apply_moves */
        rw->kept = nk;
        rw->cap = cap;
    }
    struct kept *k = &rw->kept[rw->nkept++];
    k->seq = rec->seq;
    k->nkey = rec->nkey;
    memcpy(k->key, rec->key, rec->nkey);
    return true;
}

static const struct kept *find_kept(const struct rewrite *rw, uint64_t seq)
{
    size_t lo = 0, hi = rw->nkept;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (rw->kept[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < rw->nkept && rw->kept[lo].seq == seq ? &rw->kept[lo] : NULL;
}

/* Store lock held: entries that pointed at a moved record point at its new offset. */
static void apply_moves(struct rewrite *rw, struct store_compaction *c)
{
    size_t n;
    const struct store_move *mv = store_compact_moves(c, &n);
    for (size_t i = 0; i < n; i++) {
        const struct kept *k = find_kept(rw, mv[i].seq);
        if (k == NULL)
            continue;
        uint64_t hash = hash_key(k->key, k->nkey);
        struct disk_shard *s = disk_shard(rw->de, hash);
        pthread_mutex_lock(&s->lock);
        struct item *it = mem_ht_find(&s->ht, hash, k->key, k->nkey);
        struct disk_meta *m = it != NULL ? disk_meta(it) : NULL;
        if (m != NULL && m->seq == mv[i].seq && m->loc.segno == rw->segno &&
            m->loc.offset == mv[i].old_offset)
            m->loc.offset = mv[i].new_offset;
        pthread_mutex_unlock(&s->lock);
    }
}

/* A crash point injected by a test was reached: die as a crash would. */
static void crashed(void)
{
    log_warn("disk engine: injected crash during compaction");
    raise(SIGKILL);
}

/* Rewrites one segment; 0, or -1 on failure (logged). */
static int rewrite_segment(struct disk_engine *de, uint64_t segno, bool oldest)
{
    struct rewrite rw = {
        .de = de, .segno = segno, .oldest = oldest, .now_unix = (uint64_t)time(NULL)};
    struct store_compaction *c = NULL;
    pthread_rwlock_wrlock(&de->store_lock);
    enum store_err e = store_compact_begin(de->store, segno, &c);
    rw.durable = store_durable_seq(de->store);
    pthread_rwlock_unlock(&de->store_lock);
    if (e != STORE_OK)
        return -1;
    e = store_compact_run(c, live_cb, &rw);
    if (e == STORE_OK) {
        pthread_rwlock_wrlock(&de->store_lock);
        e = store_compact_install(de->store, c);
        if (store_compact_installed(c))
            apply_moves(&rw, c);
        pthread_rwlock_unlock(&de->store_lock);
    }
    if (e == STORE_ECRASHED)
        crashed();
    uint64_t records, bytes;
    store_compact_dropped(c, &records, &bytes);
    if (e != STORE_OK)
        log_warn("disk engine: compaction of segment %llu: %s", (unsigned long long)segno,
                 store_compact_error(c));
    else
        atomic_fetch_add_explicit(&de->n.compactions, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&de->n.compact_dropped_bytes, bytes, memory_order_relaxed);
    store_compact_destroy(&c);
    free(rw.kept);
    return e == STORE_OK ? 0 : -1;
}

static void compact_job(void *arg, bool cancelled)
{
    struct disk_engine *de = arg;
    size_t n = 0;
    struct seg_live *segs = cancelled ? NULL : measure(de, &n);
    for (size_t i = 0; i < n; i++) {
        const struct store_segment_info *in = &segs[i].info;
        uint64_t payload = in->size > STORE_SEGMENT_HEADER ? in->size - STORE_SEGMENT_HEADER : 0;
        if (in->active || payload == 0)
            continue;
        if ((double)segs[i].live >= de->cfg.compact_threshold * (double)payload)
            continue;
        if (rewrite_segment(de, in->segno, i == 0) != 0)
            break;
    }
    free(segs);
    atomic_store(&de->compact_scheduled, false);
}

void disk_compact_maybe(struct disk_engine *de)
{
    if (de->cfg.compact_threshold <= 0.0 || de->pools.aux == NULL)
        return;
    uint64_t now = disk_now_ms();
    if (now - atomic_load(&de->last_compact_ms) < COMPACT_MIN_INTERVAL_MS)
        return;
    bool expected = false;
    if (!atomic_compare_exchange_strong(&de->compact_scheduled, &expected, true))
        return;
    atomic_store(&de->last_compact_ms, now);
    if (executor_submit(de->pools.aux, compact_job, de) != 0)
        atomic_store(&de->compact_scheduled, false);
}
