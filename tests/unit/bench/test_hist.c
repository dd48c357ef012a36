/*
 * Unit tests of basalt-bench's log-linear histogram: bucket layout, the 1 %
 * relative error bound, percentiles, merge. Single-threaded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "hist.h"
#include "keys.h"

/* Buckets tile the value range: each starts where the previous one ends. */
static void test_buckets_are_contiguous(void **state)
{
    for (size_t i = 0; i + 1 < HIST_BUCKETS - HIST_SUB; i++) {
        assert_int_equal(hist_bucket_low(i) + hist_bucket_width(i), hist_bucket_low(i + 1));
        assert_int_equal(hist_index(hist_bucket_low(i)), i);
    }
}

static void check_error(uint64_t v)
{
    size_t i = hist_index(v);
    uint64_t lo = hist_bucket_low(i), w = hist_bucket_width(i);
    assert_true(lo <= v && v - lo < w);
    double mid = (double)lo + (double)w / 2.0;
    double err = mid > (double)v ? mid - (double)v : (double)v - mid;
    assert_true(err <= 0.01 * (double)v + 0.5); /* +0.5: exact buckets below 256 */
}

/* The reported value of a bucket is within 1 % of every value in it. */
static void test_relative_error_bound(void **state)
{
    for (uint64_t v = 0; v < 100000; v++)
        check_error(v);
    struct rng r;
    rng_seed(&r, 42);
    for (int k = 0; k < 200000; k++) {
        unsigned bits = 1 + (unsigned)rng_below(&r, 62);
        check_error(rng_next(&r) >> (64 - bits));
    }
    check_error(UINT64_MAX);
}

/* Percentiles of 1..10000 each once: within 1 % of the exact order statistic. */
static void test_percentiles_uniform(void **state)
{
    struct hist *h = malloc(sizeof(*h));
    hist_init(h);
    assert_int_equal(hist_percentile(h, 50), 0);
    for (uint64_t v = 1; v <= 10000; v++)
        hist_record(h, v * 1000);
    const double ps[] = {50, 90, 99, 99.9};
    const double exact[] = {5000e3, 9000e3, 9900e3, 9990e3};
    for (int i = 0; i < 4; i++) {
        double got = (double)hist_percentile(h, ps[i]);
        assert_true(got >= exact[i] * 0.99 && got <= exact[i] * 1.01);
    }
    assert_int_equal(hist_percentile(h, 100), 10000000);
    assert_int_equal(h->max, 10000000);
    assert_int_equal(h->min, 1000);
    assert_int_equal(h->count, 10000);
    free(h);
}

/* A tail: 990 fast and 10 slow values; p99 is fast, p99.9 is slow. */
static void test_percentiles_tail(void **state)
{
    struct hist *h = malloc(sizeof(*h));
    hist_init(h);
    for (int i = 0; i < 990; i++)
        hist_record(h, 100000);
    for (int i = 0; i < 10; i++)
        hist_record(h, 10000000);
    assert_true(hist_percentile(h, 99) <= 101000);
    assert_true(hist_percentile(h, 99.9) >= 9900000);
    assert_int_equal(hist_percentile(h, 100), 10000000);
    free(h);
}

/* Merging two halves gives the same percentiles as recording everything in one. */
static void test_merge(void **state)
{
    struct hist *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b)), *all = malloc(sizeof(*all));
    hist_init(a);
    hist_init(b);
    hist_init(all);
    struct rng r;
    rng_seed(&r, 7);
    for (int i = 0; i < 50000; i++) {
        uint64_t v = 1000 + rng_below(&r, 5000000);
        hist_record(i % 2 ? a : b, v);
        hist_record(all, v);
    }
    hist_merge(a, b);
    assert_int_equal(a->count, all->count);
    assert_int_equal(a->min, all->min);
    assert_int_equal(a->max, all->max);
    for (double p = 1; p < 100; p += 7.5)
        assert_int_equal(hist_percentile(a, p), hist_percentile(all, p));
    free(a);
    free(b);
    free(all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buckets_are_contiguous),
        cmocka_unit_test(test_relative_error_bound),
        cmocka_unit_test(test_percentiles_uniform),
        cmocka_unit_test(test_percentiles_tail),
        cmocka_unit_test(test_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
