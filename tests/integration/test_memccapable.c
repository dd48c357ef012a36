/*
 * Runs libmemcached's memccapable in binary mode (-b) and in text mode (-a)
 * against a server started and stopped by PID here; each passes only if
 * memccapable exits 0, says "All tests passed", and every test line it
 * printed is "[pass]".
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

#define RUN_TIMEOUT_MS 40000
#define MIN_TESTS 20 /* memccapable 1.1 runs 27 binary and 27 ascii tests */

/* Counts test lines of a mode ("binary " or "ascii "); fails on any that did not pass. */
static int check_lines(char *out, const char *prefix)
{
    int passed = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, prefix, strlen(prefix)) != 0) {
            continue;
        }
        if (strstr(line, "[pass]") == NULL) {
            fail_msg("memccapable: %s", line);
        }
        passed++;
    }
    return passed;
}

static void run_memccapable(void **state, const char *mode, const char *prefix)
{
    struct server *s = *state;
    char port[16];
    snprintf(port, sizeof(port), "%u", (unsigned)s->port);
    char *argv[] = {MEMCCAPABLE, "-h", "127.0.0.1", "-p", port, (char *)mode, "-t", "5", NULL};
    struct proc_result *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    assert_int_equal(proc_run(argv, RUN_TIMEOUT_MS, r), 0);
    fprintf(stderr, "--- memccapable stdout ---\n%s--- stderr ---\n%s---\n", r->out, r->err);
    assert_false(r->timed_out);
    assert_true(WIFEXITED(r->status));
    bool all = strstr(r->out, "All tests passed") != NULL;
    int passed = check_lines(r->out, prefix);
    assert_true(passed >= MIN_TESTS);
    assert_true(all);
    assert_int_equal(WEXITSTATUS(r->status), 0);
    free(r);
}

static void test_memccapable(void **state)
{
    run_memccapable(state, "-b", "binary ");
}

static void test_memccapable_ascii(void **state)
{
    run_memccapable(state, "-a", "ascii ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_memccapable, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_memccapable_ascii, server_setup, server_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
