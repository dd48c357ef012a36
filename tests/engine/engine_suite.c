/*
 * The conformance suite's runner and helpers: the host callbacks, cookies,
 * the per-test fixture and the op wrappers that wait out
 * ENGINE_EWOULDBLOCK. Runs on the test thread and the suite's worker threads.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "suite_util.h"

/* How long a blocked op may wait for notify before the test fails. */
#define SUITE_NOTIFY_TIMEOUT_S 10

static const struct engine_suite_factory *running;

const struct engine_suite_factory *suite_factory(void)
{
    return running;
}

static void host_notify(const void *cookie, engine_status status)
{
    struct suite_cookie *c = (struct suite_cookie *)cookie;
    pthread_mutex_lock(&c->lock);
    c->notified++;
    c->status = status;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static void *host_get_private(const void *cookie)
{
    return ((const struct suite_cookie *)cookie)->priv;
}

static void host_set_private(const void *cookie, void *data)
{
    ((struct suite_cookie *)cookie)->priv = data;
}

const struct engine_host suite_host = {
    .notify = host_notify,
    .get_private = host_get_private,
    .set_private = host_set_private,
};

void suite_cookie_init(struct suite_cookie *c)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
}

void suite_cookie_deinit(struct suite_cookie *c)
{
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
}

/*
 * Waits for the notify that follows ENGINE_EWOULDBLOCK; returns its status,
 * or ENGINE_FAILED when none comes in time (a lost notify is a bug).
 */
static engine_status suite_wait(struct suite_cookie *c)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += SUITE_NOTIFY_TIMEOUT_S;
    pthread_mutex_lock(&c->lock);
    int rc = 0;
    while (c->notified == 0 && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&c->cond, &c->lock, &deadline);
    engine_status st = ENGINE_FAILED;
    if (c->notified > 0) {
        c->notified--;
        st = c->status;
    }
    pthread_mutex_unlock(&c->lock);
    return st;
}

/* The front-end's rule: re-run after a successful notify, fail with any other status. */
#define RUN_BLOCKING(c, call)                                                                      \
    do {                                                                                           \
        engine_status st_;                                                                         \
        while ((st_ = (call)) == ENGINE_EWOULDBLOCK) {                                             \
            engine_status n_ = suite_wait(c);                                                      \
            if (n_ != ENGINE_SUCCESS)                                                              \
                return n_;                                                                         \
        }                                                                                          \
        return st_;                                                                                \
    } while (0)

static struct suite_cookie *cookie_of(struct suite_ctx *x, struct suite_cookie *c)
{
    return c != NULL ? c : &x->cookie;
}

engine_status t_get(struct suite_ctx *x, struct suite_cookie *c, const char *key, struct item **out)
{
    c = cookie_of(x, c);
    RUN_BLOCKING(c, x->e->ops->get(x->e, c, key, strlen(key), out));
}

engine_status t_meta_get(struct suite_ctx *x, struct suite_cookie *c, const char *key,
                         struct engine_meta_get *m, struct item **out)
{
    c = cookie_of(x, c);
    RUN_BLOCKING(c, x->e->ops->meta_get(x->e, c, key, strlen(key), m, out));
}

engine_status t_invalidate(struct suite_ctx *x, struct suite_cookie *c, const char *key,
                           uint64_t cas, bool touch, rel_time_t exptime)
{
    c = cookie_of(x, c);
    RUN_BLOCKING(c, x->e->ops->invalidate(x->e, c, key, strlen(key), cas, touch, exptime));
}

engine_status t_gat(struct suite_ctx *x, struct suite_cookie *c, const char *key,
                    rel_time_t exptime, struct item **out)
{
    c = cookie_of(x, c);
    RUN_BLOCKING(c, x->e->ops->get_and_touch(x->e, c, key, strlen(key), exptime, out));
}

engine_status t_alloc(struct suite_ctx *x, struct suite_cookie *c, const char *key, size_t nbytes,
                      uint32_t flags, rel_time_t exptime, struct item **out)
{
    c = cookie_of(x, c);
    RUN_BLOCKING(c, x->e->ops->allocate(x->e, c, key, strlen(key), nbytes, flags, exptime, out));
}

engine_status t_store_item(struct suite_ctx *x, struct suite_cookie *c, struct item *it,
                           uint64_t cas, enum engine_store_op op, uint64_t *cas_out)
{
    c = cookie_of(x, c);
    RUN_BLOCKING(c, x->e->ops->store(x->e, c, it, cas, op, cas_out));
}

engine_status t_remove(struct suite_ctx *x, struct suite_cookie *c, const char *key, uint64_t cas)
{
    c = cookie_of(x, c);
    RUN_BLOCKING(c, x->e->ops->remove(x->e, c, key, strlen(key), cas));
}

engine_status t_arith(struct suite_ctx *x, struct suite_cookie *c, const char *key,
                      const struct engine_arith *a, uint64_t *result, uint64_t *cas_out)
{
    c = cookie_of(x, c);
    RUN_BLOCKING(c, x->e->ops->arithmetic(x->e, c, key, strlen(key), a, result, cas_out));
}

engine_status t_flush(struct suite_ctx *x, struct suite_cookie *c, rel_time_t when)
{
    c = cookie_of(x, c);
    RUN_BLOCKING(c, x->e->ops->flush(x->e, c, when));
}

engine_status t_store(struct suite_ctx *x, struct suite_cookie *c, enum engine_store_op op,
                      const char *key, const void *value, size_t n, uint32_t flags,
                      rel_time_t exptime, uint64_t cas, uint64_t *cas_out)
{
    struct item *it = NULL;
    engine_status st = t_alloc(x, c, key, n, flags, exptime, &it);
    if (st != ENGINE_SUCCESS)
        return st;
    if (n > 0)
        memcpy(item_value(it), value, n);
    st = t_store_item(x, c, it, cas, op, cas_out);
    item_unref(it);
    return st;
}

uint64_t t_set(struct suite_ctx *x, const char *key, const char *value, uint32_t flags)
{
    uint64_t cas = 0;
    engine_status st =
        t_store(x, NULL, ENGINE_STORE_SET, key, value, strlen(value), flags, 0, 0, &cas);
    assert_int_equal(st, ENGINE_SUCCESS);
    assert_true(cas != 0);
    return cas;
}

void t_assert_value(struct suite_ctx *x, const char *key, const char *value, uint32_t flags)
{
    struct item *it = NULL;
    assert_int_equal(t_get(x, NULL, key, &it), ENGINE_SUCCESS);
    assert_non_null(it);
    assert_int_equal(it->nkey, strlen(key));
    assert_memory_equal(item_key(it), key, it->nkey);
    assert_int_equal(it->nbytes, strlen(value));
    if (it->nbytes > 0)
        assert_memory_equal(item_cvalue(it), value, it->nbytes);
    assert_int_equal(it->flags, flags);
    item_unref(it);
}

void t_assert_missing(struct suite_ctx *x, const char *key)
{
    struct item *it = NULL;
    assert_int_equal(t_get(x, NULL, key, &it), ENGINE_KEY_ENOENT);
}

struct engine_stats t_stats(struct suite_ctx *x)
{
    struct engine_stats st;
    memset(&st, 0xff, sizeof(st)); /* an engine that forgets a field shows garbage */
    x->e->ops->get_stats(x->e, &st);
    return st;
}

int suite_setup(void **state)
{
    struct suite_ctx *x = calloc(1, sizeof(*x));
    if (x == NULL)
        return -1;
    x->f = running;
    suite_cookie_init(&x->cookie);
    x->e = x->f->create(&suite_host, x->f->arg);
    if (x->e == NULL) {
        suite_cookie_deinit(&x->cookie);
        free(x);
        return -1;
    }
    *state = x;
    return 0;
}

int suite_teardown(void **state)
{
    struct suite_ctx *x = *state;
    if (x->f->destroy != NULL)
        x->f->destroy(x->e, x->f->arg);
    else
        x->e->ops->destroy(x->e);
    suite_cookie_deinit(&x->cookie);
    free(x);
    return 0;
}

/* Appends n tests to the list at *pos. */
static void add_tests(struct CMUnitTest *all, size_t *pos, const struct CMUnitTest *t, size_t n)
{
    memcpy(all + *pos, t, n * sizeof(*t));
    *pos += n;
}

int engine_suite_run(const struct engine_suite_factory *f)
{
    size_t n = suite_store_count + suite_arith_count + suite_time_count + suite_misc_count +
               suite_meta_count;
    struct CMUnitTest *all = calloc(n, sizeof(*all));
    if (all == NULL)
        return 1;
    size_t pos = 0;
    add_tests(all, &pos, suite_store_tests, suite_store_count);
    add_tests(all, &pos, suite_arith_tests, suite_arith_count);
    add_tests(all, &pos, suite_time_tests, suite_time_count);
    add_tests(all, &pos, suite_misc_tests, suite_misc_count);
    add_tests(all, &pos, suite_meta_tests, suite_meta_count);
    running = f;
    print_message("engine conformance suite: %s\n", f->name);
    int failed = _cmocka_run_group_tests(f->name, all, n, NULL, NULL);
    running = NULL;
    free(all);
    return failed;
}
