/*
 * Scaling out with what memcached users already run: three servers behind
 * twemproxy (Debian's nutcracker, text protocol, ketama), and libmemcached in
 * binary mode with ketama across the same three, then with one stopped.
 * Every process is started here and stopped by PID. Skips the nutcracker
 * case when it is not installed.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <libmemcached/memcached.h>

#include "integration/harness.h"
#include "integration/text_client.h"

#define NSERVERS 3
#define NKEYS 10000
#define BATCH 100
#define NUTCRACKER "/usr/sbin/nutcracker"

struct cluster {
    struct server s[NSERVERS];
};

static int cluster_setup(void **state)
{
    struct cluster *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -1;
    for (int i = 0; i < NSERVERS; i++) {
        if (server_start(&c->s[i], NULL) != 0) {
            for (int j = 0; j < i; j++)
                (void)server_stop(&c->s[j]);
            free(c);
            return -1;
        }
    }
    *state = c;
    return 0;
}

static int cluster_teardown(void **state)
{
    struct cluster *c = *state;
    int rc = 0;
    for (int i = 0; i < NSERVERS; i++)
        rc |= server_stop(&c->s[i]);
    free(c);
    return rc == 0 ? 0 : -1;
}

/* curr_items of one server, read with the text `stats` command. */
static long curr_items(uint16_t port)
{
    int fd = sock_connect(port);
    assert_true(fd >= 0);
    text_send(fd, "stats\r\n");
    char line[512];
    long items = -1;
    for (;;) {
        text_read_line(fd, line, sizeof(line));
        if (strcmp(line, "END") == 0)
            break;
        if (strncmp(line, "STAT curr_items ", 16) == 0)
            items = atol(line + 16);
    }
    close(fd);
    return items;
}

/* Every server holds a share: none empty, none more than half, all of them together. */
static void check_shares(struct cluster *c, long total)
{
    long sum = 0;
    for (int i = 0; i < NSERVERS; i++) {
        long n = curr_items(c->s[i].port);
        fprintf(stderr, "server %d (port %u): %ld items\n", i, (unsigned)c->s[i].port, n);
        assert_true(n > 0);
        assert_true(n <= total / 2);
        sum += n;
    }
    assert_int_equal(sum, total);
}

/* Starts nutcracker with docs/scaling.md's configuration (ports of this cluster); returns its pid.
 */
static pid_t start_nutcracker(struct cluster *c, uint16_t *port, char *conf, size_t cap)
{
    uint16_t stats;
    assert_int_equal(pick_free_port(port), 0);
    assert_int_equal(pick_free_port(&stats), 0);
    snprintf(conf, cap, "/tmp/basalt-nutcracker-%d.yml", (int)getpid());
    FILE *f = fopen(conf, "w");
    assert_non_null(f);
    fprintf(f,
            "basalt:\n  listen: 127.0.0.1:%u\n  hash: fnv1a_64\n  distribution: ketama\n"
            "  timeout: 2000\n  redis: false\n  auto_eject_hosts: true\n"
            "  server_retry_timeout: 30000\n  server_failure_limit: 2\n  servers:\n",
            (unsigned)*port);
    for (int i = 0; i < NSERVERS; i++)
        fprintf(f, "   - 127.0.0.1:%u:1 basalt%d\n", (unsigned)c->s[i].port, i);
    fclose(f);
    char stats_port[16];
    snprintf(stats_port, sizeof(stats_port), "%u", (unsigned)stats);
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        execl(NUTCRACKER, NUTCRACKER, "-c", conf, "-s", stats_port, "-a", "127.0.0.1", "-o",
              "/dev/null", "-p", "/dev/null", (char *)NULL);
        _exit(127);
    }
    for (int64_t until = now_ms() + 10000; now_ms() < until; sleep_ms(20)) {
        int fd = sock_connect(*port);
        if (fd >= 0) {
            close(fd);
            return pid;
        }
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fail_msg("nutcracker did not start");
    return -1;
}

static void stop_pid(pid_t pid)
{
    kill(pid, SIGTERM);
    for (int64_t until = now_ms() + 5000; now_ms() < until; sleep_ms(10)) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* Stores NKEYS keys through the proxy (pipelined batches), then reads each back. */
static void proxy_store_and_read(uint16_t port)
{
    int fd = sock_connect(port);
    assert_true(fd >= 0);
    char *buf = malloc(BATCH * 64);
    assert_non_null(buf);
    for (int base = 0; base < NKEYS; base += BATCH) {
        size_t n = 0;
        for (int i = base; i < base + BATCH; i++)
            n += (size_t)sprintf(buf + n, "set key:%d %d 0 %d\r\nv%d\r\n", i, i,
                                 snprintf(NULL, 0, "v%d", i), i);
        assert_int_equal(sock_write_all(fd, buf, n), 0);
        for (int i = base; i < base + BATCH; i++)
            text_expect(fd, "STORED\r\n");
    }
    char line[128], want[128];
    for (int base = 0; base < NKEYS; base += BATCH) {
        size_t n = (size_t)sprintf(buf, "get");
        for (int i = base; i < base + BATCH; i++)
            n += (size_t)sprintf(buf + n, " key:%d", i);
        n += (size_t)sprintf(buf + n, "\r\n");
        assert_int_equal(sock_write_all(fd, buf, n), 0);
        for (int i = base; i < base + BATCH; i++) {
            text_read_line(fd, line, sizeof(line));
            snprintf(want, sizeof(want), "VALUE key:%d %d %d", i, i, snprintf(NULL, 0, "v%d", i));
            assert_string_equal(line, want);
            text_read_line(fd, line, sizeof(line));
            snprintf(want, sizeof(want), "v%d", i);
            assert_string_equal(line, want);
        }
        text_expect(fd, "END\r\n");
    }
    free(buf);
    close(fd);
}

static void test_nutcracker_ketama(void **state)
{
    if (access(NUTCRACKER, X_OK) != 0)
        skip();
    struct cluster *c = *state;
    uint16_t port;
    char conf[128];
    pid_t pid = start_nutcracker(c, &port, conf, sizeof(conf));
    proxy_store_and_read(port);
    stop_pid(pid);
    unlink(conf);
    check_shares(c, NKEYS);
}

/* The client configuration docs/scaling.md shows, with this cluster's ports. */
static memcached_st *ketama_client(struct cluster *c)
{
    char conf[512];
    size_t n = 0;
    for (int i = 0; i < NSERVERS; i++)
        n += (size_t)snprintf(conf + n, sizeof(conf) - n, "--SERVER=127.0.0.1:%u ",
                              (unsigned)c->s[i].port);
    snprintf(conf + n, sizeof(conf) - n,
             "--BINARY-PROTOCOL --DISTRIBUTION=consistent --REMOVE-FAILED-SERVERS=1 "
             "--RETRY-TIMEOUT=30 --CONNECT-TIMEOUT=1000");
    memcached_st *mc = memcached(conf, strlen(conf));
    assert_non_null(mc);
    assert_int_equal(memcached_behavior_get(mc, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL), 1);
    assert_int_equal(memcached_behavior_get(mc, MEMCACHED_BEHAVIOR_DISTRIBUTION),
                     MEMCACHED_DISTRIBUTION_CONSISTENT);
    /* Not expressible in the string: take a server out of the ring after one failure. */
    assert_int_equal(memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_SERVER_FAILURE_LIMIT, 1),
                     MEMCACHED_SUCCESS);
    return mc;
}

/* Reads every key; returns how many were found (with the right value). */
static int read_all(memcached_st *mc)
{
    int found = 0;
    for (int i = 0; i < NKEYS; i++) {
        char key[32], want[32];
        snprintf(key, sizeof(key), "lk:%d", i);
        snprintf(want, sizeof(want), "value-%d", i);
        size_t len = 0;
        uint32_t flags = 0;
        memcached_return_t rc;
        char *v = memcached_get(mc, key, strlen(key), &len, &flags, &rc);
        if (v != NULL) {
            assert_int_equal(len, strlen(want));
            assert_memory_equal(v, want, len);
            found++;
            free(v);
        }
    }
    return found;
}

static void test_libmemcached_ketama(void **state)
{
    struct cluster *c = *state;
    memcached_st *mc = ketama_client(c);
    for (int i = 0; i < NKEYS; i++) {
        char key[32], val[32];
        snprintf(key, sizeof(key), "lk:%d", i);
        snprintf(val, sizeof(val), "value-%d", i);
        assert_int_equal(memcached_set(mc, key, strlen(key), val, strlen(val), 0, 0),
                         MEMCACHED_SUCCESS);
    }
    assert_int_equal(read_all(mc), NKEYS);
    check_shares(c, NKEYS);

    /* One server goes away: its keys miss, the others' keys are still served. */
    long lost = curr_items(c->s[1].port);
    assert_int_equal(server_stop(&c->s[1]), 0);
    int found = read_all(mc);
    fprintf(stderr, "after stopping one server: %d of %d keys found (%ld were on it)\n", found,
            NKEYS, lost);
    assert_int_equal(found, NKEYS - lost);
    /* Writes keep working: the dead server's keys move to the remaining two. */
    int stored = 0;
    for (int i = 0; i < NKEYS; i++) {
        char key[32], val[32];
        snprintf(key, sizeof(key), "lk:%d", i);
        snprintf(val, sizeof(val), "value-%d", i);
        if (memcached_set(mc, key, strlen(key), val, strlen(val), 0, 0) == MEMCACHED_SUCCESS)
            stored++;
    }
    assert_int_equal(stored, NKEYS);
    assert_int_equal(read_all(mc), NKEYS);
    memcached_free(mc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_nutcracker_ketama, cluster_setup, cluster_teardown),
        cmocka_unit_test_setup_teardown(test_libmemcached_ketama, cluster_setup, cluster_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
