/*
 * Server time. Item expiry is kept in "server seconds" (rel_time_t): seconds
 * on the monotonic clock since the process started, offset so that the first
 * value is CLOCK_EPOCH_OFFSET. A wall-clock jump therefore never expires or
 * revives items; absolute Unix times from clients are converted once, when
 * the item is stored.
 */
#ifndef BASALT_BASE_CLOCK_H
#define BASALT_BASE_CLOCK_H

#include <stdint.h>
#include <time.h>

typedef uint32_t rel_time_t;

/* The first value clock_now() returns; rel_time 1 means "already expired". */
#define CLOCK_EPOCH_OFFSET 2
/* Expirations up to this many seconds are relative; above, absolute Unix times. */
#define CLOCK_REALTIME_MAXDELTA (60 * 60 * 24 * 30)

/* Records the process start (wall and monotonic); call once before threads start. */
void clock_setup(void);

/* Returns the current server time in seconds; any thread. */
rel_time_t clock_now(void);

/* Returns the Unix time that corresponds to server time 0. */
time_t clock_process_started(void);

/* Moves server time forward by seconds (tests use it to expire items without sleeping). */
void clock_advance(uint32_t seconds);

/*
 * Converts a wire expiration to server time; pure. 0 stays 0 (never expires);
 * up to CLOCK_REALTIME_MAXDELTA it is relative to now; above, an absolute Unix
 * time relative to started (a time at or before the process start gives 1,
 * already expired). Saturates instead of wrapping.
 */
rel_time_t clock_expiry(uint32_t wire, rel_time_t now, time_t started);

/* True when an item with server-time expiry exptime is expired at now; pure. */
static inline int clock_is_expired(rel_time_t exptime, rel_time_t now)
{
    return exptime != 0 && exptime <= now;
}

#endif
