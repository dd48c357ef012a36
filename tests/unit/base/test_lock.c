/*
 * struct lock (base/lock.h): mutual exclusion among threads that contend for
 * it all the time, and waiters asleep in the kernel are woken by the drops:
 * one waiter, and two (the first to wake must leave the word marked so that
 * its own drop wakes the second). A missing wake-up fails a bounded join.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/lock.h"

#define THREADS 4
#define ROUNDS 20000

struct shared {
    struct lock lock;
    long counter;      /* guarded by lock; a plain long so a lost update shows */
    int inside;        /* guarded by lock: threads inside the section */
    bool overlap;      /* a thread found another inside */
    bool saw_2;        /* inside the section, the word said a waiter may sleep */
    atomic_int tid[2]; /* waiter tests: each waiter's thread id once it runs */
};

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void *hammer(void *arg)
{
    struct shared *s = arg;
    for (int i = 0; i < ROUNDS; i++) {
        lock_take(&s->lock);
        if (s->inside++ != 0)
            s->overlap = true;
        if (atomic_load(&s->lock.state) == 2)
            s->saw_2 = true;
        long v = s->counter;
        if (i % 64 == 0)
            sched_yield(); /* let others pile up on the lock, so the futex path runs */
        s->counter = v + 1;
        s->inside--;
        lock_drop(&s->lock);
    }
    return NULL;
}

/* Joins t, failing the test (instead of hanging) when it does not end within seconds. */
static void join_within(pthread_t t, int seconds)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += seconds;
    assert_int_equal(pthread_timedjoin_np(t, NULL, &deadline), 0);
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
        join_within(t[i], 60);
    assert_false(s.overlap);
    assert_int_equal(s.counter, (long)THREADS * ROUNDS);
    assert_true(s.saw_2); /* the contended path ran */
    assert_int_equal(atomic_load(&s.lock.state), 0);
}

struct waiter_arg {
    struct shared *s;
    int slot;
};

static void *waiter(void *arg)
{
    struct waiter_arg *a = arg;
    atomic_store(&a->s->tid[a->slot], (int)syscall(SYS_gettid));
    lock_take(&a->s->lock); /* the main thread holds it: this sleeps until a drop */
    a->s->counter++;
    lock_drop(&a->s->lock);
    return NULL;
}

/* True once thread tid sleeps in the kernel (state S in its stat), polled for up to 5 s. */
static bool asleep(int tid)
{
    char path[64], buf[256];
    snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
    for (int i = 0; i < 5000; i++) {
        FILE *f = fopen(path, "r");
        if (f != NULL) {
            size_t n = fread(buf, 1, sizeof(buf) - 1, f);
            fclose(f);
            buf[n] = '\0';
            const char *close = strrchr(buf, ')'); /* the name may hold spaces */
            if (close != NULL && close[1] == ' ' && close[2] == 'S')
                return true;
        }
        sleep_ms(1);
    }
    return false;
}

static void run_waiters(int nwaiters)
{
    struct shared s = {.counter = 0};
    lock_init(&s.lock);
    lock_take(&s.lock);
    pthread_t t[2];
    struct waiter_arg args[2];
    for (int i = 0; i < nwaiters; i++) {
        args[i] = (struct waiter_arg){.s = &s, .slot = i};
        assert_int_equal(pthread_create(&t[i], NULL, waiter, &args[i]), 0);
    }
    for (int i = 0; i < nwaiters; i++) {
        while (atomic_load(&s.tid[i]) == 0)
            sleep_ms(1);
        assert_true(asleep(atomic_load(&s.tid[i])));
    }
    assert_int_equal(atomic_load(&s.lock.state), 2);
    assert_int_equal(s.counter, 0); /* nobody entered */
    lock_drop(&s.lock);             /* must wake one; its drop must wake the next */
    for (int i = 0; i < nwaiters; i++)
        join_within(t[i], 5);
    assert_int_equal(s.counter, nwaiters);
    assert_int_equal(atomic_load(&s.lock.state), 0);
}

static void test_sleeping_waiter_is_woken(void **state)
{
    (void)state;
    run_waiters(1);
}

static void test_two_sleeping_waiters_are_woken(void **state)
{
    (void)state;
    run_waiters(2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uncontended),
        cmocka_unit_test(test_contended_counter),
        cmocka_unit_test(test_sleeping_waiter_is_woken),
        cmocka_unit_test(test_two_sleeping_waiters_are_woken),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
