/*
 * Conformance tests of the meta protocol's engine ops (meta_get, invalidate)
 * and of an explicit CAS preset on an allocated item. Engines that do not
 * offer the meta ops skip them. The test thread runs it.
 */
#include <stdlib.h>
#include <string.h>

#include "suite_util.h"

static void skip_without_meta(struct suite_ctx *x)
{
    if (x->e->ops->meta_get == NULL || x->e->ops->invalidate == NULL)
        skip();
}

/* A plain meta get: hit state before and after, last access, expiry. */
static void test_meta_get_state(void **state)
{
    struct suite_ctx *x = *state;
    skip_without_meta(x);
    struct engine_meta_get m = {0};
    struct item *it = NULL;
    assert_int_equal(t_meta_get(x, NULL, "k", &m, &it), ENGINE_KEY_ENOENT);
    t_set(x, "k", "v", 7);
    assert_int_equal(t_meta_get(x, NULL, "k", &m, &it), ENGINE_SUCCESS);
    assert_int_equal(it->flags, 7);
    assert_false(m.fetched);
    assert_false(m.created || m.won || m.stale || m.win_sent);
    assert_int_equal(m.last_access, clock_now());
    assert_int_equal(m.exptime_now, 0);
    item_unref(it);
    clock_advance(5);
    memset(&m, 0, sizeof(m));
    m.touch = true;
    m.exptime = clock_now() + 100;
    assert_int_equal(t_meta_get(x, NULL, "k", &m, &it), ENGINE_SUCCESS);
    assert_true(m.fetched);
    assert_int_equal(clock_now() - m.last_access, 5);
    assert_int_equal(m.exptime_now, clock_now() + 100);
    item_unref(it);
}

/* Vivify on miss: the creator wins, the next reader sees the win already handed out. */
static void test_meta_vivify(void **state)
{
    struct suite_ctx *x = *state;
    skip_without_meta(x);
    struct engine_meta_get m = {.vivify = true, .vivify_exptime = clock_now() + 30};
    struct item *it = NULL;
    assert_int_equal(t_meta_get(x, NULL, "v", &m, &it), ENGINE_SUCCESS);
    assert_true(m.created && m.won);
    assert_int_equal(it->nbytes, 0);
    assert_int_equal(m.exptime_now, clock_now() + 30);
    item_unref(it);
    struct engine_meta_get m2 = {.vivify = true, .vivify_exptime = clock_now() + 30};
    assert_int_equal(t_meta_get(x, NULL, "v", &m2, &it), ENGINE_SUCCESS);
    assert_false(m2.created || m2.won);
    assert_true(m2.win_sent);
    item_unref(it);
}

/* Recache: an expiry closer than the threshold wins once. */
static void test_meta_recache(void **state)
{
    struct suite_ctx *x = *state;
    skip_without_meta(x);
    assert_int_equal(t_store(x, NULL, ENGINE_STORE_SET, "r", "x", 1, 0, clock_now() + 10, 0, NULL),
                     ENGINE_SUCCESS);
    struct engine_meta_get m = {.recache = true, .recache_before = clock_now() + 5};
    struct item *it = NULL;
    assert_int_equal(t_meta_get(x, NULL, "r", &m, &it), ENGINE_SUCCESS);
    assert_false(m.won);
    item_unref(it);
    m = (struct engine_meta_get){.recache = true, .recache_before = clock_now() + 30};
    assert_int_equal(t_meta_get(x, NULL, "r", &m, &it), ENGINE_SUCCESS);
    assert_true(m.won);
    item_unref(it);
    m = (struct engine_meta_get){.recache = true, .recache_before = clock_now() + 30};
    assert_int_equal(t_meta_get(x, NULL, "r", &m, &it), ENGINE_SUCCESS);
    assert_false(m.won);
    assert_true(m.win_sent);
    item_unref(it);
}

/* Invalidate: the item stays readable, stale; the first reader wins; a new store clears it. */
static void test_meta_invalidate(void **state)
{
    struct suite_ctx *x = *state;
    skip_without_meta(x);
    assert_int_equal(t_invalidate(x, NULL, "s", 0, false, 0), ENGINE_KEY_ENOENT);
    uint64_t cas = t_set(x, "s", "old", 0);
    assert_int_equal(t_invalidate(x, NULL, "s", cas + 1, false, 0), ENGINE_KEY_EEXISTS);
    assert_int_equal(t_invalidate(x, NULL, "s", cas, true, clock_now() + 30), ENGINE_SUCCESS);
    t_assert_value(x, "s", "old", 0);
    struct engine_meta_get m = {0};
    struct item *it = NULL;
    assert_int_equal(t_meta_get(x, NULL, "s", &m, &it), ENGINE_SUCCESS);
    assert_true(m.stale && m.won);
    assert_int_equal(m.exptime_now, clock_now() + 30);
    item_unref(it);
    m = (struct engine_meta_get){0};
    assert_int_equal(t_meta_get(x, NULL, "s", &m, &it), ENGINE_SUCCESS);
    assert_true(m.stale && m.win_sent);
    assert_false(m.won);
    item_unref(it);
    t_set(x, "s", "new", 0);
    m = (struct engine_meta_get){0};
    assert_int_equal(t_meta_get(x, NULL, "s", &m, &it), ENGINE_SUCCESS);
    assert_false(m.stale || m.won || m.win_sent);
    item_unref(it);
}

/* A CAS preset on an allocated item is the stored CAS (meta's E flag), also for append. */
static void test_explicit_cas(void **state)
{
    struct suite_ctx *x = *state;
    struct item *it = NULL;
    assert_int_equal(t_alloc(x, NULL, "e", 1, 0, 0, &it), ENGINE_SUCCESS);
    memcpy(item_value(it), "a", 1);
    it->cas = 123456;
    uint64_t cas = 0;
    assert_int_equal(t_store_item(x, NULL, it, 0, ENGINE_STORE_SET, &cas), ENGINE_SUCCESS);
    item_unref(it);
    assert_int_equal(cas, 123456);
    assert_int_equal(t_alloc(x, NULL, "e", 1, 0, 0, &it), ENGINE_SUCCESS);
    memcpy(item_value(it), "b", 1);
    it->cas = 777;
    assert_int_equal(t_store_item(x, NULL, it, 123456, ENGINE_STORE_APPEND, &cas), ENGINE_SUCCESS);
    item_unref(it);
    assert_int_equal(cas, 777);
    t_assert_value(x, "e", "ab", 0);
}

const struct CMUnitTest suite_meta_tests[] = {
    cmocka_unit_test_setup_teardown(test_meta_get_state, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_meta_vivify, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_meta_recache, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_meta_invalidate, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_explicit_cas, suite_setup, suite_teardown),
};
const size_t suite_meta_count = sizeof(suite_meta_tests) / sizeof(suite_meta_tests[0]);
