/*
 * basalt: the composition root. Parses the settings, starts the executor
 * pools, creates the engine and the front-end in order, runs the main
 * thread's event loop (listeners and signals) until SIGINT or SIGTERM, then
 * tears everything down in reverse. The only place in the program that exits.
 */
#include <event2/event.h>
#include <event2/thread.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "config/config.h"
#include "engines/disk/disk.h"
#include "engines/memory/memory.h"
#include "engines/wouldblock/wouldblock.h"
#include "executor/executor.h"
#include "frontend/frontend.h"

/* glibc malloc arenas for the whole process (see main). */
#define BASALT_MALLOC_ARENAS 2

/* Exit status for bad flags, as the README documents. */
#define EXIT_USAGE 2

/* Settings an engine reads beyond struct config, parsed by check_engine_settings. */
struct engine_settings {
    struct wouldblock_mode mode;
    double compact_threshold;
    struct store_faults faults;
};

/* Engine settings config_parse cannot check (they belong to an engine): 0, or -1 with err. */
static int check_engine_settings(const struct config *cfg, struct engine_settings *es, char *err,
                                 size_t errlen)
{
    char why[160];
    if (wouldblock_mode_parse(cfg->wouldblock_mode, strlen(cfg->wouldblock_mode), &es->mode, why,
                              sizeof(why)) != 0) {
        snprintf(err, errlen, "-o wouldblock_mode: %s", why);
        return -1;
    }
    char *end;
    es->compact_threshold = strtod(cfg->compact_threshold, &end);
    if (*end != '\0' || !(es->compact_threshold >= 0.0 && es->compact_threshold <= 1.0)) {
        snprintf(err, errlen, "-o compact_threshold: '%s' is not a fraction from 0 to 1",
                 cfg->compact_threshold);
        return -1;
    }
    if (disk_faults_parse(cfg->disk_faults, &es->faults, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "-o disk_faults: %s", why);
        return -1;
    }
    return 0;
}

static struct engine *create_disk(const struct config *cfg, const struct engine_settings *es,
                                  const struct executors *x)
{
    struct disk_engine_config dc = {
        .data_dir = cfg->data_dir,
        .limit_bytes = cfg->memory_limit,
        .item_size_max = cfg->item_size_max,
        .sync = strcmp(cfg->durability, "sync") == 0,
        .flush_interval_ms = (unsigned)cfg->flush_interval_ms,
        .compact_threshold = es->compact_threshold,
        .segment_max = cfg->segment_size,
        .repair = cfg->repair,
        .fetch_delay_us = (unsigned)cfg->disk_fetch_delay_us,
        .faults = es->faults,
    };
    struct disk_pools pools = {.reader = x->pool[EXECUTOR_READER],
                               .writer = x->pool[EXECUTOR_WRITER],
                               .aux = x->pool[EXECUTOR_AUX]};
    char err[1024] = "";
    struct engine *e = disk_engine_create(&dc, frontend_engine_host(), &pools, err, sizeof(err));
    if (e == NULL)
        fprintf(stderr, "basalt: %s\n", err);
    return e;
}

static struct engine *create_memory(const struct config *cfg)
{
    struct memory_engine_config mc = {
        .limit_bytes = cfg->memory_limit,
        .item_size_max = cfg->item_size_max,
        .reclaim_thread = 1,
    };
    return memory_engine_create(&mc, frontend_engine_host());
}

static struct engine *create_engine(const struct config *cfg, const struct engine_settings *es,
                                    const struct executors *x)
{
    if (strcmp(cfg->engine, "memory") == 0)
        return create_memory(cfg);
    if (strcmp(cfg->engine, "disk") == 0)
        return create_disk(cfg, es, x);
    if (strcmp(cfg->engine, "wouldblock") == 0) {
        /* The only inner engine config accepts is memory. */
        struct engine *inner = create_memory(cfg);
        struct wouldblock_config wc = {.mode = es->mode,
                                       .delay_us = (unsigned)cfg->wouldblock_delay_us};
        return inner ? wouldblock_engine_create(&wc, inner, frontend_engine_host(),
                                                x->pool[EXECUTOR_READER])
                     : NULL;
    }
    log_warn("engine %s is not available", cfg->engine);
    return NULL;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    log_info("signal %d: shutting down", (int)sig);
    event_base_loopbreak(arg);
}

static void on_sighup(evutil_socket_t sig, short what, void *arg)
{
    log_info("signal %d: reloading certificates and users", (int)sig);
    frontend_reload(arg);
}

static int run(const struct config *cfg, const struct engine_settings *es)
{
    struct executors x;
    if (executors_setup(&x, cfg->reader_threads, 1, 1) != 0) {
        fprintf(stderr, "basalt: cannot start the executor threads\n");
        return EXIT_FAILURE;
    }
    struct engine *engine = create_engine(cfg, es, &x);
    if (engine == NULL) {
        executors_teardown(&x);
        return EXIT_FAILURE;
    }
    struct event_base *base = event_base_new();
    char err[256] = "";
    struct frontend *fe = base ? frontend_create(cfg, engine, base, err, sizeof(err)) : NULL;
    if (fe == NULL) {
        fprintf(stderr, "basalt: %s\n", base ? err : "cannot create the event loop");
        if (base != NULL)
            event_base_free(base);
        executors_teardown(&x);
        engine->ops->destroy(engine);
        return EXIT_FAILURE;
    }
    struct event *sigint = evsignal_new(base, SIGINT, on_signal, base);
    struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    struct event *sighup = evsignal_new(base, SIGHUP, on_sighup, fe);
    evsignal_add(sigint, NULL);
    evsignal_add(sigterm, NULL);
    evsignal_add(sighup, NULL);
    log_info("basalt %s: %d threads, engine %s, port %d", BASALT_VERSION, cfg->threads, cfg->engine,
             frontend_port(fe));
    event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY);
    event_free(sigint);
    event_free(sigterm);
    event_free(sighup);
    /* Every blocked command has been notified once the front-end is gone; the pools are then
     * stopped (running jobs finish) before the engine their jobs point into is freed. */
    frontend_destroy(&fe);
    executors_teardown(&x);
    engine->ops->destroy(engine);
    event_base_free(base);
    return EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
    static struct config cfg;
    char err[256] = "";
    switch (config_parse(&cfg, argc, argv, stdout, err, sizeof(err))) {
    case CONFIG_EXIT_OK:
        return EXIT_SUCCESS;
    case CONFIG_ERROR:
        fprintf(stderr, "basalt: %s\n", err);
        return EXIT_USAGE;
    case CONFIG_RUN:
        break;
    }
    static struct engine_settings es;
    if (check_engine_settings(&cfg, &es, err, sizeof(err)) != 0) {
        fprintf(stderr, "basalt: %s\n", err);
        return EXIT_USAGE;
    }
    log_setup(cfg.verbose);
    clock_setup();
    /* A peer that closes early must not kill the process with SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    /*
     * Items are malloc'd on one thread and freed on another (eviction,
     * replacement, a reply sent by reference). With glibc's default of one
     * arena per thread, freed memory piles up in arenas that other threads
     * allocate from rarely: a 10-minute soak grew RSS by 16 % with the cache
     * full; two arenas keep it flat (bench/soak, docs/testing.md).
     */
    mallopt(M_ARENA_MAX, BASALT_MALLOC_ARENAS);
    if (evthread_use_pthreads() != 0) {
        fprintf(stderr, "basalt: libevent has no pthreads support\n");
        return EXIT_FAILURE;
    }
    return run(&cfg, &es);
}
