/*
 * A mutex for short critical sections (the memory engine's shard locks): one
 * atomic instruction to take and one to drop when nobody waits, a futex wait
 * when somebody does. Not recursive; no condition variables. Any thread.
 */
#ifndef BASALT_BASE_LOCK_H
#define BASALT_BASE_LOCK_H

#include <stdatomic.h>
#include <stdint.h>

struct lock {
    /* 0: free; 1: held, nobody waits; 2: held, and a thread may be waiting. */
    _Atomic uint32_t state;
};

/* A free lock, for static and compound-literal initialisers. */
#define LOCK_INIT                                                                                  \
    {                                                                                              \
        0                                                                                          \
    }

/* Waits in the kernel until l is free, then takes it (the contended path of lock_take). */
void lock_take_slow(struct lock *l);

/* Wakes one waiter of l (the contended path of lock_drop). */
void lock_wake(struct lock *l);

/* Makes l free; it must not be held. */
static inline void lock_init(struct lock *l)
{
    atomic_init(&l->state, 0);
}

/* Takes l, waiting while another thread holds it; acquire ordering. */
static inline void lock_take(struct lock *l)
{
    uint32_t free_state = 0;
    if (!atomic_compare_exchange_strong_explicit(&l->state, &free_state, 1, memory_order_acquire,
                                                 memory_order_relaxed))
        lock_take_slow(l);
}

/* Drops l, which the caller holds; release ordering. */
static inline void lock_drop(struct lock *l)
{
    if (atomic_exchange_explicit(&l->state, 0, memory_order_release) == 2)
        lock_wake(l);
}

#endif
