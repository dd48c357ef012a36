/*
 * The wouldblock engine. Every op first passes wb_gate, which decides from
 * the connection's mode whether the call blocks. A blocking call returns
 * ENGINE_EWOULDBLOCK after queueing a completion job on the reader pool; the
 * job sleeps delay_us, marks the cookie's engine-private slot "done" (success
 * only) and calls host->notify. When the front-end makes the same call again
 * the gate finds the mark, clears it, and the call goes to the inner engine.
 * In never mode the cookie is parked until the engine's disconnect, which
 * notifies it with ENGINE_DISCONNECT.
 *
 * Ops and disconnect run on worker threads, jobs on reader threads; the
 * per-connection modes and the parked cookies are guarded by one mutex.
 */
#include "engines/wouldblock/wouldblock.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A cookie in one of the engine's lists: a connection with its own mode, or a parked call. */
struct wb_node {
    struct wb_node *next;
    const void *cookie;
    struct wouldblock_mode mode; /* conns only */
};

struct wb_engine {
    struct engine base;
    struct engine *inner;
    const struct engine_host *host;
    struct executor_pool *pool;
    struct wouldblock_mode mode;
    unsigned delay_us;
    pthread_mutex_t lock;   /* guards conns and parked */
    struct wb_node *conns;  /* connections with their own mode (test_control) */
    struct wb_node *parked; /* cookies blocked in never mode */
};

/* A completion on the reader pool; holds no pointer into the engine. */
struct wb_job {
    const struct engine_host *host;
    const void *cookie;
    engine_status status;
    unsigned delay_us;
};

/* The mark a finished job leaves in the cookie's engine-private slot. */
static char wb_done;

static struct wb_engine *wb_of(struct engine *e)
{
    return (struct wb_engine *)e;
}

static int wb_parse_status(const char *name, struct wouldblock_mode *out)
{
    for (int s = ENGINE_SUCCESS; s <= ENGINE_FAILED; s++) {
        if (s != ENGINE_EWOULDBLOCK && strcmp(name, engine_status_str((engine_status)s)) == 0) {
            out->status = (engine_status)s;
            return 0;
        }
    }
    return -1;
}

int wouldblock_mode_parse(const char *s, size_t len, struct wouldblock_mode *out, char *err,
                          size_t errlen)
{
    char buf[64];
    if (len == 0 || len >= sizeof(buf) || memchr(s, '\0', len) != NULL) {
        snprintf(err, errlen, "mode must be 1 to %zu characters", sizeof(buf) - 1);
        return -1;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    *out = (struct wouldblock_mode){.kind = WOULDBLOCK_ALWAYS, .p = 1.0, .status = ENGINE_SUCCESS};
    if (strcmp(buf, "always") == 0)
        return 0;
    if (strcmp(buf, "never") == 0) {
        out->kind = WOULDBLOCK_NEVER;
        return 0;
    }
    if (strncmp(buf, "random:", 7) == 0) {
        char *end;
        errno = 0;
        double p = strtod(buf + 7, &end);
        if (buf[7] == '\0' || *end != '\0' || errno != 0 || !(p >= 0.0 && p <= 1.0)) {
            snprintf(err, errlen, "'%s': random:P needs a probability P from 0 to 1", buf);
            return -1;
        }
        out->kind = WOULDBLOCK_RANDOM;
        out->p = p;
        return 0;
    }
    if (strncmp(buf, "error:", 6) == 0) {
        out->kind = WOULDBLOCK_ERROR;
        if (wb_parse_status(buf + 6, out) == 0)
            return 0;
        snprintf(err, errlen, "'%s': error:STATUS needs an engine status such as key_enoent", buf);
        return -1;
    }
    snprintf(err, errlen, "'%s': mode must be always, random:P, error:STATUS or never", buf);
    return -1;
}

/* A uniform draw in [0, 1) from a per-thread xorshift generator. */
static double wb_draw(void)
{
    static _Thread_local uint64_t state;
    if (state == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        state = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)(uintptr_t)&state ^ 0x9e3779b97f4a7c15u;
    }
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (double)(state >> 11) / (double)(UINT64_C(1) << 53);
}

/* The mode of cookie's connection: its own if it set one, else the engine's. */
static struct wouldblock_mode wb_mode_of(struct wb_engine *wb, const void *cookie)
{
    struct wouldblock_mode m = wb->mode;
    pthread_mutex_lock(&wb->lock);
    for (struct wb_node *c = wb->conns; c != NULL; c = c->next) {
        if (c->cookie == cookie) {
            m = c->mode;
            break;
        }
    }
    pthread_mutex_unlock(&wb->lock);
    return m;
}

static void wb_sleep_us(unsigned us)
{
    struct timespec ts = {us / 1000000u, (long)(us % 1000000u) * 1000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Reader thread: waits, leaves the done mark on success, and notifies. */
static void wb_job_run(void *arg, bool cancelled)
{
    struct wb_job *j = arg;
    if (!cancelled) {
        if (j->delay_us > 0)
            wb_sleep_us(j->delay_us);
        /* Written before notify: the inbox's lock orders it before the worker reads it. */
        if (j->status == ENGINE_SUCCESS)
            j->host->set_private(j->cookie, &wb_done);
        j->host->notify(j->cookie, j->status);
    }
    free(j);
}

/* Queues a completion with status; SUCCESS (call now) if it cannot be queued. */
static engine_status wb_block(struct wb_engine *wb, const void *cookie, engine_status status)
{
    struct wb_job *j = malloc(sizeof(*j));
    if (j == NULL)
        return ENGINE_SUCCESS;
    *j = (struct wb_job){wb->host, cookie, status, wb->delay_us};
    if (executor_submit(wb->pool, wb_job_run, j) != 0) {
        free(j);
        return ENGINE_SUCCESS;
    }
    return ENGINE_EWOULDBLOCK;
}

/* Never mode: keeps the cookie until its connection goes away. */
static engine_status wb_park(struct wb_engine *wb, const void *cookie)
{
    struct wb_node *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return ENGINE_SUCCESS;
    p->cookie = cookie;
    pthread_mutex_lock(&wb->lock);
    p->next = wb->parked;
    wb->parked = p;
    pthread_mutex_unlock(&wb->lock);
    return ENGINE_EWOULDBLOCK;
}

/* SUCCESS: make the call on the inner engine now; EWOULDBLOCK: a completion will follow. */
static engine_status wb_gate(struct wb_engine *wb, const void *cookie)
{
    if (wb->host->get_private(cookie) == &wb_done) {
        wb->host->set_private(cookie, NULL);
        return ENGINE_SUCCESS;
    }
    struct wouldblock_mode m = wb_mode_of(wb, cookie);
    switch (m.kind) {
    case WOULDBLOCK_RANDOM:
        return wb_draw() < m.p ? wb_block(wb, cookie, ENGINE_SUCCESS) : ENGINE_SUCCESS;
    case WOULDBLOCK_ERROR:
        return wb_block(wb, cookie, m.status);
    case WOULDBLOCK_NEVER:
        return wb_park(wb, cookie);
    case WOULDBLOCK_ALWAYS:
    default:
        return wb_block(wb, cookie, ENGINE_SUCCESS);
    }
}

/* Runs the gate, then the inner engine's op when the gate lets the call through. */
#define WB_CALL(e, cookie, op, ...)                                                                \
    do {                                                                                           \
        struct wb_engine *wb_ = wb_of(e);                                                          \
        engine_status gate_ = wb_gate(wb_, cookie);                                                \
        if (gate_ != ENGINE_SUCCESS)                                                               \
            return gate_;                                                                          \
        return wb_->inner->ops->op(wb_->inner, cookie, __VA_ARGS__);                               \
    } while (0)

static engine_status wb_get(struct engine *e, const void *cookie, const void *key, size_t nkey,
                            struct item **out)
{
    WB_CALL(e, cookie, get, key, nkey, out);
}

static engine_status wb_get_and_touch(struct engine *e, const void *cookie, const void *key,
                                      size_t nkey, rel_time_t exptime, struct item **out)
{
    WB_CALL(e, cookie, get_and_touch, key, nkey, exptime, out);
}

static engine_status wb_allocate(struct engine *e, const void *cookie, const void *key, size_t nkey,
                                 size_t nbytes, uint32_t flags, rel_time_t exptime,
                                 struct item **out)
{
    WB_CALL(e, cookie, allocate, key, nkey, nbytes, flags, exptime, out);
}

static engine_status wb_store(struct engine *e, const void *cookie, struct item *it, uint64_t cas,
                              enum engine_store_op op, uint64_t *cas_out)
{
    WB_CALL(e, cookie, store, it, cas, op, cas_out);
}

static engine_status wb_remove(struct engine *e, const void *cookie, const void *key, size_t nkey,
                               uint64_t cas)
{
    WB_CALL(e, cookie, remove, key, nkey, cas);
}

static engine_status wb_arithmetic(struct engine *e, const void *cookie, const void *key,
                                   size_t nkey, const struct engine_arith *a, uint64_t *result,
                                   uint64_t *cas_out)
{
    WB_CALL(e, cookie, arithmetic, key, nkey, a, result, cas_out);
}

static engine_status wb_flush(struct engine *e, const void *cookie, rel_time_t when)
{
    WB_CALL(e, cookie, flush, when);
}

/* The meta protocol's ops exist only when the inner engine offers them. */
static engine_status wb_meta_get(struct engine *e, const void *cookie, const void *key, size_t nkey,
                                 struct engine_meta_get *m, struct item **out)
{
    if (wb_of(e)->inner->ops->meta_get == NULL)
        return ENGINE_NOT_SUPPORTED;
    WB_CALL(e, cookie, meta_get, key, nkey, m, out);
}

static engine_status wb_invalidate(struct engine *e, const void *cookie, const void *key,
                                   size_t nkey, uint64_t cas, bool touch, rel_time_t exptime)
{
    if (wb_of(e)->inner->ops->invalidate == NULL)
        return ENGINE_NOT_SUPPORTED;
    WB_CALL(e, cookie, invalidate, key, nkey, cas, touch, exptime);
}

static void wb_get_stats(struct engine *e, struct engine_stats *out)
{
    struct wb_engine *wb = wb_of(e);
    wb->inner->ops->get_stats(wb->inner, out);
}

static void wb_reset_stats(struct engine *e)
{
    struct wb_engine *wb = wb_of(e);
    wb->inner->ops->reset_stats(wb->inner);
}

/* Unlinks and returns cookie's node of a list, or NULL. Called with the lock held. */
static struct wb_node *wb_unlink(struct wb_node **head, const void *cookie)
{
    for (struct wb_node **pp = head; *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->cookie == cookie) {
            struct wb_node *found = *pp;
            *pp = found->next;
            return found;
        }
    }
    return NULL;
}

static void wb_free_list(struct wb_node *n)
{
    while (n != NULL) {
        struct wb_node *next = n->next;
        free(n);
        n = next;
    }
}

static void wb_disconnect(struct engine *e, const void *cookie)
{
    struct wb_engine *wb = wb_of(e);
    pthread_mutex_lock(&wb->lock);
    struct wb_node *c = wb_unlink(&wb->conns, cookie);
    struct wb_node *p = wb_unlink(&wb->parked, cookie);
    pthread_mutex_unlock(&wb->lock);
    free(c);
    if (p != NULL) {
        /* The parked call is dropped; its notify lets the front-end free the connection. */
        free(p);
        wb->host->notify(cookie, ENGINE_DISCONNECT);
    }
    wb->inner->ops->disconnect(wb->inner, cookie);
}

/* TEST_CONTROL: the value is a mode for this connection alone. */
static engine_status wb_test_control(struct engine *e, const void *cookie, const char *arg,
                                     size_t len)
{
    struct wb_engine *wb = wb_of(e);
    struct wouldblock_mode m;
    char err[128];
    if (wouldblock_mode_parse(arg, len, &m, err, sizeof(err)) != 0)
        return ENGINE_EINVAL;
    struct wb_node *fresh = malloc(sizeof(*fresh));
    if (fresh == NULL)
        return ENGINE_ENOMEM;
    pthread_mutex_lock(&wb->lock);
    struct wb_node *old = wb_unlink(&wb->conns, cookie);
    *fresh = (struct wb_node){.next = wb->conns, .cookie = cookie, .mode = m};
    wb->conns = fresh;
    pthread_mutex_unlock(&wb->lock);
    free(old);
    return ENGINE_SUCCESS;
}

static void wb_destroy(struct engine *e)
{
    struct wb_engine *wb = wb_of(e);
    wb_free_list(wb->conns);
    wb_free_list(wb->parked);
    wb->inner->ops->destroy(wb->inner);
    pthread_mutex_destroy(&wb->lock);
    free(wb);
}

static const struct engine_ops wb_ops = {
    .destroy = wb_destroy,
    .get = wb_get,
    .get_and_touch = wb_get_and_touch,
    .allocate = wb_allocate,
    .store = wb_store,
    .remove = wb_remove,
    .arithmetic = wb_arithmetic,
    .flush = wb_flush,
    .meta_get = wb_meta_get,
    .invalidate = wb_invalidate,
    .get_stats = wb_get_stats,
    .reset_stats = wb_reset_stats,
    .disconnect = wb_disconnect,
    .test_control = wb_test_control,
};

struct engine *wouldblock_engine_create(const struct wouldblock_config *cfg, struct engine *inner,
                                        const struct engine_host *host, struct executor_pool *pool)
{
    struct wb_engine *wb = calloc(1, sizeof(*wb));
    if (wb == NULL) {
        inner->ops->destroy(inner);
        return NULL;
    }
    wb->base.ops = &wb_ops;
    wb->inner = inner;
    wb->host = host;
    wb->pool = pool;
    wb->mode = cfg->mode;
    wb->delay_us = cfg->delay_us;
    pthread_mutex_init(&wb->lock, NULL);
    return &wb->base;
}
