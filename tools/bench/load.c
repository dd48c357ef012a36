/*
 * What the load generator sends and what it counts: key and value choice,
 * the closed-loop window, the open-loop schedule, prefill, and the accounting
 * of each completed request. Runs on the worker thread that owns the
 * connection.
 */
#include <event2/event.h>
#include <string.h>

#include "bench.h"

/* A key index of the connection's server: draws until the ring says so. */
static uint64_t pick_key(struct bench_thread *t, unsigned server)
{
    for (;;) {
        uint64_t k =
            t->sh->zipf ? zipf_sample(t->sh->zipf, &t->rng) : rng_below(&t->rng, t->o->keys);
        if (!t->sh->key_server || t->sh->key_server[k] == server)
            return k;
    }
}

static size_t name_of(const struct bench_thread *t, uint64_t k, char *buf)
{
    return key_name(buf, BENCH_KEY_MAX, t->o->key_prefix, t->o->key_prefix_len, k);
}

static uint32_t pick_vlen(struct bench_thread *t)
{
    const struct bench_opts *o = t->o;
    return o->vmin + (uint32_t)rng_below(&t->rng, (uint64_t)(o->vmax - o->vmin) + 1);
}

/* Takes up to want keys from the --requests quota; 0 when it is used up. */
static unsigned take_quota(struct bench_thread *t, unsigned want)
{
    if (t->o->requests == 0)
        return want;
    if (t->quota < want)
        want = (unsigned)t->quota;
    t->quota -= want;
    if (t->quota == 0)
        t->stop = true;
    return want;
}

/* Issues one measured request (or multi-get batch) whose latency starts at start. */
static void issue(struct bench_conn *c, uint64_t start)
{
    struct bench_thread *t = c->t;
    const struct bench_opts *o = t->o;
    char key[BENCH_KEY_MAX];
    bool set = rng_below(&t->rng, o->ratio_set + o->ratio_get) < o->ratio_set;
    unsigned n = take_quota(t, set || !o->multiget ? 1 : o->multiget);
    if (n == 0)
        return;
    if (t->c.first_ns == 0)
        t->c.first_ns = start;
    if (set) {
        size_t kl = name_of(t, pick_key(t, c->server), key);
        struct req_slot *s = conn_push(c, REQ_SET, 1, start);
        proto_encode_set(c, key, kl, pick_vlen(t), s->opaque);
    } else if (o->multiget) {
        struct req_slot *s = conn_push(c, REQ_MGET, (uint16_t)n, start);
        for (unsigned i = 0; i < n; i++) {
            size_t kl = name_of(t, pick_key(t, c->server), key);
            proto_encode_mget_key(c, key, kl, s->opaque, i == 0);
        }
        proto_encode_mget_end(c, s->opaque);
    } else {
        size_t kl = name_of(t, pick_key(t, c->server), key);
        struct req_slot *s = conn_push(c, REQ_GET, 1, start);
        proto_encode_get(c, key, kl, s->opaque);
    }
}

/* Issues the next prefill set of this connection; false when it has none left. */
static bool prefill_one(struct bench_conn *c, uint64_t now)
{
    struct bench_thread *t = c->t;
    const uint16_t *ks = t->sh->key_server;
    while (c->pf_next < t->pf_hi && ks && ks[c->pf_next] != c->server)
        c->pf_next += t->o->conns;
    if (c->pf_next >= t->pf_hi)
        return false;
    char key[BENCH_KEY_MAX];
    size_t kl = name_of(t, c->pf_next, key);
    c->pf_next += t->o->conns;
    struct req_slot *s = conn_push(c, REQ_PREFILL, 1, now);
    proto_encode_set(c, key, kl, pick_vlen(t), s->opaque);
    return true;
}

void load_fill(struct bench_conn *c)
{
    struct bench_thread *t = c->t;
    if (t->phase == PHASE_PREFILL) {
        uint64_t now = bench_now_ns();
        while (!c->dead && c->count < BENCH_PREFILL_DEPTH && prefill_one(c, now)) {
        }
        return;
    }
    uint64_t now = 0;
    while (!c->dead && !t->stop && c->count < t->o->pipeline) {
        if (now == 0)
            now = bench_now_ns();
        issue(c, now);
    }
}

void load_due(struct bench_conn *c, uint64_t now)
{
    struct bench_thread *t = c->t;
    while (!c->dead && !t->stop && c->next_due <= now && c->count < BENCH_OPEN_LOOP_CAP) {
        /* Latency starts at the scheduled time, however late the send is. */
        issue(c, c->next_due);
        c->next_due += c->interval;
    }
}

void load_refill(struct bench_conn *c, uint64_t now)
{
    if (c->t->phase == PHASE_RUN && c->t->o->rate > 0)
        load_due(c, now);
    else
        load_fill(c);
    conn_flush(c);
}

static void count_reply(struct bench_thread *t, const struct req_slot *s,
                        const struct parse_state *ps, uint64_t lat)
{
    struct bench_counts *k = &t->c;
    k->err_status += ps->errors;
    switch ((enum req_kind)s->kind) {
    case REQ_PREFILL:
        k->prefill_sets++;
        return;
    case REQ_SET:
        k->sets++;
        k->ops++;
        hist_record(&t->h_set, lat);
        break;
    case REQ_GET:
    case REQ_MGET:
        k->gets += s->nkeys;
        k->ops += s->nkeys;
        k->hits += ps->hits;
        k->misses += ps->hits + ps->errors >= s->nkeys ? 0 : s->nkeys - ps->hits - ps->errors;
        hist_record(&t->h_get, lat);
        break;
    }
    k->reqs++;
}

void load_complete(struct bench_conn *c, uint64_t now)
{
    struct bench_thread *t = c->t;
    const struct req_slot *s = &c->slots[c->head];
    count_reply(t, s, &c->ps, now > s->start_ns ? now - s->start_ns : 0);
    if (t->phase == PHASE_RUN)
        t->c.last_ns = now;
    c->head = (c->head + 1) % c->cap;
    c->count--;
    t->inflight--;
    memset(&c->ps, 0, sizeof(c->ps));
    c->last_progress = now;
}
