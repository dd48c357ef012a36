/*
 * struct lock (base/lock.h): mutual exclusion among threads that contend for
 * it all the time, and a waiter that sleeps in the kernel is woken by the
 * holder's drop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "base/lock.h"

#define THREADS 4
#define ROUNDS 20000

struct shared {
    struct lock lock;
    long counter;     /* guarded by lock; a plain long so a lost update shows */
    int inside;       /* guarded by lock: threads inside the section */
    bool overlap;     /* a thread found another inside */
    atomic_int phase; /* waiter test: 1 once the holder has the lock */
};

static void *hammer(void *arg)
{
    struct shared *s = arg;
    for (int i = 0; i < ROUNDS; i++) {
        lock_take(&s->lock);
        if (s->inside++ != 0)
            s->overlap = true;
        long v = s->counter;
        if (i % 64 == 0)
            sched_yield(); /* let others pile up on the lock, so the futex path runs */
        s->counter = v + 1;
        s->inside--;
        lock_drop(&s->lock);
    }
    return NULL;
}

static void test_uncontended(void **state)
{
    (void)state;
    struct lock l = LOCK_INIT;
    for (int i = 0; i < 3; i++) {
        lock_take(&l);
        assert_int_equal(atomic_load(&l.state), 1);
        lock_drop(&l);
        assert_int_equal(atomic_load(&l.state), 0);
    }
}

static void test_contended_counter(void **state)
{
    (void)state;
    struct shared s = {.counter = 0};
    lock_init(&s.lock);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &s), 0);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_false(s.overlap);
    assert_int_equal(s.counter, (long)THREADS * ROUNDS);
    assert_int_equal(atomic_load(&s.lock.state), 0);
}

static void *waiter(void *arg)
{
    struct shared *s = arg;
    lock_take(&s->lock); /* the main thread holds it: this sleeps until the drop */
    s->counter++;
    lock_drop(&s->lock);
    return NULL;
}

static void test_sleeping_waiter_is_woken(void **state)
{
    (void)state;
    struct shared s = {.counter = 0};
    lock_init(&s.lock);
    lock_take(&s.lock);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, waiter, &s), 0);
    /* The waiter marks the word 2 before it sleeps; wait (bounded) until it has. */
    for (int i = 0; i < 5000 && atomic_load(&s.lock.state) != 2; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(atomic_load(&s.lock.state), 2);
    assert_int_equal(s.counter, 0); /* it has not entered */
    lock_drop(&s.lock);             /* must wake it, or the join below hangs */
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(s.counter, 1);
    assert_int_equal(atomic_load(&s.lock.state), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uncontended),
        cmocka_unit_test(test_contended_counter),
        cmocka_unit_test(test_sleeping_waiter_is_woken),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
