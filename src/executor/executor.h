/*
 * Executor pools: named groups of threads that run jobs from one FIFO queue.
 * Engines hand work that would block a front-end worker (disk reads, writes,
 * housekeeping) to a pool and report completion through the engine host's
 * notify. The server has three: reader (-o reader_threads), writer and aux.
 * Every function here may be called from any thread unless it says otherwise.
 */
#ifndef BASALT_EXECUTOR_EXECUTOR_H
#define BASALT_EXECUTOR_EXECUTOR_H

#include <stdbool.h>
#include <stddef.h>

#include "base/compiler.h"

struct executor_pool;

/*
 * A job. It runs once on a pool thread with cancelled == false, or, when the
 * pool is stopped before the job started, once on the stopping thread with
 * cancelled == true so it can release arg. Either way the job owns arg.
 */
typedef void (*executor_fn)(void *arg, bool cancelled);

/* Creates a pool of nthreads (>= 1) threads named after name (copied); NULL on failure. */
struct executor_pool *executor_pool_create(const char *name, int nthreads) WARN_UNUSED;

/* The pool's name. */
const char *executor_pool_name(const struct executor_pool *p);

/* Number of threads of the pool. */
int executor_pool_threads(const struct executor_pool *p);

/* Queues fn(arg) behind the jobs already queued. 0, or -1 once stopped or out of memory
 * (then the caller keeps arg). */
int executor_submit(struct executor_pool *p, executor_fn fn, void *arg) WARN_UNUSED;

/* Waits until no job is queued or running (jobs submitted meanwhile are waited for too). */
void executor_drain(struct executor_pool *p);

/*
 * Stops the pool: later submits fail, jobs that are running finish, jobs
 * still queued are run with cancelled == true on this thread, and the threads
 * are joined. Idempotent. Must not be called from one of the pool's threads.
 */
void executor_stop(struct executor_pool *p);

/* Stops the pool if needed and frees it; *p = NULL. */
void executor_pool_destroy(struct executor_pool **p);

/* The server's pools, by role. */
enum executor_kind {
    EXECUTOR_READER, /* reads that would block: many threads */
    EXECUTOR_WRITER, /* writes, kept in order: one thread */
    EXECUTOR_AUX,    /* housekeeping: one thread */
    EXECUTOR_KINDS,
};

/* The server's set of pools; owned by main.c, borrowed by the engines. */
struct executors {
    struct executor_pool *pool[EXECUTOR_KINDS];
};

/* Creates the three pools with these thread counts. 0, or -1 (nothing is left running). */
int executors_setup(struct executors *x, int readers, int writers, int aux) WARN_UNUSED;

/* Stops and frees every pool of the set (each pool's executor_stop rules apply). */
void executors_teardown(struct executors *x);

#endif
