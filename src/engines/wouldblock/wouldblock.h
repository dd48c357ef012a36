/*
 * The wouldblock engine: a test tool shipped in the product. It wraps another
 * engine and makes its calls return ENGINE_EWOULDBLOCK on demand, completing
 * them later from a reader executor thread, so the front-end's suspend and
 * resume path can be exercised with any client. Not for production data
 * paths: it only adds latency. Thread-safe like every engine.
 */
#ifndef BASALT_ENGINES_WOULDBLOCK_WOULDBLOCK_H
#define BASALT_ENGINES_WOULDBLOCK_WOULDBLOCK_H

#include <stddef.h>

#include "base/compiler.h"
#include "engine/engine.h"
#include "executor/executor.h"

enum wouldblock_kind {
    WOULDBLOCK_ALWAYS, /* every call blocks once, then completes with success */
    WOULDBLOCK_RANDOM, /* a call blocks once with probability p */
    WOULDBLOCK_ERROR,  /* every call blocks, then completes with status */
    WOULDBLOCK_NEVER,  /* every call blocks and completes only when the connection goes away */
};

/* When and how calls block. */
struct wouldblock_mode {
    enum wouldblock_kind kind;
    double p;             /* WOULDBLOCK_RANDOM: 0..1 */
    engine_status status; /* WOULDBLOCK_ERROR: any status but ENGINE_EWOULDBLOCK */
};

/*
 * Parses "always", "never", "random:P" (0 <= P <= 1) or "error:STATUS"
 * (STATUS an engine_status_str() name, e.g. key_enoent) from s (len bytes,
 * no NUL needed). 0, or -1 with a one-line reason in err.
 */
int wouldblock_mode_parse(const char *s, size_t len, struct wouldblock_mode *out, char *err,
                          size_t errlen) WARN_UNUSED;

struct wouldblock_config {
    struct wouldblock_mode mode; /* the default of every connection */
    unsigned delay_us;           /* how long a completion waits on its reader thread */
};

/*
 * Creates the engine around inner, whose ownership it takes (destroyed with
 * it, or at once on failure). Completions run on pool (borrowed; it must
 * be stopped before the engine is destroyed) and reach the front-end through
 * host->notify. NULL when out of memory.
 */
struct engine *wouldblock_engine_create(const struct wouldblock_config *cfg, struct engine *inner,
                                        const struct engine_host *host,
                                        struct executor_pool *pool) WARN_UNUSED;

#endif
