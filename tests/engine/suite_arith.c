/*
 * Conformance tests of incr/decr: decimal parsing, wrap and floor, creation
 * with an initial value, CAS. Test thread only.
 */
#include <string.h>

#include "suite_util.h"

/* Runs incr (or decr) by delta without create or CAS; returns the status. */
static engine_status step(struct suite_ctx *x, const char *key, bool incr, uint64_t delta,
                          uint64_t *result)
{
    struct engine_arith a = {.incr = incr, .delta = delta};
    uint64_t cas = 0;
    return t_arith(x, NULL, key, &a, result, &cas);
}

/* incr and decr compute, store decimal text, keep flags and give a new CAS. */
static void test_incr_decr_basic(void **state)
{
    struct suite_ctx *x = *state;
    uint64_t c0 = t_set(x, "n", "10", 77);
    struct engine_arith a = {.incr = true, .delta = 5};
    uint64_t result = 0, c1 = 0;
    assert_int_equal(t_arith(x, NULL, "n", &a, &result, &c1), ENGINE_SUCCESS);
    assert_int_equal(result, 15);
    assert_true(c1 > c0);
    t_assert_value(x, "n", "15", 77);
    assert_int_equal(step(x, "n", false, 6, &result), ENGINE_SUCCESS);
    assert_int_equal(result, 9);
    t_assert_value(x, "n", "9", 77);
    assert_int_equal(step(x, "n", true, 991, &result), ENGINE_SUCCESS);
    assert_int_equal(result, 1000);
    t_assert_value(x, "n", "1000", 77);
    /* The stored CAS is the one reported. */
    struct item *it = NULL;
    uint64_t c2 = 0;
    assert_int_equal(t_arith(x, NULL, "n", &a, &result, &c2), ENGINE_SUCCESS);
    assert_int_equal(t_get(x, NULL, "n", &it), ENGINE_SUCCESS);
    assert_true(it->cas == c2);
    item_unref(it);
}

/* incr wraps at 2^64; decr stops at 0. */
static void test_wrap_and_floor(void **state)
{
    struct suite_ctx *x = *state;
    uint64_t result = 1;
    t_set(x, "max", "18446744073709551615", 0);
    assert_int_equal(step(x, "max", true, 1, &result), ENGINE_SUCCESS);
    assert_int_equal(result, 0);
    t_assert_value(x, "max", "0", 0);
    t_set(x, "max", "18446744073709551614", 0);
    assert_int_equal(step(x, "max", true, 3, &result), ENGINE_SUCCESS);
    assert_int_equal(result, 1);
    t_set(x, "low", "3", 0);
    assert_int_equal(step(x, "low", false, 5, &result), ENGINE_SUCCESS);
    assert_int_equal(result, 0);
    t_assert_value(x, "low", "0", 0);
    assert_int_equal(step(x, "low", false, 1, &result), ENGINE_SUCCESS);
    assert_int_equal(result, 0);
    t_set(x, "big", "18446744073709551615", 0);
    assert_int_equal(step(x, "big", false, UINT64_MAX, &result), ENGINE_SUCCESS);
    assert_int_equal(result, 0);
}

/* Values that are not a decimal number below 2^64 are refused and left alone. */
static void test_bad_values(void **state)
{
    struct suite_ctx *x = *state;
    static const char *const bad[] = {
        "abc",
        "12a",
        "a12",
        " 12",
        "12 ",
        "-1",
        "+1",
        "1.5",
        "0x10",
        "18446744073709551616",
        "99999999999999999999",
        "000000000000000000001",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        t_set(x, "v", bad[i], 3);
        uint64_t result = 0;
        assert_int_equal(step(x, "v", true, 1, &result), ENGINE_DELTA_BADVAL);
        assert_int_equal(step(x, "v", false, 1, &result), ENGINE_DELTA_BADVAL);
        t_assert_value(x, "v", bad[i], 3);
    }
    /* An empty value is not a number either. */
    assert_int_equal(t_store(x, NULL, ENGINE_STORE_SET, "e", "", 0, 0, 0, 0, NULL), ENGINE_SUCCESS);
    uint64_t result = 0;
    assert_int_equal(step(x, "e", true, 1, &result), ENGINE_DELTA_BADVAL);
    /* A value with a NUL inside is not a number. */
    assert_int_equal(t_store(x, NULL, ENGINE_STORE_SET, "z", "1\0002", 3, 0, 0, 0, NULL),
                     ENGINE_SUCCESS);
    assert_int_equal(step(x, "z", true, 1, &result), ENGINE_DELTA_BADVAL);
}

/* Leading zeros and the largest value are numbers. */
static void test_edge_numbers(void **state)
{
    struct suite_ctx *x = *state;
    uint64_t result = 0;
    t_set(x, "z", "00012", 0);
    assert_int_equal(step(x, "z", true, 1, &result), ENGINE_SUCCESS);
    assert_int_equal(result, 13);
    t_assert_value(x, "z", "13", 0);
    t_set(x, "m", "18446744073709551615", 0);
    assert_int_equal(step(x, "m", true, 0, &result), ENGINE_SUCCESS);
    assert_true(result == UINT64_MAX);
    t_assert_value(x, "m", "18446744073709551615", 0);
    t_set(x, "zero", "0", 0);
    assert_int_equal(step(x, "zero", true, 0, &result), ENGINE_SUCCESS);
    assert_int_equal(result, 0);
}

/* A missing key: not found without create; created with initial (delta not applied) with it. */
static void test_missing_and_create(void **state)
{
    struct suite_ctx *x = *state;
    uint64_t result = 0;
    assert_int_equal(step(x, "n", true, 1, &result), ENGINE_KEY_ENOENT);
    assert_int_equal(step(x, "n", false, 1, &result), ENGINE_KEY_ENOENT);
    t_assert_missing(x, "n");
    rel_time_t exp = clock_now() + 1000;
    struct engine_arith a = {
        .incr = true, .create = true, .delta = 5, .initial = 42, .exptime = exp};
    uint64_t cas = 0;
    assert_int_equal(t_arith(x, NULL, "n", &a, &result, &cas), ENGINE_SUCCESS);
    assert_int_equal(result, 42);
    assert_true(cas != 0);
    struct item *it = NULL;
    assert_int_equal(t_get(x, NULL, "n", &it), ENGINE_SUCCESS);
    assert_int_equal(it->nbytes, 2);
    assert_memory_equal(item_cvalue(it), "42", 2);
    assert_int_equal(it->flags, 0);
    assert_int_equal(it->exptime, exp);
    assert_true(it->cas == cas);
    item_unref(it);
    /* Now it exists: the delta applies. */
    assert_int_equal(t_arith(x, NULL, "n", &a, &result, &cas), ENGINE_SUCCESS);
    assert_int_equal(result, 47);
    /* decr creates too. */
    struct engine_arith d = {.incr = false, .create = true, .delta = 1, .initial = 0};
    assert_int_equal(t_arith(x, NULL, "d", &d, &result, &cas), ENGINE_SUCCESS);
    assert_int_equal(result, 0);
    t_assert_value(x, "d", "0", 0);
    /* The largest initial value round-trips. */
    d.initial = UINT64_MAX;
    assert_int_equal(t_arith(x, NULL, "dmax", &d, &result, &cas), ENGINE_SUCCESS);
    t_assert_value(x, "dmax", "18446744073709551615", 0);
}

/* incr/decr keep the stored expiry. */
static void test_arith_keeps_expiry(void **state)
{
    struct suite_ctx *x = *state;
    rel_time_t exp = clock_now() + 1000;
    assert_int_equal(t_store(x, NULL, ENGINE_STORE_SET, "n", "5", 1, 9, exp, 0, NULL),
                     ENGINE_SUCCESS);
    uint64_t result = 0;
    assert_int_equal(step(x, "n", true, 1, &result), ENGINE_SUCCESS);
    struct item *it = NULL;
    assert_int_equal(t_get(x, NULL, "n", &it), ENGINE_SUCCESS);
    assert_int_equal(it->exptime, exp);
    assert_int_equal(it->flags, 9);
    item_unref(it);
}

/* With a CAS: applied on match, EEXISTS on mismatch, ENOENT when missing (even with create). */
static void test_arith_cas(void **state)
{
    struct suite_ctx *x = *state;
    uint64_t c1 = t_set(x, "n", "1", 0);
    struct engine_arith a = {.incr = true, .delta = 1, .cas = c1 + 100};
    uint64_t result = 0, cas = 0;
    assert_int_equal(t_arith(x, NULL, "n", &a, &result, &cas), ENGINE_KEY_EEXISTS);
    t_assert_value(x, "n", "1", 0);
    a.cas = c1;
    assert_int_equal(t_arith(x, NULL, "n", &a, &result, &cas), ENGINE_SUCCESS);
    assert_int_equal(result, 2);
    assert_true(cas > c1);
    /* c1 is spent. */
    assert_int_equal(t_arith(x, NULL, "n", &a, &result, &cas), ENGINE_KEY_EEXISTS);
    t_assert_value(x, "n", "2", 0);
    struct engine_arith m = {.incr = true, .create = true, .delta = 1, .initial = 5, .cas = 9};
    assert_int_equal(t_arith(x, NULL, "missing", &m, &result, &cas), ENGINE_KEY_ENOENT);
    t_assert_missing(x, "missing");
}

const struct CMUnitTest suite_arith_tests[] = {
    cmocka_unit_test_setup_teardown(test_incr_decr_basic, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_wrap_and_floor, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_bad_values, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_edge_numbers, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_missing_and_create, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_arith_keeps_expiry, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_arith_cas, suite_setup, suite_teardown),
};
const size_t suite_arith_count = sizeof(suite_arith_tests) / sizeof(suite_arith_tests[0]);
