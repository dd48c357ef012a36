/*
 * Runs the engine conformance suite against the wouldblock engine wrapping
 * the memory engine: every call blocking once (always), and half of them
 * (random:0.5). Completions come from a reader executor pool, so the suite's
 * wait-for-notify-then-retry path is what is being checked here, on real
 * threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <string.h>

#include "base/clock.h"
#include "engine_suite.h"
#include "engines/memory/memory.h"
#include "engines/wouldblock/wouldblock.h"
#include "executor/executor.h"

#define MIB (1024u * 1024u)

struct wb_arg {
    const char *mode;
    struct executor_pool *pool;
};

static struct engine *create_wb(const struct engine_host *host, void *arg)
{
    struct wb_arg *a = arg;
    struct memory_engine_config mc = {
        .limit_bytes = 64 * MIB, .item_size_max = 1 * MIB, .reclaim_thread = 0, .shards = 4};
    struct wouldblock_config wc = {.delay_us = 0};
    char err[128];
    if (wouldblock_mode_parse(a->mode, strlen(a->mode), &wc.mode, err, sizeof(err)) != 0)
        return NULL;
    struct engine *inner = memory_engine_create(&mc, host);
    return inner ? wouldblock_engine_create(&wc, inner, host, a->pool) : NULL;
}

/* The suite has received every notify; drain anyway so no job outlives the engine. */
static void destroy_wb(struct engine *e, void *arg)
{
    struct wb_arg *a = arg;
    executor_drain(a->pool);
    e->ops->destroy(e);
}

int main(void)
{
    clock_setup();
    struct executor_pool *pool = executor_pool_create("reader", 4);
    if (pool == NULL)
        return 1;
    struct wb_arg always = {"always", pool}, random = {"random:0.5", pool};
    const struct engine_suite_factory factories[] = {
        {.name = "engine_wouldblock_always",
         .create = create_wb,
         .destroy = destroy_wb,
         .arg = &always,
         .item_size_max = 1 * MIB},
        {.name = "engine_wouldblock_random",
         .create = create_wb,
         .destroy = destroy_wb,
         .arg = &random,
         .item_size_max = 1 * MIB},
    };
    int failed = 0;
    for (size_t i = 0; i < sizeof(factories) / sizeof(factories[0]); i++)
        failed += engine_suite_run(&factories[i]);
    executor_pool_destroy(&pool);
    return failed == 0 ? 0 : 1;
}
