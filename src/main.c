/*
 * basalt: the composition root. Parses the settings, creates the engine and
 * the front-end in order, runs the main thread's event loop (listeners and
 * signals) until SIGINT or SIGTERM, then tears everything down in reverse.
 * The only place in the program that exits.
 */
#include <event2/event.h>
#include <event2/thread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "config/config.h"
#include "engines/memory/memory.h"
#include "frontend/frontend.h"

/* Exit status for bad flags, as the README documents. */
#define EXIT_USAGE 2

static struct engine *create_engine(const struct config *cfg)
{
    if (strcmp(cfg->engine, "memory") == 0) {
        struct memory_engine_config mc = {
            .limit_bytes = cfg->memory_limit,
            .item_size_max = cfg->item_size_max,
            .reclaim_thread = 1,
        };
        return memory_engine_create(&mc, frontend_engine_host());
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

static int run(const struct config *cfg)
{
    struct engine *engine = create_engine(cfg);
    if (engine == NULL)
        return EXIT_FAILURE;
    struct event_base *base = event_base_new();
    char err[256] = "";
    struct frontend *fe = base ? frontend_create(cfg, engine, base, err, sizeof(err)) : NULL;
    if (fe == NULL) {
        fprintf(stderr, "basalt: %s\n", base ? err : "cannot create the event loop");
        if (base != NULL)
            event_base_free(base);
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
    frontend_destroy(&fe);
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
    log_setup(cfg.verbose);
    clock_setup();
    /* A peer that closes early must not kill the process with SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    if (evthread_use_pthreads() != 0) {
        fprintf(stderr, "basalt: libevent has no pthreads support\n");
        return EXIT_FAILURE;
    }
    return run(&cfg);
}
