/*
 * Stats that span threads: the general STAT group, settings and reset. Runs
 * on the worker answering a STAT request; reads other workers' counters with
 * relaxed atomics and the process-wide counters with atomic loads.
 */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include "auth/tls.h"
#include "frontend/server.h"
#include "frontend/worker.h"

void server_totals(struct frontend *fe, struct stats_totals *out)
{
    *out = (struct stats_totals){{0}};
    for (int i = 0; i < fe->nworkers; i++)
        stats_thread_accumulate(out, &fe->workers[i]->stats);
}

static void server_emit_rusage(const struct stats_sink *sink)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    char buf[32];
    snprintf(buf, sizeof(buf), "%ld.%06ld", (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec);
    stats_emit_str(sink, "rusage_user", buf);
    snprintf(buf, sizeof(buf), "%ld.%06ld", (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec);
    stats_emit_str(sink, "rusage_system", buf);
}

static void server_emit_engine(struct frontend *fe, const struct stats_sink *sink)
{
    struct engine_stats es = {0};
    fe->engine->ops->get_stats(fe->engine, &es);
    stats_emit_u64(sink, "get_expired", es.get_expired);
    stats_emit_u64(sink, "get_flushed", es.get_flushed);
    stats_emit_u64(sink, "limit_maxbytes", es.limit_maxbytes);
    stats_emit_u64(sink, "curr_items", es.curr_items);
    stats_emit_u64(sink, "total_items", es.total_items);
    stats_emit_u64(sink, "expired_unfetched", es.expired_unfetched);
    stats_emit_u64(sink, "evicted_unfetched", es.evicted_unfetched);
    stats_emit_u64(sink, "bytes", es.bytes);
    stats_emit_u64(sink, "evictions", es.evictions);
    stats_emit_u64(sink, "reclaimed", es.reclaimed);
    if (fe->engine->ops->get_stats_extra != NULL)
        fe->engine->ops->get_stats_extra(fe->engine, sink->emit, sink->ctx);
}

void server_emit_general(struct frontend *fe, const struct stats_sink *sink)
{
    rel_time_t now = clock_now();
    stats_emit_i64(sink, "pid", (int64_t)getpid());
    stats_emit_u64(sink, "uptime", now - CLOCK_EPOCH_OFFSET);
    stats_emit_i64(sink, "time", (int64_t)(clock_process_started() + now));
    stats_emit_str(sink, "version", BASALT_VERSION);
    stats_emit_u64(sink, "pointer_size", sizeof(void *) * 8);
    server_emit_rusage(sink);
    stats_emit_u64(sink, "max_connections", (uint64_t)fe->cfg->maxconns);
    stats_emit_u64(sink, "curr_connections", atomic_load(&fe->curr_connections));
    stats_emit_u64(sink, "total_connections", atomic_load(&fe->total_connections));
    stats_emit_u64(sink, "rejected_connections", atomic_load(&fe->rejected_connections));
    struct stats_totals now_totals, base;
    server_totals(fe, &now_totals);
    pthread_mutex_lock(&fe->reset_lock);
    base = fe->baseline;
    pthread_mutex_unlock(&fe->reset_lock);
    stats_emit_counters(sink, &now_totals, &base);
    stats_emit_u64(sink, "threads", (uint64_t)fe->nworkers);
    if (fe->users != NULL) {
        stats_emit_u64(sink, "auth_cmds", atomic_load(&fe->auth_cmds));
        stats_emit_u64(sink, "auth_errors", atomic_load(&fe->auth_errors));
    }
    if (fe->tls != NULL) {
        stats_emit_u64(sink, "ssl_handshake_errors", atomic_load(&fe->ssl_handshake_errors));
        stats_emit_u64(sink, "ssl_new_sessions", atomic_load(&fe->ssl_new_sessions));
        time_t since = time(NULL) - tls_server_refreshed_at(fe->tls);
        stats_emit_i64(sink, "time_since_server_cert_refresh", since > 0 ? since : 0);
    }
    server_emit_engine(fe, sink);
}

static void server_emit_setting(void *ctx, const char *name, const char *value)
{
    stats_emit_str(ctx, name, value);
}

void server_emit_settings(struct frontend *fe, const struct stats_sink *sink)
{
    config_foreach(fe->cfg, server_emit_setting, (void *)sink);
}

void server_reset_stats(struct frontend *fe)
{
    struct stats_totals now;
    server_totals(fe, &now);
    pthread_mutex_lock(&fe->reset_lock);
    fe->baseline = now;
    pthread_mutex_unlock(&fe->reset_lock);
    atomic_store(&fe->total_connections, 0);
    atomic_store(&fe->rejected_connections, 0);
    atomic_store(&fe->ssl_handshake_errors, 0);
    atomic_store(&fe->ssl_new_sessions, 0);
    atomic_store(&fe->auth_cmds, 0);
    atomic_store(&fe->auth_errors, 0);
    fe->engine->ops->reset_stats(fe->engine);
}
