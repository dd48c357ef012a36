/*
 * memjs, the Node.js client, against basalt with -S: SASL PLAIN over the
 * plain port (-o sasl_plain_over_plaintext=1), then a set, get and delete.
 * The set-up installs memjs from the npm registry into the build folder
 * (once; later runs reuse it) and the test fails, naming the cause, when npm
 * or the registry cannot be reached. A wrong password must fail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "integration/harness.h"

#define MEMJS_VERSION "1.3.2"

static char users[] = "/tmp/basalt-memjs-users-XXXXXX";

/* Runs a shell command; true when it exits 0. Prints its output otherwise. */
static bool sh(const char *cmd, int timeout_ms, const char *what)
{
    char *argv[] = {"sh", "-c", (char *)cmd, NULL};
    struct proc_result *r = malloc(sizeof(*r));
    assert_non_null(r);
    bool ok = proc_run(argv, timeout_ms, r) == 0 && !r->timed_out && WIFEXITED(r->status) &&
              WEXITSTATUS(r->status) == 0;
    if (!ok)
        fprintf(stderr, "%s failed%s:\n%s\n%s\n", what, r->timed_out ? " (timed out)" : "", r->out,
                r->err);
    free(r);
    return ok;
}

static int setup(void **state)
{
    struct stat st;
    if (stat(MEMJS_DIR "/node_modules/memjs/package.json", &st) != 0 &&
        !sh("mkdir -p '" MEMJS_DIR "' && npm install --no-audit --no-fund --prefix '" MEMJS_DIR
            "' memjs@" MEMJS_VERSION,
            180000,
            "npm install memjs@" MEMJS_VERSION
            " (needs npm and https://registry.npmjs.org; this test does not skip)")) {
        return -1;
    }
    int fd = mkstemp(users);
    if (fd < 0)
        return -1;
    close(fd);
    unlink(users); /* basalt-passwd creates it */
    return 0;
}

static int teardown(void **state)
{
    unlink(users);
    return 0;
}

static bool memjs_run(uint16_t port, const char *password)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "NODE_PATH='%s/node_modules' node '%s' %u memjs '%s'", MEMJS_DIR,
             MEMJS_CHECK, (unsigned)port, password);
    return sh(cmd, 30000, "memjs_check.js");
}

static void test_memjs_plain(void **state)
{
    char cmd[512], opts[256];
    snprintf(cmd, sizeof(cmd), "printf 'sesame\\n' | '%s' '%s' memjs", BASALT_PASSWD, users);
    assert_true(sh(cmd, 30000, "basalt-passwd"));
    snprintf(opts, sizeof(opts), "sasl_users=%s,sasl_plain_over_plaintext=1", users);
    const char *args[] = {"-S", "-o", opts, NULL};
    struct server s;
    assert_int_equal(server_start(&s, &(struct server_opts){.basalt_args = args}), 0);
    assert_true(memjs_run(s.port, "sesame"));
    fprintf(stderr, "a failure message from memjs_check.js follows, as expected:\n");
    assert_false(memjs_run(s.port, "wrong"));
    assert_int_equal(server_stop(&s), 0);
}

int main(void)
{
    if (server_is_memcached())
        return 0;
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_memjs_plain)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
