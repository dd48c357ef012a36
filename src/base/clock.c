/*
 * Server clock: monotonic seconds since start, plus a test-only offset.
 * Read by every thread; written only by clock_setup and clock_advance.
 */
#include "base/clock.h"

#include <stdatomic.h>

static time_t started_wall;
static struct timespec started_mono;
static atomic_uint_fast32_t advanced;

void clock_setup(void)
{
    clock_gettime(CLOCK_MONOTONIC_COARSE, &started_mono);
    started_wall = time(NULL) - CLOCK_EPOCH_OFFSET;
}

rel_time_t clock_now(void)
{
    struct timespec ts;
    /* The coarse clock is a vDSO read with tick resolution: plenty for seconds. */
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    time_t elapsed = ts.tv_sec - started_mono.tv_sec;
    if (elapsed < 0)
        elapsed = 0;
    uint32_t extra = (uint32_t)atomic_load_explicit(&advanced, memory_order_relaxed);
    return (rel_time_t)elapsed + CLOCK_EPOCH_OFFSET + extra;
}

time_t clock_process_started(void)
{
    return started_wall;
}

void clock_advance(uint32_t seconds)
{
    atomic_fetch_add(&advanced, seconds);
}

rel_time_t clock_expiry(uint32_t wire, rel_time_t now, time_t started)
{
    if (wire == 0)
        return 0;
    if (wire > CLOCK_REALTIME_MAXDELTA) {
        if ((time_t)wire <= started)
            return 1;
        uint64_t rel = (uint64_t)((time_t)wire - started);
        return rel > UINT32_MAX ? UINT32_MAX : (rel_time_t)rel;
    }
    uint64_t rel = (uint64_t)now + wire;
    return rel > UINT32_MAX ? UINT32_MAX : (rel_time_t)rel;
}
