/*
 * A load-generator worker thread: its event loop, its connections, and the
 * phases it runs (connect, prefill, measured run) in step with the main
 * thread through a barrier; the 1 s tick (progress counters, reply
 * timeouts), the run deadline and the open-loop send timer.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct timeval tv_of(uint64_t ns)
{
    return (struct timeval){.tv_sec = (time_t)(ns / 1000000000ull),
                            .tv_usec = (suseconds_t)(ns % 1000000000ull / 1000)};
}

void thread_maybe_finish(struct bench_thread *t)
{
    if (t->inflight != 0)
        return;
    if (t->phase == PHASE_PREFILL || t->stop || t->live == 0)
        event_base_loopbreak(t->base);
}

static void publish(struct bench_thread *t)
{
    atomic_store_explicit(&t->pub_ops, t->c.ops, memory_order_relaxed);
    atomic_store_explicit(&t->pub_gets, t->c.gets, memory_order_relaxed);
    atomic_store_explicit(&t->pub_hits, t->c.hits, memory_order_relaxed);
    uint64_t e = t->c.err_status + t->c.err_closed + t->c.err_timeout + t->c.err_protocol;
    atomic_store_explicit(&t->pub_errors, e, memory_order_relaxed);
}

/* Every second: progress counters, and connections silent for longer than --timeout fail. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct bench_thread *t = arg;
    publish(t);
    uint64_t now = bench_now_ns(), limit = (uint64_t)(t->o->timeout * 1e9);
    for (unsigned i = 0; i < t->nconns; i++) {
        struct bench_conn *c = &t->conns[i];
        if (!c->dead && c->count > 0 && now - c->last_progress > limit) {
            t->c.err_timeout += c->count;
            conn_fail(c, false);
        }
    }
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct bench_thread *t = arg;
    t->stop = true;
    thread_maybe_finish(t);
}

/* Open loop: sends what is due on every connection, then sleeps until the next send. */
static void on_sched(evutil_socket_t fd, short what, void *arg)
{
    struct bench_thread *t = arg;
    uint64_t now = bench_now_ns(), next = UINT64_MAX;
    for (unsigned i = 0; i < t->nconns; i++) {
        struct bench_conn *c = &t->conns[i];
        if (c->dead)
            continue;
        load_refill(c, now);
        /* A connection at its in-flight cap is looked at again in 1 ms. */
        uint64_t due = c->count < BENCH_OPEN_LOOP_CAP ? c->next_due : now + 1000000;
        if (due < next)
            next = due;
    }
    if (t->stop || next == UINT64_MAX)
        return;
    struct timeval tv = tv_of(next > now ? next - now : 0);
    evtimer_add(t->sched, &tv);
}

static int connect_all(struct bench_thread *t)
{
    const struct bench_opts *o = t->o;
    t->nconns = o->conns * o->nservers;
    t->conns = calloc(t->nconns, sizeof(*t->conns));
    if (!t->conns) {
        snprintf(t->fatal, sizeof(t->fatal), "out of memory");
        return -1;
    }
    for (unsigned j = 0; j < t->nconns; j++) {
        struct bench_conn *c = &t->conns[j];
        c->t = t;
        c->fd = -1;
        c->server = j % o->nservers;
        c->index_on_server = j / o->nservers;
        if (conn_open(c, &o->servers[c->server], t->fatal, sizeof(t->fatal)) != 0)
            return -1;
    }
    return 0;
}

static void run_prefill(struct bench_thread *t)
{
    t->phase = PHASE_PREFILL;
    t->pf_lo = t->o->keys * t->id / t->o->threads;
    t->pf_hi = t->o->keys * (t->id + 1) / t->o->threads;
    uint64_t now = bench_now_ns();
    /* The tick also fails connections whose replies stop coming, here as in the run. */
    struct timeval sec = {1, 0};
    event_add(t->tick, &sec);
    for (unsigned j = 0; j < t->nconns; j++) {
        t->conns[j].pf_next = t->pf_lo + t->conns[j].index_on_server;
        load_refill(&t->conns[j], now);
    }
    if (t->inflight > 0)
        event_base_dispatch(t->base);
    event_del(t->tick);
}

static void start_open_loop(struct bench_thread *t)
{
    const struct bench_opts *o = t->o;
    double step = 1e9 / o->rate; /* between two sends of the whole load */
    uint64_t start = atomic_load(&t->sh->start_ns);
    for (unsigned j = 0; j < t->nconns; j++) {
        /* Connections are staggered so the sends are evenly spaced overall. */
        unsigned g = t->id * t->nconns + j;
        t->conns[j].interval = (uint64_t)(step * t->sh->total_conns);
        t->conns[j].next_due = start + (uint64_t)(step * g);
    }
    struct timeval zero = {0, 0};
    evtimer_add(t->sched, &zero);
}

static void run_measured(struct bench_thread *t)
{
    const struct bench_opts *o = t->o;
    t->phase = PHASE_RUN;
    t->stop = false;
    struct timeval sec = {1, 0};
    event_add(t->tick, &sec);
    if (o->requests) {
        t->quota = o->requests / o->threads + (t->id < o->requests % o->threads);
        t->stop = t->quota == 0;
    } else {
        struct timeval d = tv_of((uint64_t)(o->duration * 1e9));
        evtimer_add(t->deadline, &d);
    }
    if (o->rate > 0) {
        start_open_loop(t);
    } else {
        uint64_t now = bench_now_ns();
        for (unsigned j = 0; j < t->nconns; j++)
            load_refill(&t->conns[j], now);
    }
    if (!(t->inflight == 0 && (t->stop || t->live == 0)))
        event_base_dispatch(t->base);
    publish(t);
}

static int setup_base(struct bench_thread *t)
{
    struct event_config *cfg = event_config_new();
    if (!cfg)
        return -1;
    event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK | EVENT_BASE_FLAG_PRECISE_TIMER);
    t->base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (!t->base)
        return -1;
    t->tick = event_new(t->base, -1, EV_PERSIST, on_tick, t);
    t->deadline = evtimer_new(t->base, on_deadline, t);
    t->sched = evtimer_new(t->base, on_sched, t);
    return t->tick && t->deadline && t->sched ? 0 : -1;
}

static void teardown(struct bench_thread *t)
{
    for (unsigned j = 0; t->conns && j < t->nconns; j++)
        conn_close(&t->conns[j]);
    free(t->conns);
    t->conns = NULL;
    if (t->tick)
        event_free(t->tick);
    if (t->deadline)
        event_free(t->deadline);
    if (t->sched)
        event_free(t->sched);
    if (t->base)
        event_base_free(t->base);
}

void *bench_thread_main(void *arg)
{
    struct bench_thread *t = arg;
    struct bench_shared *sh = t->sh;
    rng_seed(&t->rng, t->o->seed * 0x9e3779b97f4a7c15ull + t->id);
    hist_init(&t->h_get);
    hist_init(&t->h_set);
    if (setup_base(t) != 0) {
        snprintf(t->fatal, sizeof(t->fatal), "cannot set up an event loop");
        atomic_fetch_add(&sh->failed, 1);
    } else if (connect_all(t) != 0) {
        atomic_fetch_add(&sh->failed, 1);
    }
    pthread_barrier_wait(&sh->barrier); /* 1: connected */
    bool ok = atomic_load(&sh->failed) == 0;
    if (ok && t->o->prefill)
        run_prefill(t);
    pthread_barrier_wait(&sh->barrier); /* 2: prefilled; main sets start_ns */
    pthread_barrier_wait(&sh->barrier); /* 3: go */
    if (ok)
        run_measured(t);
    teardown(t);
    atomic_store(&t->done, true);
    return NULL;
}
