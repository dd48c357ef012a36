/*
 * The disk engine's own stats (disk_* in `stats`: residency, queue, bytes
 * and live fraction on disk, fetches with a latency histogram, flushes,
 * fsync latency, compactions, warm-up) and its test hook, which arms
 * injected write/fsync failures at run time. Both run on front-end workers.
 */
#include <stdio.h>
#include <string.h>

#include "engines/disk/disk_internal.h"

static void emit_u64(void (*emit)(void *, const char *, const char *), void *ctx, const char *name,
                     uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
    emit(ctx, name, buf);
}

static uint64_t load(atomic_uint_fast64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

/* "b0,b1,...": fetches by latency bucket (< 16 us, < 32 us, ..., the rest). */
static void format_hist(struct disk_engine *de, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < DISK_HIST_BUCKETS && used < cap; i++) {
        snprintf(buf + used, cap - used, "%s%llu", i ? "," : "",
                 (unsigned long long)load(&de->n.fetch_hist[i]));
        used += strlen(buf + used);
    }
}

/* Index counters summed over the shards. */
static void emit_index(struct disk_engine *de, void (*emit)(void *, const char *, const char *),
                       void *ctx)
{
    uint64_t items = 0, resident = 0, live = 0, evicted = 0;
    for (size_t i = 0; i < DISK_SHARDS; i++) {
        struct disk_shard *s = &de->shards[i];
        pthread_mutex_lock(&s->lock);
        items += s->items;
        resident += s->resident;
        live += s->live_bytes;
        evicted += s->value_evictions;
        pthread_mutex_unlock(&s->lock);
    }
    pthread_mutex_lock(&de->q.lock);
    uint64_t queued = de->q.q.n;
    bool failed = de->q.failed;
    pthread_mutex_unlock(&de->q.lock);
    pthread_rwlock_rdlock(&de->store_lock);
    uint64_t on_disk = store_bytes(de->store);
    uint64_t segments = store_segment_count(de->store);
    pthread_rwlock_unlock(&de->store_lock);
    emit_u64(emit, ctx, "disk_resident_items", resident);
    emit_u64(emit, ctx, "disk_nonresident_items", items - resident);
    emit_u64(emit, ctx, "disk_value_evictions", evicted);
    emit_u64(emit, ctx, "disk_queue_len", queued);
    emit(ctx, "disk_write_failing", failed ? "1" : "0");
    emit_u64(emit, ctx, "disk_bytes", on_disk);
    emit_u64(emit, ctx, "disk_live_bytes", live);
    emit_u64(emit, ctx, "disk_segments", segments);
    char buf[32];
    snprintf(buf, sizeof(buf), "%.3f", on_disk ? (double)live / (double)on_disk : 1.0);
    emit(ctx, "disk_live_fraction", buf);
}

void disk_stats_extra(struct engine *e,
                      void (*emit)(void *ctx, const char *name, const char *value), void *ctx)
{
    struct disk_engine *de = disk_of(e);
    emit(ctx, "disk_durability", de->cfg.sync ? "sync" : "async");
    emit_index(de, emit, ctx);
    uint64_t fetches = load(&de->n.fetches), fsyncs = load(&de->n.fsyncs);
    emit_u64(emit, ctx, "disk_fetches", fetches);
    emit_u64(emit, ctx, "disk_fetch_errors", load(&de->n.fetch_errors));
    emit_u64(emit, ctx, "disk_fetch_us_avg", fetches ? load(&de->n.fetch_us_total) / fetches : 0);
    char hist[DISK_HIST_BUCKETS * 21];
    format_hist(de, hist, sizeof(hist));
    emit(ctx, "disk_fetch_us_hist_pow2_from_16", hist);
    emit_u64(emit, ctx, "disk_flush_batches", load(&de->n.flush_batches));
    emit_u64(emit, ctx, "disk_flushed_records", load(&de->n.flushed_records));
    emit_u64(emit, ctx, "disk_fsyncs", fsyncs);
    emit_u64(emit, ctx, "disk_fsync_us_avg", fsyncs ? load(&de->n.fsync_us_total) / fsyncs : 0);
    emit_u64(emit, ctx, "disk_fsync_us_max", load(&de->n.fsync_us_max));
    emit_u64(emit, ctx, "disk_write_errors", load(&de->n.write_errors));
    emit_u64(emit, ctx, "disk_compactions", load(&de->n.compactions));
    emit_u64(emit, ctx, "disk_compact_dropped_bytes", load(&de->n.compact_dropped_bytes));
    emit_u64(emit, ctx, "disk_warmup_ms", de->n.warmup_ms);
    emit_u64(emit, ctx, "disk_warmup_records", de->n.warmup_records);
}

engine_status disk_test_control(struct engine *e, const void *cookie, const char *arg, size_t len)
{
    struct disk_engine *de = disk_of(e);
    char buf[64];
    if (len < 6 || len >= sizeof(buf) || memcmp(arg, "fault:", 6) != 0)
        return ENGINE_EINVAL;
    memcpy(buf, arg + 6, len - 6);
    buf[len - 6] = '\0';
    struct store_faults f = {0};
    bool clear = strcmp(buf, "clear") == 0;
    if (!clear && disk_fault_parse_one(buf, &f) != 0)
        return ENGINE_EINVAL;
    /* The store reads the faults under this lock (compaction runs read them without it). */
    pthread_rwlock_wrlock(&de->store_lock);
    struct store_faults *cur = &de->cfg.faults;
    if (clear || f.write_fail_at != 0) {
        cur->write_fail_at = clear ? 0 : cur->writes + f.write_fail_at;
        cur->write_fail_n = f.write_fail_n;
        cur->write_errno = f.write_errno;
    }
    if (clear || f.fsync_fail_at != 0) {
        cur->fsync_fail_at = clear ? 0 : cur->fsyncs + f.fsync_fail_at;
        cur->fsync_fail_n = f.fsync_fail_n;
        cur->fsync_errno = f.fsync_errno;
    }
    pthread_rwlock_unlock(&de->store_lock);
    return ENGINE_SUCCESS;
}
