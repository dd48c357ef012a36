/*
 * Runs the engine conformance suite against the memory engine: with the
 * default sharding and the background reclaimer, and with a single shard
 * and lazy reclaim only (exact counters, one lock for every key).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "base/clock.h"
#include "engine_suite.h"
#include "engines/memory/memory.h"

#define MIB (1024u * 1024u)

static struct engine *create_memory(const struct engine_host *host, void *arg)
{
    return memory_engine_create(arg, host);
}

int main(void)
{
    clock_setup();
    struct memory_engine_config sharded = {
        .limit_bytes = 64 * MIB,
        .item_size_max = 1 * MIB,
        .reclaim_thread = 1,
    };
    struct memory_engine_config single = {
        .limit_bytes = 8 * MIB,
        .item_size_max = 1 * MIB,
        .reclaim_thread = 0,
        .shards = 1,
    };
    const struct engine_suite_factory factories[] = {
        {
            .name = "engine_memory_sharded",
            .create = create_memory,
            .arg = &sharded,
            .item_size_max = sharded.item_size_max,
            .background_reclaim = true,
        },
        {
            .name = "engine_memory_single_shard",
            .create = create_memory,
            .arg = &single,
            .item_size_max = single.item_size_max,
            .background_reclaim = false,
        },
    };
    int failed = 0;
    for (size_t i = 0; i < sizeof(factories) / sizeof(factories[0]); i++)
        failed += engine_suite_run(&factories[i]);
    return failed == 0 ? 0 : 1;
}
