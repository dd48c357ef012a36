/*
 * Binary protocol command semantics over raw sockets: INCR/DECR (result
 * encoding, initial values, bad values, wrap and floor), the storage rules of
 * ADD/REPLACE/APPEND/PREPEND/CAS/DELETE, delayed FLUSH and expiration.
 * One server per test; sleeps are bounded and total a few seconds.
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

#include "integration/harness.h"

#define NO_CREATE 0xFFFFFFFFu

static void check_value(int fd, const char *key, const char *want)
{
    char v[64];
    size_t len = 0;
    assert_int_equal(kv_get(fd, key, v, sizeof(v), &len), BIN_STATUS_SUCCESS);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(v, want, len);
}

/*
 * An INCR/DECR result read back with GET. memcached rewrites a shorter number
 * in place and pads it with spaces ("0" after DECR from "11" reads "0 ");
 * basalt stores the exact decimal, so the padding is accepted only from memcached.
 */
static void check_number(int fd, bool is_memcached, const char *key, const char *want)
{
    char v[64];
    size_t len = 0;
    assert_int_equal(kv_get(fd, key, v, sizeof(v) - 1, &len), BIN_STATUS_SUCCESS);
    assert_true(len < sizeof(v));
    while (is_memcached && len > strlen(want) && v[len - 1] == ' ') {
        len--;
    }
    v[len] = '\0';
    assert_string_equal(v, want);
}

static void check_missing(int fd, const char *key)
{
    char v[64];
    size_t len = 0;
    assert_int_equal(kv_get(fd, key, v, sizeof(v), &len), BIN_STATUS_KEY_ENOENT);
}

static int open_conn(void **state)
{
    struct server *s = *state;
    int fd = sock_connect(s->port);
    assert_true(fd >= 0);
    return fd;
}

static void test_incr_decr(void **state)
{
    int fd = open_conn(state);
    bool mc = ((struct server *)*state)->is_memcached;
    uint64_t r = 0;
    /* A missing key is created with the initial value (the delta is not added). */
    assert_int_equal(kv_arith(fd, BIN_CMD_INCREMENT, "cnt", 1, 10, 0, &r), BIN_STATUS_SUCCESS);
    assert_int_equal(r, 10);
    assert_int_equal(kv_arith(fd, BIN_CMD_INCREMENT, "cnt", 5, 99, 0, &r), BIN_STATUS_SUCCESS);
    assert_int_equal(r, 15);
    check_number(fd, mc, "cnt", "15");
    assert_int_equal(kv_arith(fd, BIN_CMD_DECREMENT, "cnt", 4, 0, 0, &r), BIN_STATUS_SUCCESS);
    assert_int_equal(r, 11);
    /* DECR stops at 0. */
    assert_int_equal(kv_arith(fd, BIN_CMD_DECREMENT, "cnt", 100, 0, 0, &r), BIN_STATUS_SUCCESS);
    assert_int_equal(r, 0);
    check_number(fd, mc, "cnt", "0");
    assert_int_equal(kv_arith(fd, BIN_CMD_DECREMENT, "dnew", 3, 7, 0, &r), BIN_STATUS_SUCCESS);
    assert_int_equal(r, 7);
    /* Expiration 0xFFFFFFFF: do not create. */
    assert_int_equal(kv_arith(fd, BIN_CMD_INCREMENT, "nokey", 1, 10, NO_CREATE, &r),
                     BIN_STATUS_KEY_ENOENT);
    assert_int_equal(kv_arith(fd, BIN_CMD_DECREMENT, "nokey", 1, 10, NO_CREATE, &r),
                     BIN_STATUS_KEY_ENOENT);
    check_missing(fd, "nokey");
    close(fd);
}

static void test_incr_edges(void **state)
{
    int fd = open_conn(state);
    bool mc = ((struct server *)*state)->is_memcached;
    uint64_t r = 0;
    assert_int_equal(kv_set(fd, BIN_CMD_SET, "txt", "abc", 3, 0, 0), BIN_STATUS_SUCCESS);
    assert_int_equal(kv_arith(fd, BIN_CMD_INCREMENT, "txt", 1, 0, 0, &r), BIN_STATUS_DELTA_BADVAL);
    assert_int_equal(kv_arith(fd, BIN_CMD_DECREMENT, "txt", 1, 0, 0, &r), BIN_STATUS_DELTA_BADVAL);
    check_value(fd, "txt", "abc");
    /* INCR wraps at 2^64. */
    const char *max = "18446744073709551615";
    assert_int_equal(kv_set(fd, BIN_CMD_SET, "max", max, (uint32_t)strlen(max), 0, 0), 0);
    assert_int_equal(kv_arith(fd, BIN_CMD_INCREMENT, "max", 1, 0, 0, &r), BIN_STATUS_SUCCESS);
    assert_int_equal(r, 0);
    check_number(fd, mc, "max", "0");
    assert_int_equal(kv_set(fd, BIN_CMD_SET, "near", "18446744073709551610", 20, 0, 0), 0);
    assert_int_equal(kv_arith(fd, BIN_CMD_INCREMENT, "near", 10, 0, 0, &r), BIN_STATUS_SUCCESS);
    assert_int_equal(r, 4);
    /* A 64-bit delta. */
    assert_int_equal(kv_arith(fd, BIN_CMD_INCREMENT, "big", UINT64_C(1) << 40, 1, 0, &r), 0);
    assert_int_equal(r, 1);
    assert_int_equal(kv_arith(fd, BIN_CMD_INCREMENT, "big", UINT64_C(1) << 40, 1, 0, &r), 0);
    assert_int_equal(r, (UINT64_C(1) << 40) + 1);
    check_number(fd, mc, "big", "1099511627777");
    close(fd);
}

/* SET with a CAS; returns the status and the response CAS in *cas_out. */
static int set_cas(int fd, uint8_t opcode, const char *key, const char *val, uint64_t cas,
                   uint64_t *cas_out)
{
    uint8_t ext[8] = {0};
    struct frame_req r = {.opcode = opcode,
                          .extras = ext,
                          .extlen = 8,
                          .key = key,
                          .keylen = (uint16_t)strlen(key),
                          .value = val,
                          .vallen = (uint32_t)strlen(val),
                          .cas = cas};
    struct frame_resp m;
    int st = frame_call(fd, &r, &m);
    *cas_out = m.h.cas;
    frame_free(&m);
    return st;
}

static void test_storage_rules(void **state)
{
    int fd = open_conn(state);
    assert_int_equal(kv_set(fd, BIN_CMD_SET, "k", "v1", 2, 0, 0), BIN_STATUS_SUCCESS);
    assert_int_equal(kv_set(fd, BIN_CMD_ADD, "k", "v2", 2, 0, 0), BIN_STATUS_KEY_EEXISTS);
    check_value(fd, "k", "v1");
    assert_int_equal(kv_set(fd, BIN_CMD_ADD, "new", "n", 1, 0, 0), BIN_STATUS_SUCCESS);
    assert_int_equal(kv_set(fd, BIN_CMD_REPLACE, "nope", "r", 1, 0, 0), BIN_STATUS_KEY_ENOENT);
    check_missing(fd, "nope");
    assert_int_equal(kv_set(fd, BIN_CMD_REPLACE, "k", "v3", 2, 0, 0), BIN_STATUS_SUCCESS);
    check_value(fd, "k", "v3");
    assert_int_equal(kv_set(fd, BIN_CMD_APPEND, "nope", "a", 1, 0, 0), BIN_STATUS_NOT_STORED);
    assert_int_equal(kv_set(fd, BIN_CMD_PREPEND, "nope", "p", 1, 0, 0), BIN_STATUS_NOT_STORED);
    check_missing(fd, "nope");
    assert_int_equal(kv_set(fd, BIN_CMD_APPEND, "k", "-end", 4, 0, 0), BIN_STATUS_SUCCESS);
    assert_int_equal(kv_set(fd, BIN_CMD_PREPEND, "k", "start-", 6, 0, 0), BIN_STATUS_SUCCESS);
    check_value(fd, "k", "start-v3-end");
    close(fd);
}

static void test_delete(void **state)
{
    int fd = open_conn(state);
    struct frame_resp m;
    struct frame_req del = {.opcode = BIN_CMD_DELETE, .key = "d", .keylen = 1};
    assert_int_equal(frame_call(fd, &del, &m), BIN_STATUS_KEY_ENOENT);
    frame_free(&m);
    assert_int_equal(kv_set(fd, BIN_CMD_SET, "d", "x", 1, 0, 0), BIN_STATUS_SUCCESS);
    assert_int_equal(frame_call(fd, &del, &m), BIN_STATUS_SUCCESS);
    frame_free(&m);
    check_missing(fd, "d");
    close(fd);
}

static void test_cas(void **state)
{
    int fd = open_conn(state);
    uint64_t c1 = 0, c2 = 0, c3 = 0;
    assert_int_equal(set_cas(fd, BIN_CMD_SET, "c", "one", 0, &c1), BIN_STATUS_SUCCESS);
    assert_true(c1 != 0);
    /* GET returns the same CAS. */
    struct frame_resp m;
    struct frame_req get = {.opcode = BIN_CMD_GET, .key = "c", .keylen = 1};
    assert_int_equal(frame_call(fd, &get, &m), BIN_STATUS_SUCCESS);
    assert_true(m.h.cas == c1);
    frame_free(&m);
    assert_int_equal(set_cas(fd, BIN_CMD_SET, "c", "bad", c1 + 1000, &c2), BIN_STATUS_KEY_EEXISTS);
    check_value(fd, "c", "one");
    assert_int_equal(set_cas(fd, BIN_CMD_SET, "c", "two", c1, &c2), BIN_STATUS_SUCCESS);
    assert_true(c2 != 0 && c2 != c1);
    check_value(fd, "c", "two");
    /* The old CAS no longer matches. */
    assert_int_equal(set_cas(fd, BIN_CMD_REPLACE, "c", "three", c1, &c3), BIN_STATUS_KEY_EEXISTS);
    /* CAS on a missing key. */
    assert_int_equal(set_cas(fd, BIN_CMD_SET, "nocas", "x", c2, &c3), BIN_STATUS_KEY_ENOENT);
    check_missing(fd, "nocas");
    close(fd);
}

static void test_flush_now(void **state)
{
    int fd = open_conn(state);
    assert_int_equal(kv_set(fd, BIN_CMD_SET, "a", "1", 1, 0, 0), BIN_STATUS_SUCCESS);
    assert_int_equal(kv_set(fd, BIN_CMD_SET, "b", "2", 1, 0, 0), BIN_STATUS_SUCCESS);
    struct frame_resp m;
    assert_int_equal(frame_call(fd, &(struct frame_req){.opcode = BIN_CMD_FLUSH}, &m),
                     BIN_STATUS_SUCCESS);
    check_missing(fd, "a");
    check_missing(fd, "b");
    assert_int_equal(kv_set(fd, BIN_CMD_SET, "a", "3", 1, 0, 0), BIN_STATUS_SUCCESS);
    check_value(fd, "a", "3");
    close(fd);
}

static void test_flush_delayed(void **state)
{
    int fd = open_conn(state);
    assert_int_equal(kv_set(fd, BIN_CMD_SET, "f", "v", 1, 0, 0), BIN_STATUS_SUCCESS);
    uint8_t delay[4];
    /* 3 s: at least 2 s away on a whole-second clock, so the value is still there below. */
    bin_put_u32(delay, 3);
    struct frame_resp m;
    struct frame_req flush = {.opcode = BIN_CMD_FLUSH, .extras = delay, .extlen = 4};
    assert_int_equal(frame_call(fd, &flush, &m), BIN_STATUS_SUCCESS);
    check_value(fd, "f", "v");
    sleep_ms(3500);
    check_missing(fd, "f");
    close(fd);
}

static void test_expiration(void **state)
{
    int fd = open_conn(state);
    /* 2 s, not 1: with whole-second clocks an expiry of 1 may pass within a millisecond. */
    assert_int_equal(kv_set(fd, BIN_CMD_SET, "e", "v", 1, 2, 0), BIN_STATUS_SUCCESS);
    assert_int_equal(kv_set(fd, BIN_CMD_SET, "keep", "v", 1, 100, 0), BIN_STATUS_SUCCESS);
    check_value(fd, "e", "v");
    sleep_ms(3100);
    check_missing(fd, "e");
    check_value(fd, "keep", "v");
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_incr_decr, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_incr_edges, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_storage_rules, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_delete, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_cas, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_flush_now, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_flush_delayed, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_expiration, server_setup, server_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
