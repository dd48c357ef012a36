/*
 * The contended paths of struct lock (lock.h): waiting and waking through the
 * futex on the lock's state word. Any thread.
 */
#include "base/lock.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

void lock_take_slow(struct lock *l)
{
    /*
     * Marking the word 2 before sleeping makes the holder's lock_drop wake
     * somebody. A thread that takes the lock this way leaves it at 2, so its
     * own drop wakes the next waiter, if any: a spare wake-up costs a system
     * call, a lost one would hang a thread.
     */
    while (atomic_exchange_explicit(&l->state, 2, memory_order_acquire) != 0)
        syscall(SYS_futex, &l->state, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
}

void lock_wake(struct lock *l)
{
    syscall(SYS_futex, &l->state, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
