/*
 * Text protocol commands over raw sockets, with memcached's exact replies:
 * storage, retrieval, cas, delete, incr/decr, touch/gat, flush_all,
 * version, verbosity, stats groups, noreply, quit; the same data seen from
 * the binary protocol (flags and CAS); -B and -A.
 */
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
#include "integration/text_client.h"

#define CLOSE_TIMEOUT_MS 3000

static int conn(void **state)
{
    struct server *s = *state;
    int fd = sock_connect(s->port);
    assert_true(fd >= 0);
    return fd;
}

static void test_storage(void **state)
{
    int fd = conn(state);
    text_xchg(fd, "set a 5 0 3\r\nabc\r\n", "STORED\r\n");
    text_xchg(fd, "get a\r\n", "VALUE a 5 3\r\nabc\r\nEND\r\n");
    text_xchg(fd, "add a 0 0 1\r\nx\r\n", "NOT_STORED\r\n");
    text_xchg(fd, "add b 7 0 2\r\nbb\r\n", "STORED\r\n");
    text_xchg(fd, "replace c 0 0 1\r\nx\r\n", "NOT_STORED\r\n");
    text_xchg(fd, "replace b 8 0 2\r\nBB\r\n", "STORED\r\n");
    text_xchg(fd, "append a 0 0 2\r\nde\r\n", "STORED\r\n");
    text_xchg(fd, "prepend a 0 0 2\r\nxy\r\n", "STORED\r\n");
    text_xchg(fd, "append nope 0 0 1\r\nx\r\n", "NOT_STORED\r\n");
    text_xchg(fd, "get a b nope\r\n", "VALUE a 5 7\r\nxyabcde\r\nVALUE b 8 2\r\nBB\r\nEND\r\n");
    text_xchg(fd, "set e 0 0 0\r\n\r\n", "STORED\r\n");
    text_xchg(fd, "get e\r\n", "VALUE e 0 0\r\n\r\nEND\r\n");
    /* noreply: nothing comes back, the next command's reply is the first one. */
    text_xchg(fd,
              "set n 0 0 1 noreply\r\n1\r\nadd n 0 0 1 noreply\r\n2\r\n"
              "append n 0 0 1 noreply\r\n3\r\nget n\r\n",
              "VALUE n 0 2\r\n13\r\nEND\r\n");
    close(fd);
}

static void test_cas(void **state)
{
    int fd = conn(state);
    char line[128];
    unsigned flags, len;
    unsigned long long cas = 0;
    text_xchg(fd, "set k 3 0 1\r\nx\r\n", "STORED\r\n");
    text_send(fd, "gets k\r\n");
    text_read_line(fd, line, sizeof(line));
    assert_int_equal(sscanf(line, "VALUE k %u %u %llu", &flags, &len, &cas), 3);
    assert_int_equal(flags, 3);
    text_expect(fd, "x\r\nEND\r\n");
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "cas k 0 0 1 %llu\r\ny\r\n", cas + 1000);
    text_xchg(fd, cmd, "EXISTS\r\n");
    snprintf(cmd, sizeof(cmd), "cas k 0 0 1 %llu\r\ny\r\n", cas);
    text_xchg(fd, cmd, "STORED\r\n");
    text_xchg(fd, cmd, "EXISTS\r\n");
    text_xchg(fd, "cas missing 0 0 1 1\r\ny\r\n", "NOT_FOUND\r\n");
    /* A CAS unique of 0 matches no item. */
    text_xchg(fd, "cas k 0 0 1 0\r\nz\r\n", "EXISTS\r\n");
    text_xchg(fd, "cas missing 0 0 1 0\r\nz\r\n", "NOT_FOUND\r\n");
    text_xchg(fd, "gets k\r\n", "VALUE k 0 1 ");
    text_read_line(fd, line, sizeof(line));
    assert_true(strtoull(line, NULL, 10) != cas);
    text_expect(fd, "y\r\nEND\r\n");
    close(fd);
}

static void test_delete_arith_touch(void **state)
{
    int fd = conn(state);
    text_xchg(fd, "set d 0 0 1\r\nx\r\n", "STORED\r\n");
    text_xchg(fd, "delete d\r\n", "DELETED\r\n");
    text_xchg(fd, "delete d\r\n", "NOT_FOUND\r\n");
    text_xchg(fd, "delete d 0\r\n", "NOT_FOUND\r\n");
    text_xchg(fd, "set c 0 0 2\r\n10\r\n", "STORED\r\n");
    text_xchg(fd, "incr c 5\r\n", "15\r\n");
    text_xchg(fd, "decr c 100\r\n", "0\r\n");
    text_xchg(fd, "incr c 18446744073709551615\r\n", "18446744073709551615\r\n");
    text_xchg(fd, "incr c 1\r\n", "0\r\n");
    text_xchg(fd, "incr nope 1\r\n", "NOT_FOUND\r\n");
    text_xchg(fd, "set s 0 0 2\r\nab\r\n", "STORED\r\n");
    text_xchg(fd, "incr s 1\r\n",
              "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
    text_xchg(fd, "set c 0 0 1\r\n0\r\n", "STORED\r\n");
    text_xchg(fd, "incr c 2 noreply\r\nget c\r\n", "VALUE c 0 1\r\n2\r\nEND\r\n");
    /* A fourth token other than noreply is ignored, as memcached does. */
    text_xchg(fd, "incr c 1 extra\r\n", "3\r\n");
    text_xchg(fd, "touch c 100\r\n", "TOUCHED\r\n");
    text_xchg(fd, "touch nope 100\r\n", "NOT_FOUND\r\n");
    text_xchg(fd, "gat 100 c nope\r\n", "VALUE c 0 1\r\n3\r\nEND\r\n");
    text_xchg(fd, "gats 100 c\r\n", "VALUE c 0 1 ");
    char line[64];
    text_read_line(fd, line, sizeof(line));
    text_expect(fd, "3\r\nEND\r\n");
    /* A negative expiry expires the item at once. */
    text_xchg(fd, "touch c -1\r\n", "TOUCHED\r\n");
    text_xchg(fd, "get c\r\n", "END\r\n");
    close(fd);
}

static void test_admin(void **state)
{
    int fd = conn(state);
    text_xchg(fd, "set f 0 0 1\r\nx\r\n", "STORED\r\n");
    text_xchg(fd, "flush_all\r\n", "OK\r\n");
    text_xchg(fd, "get f\r\n", "END\r\n");
    text_xchg(fd, "flush_all 0\r\n", "OK\r\n");
    text_xchg(fd, "flush_all noreply\r\nversion\r\n", "VERSION ");
    char line[128];
    text_read_line(fd, line, sizeof(line));
    assert_true(strlen(line) > 0);
    text_xchg(fd, "verbosity 1\r\n", "OK\r\n");
    text_xchg(fd, "verbosity 0 noreply\r\nmn\r\n", "MN\r\n");
    text_xchg(fd, "bogus\r\n", "ERROR\r\n");
    text_xchg(fd, "quit\r\n", "");
    assert_true(sock_expect_closed(fd, CLOSE_TIMEOUT_MS));
    close(fd);
}

/* Reads "STAT ..." lines up to END; returns how many there were and whether name appeared. */
static int read_stats(int fd, const char *name, bool *seen)
{
    char line[512];
    int n = 0;
    *seen = false;
    for (;;) {
        text_read_line(fd, line, sizeof(line));
        if (strcmp(line, "END") == 0)
            return n;
        assert_memory_equal(line, "STAT ", 5);
        if (strncmp(line + 5, name, strlen(name)) == 0)
            *seen = true;
        n++;
    }
}

static void test_stats(void **state)
{
    int fd = conn(state);
    bool seen;
    text_send(fd, "stats\r\n");
    assert_true(read_stats(fd, "curr_connections ", &seen) > 10);
    assert_true(seen);
    text_send(fd, "stats settings\r\n");
    assert_true(read_stats(fd, "binding_protocol ", &seen) > 5);
    assert_true(seen);
    text_send(fd, "stats items\r\n");
    read_stats(fd, "", &seen);
    text_send(fd, "stats slabs\r\n");
    read_stats(fd, "", &seen);
    text_send(fd, "stats conns\r\n");
    assert_true(read_stats(fd, "", &seen) >= 1);
    text_xchg(fd, "stats reset\r\n", "RESET\r\n");
    text_xchg(fd, "stats nonsense\r\n", "ERROR\r\n");
    text_xchg(fd, "shutdown\r\n", "ERROR: shutdown not enabled\r\n");
    close(fd);
}

/* The binary protocol and the text protocol see the same items, flags and CAS. */
static void test_cross_protocol(void **state)
{
    int bin = conn(state), txt = conn(state);
    static const uint8_t extras[8] = {0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0};
    struct frame_req set = {.opcode = BIN_CMD_SET,
                            .extras = extras,
                            .extlen = 8,
                            .key = "xp",
                            .keylen = 2,
                            .value = "binval",
                            .vallen = 6};
    struct frame_resp m;
    assert_int_equal(frame_call(bin, &set, &m), BIN_STATUS_SUCCESS);
    uint64_t cas = m.h.cas;
    frame_free(&m);
    char want[128];
    snprintf(want, sizeof(want), "VALUE xp %u 6 %llu\r\nbinval\r\nEND\r\n", 0xdeadbeefu,
             (unsigned long long)cas);
    text_xchg(txt, "gets xp\r\n", want);

    text_xchg(txt, "set tx 4242 0 7\r\ntextval\r\n", "STORED\r\n");
    char line[128];
    unsigned long long tcas = 0;
    text_send(txt, "gets tx\r\n");
    text_read_line(txt, line, sizeof(line));
    assert_int_equal(sscanf(line, "VALUE tx 4242 7 %llu", &tcas), 1);
    text_expect(txt, "textval\r\nEND\r\n");
    struct frame_req get = {.opcode = BIN_CMD_GET, .key = "tx", .keylen = 2};
    assert_int_equal(frame_call(bin, &get, &m), BIN_STATUS_SUCCESS);
    assert_int_equal(m.h.cas, tcas);
    assert_int_equal(m.h.extlen, 4);
    assert_int_equal(((uint32_t)m.body[0] << 24 | m.body[1] << 16 | m.body[2] << 8 | m.body[3]),
                     4242);
    assert_int_equal(resp_vallen(&m), 7);
    assert_memory_equal(resp_value(&m), "textval", 7);
    frame_free(&m);
    close(bin);
    close(txt);
}

/* A value above the send-buffer threshold goes out by reference and arrives whole. */
static void test_large_value(void **state)
{
    int fd = conn(state);
    size_t n = 300 * 1024;
    char *val = malloc(n), *cmd = malloc(n + 64), *want = malloc(n + 64);
    assert_non_null(val);
    for (size_t i = 0; i < n; i++)
        val[i] = (char)('a' + i % 26);
    int h = snprintf(cmd, 64, "set big 1 0 %zu\r\n", n);
    memcpy(cmd + h, val, n);
    memcpy(cmd + h + n, "\r\n", 3);
    text_xchg(fd, cmd, "STORED\r\n");
    h = snprintf(want, 64, "VALUE big 1 %zu\r\n", n);
    memcpy(want + h, val, n);
    memcpy(want + h + n, "\r\n", 3);
    /* Twice: the second reference to the same item is pinned too. */
    text_xchg(fd, "get big big\r\n", want);
    text_expect(fd, want);
    text_expect(fd, "END\r\n");
    /* 12 x 300 KiB is over max_send_queue: the get pauses until the output drains. */
    char many[128] = "get";
    for (int i = 0; i < 12; i++)
        strcat(many, " big");
    strcat(many, "\r\n");
    text_send(fd, many);
    for (int i = 0; i < 12; i++)
        text_expect(fd, want);
    text_xchg(fd, "mn\r\n", "END\r\nMN\r\n");
    free(val);
    free(cmd);
    free(want);
    close(fd);
}

static const char *const ascii_args[] = {"-B", "ascii", NULL};
static const char *const binary_args[] = {"-B", "binary", NULL};
static const char *const shutdown_args[] = {"-A", NULL};

static int setup_ascii(void **state)
{
    struct server_opts o = {.basalt_args = ascii_args};
    return server_setup_opts(state, &o);
}

static int setup_binary(void **state)
{
    struct server_opts o = {.basalt_args = binary_args};
    return server_setup_opts(state, &o);
}

static void test_forced_ascii(void **state)
{
    if (server_is_memcached())
        skip();
    int fd = conn(state);
    text_xchg(fd, "version\r\n", "VERSION ");
    close(fd);
}

static void test_forced_binary(void **state)
{
    if (server_is_memcached())
        skip();
    int fd = conn(state);
    text_send(fd, "version\r\n");
    assert_true(sock_expect_closed(fd, CLOSE_TIMEOUT_MS));
    close(fd);
    fd = conn(state);
    struct frame_req noop = {.opcode = BIN_CMD_NOOP};
    struct frame_resp m;
    assert_int_equal(frame_call(fd, &noop, &m), BIN_STATUS_SUCCESS);
    frame_free(&m);
    close(fd);
}

/* -A: "shutdown" stops the server cleanly (exit status 0). */
static void test_shutdown(void **state)
{
    if (server_is_memcached())
        skip();
    struct server s;
    struct server_opts o = {.basalt_args = shutdown_args};
    assert_int_equal(server_start(&s, &o), 0);
    int fd = sock_connect(s.port);
    assert_true(fd >= 0);
    text_send(fd, "shutdown\r\n");
    assert_true(sock_expect_closed(fd, CLOSE_TIMEOUT_MS));
    close(fd);
    int64_t until = now_ms() + 10000;
    while (server_alive(&s) && now_ms() < until)
        sleep_ms(20);
    assert_false(server_alive(&s));
    assert_true(WIFEXITED(s.status) && WEXITSTATUS(s.status) == 0);
    assert_int_equal(server_stop(&s), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_storage, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_cas, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_delete_arith_touch, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_admin, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_stats, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_cross_protocol, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_large_value, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_forced_ascii, setup_ascii, server_teardown),
        cmocka_unit_test_setup_teardown(test_forced_binary, setup_binary, server_teardown),
        cmocka_unit_test(test_shutdown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
