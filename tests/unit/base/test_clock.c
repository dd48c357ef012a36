/*
 * Unit tests of server time (base/clock): the wire-to-server expiry
 * conversion, the expiry test, and clock_now/clock_advance.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/clock.h"

/* 0 means never; small values are relative to now. */
static void test_expiry_relative(void **state)
{
    assert_int_equal(clock_expiry(0, 1000, 1700000000), 0);
    assert_int_equal(clock_expiry(1, 1000, 1700000000), 1001);
    assert_int_equal(clock_expiry(3600, 1000, 1700000000), 4600);
    /* The largest relative value is still relative. */
    assert_int_equal(clock_expiry(CLOCK_REALTIME_MAXDELTA, 1000, 1700000000),
                     1000 + CLOCK_REALTIME_MAXDELTA);
}

/* Values above 30 days are Unix times, converted against the process start. */
static void test_expiry_absolute(void **state)
{
    time_t started = 1700000000;
    assert_int_equal(clock_expiry(1700000100, 50, started), 100);
    assert_int_equal(clock_expiry(1700000001, 50, started), 1);
    /* At or before the start: already expired, never 0 (which would mean never). */
    assert_int_equal(clock_expiry(1700000000, 50, started), 1);
    assert_int_equal(clock_expiry(CLOCK_REALTIME_MAXDELTA + 1, 50, started), 1);
    /* With a start before the 30-day mark, the first absolute value is in the future. */
    assert_int_equal(clock_expiry(CLOCK_REALTIME_MAXDELTA + 1, 50, 100),
                     CLOCK_REALTIME_MAXDELTA + 1 - 100);
}

/* Results saturate at the largest server time instead of wrapping. */
static void test_expiry_saturates(void **state)
{
    assert_int_equal(clock_expiry(100, UINT32_MAX - 10, 1700000000), UINT32_MAX);
    assert_int_equal(clock_expiry(10, UINT32_MAX - 10, 1700000000), UINT32_MAX);
    assert_int_equal(clock_expiry(9, UINT32_MAX - 10, 1700000000), UINT32_MAX - 1);
    assert_int_equal(clock_expiry(UINT32_MAX, 5, 1), UINT32_MAX - 1);
}

/* An item expires at its exptime, not a second later; 0 never expires. */
static void test_is_expired(void **state)
{
    assert_false(clock_is_expired(0, 0));
    assert_false(clock_is_expired(0, UINT32_MAX));
    assert_false(clock_is_expired(101, 100));
    assert_true(clock_is_expired(100, 100));
    assert_true(clock_is_expired(1, 2));
    assert_true(clock_is_expired(1, CLOCK_EPOCH_OFFSET)); /* 1 is always in the past */
}

/* Server time starts at the epoch offset, and clock_advance moves it forward exactly. */
static void test_now_and_advance(void **state)
{
    rel_time_t t0 = clock_now();
    assert_true(t0 >= CLOCK_EPOCH_OFFSET);
    clock_advance(1000);
    rel_time_t t1 = clock_now();
    /* A real second may tick between the two reads. */
    assert_true(t1 >= t0 + 1000 && t1 <= t0 + 1001);
    /* The start maps server time to Unix time. */
    time_t unix_now = time(NULL);
    time_t mapped = clock_process_started() + (time_t)clock_now() - 1000;
    assert_true(mapped >= unix_now - 2 && mapped <= unix_now + 2);
    /* A relative expiry of 10 s expires 10 server seconds later. */
    rel_time_t exp = clock_expiry(10, clock_now(), clock_process_started());
    assert_false(clock_is_expired(exp, exp - 1));
    assert_true(clock_is_expired(exp, exp));
}

int main(void)
{
    clock_setup();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expiry_relative),  cmocka_unit_test(test_expiry_absolute),
        cmocka_unit_test(test_expiry_saturates), cmocka_unit_test(test_is_expired),
        cmocka_unit_test(test_now_and_advance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
