/*
 * Conformance tests of item lifetime (references outlive unlink and engine),
 * counters, disconnect, and a concurrency smoke test: several threads on
 * overlapping keys, then consistency checks. The test thread and the
 * smoke test's worker threads run it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suite_util.h"

/* Returns a new reference to key's item; asserts it exists. */
static struct item *must_get(struct suite_ctx *x, const char *key)
{
    struct item *it = NULL;
    assert_int_equal(t_get(x, NULL, key, &it), ENGINE_SUCCESS);
    assert_non_null(it);
    return it;
}

static void assert_item_is(const struct item *it, const char *value)
{
    assert_int_equal(it->nbytes, strlen(value));
    assert_memory_equal(item_cvalue(it), value, it->nbytes);
}

/* An item from get keeps its value after its key is removed, overwritten, changed or flushed. */
static void test_item_outlives_unlink(void **state)
{
    struct suite_ctx *x = *state;
    t_set(x, "k", "first", 0);
    struct item *a = must_get(x, "k");
    struct item *a2 = must_get(x, "k"); /* a second, independent reference */
    assert_int_equal(t_remove(x, NULL, "k", 0), ENGINE_SUCCESS);
    t_set(x, "k", "second", 0);
    struct item *b = must_get(x, "k");
    t_set(x, "k", "7", 0);
    struct item *c = must_get(x, "k");
    assert_int_equal(t_store(x, NULL, ENGINE_STORE_APPEND, "k", "0", 1, 0, 0, 0, NULL),
                     ENGINE_SUCCESS);
    struct item *d = must_get(x, "k");
    struct engine_arith ar = {.incr = true, .delta = 1};
    uint64_t result = 0, cas = 0;
    assert_int_equal(t_arith(x, NULL, "k", &ar, &result, &cas), ENGINE_SUCCESS);
    assert_int_equal(result, 71);
    struct item *e = must_get(x, "k");
    assert_int_equal(t_flush(x, NULL, 0), ENGINE_SUCCESS);
    t_assert_missing(x, "k");
    item_unref(a);
    assert_item_is(a2, "first");
    assert_item_is(b, "second");
    assert_item_is(c, "7");
    assert_item_is(d, "70");
    assert_item_is(e, "71");
    item_unref(a2);
    item_unref(b);
    item_unref(c);
    item_unref(d);
    item_unref(e);
}

/* An item still referenced survives the engine's destroy. */
static void test_item_outlives_engine(void **state)
{
    struct suite_ctx *x = *state;
    t_set(x, "k", "survivor", 3);
    struct item *it = must_get(x, "k");
    if (x->f->destroy != NULL)
        x->f->destroy(x->e, x->f->arg);
    else
        x->e->ops->destroy(x->e);
    x->e = x->f->create(&suite_host, x->f->arg);
    assert_non_null(x->e);
    assert_item_is(it, "survivor");
    assert_int_equal(it->flags, 3);
    item_unref(it);
    /* The new engine starts empty. */
    t_assert_missing(x, "k");
}

/* Counters follow stores and removes; reset zeroes the resettable ones only. */
static void test_stats(void **state)
{
    struct suite_ctx *x = *state;
    struct engine_stats st = t_stats(x);
    assert_int_equal(st.curr_items, 0);
    assert_int_equal(st.total_items, 0);
    assert_int_equal(st.bytes, 0);
    assert_int_equal(st.evictions, 0);
    assert_int_equal(st.reclaimed, 0);
    assert_int_equal(st.expired_unfetched, 0);
    assert_int_equal(st.evicted_unfetched, 0);
    assert_int_equal(st.get_expired, 0);
    assert_int_equal(st.get_flushed, 0);
    assert_true(st.limit_maxbytes > 0 && st.limit_maxbytes != UINT64_MAX);
    uint64_t limit = st.limit_maxbytes;
    t_set(x, "a", "12345", 0);
    t_set(x, "bb", "1234567890", 0);
    t_set(x, "ccc", "", 0);
    st = t_stats(x);
    assert_int_equal(st.curr_items, 3);
    assert_int_equal(st.total_items, 3);
    assert_true(st.bytes >= 1 + 5 + 2 + 10 + 3);
    t_set(x, "a", "1", 0);
    assert_int_equal(t_store(x, NULL, ENGINE_STORE_ADD, "a", "x", 1, 0, 0, 0, NULL),
                     ENGINE_KEY_EEXISTS);
    st = t_stats(x);
    assert_int_equal(st.curr_items, 3);
    assert_int_equal(st.total_items, 4); /* the failed add stored nothing */
    uint64_t bytes3 = st.bytes;
    assert_int_equal(t_remove(x, NULL, "bb", 0), ENGINE_SUCCESS);
    st = t_stats(x);
    assert_int_equal(st.curr_items, 2);
    assert_true(st.bytes < bytes3 && st.bytes >= 1 + 1 + 3);
    uint64_t bytes2 = st.bytes;
    x->e->ops->reset_stats(x->e);
    st = t_stats(x);
    assert_int_equal(st.curr_items, 2);
    assert_int_equal(st.bytes, bytes2);
    assert_int_equal(st.total_items, 0);
    assert_int_equal(st.limit_maxbytes, limit);
    /* Removing everything brings bytes back to 0. */
    assert_int_equal(t_remove(x, NULL, "a", 0), ENGINE_SUCCESS);
    assert_int_equal(t_remove(x, NULL, "ccc", 0), ENGINE_SUCCESS);
    st = t_stats(x);
    assert_int_equal(st.curr_items, 0);
    assert_int_equal(st.bytes, 0);
}

/* reset_stats zeroes the expiry and flush counters too. */
static void test_stats_reset_lazy_counters(void **state)
{
    struct suite_ctx *x = *state;
    assert_int_equal(t_store(x, NULL, ENGINE_STORE_SET, "e", "v", 1, 0, clock_now() + 100, 0, NULL),
                     ENGINE_SUCCESS);
    t_set(x, "f", "v", 0);
    clock_advance(200);
    t_assert_missing(x, "e");
    assert_int_equal(t_flush(x, NULL, 0), ENGINE_SUCCESS);
    t_assert_missing(x, "f");
    x->e->ops->reset_stats(x->e);
    struct engine_stats st = t_stats(x);
    assert_int_equal(st.get_expired, 0);
    assert_int_equal(st.get_flushed, 0);
    assert_int_equal(st.reclaimed, 0);
    assert_int_equal(st.expired_unfetched, 0);
}

/* disconnect of a cookie with nothing pending changes nothing. */
static void test_disconnect(void **state)
{
    struct suite_ctx *x = *state;
    t_set(x, "k", "v", 0);
    x->e->ops->disconnect(x->e, &x->cookie);
    t_assert_value(x, "k", "v", 0);
    t_set(x, "k2", "v2", 0);
    t_assert_value(x, "k2", "v2", 0);
}

#define CONC_THREADS 4
#define CONC_OPS 3000
#define CONC_KEYS 32

struct conc_worker {
    struct suite_ctx *x;
    struct suite_cookie cookie;
    unsigned id;
    uint32_t rng;
    uint64_t incrs; /* successful incr of "ctr" */
    uint64_t *cas;  /* every CAS this thread was handed, in order */
    size_t ncas;
    char failure[160]; /* the first failure, empty if none */
    pthread_t thread;
};

static uint32_t conc_rand(struct conc_worker *w)
{
    w->rng = w->rng * 1103515245u + 12345u;
    return w->rng >> 8;
}

/* Records a failure (cmocka asserts are not thread-safe); returns false. */
static bool conc_fail(struct conc_worker *w, const char *what, engine_status st)
{
    if (w->failure[0] == '\0')
        snprintf(w->failure, sizeof(w->failure), "thread %u: %s (%s)", w->id, what,
                 engine_status_str(st));
    return false;
}

/* Records a CAS; each thread's CAS values must strictly increase. */
static bool conc_cas(struct conc_worker *w, uint64_t cas)
{
    if (cas == 0 || (w->ncas > 0 && cas <= w->cas[w->ncas - 1]))
        return conc_fail(w, "CAS not increasing", ENGINE_SUCCESS);
    w->cas[w->ncas++] = cas;
    return true;
}

/* A value read back must be one some thread wrote for this key. */
static bool conc_check_item(struct conc_worker *w, const char *key, const struct item *it)
{
    size_t n = strlen(key);
    if (it->nkey != n || memcmp(item_key(it), key, n) != 0)
        return conc_fail(w, "wrong key", ENGINE_SUCCESS);
    if (it->nbytes < n + 1 || memcmp(item_cvalue(it), key, n) != 0 || item_cvalue(it)[n] != '|')
        return conc_fail(w, "value of another key", ENGINE_SUCCESS);
    if (it->flags >= CONC_THREADS)
        return conc_fail(w, "bad flags", ENGINE_SUCCESS);
    return true;
}

static bool conc_set(struct conc_worker *w, enum engine_store_op op, const char *key, uint64_t cas,
                     int i)
{
    char value[64];
    int n = snprintf(value, sizeof(value), "%s|t%u|%d", key, w->id, i);
    uint64_t got = 0;
    engine_status st = t_store(w->x, &w->cookie, op, key, value, (size_t)n, w->id, 0, cas, &got);
    if (st == ENGINE_SUCCESS)
        return conc_cas(w, got);
    if (op == ENGINE_STORE_ADD && st == ENGINE_KEY_EEXISTS)
        return true;
    if (cas != 0 && (st == ENGINE_KEY_EEXISTS || st == ENGINE_KEY_ENOENT))
        return true;
    return conc_fail(w, "store", st);
}

static bool conc_get(struct conc_worker *w, const char *key, bool cas_set, int i)
{
    struct item *it = NULL;
    engine_status st = t_get(w->x, &w->cookie, key, &it);
    if (st == ENGINE_KEY_ENOENT)
        return true;
    if (st != ENGINE_SUCCESS)
        return conc_fail(w, "get", st);
    bool ok = conc_check_item(w, key, it);
    uint64_t cas = it->cas;
    item_unref(it);
    return ok && (!cas_set || conc_set(w, ENGINE_STORE_SET, key, cas, i));
}

static bool conc_incr(struct conc_worker *w, uint64_t *last)
{
    struct engine_arith a = {.incr = true, .delta = 1};
    uint64_t result = 0, cas = 0;
    engine_status st = t_arith(w->x, &w->cookie, "ctr", &a, &result, &cas);
    if (st != ENGINE_SUCCESS)
        return conc_fail(w, "incr", st);
    if (result <= *last)
        return conc_fail(w, "counter went back", st);
    *last = result;
    w->incrs++;
    return conc_cas(w, cas);
}

/* One random op on a random key. */
static bool conc_op(struct conc_worker *w, int i, uint64_t *last)
{
    char key[16];
    snprintf(key, sizeof(key), "k%u", conc_rand(w) % CONC_KEYS);
    uint64_t cas = 0;
    engine_status st;
    switch (conc_rand(w) % 10) {
    case 0:
    case 1:
    case 2:
        return conc_set(w, ENGINE_STORE_SET, key, 0, i);
    case 3:
    case 4:
        return conc_get(w, key, false, i);
    case 5:
        st = t_store(w->x, &w->cookie, ENGINE_STORE_APPEND, key, "+", 1, 0, 0, 0, &cas);
        if (st == ENGINE_SUCCESS)
            return conc_cas(w, cas);
        return st == ENGINE_NOT_STORED || conc_fail(w, "append", st);
    case 6:
        st = t_remove(w->x, &w->cookie, key, 0);
        return st == ENGINE_SUCCESS || st == ENGINE_KEY_ENOENT || conc_fail(w, "remove", st);
    case 7:
        return conc_incr(w, last);
    case 8:
        return conc_get(w, key, true, i);
    default:
        return conc_set(w, ENGINE_STORE_ADD, key, 0, i);
    }
}

static void *conc_main(void *arg)
{
    struct conc_worker *w = arg;
    uint64_t last = 0;
    for (int i = 0; i < CONC_OPS; i++)
        if (!conc_op(w, i, &last))
            break;
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* After the threads: every CAS handed out is unique across threads. */
static void conc_check_cas_unique(struct conc_worker *w)
{
    size_t total = 0;
    for (int t = 0; t < CONC_THREADS; t++)
        total += w[t].ncas;
    uint64_t *all = malloc(total * sizeof(*all) + 1);
    assert_non_null(all);
    size_t pos = 0;
    for (int t = 0; t < CONC_THREADS; t++) {
        memcpy(all + pos, w[t].cas, w[t].ncas * sizeof(*all));
        pos += w[t].ncas;
    }
    qsort(all, total, sizeof(*all), cmp_u64);
    for (size_t i = 1; i < total; i++)
        assert_true(all[i] != all[i - 1]);
    free(all);
}

/* After the threads: the counter saw every incr; the key count matches curr_items. */
static void conc_check_state(struct suite_ctx *x, struct conc_worker *w)
{
    uint64_t incrs = 0;
    for (int t = 0; t < CONC_THREADS; t++)
        incrs += w[t].incrs;
    struct item *it = NULL;
    assert_int_equal(t_get(x, NULL, "ctr", &it), ENGINE_SUCCESS);
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%llu", (unsigned long long)incrs);
    assert_int_equal(it->nbytes, n);
    assert_memory_equal(item_cvalue(it), buf, (size_t)n);
    item_unref(it);
    uint64_t found = 1; /* ctr */
    for (int k = 0; k < CONC_KEYS; k++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", k);
        it = NULL;
        engine_status st = t_get(x, NULL, key, &it);
        assert_true(st == ENGINE_SUCCESS || st == ENGINE_KEY_ENOENT);
        if (st == ENGINE_SUCCESS) {
            found++;
            item_unref(it);
        }
    }
    assert_int_equal(t_stats(x).curr_items, found);
}

/* Threads on overlapping keys: no lost update, no torn value, unique CAS. */
static void test_concurrency_smoke(void **state)
{
    struct suite_ctx *x = *state;
    t_set(x, "ctr", "0", 0);
    struct conc_worker w[CONC_THREADS];
    memset(w, 0, sizeof(w));
    for (unsigned t = 0; t < CONC_THREADS; t++) {
        w[t].x = x;
        w[t].id = t;
        w[t].rng = 0x9e3779b9u * (t + 1);
        w[t].cas = malloc(CONC_OPS * sizeof(uint64_t));
        assert_non_null(w[t].cas);
        suite_cookie_init(&w[t].cookie);
        assert_int_equal(pthread_create(&w[t].thread, NULL, conc_main, &w[t]), 0);
    }
    for (int t = 0; t < CONC_THREADS; t++)
        pthread_join(w[t].thread, NULL);
    for (int t = 0; t < CONC_THREADS; t++) {
        if (w[t].failure[0] != '\0')
            fail_msg("%s", w[t].failure);
        assert_true(w[t].incrs > 0);
    }
    conc_check_cas_unique(w);
    conc_check_state(x, w);
    for (int t = 0; t < CONC_THREADS; t++) {
        suite_cookie_deinit(&w[t].cookie);
        free(w[t].cas);
    }
}

const struct CMUnitTest suite_misc_tests[] = {
    cmocka_unit_test_setup_teardown(test_item_outlives_unlink, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_item_outlives_engine, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_stats, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_stats_reset_lazy_counters, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_disconnect, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_concurrency_smoke, suite_setup, suite_teardown),
};
const size_t suite_misc_count = sizeof(suite_misc_tests) / sizeof(suite_misc_tests[0]);
