/*
 * Unit tests of basalt-bench's key space: the consistent-hashing ring (spread
 * over 3 servers, stability when a server leaves), key names and the zipf
 * sampler. Single-threaded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "keys.h"

#define NKEYS 100000

static const char *const names3[] = {"10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211"};

static size_t name_of(char *buf, uint64_t i)
{
    return key_name(buf, 64, "key:", 4, i);
}

/* 100k keys over 3 servers: each gets between 25 % and 42 % (ideal 33 %). */
static void test_ring_spreads_over_three(void **state)
{
    struct ring g;
    assert_int_equal(ring_init(&g, names3, 3), 0);
    assert_int_equal(g.npoints, 3 * RING_POINTS_PER_SERVER);
    unsigned per[3] = {0};
    char key[64];
    for (uint64_t i = 0; i < NKEYS; i++) {
        unsigned s = ring_lookup(&g, key, name_of(key, i));
        assert_true(s < 3);
        per[s]++;
    }
    for (int s = 0; s < 3; s++) {
        assert_true(per[s] > NKEYS / 4);
        assert_true(per[s] < NKEYS * 42 / 100);
    }
    ring_deinit(&g);
}

/* Removing a server moves only its own keys; the others keep their server. */
static void test_ring_is_consistent(void **state)
{
    struct ring g3, g2;
    assert_int_equal(ring_init(&g3, names3, 3), 0);
    assert_int_equal(ring_init(&g2, names3, 2), 0);
    char key[64];
    unsigned moved = 0;
    for (uint64_t i = 0; i < NKEYS; i++) {
        size_t kl = name_of(key, i);
        unsigned a = ring_lookup(&g3, key, kl), b = ring_lookup(&g2, key, kl);
        if (a != 2)
            assert_int_equal(a, b);
        else
            moved++;
        assert_int_equal(ring_lookup(&g3, key, kl), a); /* deterministic */
    }
    assert_true(moved > 0);
    ring_deinit(&g3);
    ring_deinit(&g2);
}

static void test_key_name(void **state)
{
    char buf[64];
    size_t n = key_name(buf, sizeof(buf), "p:", 2, 0);
    assert_int_equal(n, 3);
    assert_memory_equal(buf, "p:0", 3);
    n = key_name(buf, sizeof(buf), "p:", 2, 18446744073709551615ull);
    assert_int_equal(n, 22);
    assert_memory_equal(buf, "p:18446744073709551615", 22);
    assert_int_equal(key_name(buf, 3, "p:", 2, 10), 0); /* does not fit */
}

/* Zipf(1) over 100 ranks: samples in range, popularity falls with rank. */
static void test_zipf_order(void **state)
{
    struct zipf z;
    assert_int_equal(zipf_init(&z, 100, 1.0), 0);
    struct rng r;
    rng_seed(&r, 3);
    unsigned count[100] = {0};
    for (int i = 0; i < 200000; i++) {
        uint64_t k = zipf_sample(&z, &r);
        assert_true(k < 100);
        count[k]++;
    }
    assert_true(count[0] > count[1]);
    assert_true(count[1] > count[9]);
    assert_true(count[9] > count[99]);
    /* P(rank 0) = 1 / H(100) = 0.193: allow a wide margin, the seed is fixed anyway. */
    assert_true(count[0] > 36000 && count[0] < 41000);
    zipf_deinit(&z);
}

static void test_rng_below_in_range(void **state)
{
    struct rng r;
    rng_seed(&r, 0);
    unsigned seen[7] = {0};
    for (int i = 0; i < 7000; i++) {
        uint64_t v = rng_below(&r, 7);
        assert_true(v < 7);
        seen[v]++;
    }
    for (int i = 0; i < 7; i++)
        assert_true(seen[i] > 800);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_spreads_over_three),
        cmocka_unit_test(test_ring_is_consistent),
        cmocka_unit_test(test_key_name),
        cmocka_unit_test(test_zipf_order),
        cmocka_unit_test(test_rng_below_in_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
