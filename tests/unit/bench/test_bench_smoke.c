/*
 * Smoke test of basalt-bench (not a benchmark: no timing is asserted). Runs a
 * few hundred requests against basalt over binary, and against memcached over
 * text and meta when it is installed, and checks that the tool reports no
 * errors and that its counts agree with the server's cmd_get/cmd_set. Also
 * checks the failure paths: bad flags exit 2, a server that closes
 * connections is reported as errors. Servers are started and stopped by PID
 * with the integration harness; the closing server is a thread of this test.
 */
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "integration/harness.h"

#define RUN_TIMEOUT_MS 60000

/* Runs basalt-bench against 127.0.0.1:port with extra args; returns its exit status. */
static int run_bench(uint16_t port, const char *const *extra, struct proc_result *r)
{
    char server[32];
    snprintf(server, sizeof(server), "127.0.0.1:%u", (unsigned)port);
    const char *argv[32] = {BENCH_BIN, "--server", server, "--json", "--timeout", "10"};
    int n = 6;
    for (; extra && *extra && n < 31; extra++)
        argv[n++] = *extra;
    argv[n] = NULL;
    assert_int_equal(proc_run((char *const *)argv, RUN_TIMEOUT_MS, r), 0);
    assert_false(r->timed_out);
    if (!WIFEXITED(r->status) || WEXITSTATUS(r->status) != 0)
        fprintf(stderr, "basalt-bench stdout: %s\nstderr: %s\n", r->out, r->err);
    assert_true(WIFEXITED(r->status));
    return WEXITSTATUS(r->status);
}

/* Returns the number after "\"key\":" in the JSON output (the first occurrence). */
static long long json_num(const char *json, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *p = strstr(json, pat);
    assert_non_null(p);
    return strtoll(p + strlen(pat), NULL, 10);
}

/* The run completed `ops` ops with no error, and the server counted every request. */
static void expect_clean(const struct proc_result *r, long long ops, long long prefill)
{
    assert_int_equal(json_num(r->out, "ops"), ops);
    assert_int_equal(json_num(r->out, "total"), 0);
    assert_int_equal(json_num(r->out, "prefill_sets"), prefill);
    assert_non_null(strstr(r->out, "\"checked\":true,\"agree\":true"));
    assert_int_equal(json_num(r->out, "server_delta"), ops + prefill);
}

static void test_basalt_binary(void **state)
{
    struct server *s = *state;
    struct proc_result *r = calloc(1, sizeof(*r));
    const char *args[] = {"--requests", "300", "--prefill", "--keys", "100",
                          "--threads",  "2",   "--conns",   "3",      NULL};
    assert_int_equal(run_bench(s->port, args, r), 0);
    expect_clean(r, 300, 100);
    assert_int_equal(json_num(r->out, "misses"), 0); /* every key was prefilled */
    free(r);
}

static void test_basalt_binary_multiget_pipeline(void **state)
{
    struct server *s = *state;
    struct proc_result *r = calloc(1, sizeof(*r));
    const char *args[] = {"--requests", "400", "--multiget",   "10",     "--pipeline", "4",
                          "--keys",     "50",  "--value-size", "1-3000", NULL};
    assert_int_equal(run_bench(s->port, args, r), 0);
    expect_clean(r, 400, 0);
    long long gets = json_num(r->out, "gets");
    assert_int_equal(json_num(r->out, "hits") + json_num(r->out, "misses"), gets);
    free(r);
}

static void test_basalt_open_loop(void **state)
{
    struct server *s = *state;
    struct proc_result *r = calloc(1, sizeof(*r));
    const char *args[] = {"--requests", "200", "--rate", "2000", "--conns", "2", NULL};
    assert_int_equal(run_bench(s->port, args, r), 0);
    expect_clean(r, 200, 0);
    free(r);
}

/* Two basalts: keys spread over both by the ring; the summed counters agree. */
static void test_two_servers(void **state)
{
    struct server *a = *state, b;
    assert_int_equal(server_start(&b, NULL), 0);
    char second[32];
    snprintf(second, sizeof(second), "127.0.0.1:%u", (unsigned)b.port);
    struct proc_result *r = calloc(1, sizeof(*r));
    const char *args[] = {"--server",  second,   "--requests", "300",
                          "--prefill", "--keys", "200",        NULL};
    int rc = run_bench(a->port, args, r);
    int stopped = server_stop(&b);
    assert_int_equal(rc, 0);
    assert_int_equal(stopped, 0);
    expect_clean(r, 300, 200);
    assert_int_equal(json_num(r->out, "servers"), 2);
    free(r);
}

/* Starts memcached with the harness (stopped by PID in server_teardown); NULL when absent. */
static int memcached_setup(void **state)
{
    *state = NULL;
    if (MEMCACHED_BIN[0] == '\0' || access(MEMCACHED_BIN, X_OK) != 0)
        return 0;
    setenv("BASALT_TEST_SERVER", MEMCACHED_BIN, 1);
    int rc = server_setup(state);
    unsetenv("BASALT_TEST_SERVER");
    return rc;
}

/* memcached speaks text and meta; each protocol's run must agree with its stats. */
static void test_memcached_text_and_meta(void **state)
{
    struct server *s = *state;
    if (!s)
        skip();
    struct proc_result *r = calloc(1, sizeof(*r));
    const char *text[] = {"--protocol", "text", "--requests", "300", "--prefill",
                          "--keys",     "100",  "--multiget", "5",   NULL};
    assert_int_equal(run_bench(s->port, text, r), 0);
    expect_clean(r, 300, 100);
    const char *meta[] = {"--protocol", "meta", "--requests", "300", "--keys", "100", NULL};
    assert_int_equal(run_bench(s->port, meta, r), 0);
    expect_clean(r, 300, 0);
    const char *meta_mget[] = {"--protocol", "meta",       "--requests", "300", "--multiget",
                               "7",          "--pipeline", "3",          NULL};
    assert_int_equal(run_bench(s->port, meta_mget, r), 0);
    expect_clean(r, 300, 0);
    free(r);
}

static void test_bad_flags_exit_2(void **state)
{
    const char *const bad[][5] = {
        {"--threads", "0"},      {"--ratio", "1"},
        {"--protocol", "udp"},   {"--key-dist", "zipf"},
        {"--value-size", "9-3"}, {"--server", "nohost"},
        {"--nonsense"},          {"--multiget", "0"},
        {"--rate", "-5"},        {"--duration", "1", "--requests", "5"},
    };
    struct proc_result *r = calloc(1, sizeof(*r));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *argv[6] = {BENCH_BIN};
        for (int k = 0; k < 5 && bad[i][k]; k++)
            argv[k + 1] = bad[i][k];
        assert_int_equal(proc_run((char *const *)argv, RUN_TIMEOUT_MS, r), 0);
        assert_true(WIFEXITED(r->status));
        assert_int_equal(WEXITSTATUS(r->status), 2);
        /* One line on stderr, nothing on stdout. */
        assert_non_null(strchr(r->err, '\n'));
        assert_ptr_equal(strchr(r->err, '\n'), r->err + strlen(r->err) - 1);
        assert_int_equal(r->out[0], '\0');
    }
    free(r);
}

/* A peer that accepts, reads a little, and closes: every connection it gets. */
static void *closing_server(void *arg)
{
    int lfd = *(int *)arg;
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            return NULL;
        char buf[64];
        (void)!read(fd, buf, sizeof(buf));
        close(fd);
    }
}

/* A listening socket on a free loopback port; returns its fd and sets *port. */
static int listen_loopback(uint16_t *port)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(lfd, 16), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return lfd;
}

static void test_closed_connections_are_errors(void **state)
{
    uint16_t port;
    int lfd = listen_loopback(&port);
    pthread_t tid;
    assert_int_equal(pthread_create(&tid, NULL, closing_server, &lfd), 0);
    struct proc_result *r = calloc(1, sizeof(*r));
    const char *args[] = {"--requests", "50", "--threads",        "1",
                          "--conns",    "2",  "--no-check-stats", NULL};
    assert_int_equal(run_bench(port, args, r), 1);
    assert_true(json_num(r->out, "closed") > 0);
    assert_int_equal(json_num(r->out, "conns_lost"), 2);
    free(r);
    shutdown(lfd, SHUT_RDWR);
    close(lfd);
    pthread_join(tid, NULL);
}

/* A peer that accepts and never answers: the replies time out, in prefill as in the run. */
static void test_silent_server_times_out(void **state)
{
    uint16_t port;
    int lfd = listen_loopback(&port); /* the kernel completes the handshakes; nobody reads */
    struct proc_result *r = calloc(1, sizeof(*r));
    const char *prefill[] = {
        "--requests", "10", "--prefill",        "--keys", "10", "--threads", "1", "--conns", "1",
        "--timeout",  "1",  "--no-check-stats", NULL};
    assert_int_equal(run_bench(port, prefill, r), 1);
    assert_true(json_num(r->out, "timeout") > 0);
    assert_int_equal(json_num(r->out, "conns_lost"), 1);
    free(r);
    close(lfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_basalt_binary, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_basalt_binary_multiget_pipeline, server_setup,
                                        server_teardown),
        cmocka_unit_test_setup_teardown(test_basalt_open_loop, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_two_servers, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_memcached_text_and_meta, memcached_setup,
                                        server_teardown),
        cmocka_unit_test(test_bad_flags_exit_2),
        cmocka_unit_test(test_closed_connections_are_errors),
        cmocka_unit_test(test_silent_server_times_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
