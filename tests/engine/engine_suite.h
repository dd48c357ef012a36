/*
 * The engine conformance suite: one set of tests, written only against
 * engine/engine.h, that every engine must pass. A small main per engine
 * describes how to make one (a factory) and calls engine_suite_run.
 *
 * The suite drives the engine like the front-end does: it passes a host and
 * a cookie per thread, and when an op answers ENGINE_EWOULDBLOCK it waits for
 * the host's notify and calls the op again with the same cookie. Engines that
 * block (disk, the would-block wrapper) therefore run the same tests.
 */
#ifndef BASALT_TESTS_ENGINE_ENGINE_SUITE_H
#define BASALT_TESTS_ENGINE_ENGINE_SUITE_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/engine.h"

struct engine_suite_factory {
    const char *name; /* the cmocka group name */
    /* Makes a fresh, empty engine that reports to host; NULL fails the test. */
    struct engine *(*create)(const struct engine_host *host, void *arg);
    /* Frees an engine made by create; NULL means e->ops->destroy(e). */
    void (*destroy)(struct engine *e, void *arg);
    void *arg;
    size_t item_size_max; /* the largest value the engine accepts */
    /*
     * The engine may reclaim expired and flushed items in the background, so
     * a get may find nothing where a lazy engine would count get_expired or
     * get_flushed: those counters are then checked as upper bounds.
     */
    bool background_reclaim;
};

/* Runs every conformance test against engines made by f; returns the number that failed. */
int engine_suite_run(const struct engine_suite_factory *f);

#endif
