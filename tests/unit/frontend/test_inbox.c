/*
 * Inbox: messages run in the order posted, at most `batch` per loop
 * iteration, and posts from other threads wake the loop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdlib.h>

#include "frontend/inbox.h"

#define MAX_RUNS 4096

struct record {
    int ran[MAX_RUNS];
    int nran;
};

struct msg {
    struct record *rec;
    int seq;
};

static void record_run(void *arg)
{
    struct msg *m = arg;
    m->rec->ran[m->rec->nran++] = m->seq;
    free(m);
}

static void post_seq(struct inbox *ib, struct record *rec, int seq)
{
    struct msg *m = malloc(sizeof(*m));
    assert_non_null(m);
    m->rec = rec;
    m->seq = seq;
    assert_int_equal(inbox_post(ib, record_run, m), 0);
}

/* Exactly n messages ran, in the order 0 .. n-1. */
static void assert_ran_in_order(const struct record *rec, int n)
{
    assert_int_equal(rec->nran, n);
    for (int i = 0; i < n; i++)
        assert_int_equal(rec->ran[i], i);
}

/* One loop iteration without waiting for anything. */
static void loop_once(struct event_base *base)
{
    event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
}

static void test_order_and_batch_limit(void **state)
{
    struct event_base *base = event_base_new();
    struct inbox *ib = inbox_create(base, 10);
    assert_non_null(ib);
    struct record rec = {.nran = 0};
    for (int i = 0; i < 25; i++)
        post_seq(ib, &rec, i);
    assert_int_equal(inbox_pending(ib), 25);

    loop_once(base);
    assert_int_equal(rec.nran, 10);
    loop_once(base);
    assert_int_equal(rec.nran, 20);
    loop_once(base);
    assert_int_equal(rec.nran, 25);
    assert_int_equal(inbox_pending(ib), 0);
    for (int i = 0; i < 25; i++)
        assert_int_equal(rec.ran[i], i);

    /* Once drained, a new post wakes the loop again. */
    post_seq(ib, &rec, 25);
    loop_once(base);
    assert_int_equal(rec.nran, 26);
    assert_int_equal(rec.ran[25], 25);
    inbox_destroy(&ib);
    assert_null(ib);
    event_base_free(base);
}

static void test_posts_during_drain_keep_order(void **state)
{
    struct event_base *base = event_base_new();
    struct inbox *ib = inbox_create(base, 3);
    struct record rec = {.nran = 0};
    post_seq(ib, &rec, 0);
    post_seq(ib, &rec, 1);
    loop_once(base);
    post_seq(ib, &rec, 2);
    post_seq(ib, &rec, 3);
    post_seq(ib, &rec, 4);
    post_seq(ib, &rec, 5);
    for (int i = 0; i < 4; i++)
        loop_once(base);
    assert_int_equal(rec.nran, 6);
    for (int i = 0; i < 6; i++)
        assert_int_equal(rec.ran[i], i);
    inbox_destroy(&ib);
    event_base_free(base);
}

static void test_destroy_runs_leftovers(void **state)
{
    struct event_base *base = event_base_new();
    struct inbox *ib = inbox_create(base, 10);
    struct record rec = {.nran = 0};
    for (int i = 0; i < 5; i++)
        post_seq(ib, &rec, i);
    /* Never looped: destroy must still run (and so free) every message. */
    inbox_destroy(&ib);
    assert_int_equal(rec.nran, 5);
    event_base_free(base);
}

struct poster {
    struct inbox *ib;
    struct record *rec;
    int first;
    int count;
};

static void *poster_main(void *arg)
{
    struct poster *p = arg;
    for (int i = 0; i < p->count; i++)
        post_seq(p->ib, p->rec, p->first + i);
    return NULL;
}

static void stop_loop(void *arg)
{
    event_base_loopbreak(arg);
}

static void test_cross_thread_posts(void **state)
{
    struct event_base *base = event_base_new();
    struct inbox *ib = inbox_create(base, 10);
    struct record rec = {.nran = 0};
    struct poster a = {ib, &rec, 0, 1000};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, poster_main, &a), 0);
    pthread_join(t, NULL);
    assert_int_equal(inbox_post(ib, stop_loop, base), 0);
    /* The loop runs until the last message (posted after the others) breaks it. */
    event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY);
    assert_ran_in_order(&rec, 1000);
    inbox_destroy(&ib);
    event_base_free(base);
}

struct stopping_poster {
    struct poster p;
    struct event_base *base;
};

/* Posts its messages, then one that breaks the loop. */
static void *stopping_poster_main(void *arg)
{
    struct stopping_poster *sp = arg;
    poster_main(&sp->p);
    assert_int_equal(inbox_post(sp->p.ib, stop_loop, sp->base), 0);
    return NULL;
}

/*
 * A worker's base has no lock (EVENT_BASE_FLAG_NOLOCK): posts from another
 * thread while the loop runs must wake it through the inbox's eventfd alone.
 */
static void test_posts_while_running_on_unlocked_base(void **state)
{
    struct event_config *cfg = event_config_new();
    assert_int_equal(event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK), 0);
    struct event_base *base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    assert_non_null(base);
    struct inbox *ib = inbox_create(base, 10);
    assert_non_null(ib);
    struct record rec = {.nran = 0};
    struct stopping_poster sp = {{ib, &rec, 0, 2000}, base};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, stopping_poster_main, &sp), 0);
    event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY);
    pthread_join(t, NULL);
    assert_ran_in_order(&rec, 2000);
    inbox_destroy(&ib);
    event_base_free(base);
}

int main(void)
{
    evthread_use_pthreads();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_batch_limit),
        cmocka_unit_test(test_posts_during_drain_keep_order),
        cmocka_unit_test(test_destroy_runs_leftovers),
        cmocka_unit_test(test_cross_thread_posts),
        cmocka_unit_test(test_posts_while_running_on_unlocked_base),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
