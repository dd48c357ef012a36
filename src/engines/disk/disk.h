/*
 * The disk engine: memory is a cache over a log on disk (src/storage). Keys
 * and metadata of every live item stay in memory; values are resident or
 * fetched from disk on a reader thread through the would-block path. Writes
 * update memory first and are appended and fsynced in batches by one flusher
 * job on the writer pool; with durability=sync a write is answered only after
 * the fsync that covers it. docs/architecture.md has the whole design.
 */
#ifndef BASALT_ENGINES_DISK_DISK_H
#define BASALT_ENGINES_DISK_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/compiler.h"
#include "engine/engine.h"
#include "executor/executor.h"
#include "storage/store.h"

struct disk_engine_config {
    const char *data_dir;       /* borrowed for the create call */
    size_t limit_bytes;         /* -m: resident values and metadata */
    size_t item_size_max;       /* -I */
    bool sync;                  /* durability=sync: reply after the covering fsync */
    unsigned flush_interval_ms; /* async: fsync at least this often; also the error retry delay */
    double compact_threshold;   /* compact sealed segments whose live fraction is below this */
    uint64_t segment_max;       /* bytes per segment file; 0: the default */
    bool repair;                /* --repair: drop corrupt records at start instead of refusing */
    unsigned fetch_delay_us;    /* test only: each background fetch sleeps this long first */
    struct store_faults faults; /* test only: injected write/fsync failures (copied) */
};

/* The executor pools the engine runs its jobs on; borrowed, they must outlive the engine. */
struct disk_pools {
    struct executor_pool *reader; /* background fetches */
    struct executor_pool *writer; /* the flusher, flush_all */
    struct executor_pool *aux;    /* compaction */
};

/*
 * Opens the data directory, rebuilds the index from it (warm-up: logs
 * progress, loads values while within the quota) and returns the engine, or
 * NULL with a one-line reason in err (a corrupt log names file and offset).
 * host and pools are borrowed. The pools' jobs must have stopped before
 * ops->destroy, which writes and fsyncs what is still queued.
 */
struct engine *disk_engine_create(const struct disk_engine_config *cfg,
                                  const struct engine_host *host, const struct disk_pools *pools,
                                  char *err, size_t errlen);

/*
 * Parses the test-only fault setting "write:N[:COUNT][:ERRNO]",
 * "fsync:N[:COUNT][:ERRNO]" or "crash:POINT" (several joined by '+') into f:
 * the Nth write (fsync) fails, and the next COUNT-1 too, with ERRNO (EIO,
 * ENOSPC or a number); the process kills itself at crash point POINT (enum
 * store_crash). 0, or -1 with err.
 */
int disk_faults_parse(const char *s, struct store_faults *f, char *err, size_t errlen) WARN_UNUSED;

#endif
