/*
 * The server through libmemcached in binary mode, as real clients use it:
 * set/get, multi-get, incr/decr, CAS, append/prepend, touch, delete, flush,
 * add/replace, a 512 KiB value and 5,000 keys. One server per test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libmemcached/memcached.h>

#include "integration/harness.h"

struct lm {
    struct server srv;
    memcached_st *mc;
};

#define assert_rc(rc, want)                                                                        \
    do {                                                                                           \
        memcached_return_t rc_ = (rc);                                                             \
        if (rc_ != (want)) {                                                                       \
            fail_msg("%s: got %s, want %s", #rc, memcached_strerror(NULL, rc_),                    \
                     memcached_strerror(NULL, (want)));                                            \
        }                                                                                          \
    } while (0)

static int lm_teardown(void **state);

static int lm_setup(void **state)
{
    struct lm *t = calloc(1, sizeof(*t));
    if (!t) {
        return -1;
    }
    *state = t;
    if (server_start(&t->srv, NULL) != 0 || !(t->mc = memcached_create(NULL))) {
        lm_teardown(state); /* cmocka skips teardown when setup fails */
        return -1;
    }
    memcached_behavior_set(t->mc, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
    memcached_behavior_set(t->mc, MEMCACHED_BEHAVIOR_SUPPORT_CAS, 1);
    memcached_behavior_set(t->mc, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
    memcached_behavior_set(t->mc, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, IO_TIMEOUT_MS);
    memcached_behavior_set(t->mc, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, IO_TIMEOUT_MS);
    memcached_behavior_set(t->mc, MEMCACHED_BEHAVIOR_RCV_TIMEOUT, IO_TIMEOUT_MS * 1000);
    memcached_behavior_set(t->mc, MEMCACHED_BEHAVIOR_SND_TIMEOUT, IO_TIMEOUT_MS * 1000);
    if (memcached_server_add(t->mc, "127.0.0.1", t->srv.port) != MEMCACHED_SUCCESS) {
        lm_teardown(state);
        return -1;
    }
    return 0;
}

static int lm_teardown(void **state)
{
    struct lm *t = *state;
    if (!t) {
        return 0;
    }
    if (t->mc) {
        memcached_free(t->mc);
    }
    int rc = server_stop(&t->srv);
    free(t);
    *state = NULL;
    return rc;
}

static memcached_st *mc_of(void **state)
{
    return ((struct lm *)*state)->mc;
}

static memcached_return_t put(memcached_st *mc, const char *key, const char *val, time_t exp)
{
    return memcached_set(mc, key, strlen(key), val, strlen(val), exp, 0);
}

static void check_value(memcached_st *mc, const char *key, const char *want)
{
    size_t len = 0;
    uint32_t flags = 0;
    memcached_return_t rc;
    char *v = memcached_get(mc, key, strlen(key), &len, &flags, &rc);
    if (rc != MEMCACHED_SUCCESS) {
        fail_msg("get %s: %s", key, memcached_strerror(mc, rc));
    }
    assert_int_equal(len, strlen(want));
    assert_memory_equal(v, want, len);
    free(v);
}

static void check_missing(memcached_st *mc, const char *key)
{
    size_t len = 0;
    uint32_t flags = 0;
    memcached_return_t rc;
    char *v = memcached_get(mc, key, strlen(key), &len, &flags, &rc);
    assert_null(v);
    assert_rc(rc, MEMCACHED_NOTFOUND);
}

static void test_set_get(void **state)
{
    memcached_st *mc = mc_of(state);
    assert_rc(memcached_set(mc, "hello", 5, "world", 5, 0, 0xabcd1234), MEMCACHED_SUCCESS);
    size_t len = 0;
    uint32_t flags = 0;
    memcached_return_t rc;
    char *v = memcached_get(mc, "hello", 5, &len, &flags, &rc);
    assert_rc(rc, MEMCACHED_SUCCESS);
    assert_int_equal(len, 5);
    assert_memory_equal(v, "world", 5);
    assert_int_equal(flags, 0xabcd1234);
    free(v);
    assert_rc(put(mc, "hello", "again", 0), MEMCACHED_SUCCESS);
    check_value(mc, "hello", "again");
    assert_rc(memcached_set(mc, "empty", 5, "", 0, 0, 0), MEMCACHED_SUCCESS);
    check_value(mc, "empty", "");
    check_missing(mc, "nothere");
}

#define MGET_N 100

static void test_mget(void **state)
{
    memcached_st *mc = mc_of(state);
    char keys[MGET_N + 10][16];
    const char *kp[MGET_N + 10];
    size_t kl[MGET_N + 10];
    for (int i = 0; i < MGET_N + 10; i++) {
        snprintf(keys[i], sizeof(keys[i]), "mg%d", i);
        kp[i] = keys[i];
        kl[i] = strlen(keys[i]);
        if (i < MGET_N) {
            assert_rc(put(mc, keys[i], keys[i], 0), MEMCACHED_SUCCESS);
        }
    }
    assert_rc(memcached_mget(mc, kp, kl, MGET_N + 10), MEMCACHED_SUCCESS);
    bool seen[MGET_N] = {false};
    int n = 0;
    memcached_return_t rc;
    memcached_result_st *res;
    while ((res = memcached_fetch_result(mc, NULL, &rc)) != NULL) {
        const char *k = memcached_result_key_value(res);
        size_t klen = memcached_result_key_length(res);
        int idx = atoi(k + 2);
        assert_true(idx >= 0 && idx < MGET_N && !seen[idx]);
        seen[idx] = true;
        assert_int_equal(memcached_result_length(res), klen);
        assert_memory_equal(memcached_result_value(res), k, klen);
        memcached_result_free(res);
        n++;
    }
    assert_int_equal(n, MGET_N);
}

static void test_incr_decr(void **state)
{
    memcached_st *mc = mc_of(state);
    uint64_t v = 0;
    assert_rc(put(mc, "n", "10", 0), MEMCACHED_SUCCESS);
    assert_rc(memcached_increment(mc, "n", 1, 5, &v), MEMCACHED_SUCCESS);
    assert_int_equal(v, 15);
    assert_rc(memcached_decrement(mc, "n", 1, 20, &v), MEMCACHED_SUCCESS);
    assert_int_equal(v, 0);
    /* memcached rewrites "15" in place as "0 " (space padded); basalt stores "0". */
    check_value(mc, "n", ((struct lm *)*state)->srv.is_memcached ? "0 " : "0");
    assert_rc(memcached_increment(mc, "missing", 7, 1, &v), MEMCACHED_NOTFOUND);
    assert_rc(memcached_increment_with_initial(mc, "init", 4, 3, 42, 0, &v), MEMCACHED_SUCCESS);
    assert_int_equal(v, 42);
    assert_rc(memcached_increment_with_initial(mc, "init", 4, 3, 42, 0, &v), MEMCACHED_SUCCESS);
    assert_int_equal(v, 45);
    assert_rc(memcached_decrement_with_initial(mc, "dinit", 5, 3, 9, 0, &v), MEMCACHED_SUCCESS);
    assert_int_equal(v, 9);
    assert_rc(put(mc, "word", "abc", 0), MEMCACHED_SUCCESS);
    memcached_return_t rc = memcached_increment(mc, "word", 4, 1, &v);
    assert_true(rc != MEMCACHED_SUCCESS);
}

/* Fetches key's CAS through mget with CAS support. */
static uint64_t fetch_cas(memcached_st *mc, const char *key)
{
    const char *keys[] = {key};
    size_t lens[] = {strlen(key)};
    assert_rc(memcached_mget(mc, keys, lens, 1), MEMCACHED_SUCCESS);
    memcached_return_t rc;
    memcached_result_st *res = memcached_fetch_result(mc, NULL, &rc);
    assert_non_null(res);
    uint64_t cas = memcached_result_cas(res);
    memcached_result_free(res);
    assert_null(memcached_fetch_result(mc, NULL, &rc)); /* drain the end marker */
    return cas;
}

static void test_cas(void **state)
{
    memcached_st *mc = mc_of(state);
    assert_rc(put(mc, "c", "one", 0), MEMCACHED_SUCCESS);
    uint64_t cas = fetch_cas(mc, "c");
    assert_true(cas != 0);
    assert_rc(memcached_cas(mc, "c", 1, "two", 3, 0, 0, cas), MEMCACHED_SUCCESS);
    check_value(mc, "c", "two");
    assert_rc(memcached_cas(mc, "c", 1, "three", 5, 0, 0, cas), MEMCACHED_DATA_EXISTS);
    check_value(mc, "c", "two");
    uint64_t cas2 = fetch_cas(mc, "c");
    assert_true(cas2 != cas);
    assert_rc(memcached_cas(mc, "nocas", 5, "x", 1, 0, 0, cas2), MEMCACHED_NOTFOUND);
}

static void test_append_prepend(void **state)
{
    memcached_st *mc = mc_of(state);
    assert_rc(put(mc, "ap", "mid", 0), MEMCACHED_SUCCESS);
    assert_rc(memcached_append(mc, "ap", 2, "-end", 4, 0, 0), MEMCACHED_SUCCESS);
    assert_rc(memcached_prepend(mc, "ap", 2, "start-", 6, 0, 0), MEMCACHED_SUCCESS);
    check_value(mc, "ap", "start-mid-end");
    assert_rc(memcached_append(mc, "none", 4, "x", 1, 0, 0), MEMCACHED_NOTSTORED);
    assert_rc(memcached_prepend(mc, "none", 4, "x", 1, 0, 0), MEMCACHED_NOTSTORED);
    check_missing(mc, "none");
}

static void test_touch(void **state)
{
    memcached_st *mc = mc_of(state);
    /* 2 s, not 1: with whole-second clocks an expiry of 1 may pass within a millisecond. */
    assert_rc(put(mc, "t", "stays", 2), MEMCACHED_SUCCESS);
    assert_rc(put(mc, "u", "goes", 100), MEMCACHED_SUCCESS);
    assert_rc(memcached_touch(mc, "t", 1, 100), MEMCACHED_SUCCESS);
    assert_rc(memcached_touch(mc, "u", 1, 1), MEMCACHED_SUCCESS);
    assert_rc(memcached_touch(mc, "none", 4, 100), MEMCACHED_NOTFOUND);
    sleep_ms(3100); /* past t's first expiry: it stays only thanks to the touch */
    check_value(mc, "t", "stays");
    check_missing(mc, "u");
}

static void test_delete_flush(void **state)
{
    memcached_st *mc = mc_of(state);
    assert_rc(put(mc, "d", "x", 0), MEMCACHED_SUCCESS);
    assert_rc(memcached_delete(mc, "d", 1, 0), MEMCACHED_SUCCESS);
    check_missing(mc, "d");
    assert_rc(memcached_delete(mc, "d", 1, 0), MEMCACHED_NOTFOUND);
    assert_rc(put(mc, "f1", "x", 0), MEMCACHED_SUCCESS);
    assert_rc(put(mc, "f2", "y", 0), MEMCACHED_SUCCESS);
    assert_rc(memcached_flush(mc, 0), MEMCACHED_SUCCESS);
    check_missing(mc, "f1");
    check_missing(mc, "f2");
    assert_rc(put(mc, "f1", "z", 0), MEMCACHED_SUCCESS);
    check_value(mc, "f1", "z");
}

static void test_add_replace(void **state)
{
    memcached_st *mc = mc_of(state);
    assert_rc(memcached_add(mc, "a", 1, "1", 1, 0, 0), MEMCACHED_SUCCESS);
    assert_rc(memcached_add(mc, "a", 1, "2", 1, 0, 0), MEMCACHED_DATA_EXISTS);
    check_value(mc, "a", "1");
    assert_rc(memcached_replace(mc, "r", 1, "1", 1, 0, 0), MEMCACHED_NOTFOUND);
    check_missing(mc, "r");
    assert_rc(memcached_replace(mc, "a", 1, "3", 1, 0, 0), MEMCACHED_SUCCESS);
    check_value(mc, "a", "3");
}

static void test_big_value(void **state)
{
    memcached_st *mc = mc_of(state);
    size_t n = 512 * 1024;
    char *val = malloc(n);
    assert_non_null(val);
    for (size_t i = 0; i < n; i++) {
        val[i] = (char)('a' + (i * 7 + i / 4096) % 26);
    }
    assert_rc(memcached_set(mc, "big", 3, val, n, 0, 7), MEMCACHED_SUCCESS);
    size_t len = 0;
    uint32_t flags = 0;
    memcached_return_t rc;
    char *got = memcached_get(mc, "big", 3, &len, &flags, &rc);
    assert_rc(rc, MEMCACHED_SUCCESS);
    assert_int_equal(len, n);
    assert_int_equal(flags, 7);
    assert_memory_equal(got, val, n);
    free(got);
    free(val);
}

#define MANY_N 5000

static void test_many_keys(void **state)
{
    memcached_st *mc = mc_of(state);
    char key[32], val[64];
    int64_t t0 = now_ms();
    for (int i = 0; i < MANY_N; i++) {
        snprintf(key, sizeof(key), "many:%d", i);
        snprintf(val, sizeof(val), "value-%d-%d", i, i * 31);
        assert_rc(put(mc, key, val, 0), MEMCACHED_SUCCESS);
    }
    for (int i = 0; i < MANY_N; i++) {
        snprintf(key, sizeof(key), "many:%d", i);
        snprintf(val, sizeof(val), "value-%d-%d", i, i * 31);
        check_value(mc, key, val);
    }
    assert_true(now_ms() - t0 < 30000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_set_get, lm_setup, lm_teardown),
        cmocka_unit_test_setup_teardown(test_mget, lm_setup, lm_teardown),
        cmocka_unit_test_setup_teardown(test_incr_decr, lm_setup, lm_teardown),
        cmocka_unit_test_setup_teardown(test_cas, lm_setup, lm_teardown),
        cmocka_unit_test_setup_teardown(test_append_prepend, lm_setup, lm_teardown),
        cmocka_unit_test_setup_teardown(test_touch, lm_setup, lm_teardown),
        cmocka_unit_test_setup_teardown(test_delete_flush, lm_setup, lm_teardown),
        cmocka_unit_test_setup_teardown(test_add_replace, lm_setup, lm_teardown),
        cmocka_unit_test_setup_teardown(test_big_value, lm_setup, lm_teardown),
        cmocka_unit_test_setup_teardown(test_many_keys, lm_setup, lm_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
