/*
 * Command-line handling of basalt: bad flags exit with status 2 and a one-line
 * message on stderr; -V prints a version and -h a usage, both exiting 0.
 * basalt-only: memcached accepts some of these flags and words its errors
 * differently, so these tests skip when the server under test is memcached
 * (except test_memcached_flags, which runs against both).
 */
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "integration/harness.h"

#define RUN_TIMEOUT_MS 10000

/* Runs the server with "-l 127.0.0.1 -p FREE" and the given flags. */
static struct proc_result *run_server(const char *const *flags)
{
    static char port[16];
    uint16_t p = 0;
    assert_int_equal(pick_free_port(&p), 0);
    snprintf(port, sizeof(port), "%u", (unsigned)p);
    const char *argv[16] = {server_path(), "-l", "127.0.0.1", "-p", port};
    int n = 5;
    for (; *flags && n < 15; flags++) {
        argv[n++] = *flags;
    }
    argv[n] = NULL;
    struct proc_result *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    assert_int_equal(proc_run((char *const *)argv, RUN_TIMEOUT_MS, r), 0);
    return r;
}

static void skip_unless_basalt(void)
{
    if (server_is_memcached()) {
        skip();
    }
}

static void expect_usage_error(const char *const *flags)
{
    struct proc_result *r = run_server(flags);
    if (r->timed_out) {
        fail_msg("%s %s: still running after %d ms", flags[0], flags[1] ? flags[1] : "",
                 RUN_TIMEOUT_MS);
    }
    if (!WIFEXITED(r->status) || WEXITSTATUS(r->status) != 2) {
        fail_msg("%s %s: status 0x%x, want exit 2; stderr: %s", flags[0], flags[1] ? flags[1] : "",
                 r->status, r->err);
    }
    size_t len = strlen(r->err);
    char *nl = strchr(r->err, '\n');
    if (len < 2 || nl != r->err + len - 1) {
        fail_msg("%s: want one line on stderr, got \"%s\"", flags[0], r->err);
    }
    free(r);
}

static void test_bad_flags(void **state)
{
    skip_unless_basalt();
    expect_usage_error((const char *const[]){"-t", "0", NULL});
    expect_usage_error((const char *const[]){"-I", "10", NULL});
    expect_usage_error((const char *const[]){"-I", "2000m", "-m", "64", NULL});
    expect_usage_error((const char *const[]){"-I", "128m", "-m", "64", NULL}); /* > half of -m */
    expect_usage_error((const char *const[]){"-U", "5", NULL});
    expect_usage_error((const char *const[]){"--no-such-flag", NULL});
    expect_usage_error((const char *const[]){"-o", "no_such_option=1", NULL});
    /* Checked by the wouldblock engine's parser at start-up, reported like the others. */
    expect_usage_error((const char *const[]){"-o", "wouldblock_mode=sometimes", NULL});
    expect_usage_error((const char *const[]){"-o", "wouldblock_mode=random:1.5", NULL});
    expect_usage_error((const char *const[]){"-o", "wouldblock_mode=error:nope", NULL});
    expect_usage_error((const char *const[]){"-o", "reader_threads=0", NULL});
    expect_usage_error((const char *const[]){"-o", "enable_test_opcodes=yes", NULL});
}

static void test_version_flag(void **state)
{
    skip_unless_basalt();
    struct proc_result *r = run_server((const char *const[]){"-V", NULL});
    assert_false(r->timed_out);
    assert_true(WIFEXITED(r->status));
    assert_int_equal(WEXITSTATUS(r->status), 0);
    regex_t re;
    assert_int_equal(regcomp(&re, "[0-9]+\\.[0-9]+\\.[0-9]+", REG_EXTENDED | REG_NOSUB), 0);
    int match = regexec(&re, r->out, 0, NULL, 0);
    regfree(&re);
    if (match != 0) {
        fail_msg("-V printed \"%s\" on stdout, no X.Y.Z version", r->out);
    }
    free(r);
}

static void test_help_flag(void **state)
{
    skip_unless_basalt();
    struct proc_result *r = run_server((const char *const[]){"-h", NULL});
    assert_false(r->timed_out);
    assert_true(WIFEXITED(r->status));
    assert_int_equal(WEXITSTATUS(r->status), 0);
    assert_true(strlen(r->out) > 0);
    free(r);
}

/* The flags memcached users pass are accepted and the server serves. Runs against both. */
static void test_memcached_flags(void **state)
{
    static const char *const args[] = {"-t", "2",  "-m", "64", "-c", "128",
                                       "-I", "2m", "-U", "0",  NULL};
    const struct server_opts o = {.args = args};
    struct server s;
    assert_int_equal(server_start(&s, &o), 0);
    int fd = sock_connect(s.port);
    struct frame_resp m;
    int st = fd >= 0 ? frame_call(fd, &(struct frame_req){.opcode = BIN_CMD_NOOP}, &m) : -1;
    if (fd >= 0) {
        close(fd);
    }
    int stop = server_stop(&s);
    assert_int_equal(st, BIN_STATUS_SUCCESS);
    assert_int_equal(stop, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_flags),
        cmocka_unit_test(test_version_flag),
        cmocka_unit_test(test_help_flag),
        cmocka_unit_test(test_memcached_flags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
