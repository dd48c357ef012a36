/*
 * Conformance tests of get, store (set/add/replace/append/prepend), remove,
 * CAS and the item size limit. Test thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suite_util.h"

#define SET ENGINE_STORE_SET
#define ADD ENGINE_STORE_ADD
#define REPLACE ENGINE_STORE_REPLACE
#define APPEND ENGINE_STORE_APPEND
#define PREPEND ENGINE_STORE_PREPEND

/* Stores a C string with op; returns the status. */
static engine_status put(struct suite_ctx *x, enum engine_store_op op, const char *key,
                         const char *value, uint32_t flags, uint64_t cas, uint64_t *cas_out)
{
    return t_store(x, NULL, op, key, value, strlen(value), flags, 0, cas, cas_out);
}

/* A get on a key never stored misses. */
static void test_get_miss(void **state)
{
    struct suite_ctx *x = *state;
    struct item *it = NULL;
    assert_int_equal(t_get(x, NULL, "nope", &it), ENGINE_KEY_ENOENT);
    assert_null(it);
}

/* set then get returns the key, value, flags and the CAS set reported. */
static void test_set_get_round_trip(void **state)
{
    struct suite_ctx *x = *state;
    uint64_t cas = t_set(x, "alpha", "hello world", 0xdeadbeef);
    struct item *it = NULL;
    assert_int_equal(t_get(x, NULL, "alpha", &it), ENGINE_SUCCESS);
    assert_int_equal(it->nkey, 5);
    assert_memory_equal(item_key(it), "alpha", 5);
    assert_int_equal(it->nbytes, 11);
    assert_memory_equal(item_cvalue(it), "hello world", 11);
    assert_int_equal(it->flags, 0xdeadbeef);
    assert_true(it->cas == cas);
    item_unref(it);
}

/* Values are bytes: NULs and high bytes survive; an empty value is a value. */
static void test_binary_and_empty_values(void **state)
{
    struct suite_ctx *x = *state;
    const char bin[] = {'a', 0, (char)0xff, 0, 'z'};
    assert_int_equal(t_store(x, NULL, SET, "bin", bin, sizeof(bin), 1, 0, 0, NULL), ENGINE_SUCCESS);
    assert_int_equal(t_store(x, NULL, SET, "empty", "", 0, 2, 0, 0, NULL), ENGINE_SUCCESS);
    struct item *it = NULL;
    assert_int_equal(t_get(x, NULL, "bin", &it), ENGINE_SUCCESS);
    assert_int_equal(it->nbytes, sizeof(bin));
    assert_memory_equal(item_cvalue(it), bin, sizeof(bin));
    item_unref(it);
    t_assert_value(x, "empty", "", 2);
}

/* Keys of 1 and 250 bytes work, and keys differing in one byte are distinct. */
static void test_key_lengths(void **state)
{
    struct suite_ctx *x = *state;
    char longkey[ITEM_KEY_MAX + 1];
    memset(longkey, 'k', ITEM_KEY_MAX);
    longkey[ITEM_KEY_MAX] = '\0';
    t_set(x, "a", "one", 0);
    t_set(x, longkey, "long", 0);
    longkey[ITEM_KEY_MAX - 1] = 'j';
    t_assert_missing(x, longkey);
    t_set(x, longkey, "long2", 0);
    longkey[ITEM_KEY_MAX - 1] = 'k';
    t_assert_value(x, "a", "one", 0);
    t_assert_value(x, longkey, "long", 0);
}

/* set overwrites value and flags and hands out a new CAS. */
static void test_set_overwrites(void **state)
{
    struct suite_ctx *x = *state;
    uint64_t c1 = t_set(x, "k", "v1", 1);
    uint64_t c2 = t_set(x, "k", "second", 2);
    assert_true(c2 != c1);
    t_assert_value(x, "k", "second", 2);
}

/* add stores only a missing key. */
static void test_add(void **state)
{
    struct suite_ctx *x = *state;
    uint64_t cas = 0;
    assert_int_equal(put(x, ADD, "k", "first", 3, 0, &cas), ENGINE_SUCCESS);
    assert_true(cas != 0);
    assert_int_equal(put(x, ADD, "k", "second", 4, 0, NULL), ENGINE_KEY_EEXISTS);
    t_assert_value(x, "k", "first", 3);
}

/* replace stores only an existing key. */
static void test_replace(void **state)
{
    struct suite_ctx *x = *state;
    assert_int_equal(put(x, REPLACE, "k", "v", 0, 0, NULL), ENGINE_KEY_ENOENT);
    t_assert_missing(x, "k");
    t_set(x, "k", "old", 1);
    assert_int_equal(put(x, REPLACE, "k", "new", 2, 0, NULL), ENGINE_SUCCESS);
    t_assert_value(x, "k", "new", 2);
}

/* append/prepend join values, keep the stored flags and expiry, and give a new CAS. */
static void test_append_prepend(void **state)
{
    struct suite_ctx *x = *state;
    rel_time_t exp = clock_now() + 1000;
    uint64_t c0 = 0, c1 = 0, c2 = 0;
    assert_int_equal(t_store(x, NULL, SET, "k", "mid", 3, 7, exp, 0, &c0), ENGINE_SUCCESS);
    /* The appended item's own flags and expiry are ignored. */
    assert_int_equal(t_store(x, NULL, APPEND, "k", "-end", 4, 99, 0, 0, &c1), ENGINE_SUCCESS);
    assert_int_equal(t_store(x, NULL, PREPEND, "k", "start-", 6, 98, 5, 0, &c2), ENGINE_SUCCESS);
    assert_true(c1 > c0);
    assert_true(c2 > c1);
    struct item *it = NULL;
    assert_int_equal(t_get(x, NULL, "k", &it), ENGINE_SUCCESS);
    assert_int_equal(it->nbytes, strlen("start-mid-end"));
    assert_memory_equal(item_cvalue(it), "start-mid-end", it->nbytes);
    assert_int_equal(it->flags, 7);
    assert_int_equal(it->exptime, exp);
    assert_true(it->cas == c2);
    item_unref(it);
}

/* append/prepend on a missing key: not stored; with a CAS: not found. */
static void test_append_prepend_missing(void **state)
{
    struct suite_ctx *x = *state;
    assert_int_equal(put(x, APPEND, "k", "x", 0, 0, NULL), ENGINE_NOT_STORED);
    assert_int_equal(put(x, PREPEND, "k", "x", 0, 0, NULL), ENGINE_NOT_STORED);
    assert_int_equal(put(x, APPEND, "k", "x", 0, 12345, NULL), ENGINE_KEY_ENOENT);
    assert_int_equal(put(x, PREPEND, "k", "x", 0, 12345, NULL), ENGINE_KEY_ENOENT);
    t_assert_missing(x, "k");
}

/* set/replace with a CAS: stored on match only; not found when missing. */
static void test_cas_store(void **state)
{
    struct suite_ctx *x = *state;
    assert_int_equal(put(x, SET, "k", "v", 0, 42, NULL), ENGINE_KEY_ENOENT);
    assert_int_equal(put(x, REPLACE, "k", "v", 0, 42, NULL), ENGINE_KEY_ENOENT);
    t_assert_missing(x, "k");
    uint64_t c1 = t_set(x, "k", "v1", 1);
    assert_int_equal(put(x, SET, "k", "bad", 0, c1 + 1000, NULL), ENGINE_KEY_EEXISTS);
    t_assert_value(x, "k", "v1", 1);
    uint64_t c2 = 0;
    assert_int_equal(put(x, SET, "k", "v2", 2, c1, &c2), ENGINE_SUCCESS);
    assert_true(c2 > c1);
    /* The old CAS is spent. */
    assert_int_equal(put(x, SET, "k", "v3", 3, c1, NULL), ENGINE_KEY_EEXISTS);
    uint64_t c3 = 0;
    assert_int_equal(put(x, REPLACE, "k", "v3", 3, c2, &c3), ENGINE_SUCCESS);
    assert_int_equal(put(x, REPLACE, "k", "v4", 4, c2, NULL), ENGINE_KEY_EEXISTS);
    t_assert_value(x, "k", "v3", 3);
    /* add never overwrites, CAS or not. */
    assert_int_equal(put(x, ADD, "k", "v5", 5, c3, NULL), ENGINE_KEY_EEXISTS);
    t_assert_value(x, "k", "v3", 3);
}

/* append/prepend with a CAS: joined on match only. */
static void test_cas_append_prepend(void **state)
{
    struct suite_ctx *x = *state;
    uint64_t c1 = t_set(x, "k", "b", 0);
    assert_int_equal(put(x, APPEND, "k", "c", 0, c1 + 7, NULL), ENGINE_KEY_EEXISTS);
    assert_int_equal(put(x, PREPEND, "k", "a", 0, c1 + 7, NULL), ENGINE_KEY_EEXISTS);
    t_assert_value(x, "k", "b", 0);
    uint64_t c2 = 0, c3 = 0;
    assert_int_equal(put(x, APPEND, "k", "c", 0, c1, &c2), ENGINE_SUCCESS);
    assert_int_equal(put(x, PREPEND, "k", "a", 0, c1, NULL), ENGINE_KEY_EEXISTS);
    assert_int_equal(put(x, PREPEND, "k", "a", 0, c2, &c3), ENGINE_SUCCESS);
    assert_true(c3 > c2 && c2 > c1);
    t_assert_value(x, "k", "abc", 0);
}

/* remove: missing is not found; then the key is gone; CAS makes it conditional. */
static void test_remove(void **state)
{
    struct suite_ctx *x = *state;
    assert_int_equal(t_remove(x, NULL, "k", 0), ENGINE_KEY_ENOENT);
    uint64_t cas = t_set(x, "k", "v", 0);
    t_set(x, "other", "v", 0);
    assert_int_equal(t_remove(x, NULL, "k", cas + 1), ENGINE_KEY_EEXISTS);
    t_assert_value(x, "k", "v", 0);
    assert_int_equal(t_remove(x, NULL, "k", cas), ENGINE_SUCCESS);
    t_assert_missing(x, "k");
    assert_int_equal(t_remove(x, NULL, "k", 0), ENGINE_KEY_ENOENT);
    assert_int_equal(t_remove(x, NULL, "k", cas), ENGINE_KEY_ENOENT);
    t_assert_value(x, "other", "v", 0);
    /* A removed key can be added again. */
    assert_int_equal(put(x, ADD, "k", "again", 0, 0, NULL), ENGINE_SUCCESS);
    t_assert_value(x, "k", "again", 0);
}

/* Every successful store gets a CAS above all earlier ones, across keys and ops. */
static void test_cas_unique_increasing(void **state)
{
    struct suite_ctx *x = *state;
    uint64_t last = 0;
    char key[16];
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof(key), "k%d", i % 13);
        uint64_t cas = 0;
        engine_status st;
        if (i % 4 == 3) {
            st = put(x, APPEND, "k0", "x", 0, 0, &cas); /* k0 was set at i == 0 */
        } else {
            st = put(x, SET, key, "1", 0, 0, &cas);
        }
        assert_int_equal(st, ENGINE_SUCCESS);
        assert_true(cas > last);
        last = cas;
        if (i % 5 == 0) {
            struct engine_arith a = {.incr = true, .create = true, .delta = 1};
            uint64_t result;
            assert_int_equal(t_arith(x, NULL, "counter", &a, &result, &cas), ENGINE_SUCCESS);
            assert_true(cas > last);
            last = cas;
        }
    }
}

/* A value of exactly item_size_max fits; one byte more, or an append past it, is E2BIG. */
static void test_e2big(void **state)
{
    struct suite_ctx *x = *state;
    size_t max = x->f->item_size_max;
    struct item *it = NULL;
    assert_int_equal(t_alloc(x, NULL, "big", max + 1, 0, 0, &it), ENGINE_E2BIG);
    assert_int_equal(t_alloc(x, NULL, "big", max, 0, 0, &it), ENGINE_SUCCESS);
    memset(item_value(it), 'b', max);
    assert_int_equal(t_store_item(x, NULL, it, 0, SET, NULL), ENGINE_SUCCESS);
    item_unref(it);
    assert_int_equal(put(x, APPEND, "big", "x", 0, 0, NULL), ENGINE_E2BIG);
    assert_int_equal(put(x, PREPEND, "big", "x", 0, 0, NULL), ENGINE_E2BIG);
    it = NULL;
    assert_int_equal(t_get(x, NULL, "big", &it), ENGINE_SUCCESS);
    assert_int_equal(it->nbytes, max);
    assert_int_equal(item_cvalue(it)[max - 1], 'b');
    item_unref(it);
}

/* An allocated item that is never stored is invisible and freed by its last unref. */
static void test_allocate_without_store(void **state)
{
    struct suite_ctx *x = *state;
    struct item *it = NULL;
    assert_int_equal(t_alloc(x, NULL, "ghost", 10, 5, 0, &it), ENGINE_SUCCESS);
    assert_non_null(it);
    assert_int_equal(it->nkey, 5);
    assert_memory_equal(item_key(it), "ghost", 5);
    assert_int_equal(it->nbytes, 10);
    assert_int_equal(it->flags, 5);
    t_assert_missing(x, "ghost");
    item_unref(it);
    t_assert_missing(x, "ghost");
}

/* The caller keeps its reference after store: the stored item stays readable through it. */
static void test_store_keeps_caller_reference(void **state)
{
    struct suite_ctx *x = *state;
    struct item *it = NULL;
    assert_int_equal(t_alloc(x, NULL, "k", 3, 0, 0, &it), ENGINE_SUCCESS);
    memcpy(item_value(it), "abc", 3);
    uint64_t cas = 0;
    assert_int_equal(t_store_item(x, NULL, it, 0, SET, &cas), ENGINE_SUCCESS);
    assert_int_equal(t_remove(x, NULL, "k", 0), ENGINE_SUCCESS);
    assert_memory_equal(item_cvalue(it), "abc", 3);
    item_unref(it);
}

const struct CMUnitTest suite_store_tests[] = {
    cmocka_unit_test_setup_teardown(test_get_miss, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_set_get_round_trip, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_binary_and_empty_values, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_key_lengths, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_set_overwrites, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_add, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_replace, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_append_prepend, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_append_prepend_missing, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_cas_store, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_cas_append_prepend, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_remove, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_cas_unique_increasing, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_e2big, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_allocate_without_store, suite_setup, suite_teardown),
    cmocka_unit_test_setup_teardown(test_store_keeps_caller_reference, suite_setup, suite_teardown),
};
const size_t suite_store_count = sizeof(suite_store_tests) / sizeof(suite_store_tests[0]);
