/*
 * Counter aggregation and stat formatting. Called on a worker thread while it
 * answers a STAT request; reads other workers' counters with relaxed loads.
 */
#include "stats/stats.h"

#include <inttypes.h>
#include <stdio.h>

void stats_thread_accumulate(struct stats_totals *sum, const struct stats_thread *t)
{
    for (int i = 0; i < STATS_NCOUNTERS; i++)
        sum->v[i] += atomic_load_explicit(&t->v[i], memory_order_relaxed);
}

const char *stats_counter_name(enum stats_counter c)
{
    static const char *const names[] = {
#define STATS_NAME(name) #name,
        STATS_THREAD_COUNTERS(STATS_NAME)
#undef STATS_NAME
    };
    if ((unsigned)c < STATS_NCOUNTERS)
        return names[c];
    return "unknown";
}

void stats_emit_u64(const struct stats_sink *s, const char *name, uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%" PRIu64, v);
    s->emit(s->ctx, name, buf);
}

void stats_emit_i64(const struct stats_sink *s, const char *name, int64_t v)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%" PRId64, v);
    s->emit(s->ctx, name, buf);
}

void stats_emit_str(const struct stats_sink *s, const char *name, const char *v)
{
    s->emit(s->ctx, name, v);
}

void stats_emit_counters(const struct stats_sink *s, const struct stats_totals *now,
                         const struct stats_totals *baseline)
{
    for (int i = 0; i < STATS_NCOUNTERS; i++) {
        /* A counter read racing a reset may sit just below its baseline: clamp. */
        uint64_t v = now->v[i] >= baseline->v[i] ? now->v[i] - baseline->v[i] : 0;
        stats_emit_u64(s, stats_counter_name((enum stats_counter)i), v);
    }
}
