/*
 * Runs pymemcache_scenario.py with Debian's /usr/bin/python3 (another
 * python may come first on PATH) against a server started and stopped by PID
 * here. Skips when python3-pymemcache is not installed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "integration/harness.h"

#define RUN_TIMEOUT_MS 60000

static void test_pymemcache(void **state)
{
    struct server *s = *state;
    struct proc_result *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    char *probe[] = {"/usr/bin/python3", "-c", "import pymemcache", NULL};
    if (proc_run(probe, RUN_TIMEOUT_MS, r) != 0 || !WIFEXITED(r->status) ||
        WEXITSTATUS(r->status) != 0) {
        free(r);
        skip();
    }
    char port[16];
    snprintf(port, sizeof(port), "%u", (unsigned)s->port);
    char *argv[] = {"/usr/bin/python3", PYMEMCACHE_SCENARIO, port, NULL};
    assert_int_equal(proc_run(argv, RUN_TIMEOUT_MS, r), 0);
    fprintf(stderr, "--- stdout ---\n%s--- stderr ---\n%s---\n", r->out, r->err);
    assert_false(r->timed_out);
    assert_true(WIFEXITED(r->status));
    assert_int_equal(WEXITSTATUS(r->status), 0);
    assert_non_null(strstr(r->out, "pymemcache scenario: ok"));
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pymemcache, server_setup, server_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
