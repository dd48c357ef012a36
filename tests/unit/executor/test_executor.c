/*
 * Executor pools: FIFO order on one thread, every job exactly once on many,
 * drain waits for queued and running jobs, stop waits for running jobs and
 * cancels the queued ones, and a stopped pool refuses new jobs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "executor/executor.h"

#define NJOBS 2000

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

struct order {
    int seq[NJOBS];
    int n; /* written by the pool's only thread; read after drain */
};

struct order_job {
    struct order *o;
    int i;
};

static void order_run(void *arg, bool cancelled)
{
    struct order_job *j = arg;
    if (!cancelled)
        j->o->seq[j->o->n++] = j->i;
    free(j);
}

static void test_fifo_on_one_thread(void **state)
{
    struct executor_pool *p = executor_pool_create("fifo", 1);
    assert_non_null(p);
    assert_string_equal(executor_pool_name(p), "fifo");
    assert_int_equal(executor_pool_threads(p), 1);
    struct order *o = calloc(1, sizeof(*o));
    assert_non_null(o);
    for (int i = 0; i < NJOBS; i++) {
        struct order_job *j = malloc(sizeof(*j));
        assert_non_null(j);
        *j = (struct order_job){o, i};
        assert_int_equal(executor_submit(p, order_run, j), 0);
    }
    executor_drain(p);
    assert_int_equal(o->n, NJOBS);
    for (int i = 0; i < NJOBS; i++)
        assert_int_equal(o->seq[i], i);
    executor_pool_destroy(&p);
    assert_null(p);
    free(o);
}

struct counts {
    atomic_int ran[NJOBS];
    atomic_int total;
    atomic_int cancelled;
};

struct count_job {
    struct counts *c;
    int i;
};

static void count_run(void *arg, bool cancelled)
{
    struct count_job *j = arg;
    if (cancelled)
        atomic_fetch_add(&j->c->cancelled, 1);
    else
        atomic_fetch_add(&j->c->ran[j->i], 1);
    atomic_fetch_add(&j->c->total, 1);
    free(j);
}

static void submit_count(struct executor_pool *p, struct counts *c, int i)
{
    struct count_job *j = malloc(sizeof(*j));
    assert_non_null(j);
    *j = (struct count_job){c, i};
    assert_int_equal(executor_submit(p, count_run, j), 0);
}

static void test_every_job_once_on_many_threads(void **state)
{
    struct executor_pool *p = executor_pool_create("many", 4);
    assert_non_null(p);
    struct counts *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    for (int i = 0; i < NJOBS; i++)
        submit_count(p, c, i);
    executor_drain(p);
    /* drain returned: every job has finished, none is left. */
    assert_int_equal(atomic_load(&c->total), NJOBS);
    for (int i = 0; i < NJOBS; i++)
        assert_int_equal(atomic_load(&c->ran[i]), 1);
    executor_drain(p); /* nothing queued: returns at once */
    executor_pool_destroy(&p);
    free(c);
}

struct slow {
    atomic_int started;
    atomic_int finished;
};

static void slow_run(void *arg, bool cancelled)
{
    struct slow *s = arg;
    atomic_store(&s->started, 1);
    sleep_us(50 * 1000);
    atomic_store(&s->finished, 1);
}

static void test_stop_waits_for_running_job(void **state)
{
    struct executor_pool *p = executor_pool_create("slow", 2);
    assert_non_null(p);
    struct slow s = {0, 0};
    assert_int_equal(executor_submit(p, slow_run, &s), 0);
    for (int i = 0; i < 5000 && !atomic_load(&s.started); i++)
        sleep_us(1000);
    assert_int_equal(atomic_load(&s.started), 1);
    executor_stop(p);
    assert_int_equal(atomic_load(&s.finished), 1);
    executor_stop(p); /* idempotent */
    executor_pool_destroy(&p);
}

struct gate {
    struct executor_pool *p;
    struct counts *c;
    atomic_int extra;   /* jobs the gate itself queued before the pool stopped */
    atomic_int started; /* the gate job is running */
};

static void gate_noop(void *arg, bool cancelled)
{
    struct counts *c = arg;
    atomic_fetch_add(cancelled ? &c->cancelled : &c->total, 1);
}

/* Runs until the pool refuses a submit, i.e. until executor_stop has begun. */
static void gate_run(void *arg, bool cancelled)
{
    struct gate *g = arg;
    assert_false(cancelled);
    atomic_store(&g->started, 1);
    while (executor_submit(g->p, gate_noop, g->c) == 0) {
        atomic_fetch_add(&g->extra, 1);
        sleep_us(1000);
    }
}

static void test_stop_cancels_queued_jobs(void **state)
{
    struct executor_pool *p = executor_pool_create("gate", 1);
    assert_non_null(p);
    struct counts *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    struct gate g = {.p = p, .c = c};
    assert_int_equal(executor_submit(p, gate_run, &g), 0);
    for (int i = 0; i < 10; i++)
        submit_count(p, c, i);
    /* Stop only once the gate runs: on a loaded machine its thread may start late. */
    for (int i = 0; i < 5000 && !atomic_load(&g.started); i++)
        sleep_us(1000);
    assert_int_equal(atomic_load(&g.started), 1);
    executor_stop(p);
    /* The gate job ran; everything behind it was cancelled, none ran. */
    assert_int_equal(atomic_load(&c->cancelled), 10 + atomic_load(&g.extra));
    for (int i = 0; i < 10; i++)
        assert_int_equal(atomic_load(&c->ran[i]), 0);
    assert_int_equal(executor_submit(p, gate_noop, c), -1);
    executor_drain(p); /* a stopped pool has nothing to wait for */
    executor_pool_destroy(&p);
    free(c);
}

static void test_bad_thread_count(void **state)
{
    assert_null(executor_pool_create("none", 0));
}

static void test_server_set(void **state)
{
    struct executors x;
    assert_int_equal(executors_setup(&x, 3, 1, 1), 0);
    assert_string_equal(executor_pool_name(x.pool[EXECUTOR_READER]), "reader");
    assert_string_equal(executor_pool_name(x.pool[EXECUTOR_WRITER]), "writer");
    assert_string_equal(executor_pool_name(x.pool[EXECUTOR_AUX]), "aux");
    assert_int_equal(executor_pool_threads(x.pool[EXECUTOR_READER]), 3);
    struct counts *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    for (int k = 0; k < EXECUTOR_KINDS; k++)
        submit_count(x.pool[k], c, k);
    for (int k = 0; k < EXECUTOR_KINDS; k++)
        executor_drain(x.pool[k]);
    assert_int_equal(atomic_load(&c->total), EXECUTOR_KINDS);
    executors_teardown(&x);
    for (int k = 0; k < EXECUTOR_KINDS; k++)
        assert_null(x.pool[k]);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_on_one_thread),
        cmocka_unit_test(test_every_job_once_on_many_threads),
        cmocka_unit_test(test_stop_waits_for_running_job),
        cmocka_unit_test(test_stop_cancels_queued_jobs),
        cmocka_unit_test(test_bad_thread_count),
        cmocka_unit_test(test_server_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
