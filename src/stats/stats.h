/*
 * Per-thread counters and their aggregation, plus the sink the STAT replies
 * are written through. Each front-end worker owns one struct stats_thread and
 * is its only writer; any thread may read it (relaxed atomics: the numbers
 * are statistics, never used for control).
 */
#ifndef BASALT_STATS_STATS_H
#define BASALT_STATS_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* The per-thread counters, with memcached's stat names. */
#define STATS_THREAD_COUNTERS(X)                                                                   \
    X(cmd_get)                                                                                     \
    X(cmd_set)                                                                                     \
    X(cmd_flush)                                                                                   \
    X(cmd_touch)                                                                                   \
    X(get_hits)                                                                                    \
    X(get_misses)                                                                                  \
    X(delete_hits)                                                                                 \
    X(delete_misses)                                                                               \
    X(incr_hits)                                                                                   \
    X(incr_misses)                                                                                 \
    X(decr_hits)                                                                                   \
    X(decr_misses)                                                                                 \
    X(cas_hits)                                                                                    \
    X(cas_misses)                                                                                  \
    X(cas_badval)                                                                                  \
    X(touch_hits)                                                                                  \
    X(touch_misses)                                                                                \
    X(bytes_read)                                                                                  \
    X(bytes_written)                                                                               \
    X(conn_yields)                                                                                 \
    X(idle_kicks)                                                                                  \
    X(read_timeout_kicks)                                                                          \
    X(stuck_send_kicks)

enum stats_counter {
#define STATS_ENUM(name) STATS_##name,
    STATS_THREAD_COUNTERS(STATS_ENUM)
#undef STATS_ENUM
        STATS_NCOUNTERS
};

struct stats_thread {
    _Atomic uint64_t v[STATS_NCOUNTERS];
};

/* Adds n to a counter; only the owning thread may call it. */
static inline void stats_add(struct stats_thread *t, enum stats_counter c, uint64_t n)
{
    /* Single writer: a relaxed load and store is enough and avoids a locked add. */
    uint64_t cur = atomic_load_explicit(&t->v[c], memory_order_relaxed);
    atomic_store_explicit(&t->v[c], cur + n, memory_order_relaxed);
}

/* A plain snapshot of counters, for sums and baselines. */
struct stats_totals {
    uint64_t v[STATS_NCOUNTERS];
};

/* Adds the current values of *t into *sum; any thread. */
void stats_thread_accumulate(struct stats_totals *sum, const struct stats_thread *t);

/* Returns the stat name of a counter ("cmd_get", ...). */
const char *stats_counter_name(enum stats_counter c);

/* Where stat lines go: one call per (name, value); the encoder is the caller's. */
struct stats_sink {
    void (*emit)(void *ctx, const char *name, const char *value);
    void *ctx;
};

/* Emits name with an unsigned decimal value. */
void stats_emit_u64(const struct stats_sink *s, const char *name, uint64_t v);

/* Emits name with a signed decimal value. */
void stats_emit_i64(const struct stats_sink *s, const char *name, int64_t v);

/* Emits name with a string value. */
void stats_emit_str(const struct stats_sink *s, const char *name, const char *v);

/* Emits every counter of *now minus *baseline (a `stats reset` baseline) with its name. */
void stats_emit_counters(const struct stats_sink *s, const struct stats_totals *now,
                         const struct stats_totals *baseline);

#endif
