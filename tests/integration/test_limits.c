/*
 * Connection limits: the connection after -c is told and closed, counted in
 * rejected_connections, and room comes back when others close; running out
 * of file descriptors makes the listener back off instead of spinning, and
 * it recovers once descriptors are free again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include "integration/harness.h"

#define MAXCONNS 4
#define FD_LIMIT 48     /* the server's descriptor limit in the EMFILE test */
#define FLOOD_CONNS 80  /* more connections than that limit allows */
#define RECOVER_MS 5000 /* bound on waiting for a freed slot to be usable */
#define SPIN_WINDOW_MS 1000
/* CPU a server may burn in SPIN_WINDOW_MS while accepts fail: a spinning listener takes it all. */
#define SPIN_CPU_MS 300

static const char *const limit_args[] = {"-c", "4", "-t", "2", NULL};
static const char *const emfile_args[] = {"-t", "1", NULL};

static int limit_setup(void **state)
{
    const struct server_opts o = {.basalt_args = limit_args};
    return server_setup_opts(state, &o);
}

static int emfile_setup(void **state)
{
    const struct server_opts o = {.basalt_args = emfile_args};
    return server_setup_opts(state, &o);
}

/* True when a NOOP on fd is answered. */
static bool noop_ok(int fd)
{
    struct frame_req r = {.opcode = BIN_CMD_NOOP, .opaque = 77};
    struct frame_resp m;
    if (frame_send(fd, &r) != 0 || frame_recv(fd, &m, IO_TIMEOUT_MS) != 0)
        return false;
    bool ok = m.h.opcode == BIN_CMD_NOOP && m.h.opaque == 77 && resp_status(&m) == 0;
    frame_free(&m);
    return ok;
}

/* Connects until a connection answers a NOOP, within RECOVER_MS; returns it or -1. */
static int connect_served(uint16_t port)
{
    int64_t deadline = now_ms() + RECOVER_MS;
    while (now_ms() < deadline) {
        int fd = sock_connect(port);
        if (fd >= 0 && noop_ok(fd))
            return fd;
        if (fd >= 0)
            close(fd);
        sleep_ms(20);
    }
    return -1;
}

static void test_maxconns(void **state)
{
    struct server *s = *state;
    int fds[MAXCONNS];
    for (int i = 0; i < MAXCONNS; i++) {
        fds[i] = connect_served(s->port);
        assert_true(fds[i] >= 0);
    }
    int extra = sock_connect(s->port);
    assert_true(extra >= 0);
    static const char want[] = "ERROR Too many open connections\r\n";
    char got[sizeof(want)] = "";
    assert_int_equal(sock_read_exact(extra, got, sizeof(want) - 1, IO_TIMEOUT_MS), 0);
    assert_string_equal(got, want);
    assert_true(sock_expect_closed(extra, IO_TIMEOUT_MS));
    close(extra);
    assert_true(stat_value(fds[0], "rejected_connections") >= 1);
    /* The served connections were not disturbed. */
    for (int i = 0; i < MAXCONNS; i++)
        assert_true(noop_ok(fds[i]));
    /* A closed connection makes room for a new one. */
    close(fds[MAXCONNS - 1]);
    fds[MAXCONNS - 1] = connect_served(s->port);
    assert_true(fds[MAXCONNS - 1] >= 0);
    for (int i = 0; i < MAXCONNS; i++)
        close(fds[i]);
}

/* CPU time (user + system) the process has used, in milliseconds, or -1. */
static long long cpu_ms(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields after the ")" closing the command name; utime and stime are the 12th and 13th. */
    char *p = strrchr(buf, ')');
    unsigned long long ut = 0, st = 0;
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (long long)(ut + st) * 1000 / sysconf(_SC_CLK_TCK);
}

static void test_emfile_backoff(void **state)
{
    struct server *s = *state;
    const struct rlimit lim = {FD_LIMIT, FD_LIMIT};
    assert_int_equal(prlimit(s->pid, RLIMIT_NOFILE, &lim, NULL), 0);
    int fds[FLOOD_CONNS];
    for (int i = 0; i < FLOOD_CONNS; i++) {
        fds[i] = sock_connect(s->port);
        assert_true(fds[i] >= 0);
    }
    /* Some connections wait in the backlog: accept() fails with EMFILE meanwhile. */
    sleep_ms(200);
    long long before = cpu_ms(s->pid);
    sleep_ms(SPIN_WINDOW_MS);
    long long used = cpu_ms(s->pid) - before;
    assert_true(before >= 0);
    fprintf(stderr, "emfile: server used %lld ms of CPU in %d ms\n", used, SPIN_WINDOW_MS);
    assert_true(used < SPIN_CPU_MS);
    for (int i = 0; i < FLOOD_CONNS; i++)
        close(fds[i]);
    /* Descriptors are free again: new connections are served. */
    int fd = connect_served(s->port);
    assert_true(fd >= 0);
    assert_true(server_alive(s));
    close(fd);
}

int main(void)
{
    if (server_is_memcached())
        return 0; /* the limits' replies and the backoff are basalt's */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_maxconns, limit_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_emfile_backoff, emfile_setup, server_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
