/*
 * Runs the engine conformance suite against the disk engine, each engine in
 * a fresh data directory under $TMPDIR (removed afterwards): durability
 * async, durability sync (every mutation waits for its fsync through the
 * would-block path), and (async) a quota so small that every value is evicted once
 * it is durable, so reads go through background fetches on a reader pool.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "engine_suite.h"
#include "engines/disk/disk.h"
#include "executor/executor.h"

#define MIB (1024u * 1024u)

struct disk_arg {
    struct disk_engine_config cfg;
    struct disk_pools pools;
    char dir[256];
};

static struct engine *create_disk(const struct engine_host *host, void *arg)
{
    struct disk_arg *a = arg;
    const char *tmp = getenv("TMPDIR");
    snprintf(a->dir, sizeof(a->dir), "%s/basalt-engine-disk-XXXXXX", tmp ? tmp : "/tmp");
    if (mkdtemp(a->dir) == NULL)
        return NULL;
    a->cfg.data_dir = a->dir;
    char err[512];
    struct engine *e = disk_engine_create(&a->cfg, host, &a->pools, err, sizeof(err));
    if (e == NULL)
        fprintf(stderr, "%s\n", err);
    return e;
}

static void destroy_disk(struct engine *e, void *arg)
{
    struct disk_arg *a = arg;
    executor_drain(a->pools.reader);
    executor_drain(a->pools.writer);
    executor_drain(a->pools.aux);
    e->ops->destroy(e);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", a->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", a->dir);
}

int main(void)
{
    clock_setup();
    struct executors x;
    if (executors_setup(&x, 4, 1, 1) != 0)
        return 1;
    struct disk_pools pools = {x.pool[EXECUTOR_READER], x.pool[EXECUTOR_WRITER],
                               x.pool[EXECUTOR_AUX]};
    struct disk_engine_config base = {.limit_bytes = 64 * MIB,
                                      .item_size_max = 1 * MIB,
                                      .flush_interval_ms = 2,
                                      .compact_threshold = 0.5,
                                      .segment_max = 8 * MIB};
    struct disk_arg async_arg = {.cfg = base, .pools = pools};
    struct disk_arg sync_arg = {.cfg = base, .pools = pools};
    sync_arg.cfg.sync = true;
    struct disk_arg tiny_arg = {.cfg = base, .pools = pools};
    tiny_arg.cfg.limit_bytes = 1024; /* 64 bytes a shard: every durable value is evicted */
    struct disk_arg *args[] = {&async_arg, &sync_arg, &tiny_arg};
    const char *names[] = {"engine_disk_async", "engine_disk_sync", "engine_disk_fetch"};
    int failed = 0;
    for (size_t i = 0; i < 3; i++) {
        struct engine_suite_factory f = {.name = names[i],
                                         .create = create_disk,
                                         .destroy = destroy_disk,
                                         .arg = args[i],
                                         .item_size_max = 1 * MIB,
                                         .background_reclaim = true};
        failed += engine_suite_run(&f);
    }
    executors_teardown(&x);
    return failed == 0 ? 0 : 1;
}
