/*
 * The front-end's shared state: settings, the engine, the workers and the
 * process-wide counters. Created on the main thread; read by every worker.
 * Fields marked atomic are updated from several threads.
 */
#ifndef BASALT_FRONTEND_SERVER_H
#define BASALT_FRONTEND_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "config/config.h"
#include "engine/engine.h"
#include "stats/stats.h"

struct worker;
struct evconnlistener;
struct tls_server;
struct auth_users;
struct executor_pool;
struct event;

struct frontend {
    const struct config *cfg; /* borrowed */
    struct engine *engine;    /* borrowed */
    struct event_base *main_base;
    struct worker **workers;
    int nworkers;
    unsigned next_worker; /* round-robin; main thread only */
    struct evconnlistener *listeners[CONFIG_MAX_LISTEN];
    bool listener_tls[CONFIG_MAX_LISTEN]; /* listeners[i] speaks TLS */
    int nlisteners;
    struct tls_server *tls;          /* the TLS contexts, or NULL when no listener speaks TLS */
    struct auth_users *users;        /* the SASL users, or NULL without -o sasl_users */
    struct executor_pool *auth_pool; /* one thread for PLAIN's PBKDF2 (exec_sasl.c), with users */
    struct event *accept_resume;     /* re-enables the listeners after an accept() backoff */
    bool accept_backing_off;         /* accept() failed for lack of resources; main thread only */
    int port;
    bool detached; /* frontend_create_detached: no threads; the caller runs the workers' loops */
    uint32_t frame_limit;
    atomic_uint_fast64_t curr_connections;
    atomic_uint_fast64_t total_connections;
    atomic_uint_fast64_t rejected_connections;
    atomic_uint_fast64_t ssl_handshake_errors; /* failed or timed-out TLS handshakes */
    atomic_uint_fast64_t ssl_new_sessions;     /* finished handshakes that did not resume */
    atomic_uint_fast64_t auth_cmds;            /* SASL_AUTH and SASL_STEP requests */
    atomic_uint_fast64_t auth_errors;          /* failed SASL attempts */
    pthread_mutex_t reset_lock;                /* guards baseline */
    struct stats_totals baseline;              /* counters at the last `stats reset` */
};

/* Sums every worker's counters into *out; any thread. */
void server_totals(struct frontend *fe, struct stats_totals *out);

/* Emits the general stats (memcached's names) through sink; any worker thread. */
void server_emit_general(struct frontend *fe, const struct stats_sink *sink);

/* Emits `stats settings`. */
void server_emit_settings(struct frontend *fe, const struct stats_sink *sink);

/* `stats reset`: zeroes the front-end's counters (through the baseline) and the engine's. */
void server_reset_stats(struct frontend *fe);

#endif
