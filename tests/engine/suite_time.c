/*
 * Conformance tests of time: expiry, touch (get_and_touch) and flush, now
 * and delayed. Time moves with clock_advance, never by sleeping, and every
 * margin is wide enough that real seconds passing cannot change a result.
 * Test thread only.
 */
#include <string.h>

#include "suite_util.h"

/* Stores a C string with an expiry; asserts success. */
static uint64_t set_exp(struct suite_ctx *x, const char *key, const char *value, rel_time_t exptime)
{
    uint64_t cas = 0;
    assert_int_equal(
        t_store(x, NULL, ENGINE_STORE_SET, key, value, strlen(value), 0, exptime, 0, &cas),
        ENGINE_SUCCESS);
    return cas;
}

/* Checks a lazily counted counter: exact, or an upper bound when the engine reclaims alone. */
static void assert_lazy_count(struct suite_ctx *x, uint64_t got, uint64_t want)
{
    if (x->f->background_reclaim)
        assert_true(got <= want);
    else
        assert_int_equal(got, want);
}

/* An item lives until its expiry, then is missing; 0 never expires. */
static void test_expiry(void **state)
{
    struct suite_ctx *x = *state;
    rel_time_t now = clock_now();
    set_exp(x, "short", "v", now + 100);
    set_exp(x, "long", "v", now + 10000);
    set_exp(x, "never", "v", 0);
    clock_advance(50);
    t_assert_value(x, "short", "v", 0);
    clock_advance(50);
    t_assert_missing(x, "short");
    t_assert_value(x, "long", "v", 0);
    clock_advance(20000);
    t_assert_missing(x, "long");
    t_assert_value(x, "never", "v", 0);
    struct engine_stats st = t_stats(x);
    assert_lazy_count(x, st.get_expired, 2);
    assert_int_equal(st.get_flushed, 0);
}

/* An expiry at or before now (server time 1 = "already expired") stores a dead item. */
static void test_expiry_in_the_past(void **state)
{
    struct suite_ctx *x = *state;
    set_exp(x, "past", "v", 1);
    t_assert_missing(x, "past");
    set_exp(x, "now", "v", clock_now());
    t_assert_missing(x, "now");
}

/* Expired keys behave as missing for add, replace, append, incr, remove and CAS. */
static void test_expired_is_missing(void **state)
{
    struct suite_ctx *x = *state;
    rel_time_t exp = clock_now() + 100;
    uint64_t cas = set_exp(x, "k", "1", exp);
    set_exp(x, "r", "1", exp);
    set_exp(x, "a", "1", exp);
    set_exp(x, "i", "1", exp);
    set_exp(x, "d", "1", exp);
    clock_advance(200);
    assert_int_equal(t_store(x, NULL, ENGINE_STORE_SET, "k", "2", 1, 0, 0, cas, NULL),
                     ENGINE_KEY_ENOENT);
    assert_int_equal(t_store(x, NULL, ENGINE_STORE_REPLACE, "r", "2", 1, 0, 0, 0, NULL),
                     ENGINE_KEY_ENOENT);
    assert_int_equal(t_store(x, NULL, ENGINE_STORE_APPEND, "a", "2", 1, 0, 0, 0, NULL),
                     ENGINE_NOT_STORED);
    struct engine_arith ar = {.incr = true, .delta = 1};
    uint64_t result = 0, c = 0;
    assert_int_equal(t_arith(x, NULL, "i", &ar, &result, &c), ENGINE_KEY_ENOENT);
    assert_int_equal(t_remove(x, NULL, "d", 0), ENGINE_KEY_ENOENT);
    assert_int_equal(t_store(x, NULL, ENGINE_STORE_ADD, "k", "new", 3, 0, 0, 0, NULL),
                     ENGINE_SUCCESS);
    t_assert_value(x, "k", "new", 0);
}

/* get_and_touch returns the item, moves its expiry and keeps its CAS. */
static void test_touch(void **state)
{
    struct suite_ctx *x = *state;
    rel_time_t now = clock_now();
    uint64_t cas = set_exp(x, "k", "value", now + 100);
    set_exp(x, "k2", "v2", now + 100);
    struct item *it = NULL;
    assert_int_equal(t_gat(x, NULL, "k", now + 1000, &it), ENGINE_SUCCESS);
    assert_non_null(it);
    assert_int_equal(it->nbytes, 5);
    assert_memory_equal(item_cvalue(it), "value", 5);
    assert_true(it->cas == cas);
    item_unref(it);
    /* out may be NULL: a plain touch. */
    assert_int_equal(t_gat(x, NULL, "k2", 0, NULL), ENGINE_SUCCESS);
    clock_advance(500);
    it = NULL;
    assert_int_equal(t_get(x, NULL, "k", &it), ENGINE_SUCCESS);
    assert_true(it->cas == cas);
    assert_int_equal(it->exptime, now + 1000);
    item_unref(it);
    t_assert_value(x, "k2", "v2", 0); /* touched to never */
    clock_advance(600);
    t_assert_missing(x, "k");
    assert_int_equal(t_gat(x, NULL, "k", 0, NULL), ENGINE_KEY_ENOENT);
    assert_int_equal(t_gat(x, NULL, "nope", 0, NULL), ENGINE_KEY_ENOENT);
}

/* Touching to an expiry in the past expires the item. */
static void test_touch_to_past(void **state)
{
    struct suite_ctx *x = *state;
    set_exp(x, "k", "v", 0);
    assert_int_equal(t_gat(x, NULL, "k", 1, NULL), ENGINE_SUCCESS);
    t_assert_missing(x, "k");
}

/* flush(0) invalidates everything stored before; later stores live. */
static void test_flush_now(void **state)
{
    struct suite_ctx *x = *state;
    t_set(x, "a", "1", 0);
    t_set(x, "b", "2", 0);
    t_set(x, "c", "3", 0);
    assert_int_equal(t_flush(x, NULL, 0), ENGINE_SUCCESS);
    t_assert_missing(x, "a");
    t_assert_missing(x, "b");
    assert_int_equal(t_store(x, NULL, ENGINE_STORE_ADD, "c", "new", 3, 0, 0, 0, NULL),
                     ENGINE_SUCCESS);
    t_assert_value(x, "c", "new", 0);
    t_set(x, "d", "4", 0);
    t_assert_value(x, "d", "4", 0);
    struct engine_stats st = t_stats(x);
    assert_lazy_count(x, st.get_flushed, 2);
    assert_int_equal(st.get_expired, 0);
    /* A time at or before now is now. */
    assert_int_equal(t_flush(x, NULL, clock_now()), ENGINE_SUCCESS);
    t_assert_missing(x, "c");
    t_assert_missing(x, "d");
}

/* flush(when) leaves items until when, then invalidates all stored before it. */
static void test_flush_delayed(void **state)
{
    struct suite_ctx *x = *state;
    t_set(x, "before", "1", 0);
    assert_int_equal(t_flush(x, NULL, clock_now() + 100), ENGINE_SUCCESS);
    t_assert_value(x, "before", "1", 0);
    t_set(x, "between", "2", 0);
    clock_advance(50);
    t_assert_value(x, "before", "1", 0);
    t_assert_value(x, "between", "2", 0);
    clock_advance(60);
    t_assert_missing(x, "before");
    t_assert_missing(x, "between");
    t_set(x, "after", "3", 0);
    t_assert_value(x, "after", "3", 0);
    /* The delayed flush happens once. */
    clock_advance(100);
    t_assert_value(x, "after", "3", 0);
}

/* A later flush replaces a pending delayed one. */
static void test_flush_supersedes(void **state)
{
    struct suite_ctx *x = *state;
    assert_int_equal(t_flush(x, NULL, clock_now() + 100), ENGINE_SUCCESS);
    assert_int_equal(t_flush(x, NULL, 0), ENGINE_SUCCESS);
    t_set(x, "k", "v", 0);
    clock_advance(200);
    t_assert_value(x, "k", "v", 0);
    assert_int_equal(t_flush(x, NULL, clock_now() + 100), ENGINE_SUCCESS);
    assert_int_equal(t_flush(x, NULL, clock_now() + 300), ENGINE_SUCCESS);
    clock_advance(200);
    t_assert_value(x, "k", "v", 0);
    clock_advance(200);
    t_assert_missing(x, "k");
}

/* Flushed keys behave as missing for CAS stores and arithmetic. */
static void test_flushed_is_missing(void **state)
{
    struct suite_ctx *x = *state;
    uint64_t cas = t_set(x, "k", "5", 0);
    assert_int_equal(t_flush(x, NULL, 0), ENGINE_SUCCESS);
    assert_int_equal(t_store(x, NULL, ENGINE_STORE_SET, "k", "6", 1, 0, 0, cas, NULL),
                     ENGINE_KEY_ENOENT);
    struct engine_arith a = {.incr = true, .delta = 1};
    uint64_t result = 0, c = 0;
    assert_int_equal(t_arith(x, NULL, "k", &a, &result, &c), ENGINE_KEY_ENOENT);
    assert_int_equal(t_remove(x, NULL, "k", 0), ENGINE_KEY_ENOENT);
}

const struct CMUnitTest suite_time_tests[] = {
    cmocka_unit_test_setup_teardown(test_expiry, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_expiry_in_the_past, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_expired_is_missing, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_touch, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_touch_to_past, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_flush_now, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_flush_delayed, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_flush_supersedes, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_flushed_is_missing, suite_setup, suite_teardown),
};
const size_t suite_time_count = sizeof(suite_time_tests) / sizeof(suite_time_tests[0]);
