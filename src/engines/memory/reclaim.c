/*
 * The background reclaimer: a thread that wakes every
 * MEMORY_RECLAIM_INTERVAL_MS and, shard by shard, scans a bounded number of
 * buckets for expired and flushed items and unlinks them, so memory held by
 * dead items nobody asks for comes back without waiting for eviction. It also
 * applies a delayed flush whose time has come (lookups apply it too). A pass
 * that finds nothing doubles the wait, up to MEMORY_RECLAIM_INTERVAL_MAX_MS:
 * each visited item is a cache miss, and on a cache without expiring items
 * the scan cost a few percent of a front-end core that shares the CPU. Runs
 * on its own thread; start and stop run on the thread that creates and
 * destroys the engine.
 */
#include <errno.h>
#include <time.h>

#include "engines/memory/memory_internal.h"

size_t memory_reclaim_pass(struct memory_engine *me)
{
    size_t reclaimed = 0;
    for (size_t i = 0; i < me->nshards; i++) {
        /* A fresh view per shard: a pass can take a while on a big cache. */
        struct mem_view v = memory_view(me);
        struct mem_shard *s = &me->shards[i];
        struct mem_grave g = {NULL};
        lock_take(&s->lock);
        reclaimed += mem_shard_reclaim(s, &v, MEMORY_RECLAIM_BUCKETS, &g);
        lock_drop(&s->lock);
        mem_grave_release(&g);
    }
    return reclaimed;
}

/* The deadline ms milliseconds from now on the monotonic clock. */
static struct timespec next_deadline(unsigned ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += (long)ms * 1000000L;
    while (ts.tv_nsec >= 1000000000L) {
        ts.tv_nsec -= 1000000000L;
        ts.tv_sec++;
    }
    return ts;
}

static void *reclaimer_main(void *arg)
{
    struct memory_engine *me = arg;
    struct memory_reclaimer *r = &me->reclaimer;
    unsigned interval = MEMORY_RECLAIM_INTERVAL_MS;
    pthread_mutex_lock(&r->lock);
    while (!r->stop) {
        struct timespec deadline = next_deadline(interval);
        /* Sleep the whole interval unless stop is set; spurious wake-ups loop back. */
        int rc = 0;
        while (!r->stop && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&r->cond, &r->lock, &deadline);
        if (r->stop)
            break;
        pthread_mutex_unlock(&r->lock);
        if (memory_reclaim_pass(me) > 0)
            interval = MEMORY_RECLAIM_INTERVAL_MS;
        else if (interval < MEMORY_RECLAIM_INTERVAL_MAX_MS)
            interval *= 2;
        pthread_mutex_lock(&r->lock);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

int memory_reclaimer_start(struct memory_engine *me)
{
    struct memory_reclaimer *r = &me->reclaimer;
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0)
        return -1;
    /* The monotonic clock: a wall-clock jump must not stall or rush the thread. */
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&r->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (rc != 0)
        return -1;
    if (pthread_mutex_init(&r->lock, NULL) != 0) {
        pthread_cond_destroy(&r->cond);
        return -1;
    }
    r->stop = false;
    if (pthread_create(&r->thread, NULL, reclaimer_main, me) != 0) {
        pthread_mutex_destroy(&r->lock);
        pthread_cond_destroy(&r->cond);
        return -1;
    }
    r->running = true;
    return 0;
}

void memory_reclaimer_stop(struct memory_engine *me)
{
    struct memory_reclaimer *r = &me->reclaimer;
    if (!r->running)
        return;
    pthread_mutex_lock(&r->lock);
    r->stop = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->cond);
    r->running = false;
}
