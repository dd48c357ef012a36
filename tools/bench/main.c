/*
 * basalt-bench entry point, main thread: parses the flags, builds the shared
 * key tables (ring placement, zipf), reads the servers' counters, starts the
 * worker threads and walks them through their phases, prints progress on a
 * terminal, merges the results and checks them against the servers' counters.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

/* Fills key_server (with several servers) and checks every server gets keys. */
static int place_keys(const struct bench_opts *o, uint16_t **out)
{
    *out = NULL;
    if (o->nservers == 1)
        return 0;
    const char *names[BENCH_MAX_SERVERS];
    uint64_t per[BENCH_MAX_SERVERS] = {0};
    for (unsigned s = 0; s < o->nservers; s++)
        names[s] = o->servers[s].name;
    struct ring g;
    uint16_t *ks = malloc(o->keys * sizeof(*ks));
    if (!ks || ring_init(&g, names, o->nservers) != 0) {
        free(ks);
        fputs("basalt-bench: out of memory for the key ring\n", stderr);
        return -1;
    }
    char key[BENCH_KEY_MAX];
    for (uint64_t k = 0; k < o->keys; k++) {
        size_t kl = key_name(key, sizeof(key), o->key_prefix, o->key_prefix_len, k);
        ks[k] = (uint16_t)ring_lookup(&g, key, kl);
        per[ks[k]]++;
    }
    ring_deinit(&g);
    for (unsigned s = 0; s < o->nservers; s++) {
        if (per[s] == 0) {
            fprintf(stderr, "basalt-bench: server %s gets no keys; raise --keys\n",
                    o->servers[s].name);
            free(ks);
            return -1;
        }
    }
    *out = ks;
    return 0;
}

static int probe_all(const struct bench_opts *o, uint64_t *sum, char *err, size_t errlen)
{
    *sum = 0;
    for (unsigned s = 0; s < o->nservers; s++) {
        uint64_t v;
        if (probe_requests(&o->servers[s], o->proto, &v, err, errlen) != 0)
            return -1;
        *sum += v;
    }
    return 0;
}

static bool all_done(struct bench_thread *ts, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (!atomic_load(&ts[i].done))
            return false;
    }
    return true;
}

/* Waits for the workers; on a terminal prints one progress line a second on stderr. */
static void watch(struct bench_thread *ts, unsigned n)
{
    bool tty = isatty(STDERR_FILENO);
    uint64_t start = bench_now_ns(), next = start + 1000000000ull, last_ops = 0;
    while (!all_done(ts, n)) {
        struct timespec nap = {0, 20000000};
        nanosleep(&nap, NULL);
        uint64_t now = bench_now_ns();
        if (!tty || now < next)
            continue;
        uint64_t ops = 0, gets = 0, hits = 0, errs = 0;
        for (unsigned i = 0; i < n; i++) {
            ops += atomic_load_explicit(&ts[i].pub_ops, memory_order_relaxed);
            gets += atomic_load_explicit(&ts[i].pub_gets, memory_order_relaxed);
            hits += atomic_load_explicit(&ts[i].pub_hits, memory_order_relaxed);
            errs += atomic_load_explicit(&ts[i].pub_errors, memory_order_relaxed);
        }
        fprintf(stderr, "[%4.0fs] %10.0f ops/s  hit %.3f  errors %llu\n",
                (double)(now - start) / 1e9, (double)(ops - last_ops),
                gets ? (double)hits / (double)gets : 0.0, (unsigned long long)errs);
        last_ops = ops;
        next += 1000000000ull;
    }
}

static void merge(struct bench_thread *ts, unsigned n, struct bench_result *r)
{
    uint64_t first = UINT64_MAX, last = 0;
    for (unsigned i = 0; i < n; i++) {
        const struct bench_counts *k = &ts[i].c;
        struct bench_counts *c = &r->c;
        c->ops += k->ops;
        c->reqs += k->reqs;
        c->gets += k->gets;
        c->sets += k->sets;
        c->hits += k->hits;
        c->misses += k->misses;
        c->prefill_sets += k->prefill_sets;
        c->err_status += k->err_status;
        c->err_closed += k->err_closed;
        c->err_timeout += k->err_timeout;
        c->err_protocol += k->err_protocol;
        c->conns_lost += k->conns_lost;
        if (k->first_ns && k->first_ns < first)
            first = k->first_ns;
        if (k->last_ns > last)
            last = k->last_ns;
        hist_merge(r->get, &ts[i].h_get);
        hist_merge(r->set, &ts[i].h_set);
    }
    hist_merge(r->all, r->get);
    hist_merge(r->all, r->set);
    r->elapsed_s = last > first && first != UINT64_MAX ? (double)(last - first) / 1e9 : 0.0;
}

/* Starts the workers, steps them through the barrier, waits, merges. 0, or -1 when one failed. */
static int run_threads(struct bench_opts *o, struct bench_shared *sh, struct bench_result *r)
{
    struct bench_thread *ts = calloc(o->threads, sizeof(*ts));
    pthread_t *tids = calloc(o->threads, sizeof(*tids));
    if (!ts || !tids || pthread_barrier_init(&sh->barrier, NULL, o->threads + 1) != 0) {
        fputs("basalt-bench: out of memory\n", stderr);
        exit(1);
    }
    for (unsigned i = 0; i < o->threads; i++) {
        ts[i].id = i;
        ts[i].sh = sh;
        ts[i].o = o;
        if (pthread_create(&tids[i], NULL, bench_thread_main, &ts[i]) != 0) {
            fputs("basalt-bench: cannot start a thread\n", stderr);
            exit(1);
        }
    }
    pthread_barrier_wait(&sh->barrier); /* connected */
    pthread_barrier_wait(&sh->barrier); /* prefilled */
    atomic_store(&sh->start_ns, bench_now_ns());
    pthread_barrier_wait(&sh->barrier); /* go */
    watch(ts, o->threads);
    int rc = 0;
    for (unsigned i = 0; i < o->threads; i++) {
        pthread_join(tids[i], NULL);
        if (ts[i].fatal[0]) {
            fprintf(stderr, "basalt-bench: thread %u: %s\n", i, ts[i].fatal);
            rc = -1;
        }
    }
    merge(ts, o->threads, r);
    pthread_barrier_destroy(&sh->barrier);
    free(ts);
    free(tids);
    return rc;
}

static int setup_shared(struct bench_opts *o, struct bench_shared *sh, struct zipf *z)
{
    sh->o = o;
    sh->total_conns = o->threads * o->conns * o->nservers;
    uint16_t *ks;
    if (place_keys(o, &ks) != 0)
        return -1;
    sh->key_server = ks;
    uint8_t *filler = malloc(o->vmax + 1);
    if (!filler || (o->dist == DIST_ZIPF && zipf_init(z, o->keys, o->zipf_s) != 0)) {
        fputs("basalt-bench: out of memory\n", stderr);
        return -1;
    }
    for (uint32_t i = 0; i <= o->vmax; i++)
        filler[i] = (uint8_t)('a' + i % 26);
    sh->filler = filler;
    sh->zipf = o->dist == DIST_ZIPF ? z : NULL;
    return 0;
}

int main(int argc, char **argv)
{
    static struct bench_opts o;
    int prc = opts_parse(&o, argc, argv);
    if (prc != 0)
        return prc > 0 ? 0 : 2;
    struct bench_shared sh = {0};
    struct zipf z = {0};
    if (setup_shared(&o, &sh, &z) != 0)
        return 2;
    struct bench_result r = {.get = malloc(sizeof(struct hist)),
                             .set = malloc(sizeof(struct hist)),
                             .all = malloc(sizeof(struct hist))};
    if (!r.get || !r.set || !r.all)
        return 1;
    hist_init(r.get);
    hist_init(r.set);
    hist_init(r.all);
    uint64_t before = 0, after = 0;
    bool check = o.check_stats && probe_all(&o, &before, r.stats_note, sizeof(r.stats_note)) == 0;
    if (!o.check_stats)
        snprintf(r.stats_note, sizeof(r.stats_note), "--no-check-stats");
    int rc = run_threads(&o, &sh, &r);
    if (check && probe_all(&o, &after, r.stats_note, sizeof(r.stats_note)) == 0) {
        r.stats_checked = true;
        r.server_delta = after - before;
        r.client_total = r.c.gets + r.c.sets + r.c.prefill_sets;
        r.stats_agree = r.server_delta == r.client_total;
    }
    report_print(&o, &r);
    bool bad = rc != 0 || report_errors(&r.c) != 0 || (r.stats_checked && !r.stats_agree);
    free(r.get);
    free(r.set);
    free(r.all);
    free((void *)sh.key_server);
    free((void *)sh.filler);
    zipf_deinit(&z);
    bench_tls_ctx_free(o.tls_ctx);
    return bad ? 1 : 0;
}
