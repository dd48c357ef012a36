/*
 * wouldblock_mode_parse: the four modes, probabilities at and inside their
 * bounds, every engine status name but ewouldblock, and one-line refusals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "engines/wouldblock/wouldblock.h"

static int parse(const char *s, struct wouldblock_mode *m, char *err)
{
    return wouldblock_mode_parse(s, strlen(s), m, err, 128);
}

static void test_modes(void **state)
{
    struct wouldblock_mode m;
    char err[128];
    assert_int_equal(parse("always", &m, err), 0);
    assert_int_equal(m.kind, WOULDBLOCK_ALWAYS);
    assert_int_equal(parse("never", &m, err), 0);
    assert_int_equal(m.kind, WOULDBLOCK_NEVER);
    assert_int_equal(parse("random:0.25", &m, err), 0);
    assert_int_equal(m.kind, WOULDBLOCK_RANDOM);
    assert_true(m.p == 0.25);
    assert_int_equal(parse("random:0", &m, err), 0);
    assert_true(m.p == 0.0);
    assert_int_equal(parse("random:1", &m, err), 0);
    assert_true(m.p == 1.0);
    assert_int_equal(parse("error:tmpfail", &m, err), 0);
    assert_int_equal(m.kind, WOULDBLOCK_ERROR);
    assert_int_equal(m.status, ENGINE_TMPFAIL);
    /* Not NUL-terminated: only len bytes count (how TEST_CONTROL passes its value). */
    assert_int_equal(wouldblock_mode_parse("neverXYZ", 5, &m, err, sizeof(err)), 0);
    assert_int_equal(m.kind, WOULDBLOCK_NEVER);
}

static void test_every_status_name(void **state)
{
    struct wouldblock_mode m;
    char err[128], mode[64];
    for (int s = ENGINE_SUCCESS; s <= ENGINE_FAILED; s++) {
        snprintf(mode, sizeof(mode), "error:%s", engine_status_str((engine_status)s));
        if (s == ENGINE_EWOULDBLOCK) {
            assert_int_equal(parse(mode, &m, err), -1);
            continue;
        }
        assert_int_equal(parse(mode, &m, err), 0);
        assert_int_equal(m.status, s);
    }
}

static void test_refusals(void **state)
{
    static const char *const bad[] = {
        "",         "sometimes",   "Always",     "random:", "random:-0.1", "random:1.01",
        "random:x", "random:0.5x", "random:nan", "error:",  "error:NOPE",  "never ",
    };
    struct wouldblock_mode m;
    char err[128];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        if (parse(bad[i], &m, err) != -1)
            fail_msg("'%s' was accepted", bad[i]);
        assert_true(strlen(err) > 0);
        assert_null(strchr(err, '\n'));
    }
    char longer[100];
    memset(longer, 'a', sizeof(longer));
    assert_int_equal(wouldblock_mode_parse(longer, sizeof(longer), &m, err, sizeof(err)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_modes),
        cmocka_unit_test(test_every_status_name),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
