/*
 * Bad text input: each case gets memcached's error (or a close) on its own
 * connection while another connection keeps being served, and the server's
 * memory stays bounded (a 1 MB line without a newline is refused early).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "integration/harness.h"
#include "integration/text_client.h"

#define CLOSE_TIMEOUT_MS 3000
#define MIB (1024 * 1024)

static int conn(void **state)
{
    struct server *s = *state;
    int fd = sock_connect(s->port);
    assert_true(fd >= 0);
    return fd;
}

/* A second connection still gets answered. */
static void still_serving(void **state)
{
    int fd = conn(state);
    text_xchg(fd, "set alive 0 0 2\r\nok\r\n", "STORED\r\n");
    text_xchg(fd, "get alive\r\n", "VALUE alive 0 2\r\nok\r\nEND\r\n");
    close(fd);
}

/* Sends a bad line on a fresh connection and expects reply, then the connection still works. */
static void expect_error(void **state, const char *send, const char *reply)
{
    int fd = conn(state);
    text_xchg(fd, send, reply);
    text_xchg(fd, "mn\r\n", "MN\r\n");
    close(fd);
    still_serving(state);
}

static void test_bad_command_lines(void **state)
{
    static const char fmt[] = "CLIENT_ERROR bad command line format\r\n";
    expect_error(state, "set k 0 0 -1\r\n", fmt);
    expect_error(state, "set k 0 0 4294967295\r\n", fmt);
    expect_error(state, "set k abc 0 1\r\n", fmt);
    expect_error(state, "set k 0 abc 1\r\n", fmt);
    if (!server_is_memcached()) /* memcached takes flags above 32 bits and waits for data */
        expect_error(state, "set k 4294967296 0 1\r\n", fmt);
    expect_error(state, "set k 0 0\r\n", "ERROR\r\n");
    expect_error(state, "cas k 0 0 1 abc\r\n", fmt);
    expect_error(state, "incr k abc\r\n", "CLIENT_ERROR invalid numeric delta argument\r\n");
    expect_error(state, "touch k abc\r\n", "CLIENT_ERROR invalid exptime argument\r\n");
    expect_error(state, "delete k x\r\n",
                 "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n");
    expect_error(state, "get\r\n", "ERROR\r\n");
    expect_error(state, "nonsense\r\n", "ERROR\r\n");
    expect_error(state, "\r\n", "ERROR\r\n");
}

static void test_key_rules(void **state)
{
    char line[600];
    char key[252];
    memset(key, 'k', 251);
    key[251] = '\0';
    snprintf(line, sizeof(line), "get %s\r\n", key);
    expect_error(state, line, "CLIENT_ERROR bad command line format\r\n");
    snprintf(line, sizeof(line), "set %s 0 0 1\r\n", key);
    expect_error(state, line, "CLIENT_ERROR bad command line format\r\n");
    key[250] = '\0';
    snprintf(line, sizeof(line), "set %s 0 0 1\r\nx\r\nget %s\r\n", key, key);
    char want[600];
    snprintf(want, sizeof(want), "STORED\r\nVALUE %s 0 1\r\nx\r\nEND\r\n", key);
    expect_error(state, line, want);
}

static void test_bad_data_chunk(void **state)
{
    /* Longer than declared: the chunk is refused and the rest read as a command. */
    expect_error(state, "set k 0 0 3\r\nabcdef\r\n", "CLIENT_ERROR bad data chunk\r\nERROR\r\n");
    expect_error(state, "set k 0 0 3\r\nabc\r\nget k\r\n",
                 "STORED\r\nVALUE k 0 3\r\nabc\r\nEND\r\n");
}

/* A value above -I is refused at once and its bytes skipped, not buffered. */
static void test_too_large(void **state)
{
    size_t n = 2 * MIB;
    char *cmd = malloc(n + 64);
    assert_non_null(cmd);
    int h = snprintf(cmd, 64, "set big 0 0 %zu\r\n", n);
    memset(cmd + h, 'v', n);
    memcpy(cmd + h + n, "\r\nmn\r\n", 7);
    expect_error(state, cmd, "SERVER_ERROR object too large for cache\r\nMN\r\n");
    free(cmd);
}

static void test_line_too_long(void **state)
{
    int fd = conn(state);
    char line[3000];
    memset(line, 'a', sizeof(line) - 1);
    line[sizeof(line) - 1] = '\0';
    /* memcached closes without a word; basalt says why first. */
    if (!server_is_memcached())
        text_xchg(fd, line, "CLIENT_ERROR line too long\r\n");
    else
        text_send(fd, line);
    assert_true(sock_expect_closed(fd, CLOSE_TIMEOUT_MS));
    close(fd);
    still_serving(state);
}

/* 1 MB without a newline: refused after 2048 bytes; memory stays bounded. */
static void test_megabyte_line(void **state)
{
    struct server *s = *state;
    long before = server_rss_kib(s);
    char *junk = malloc(MIB);
    assert_non_null(junk);
    memset(junk, 'x', MIB);
    for (int i = 0; i < 8; i++) {
        int fd = conn(state);
        /* The server may close before everything is written. */
        (void)sock_write_all(fd, junk, MIB);
        if (!server_is_memcached())
            text_expect(fd, "CLIENT_ERROR line too long\r\n");
        assert_true(sock_expect_closed(fd, CLOSE_TIMEOUT_MS));
        close(fd);
    }
    free(junk);
    still_serving(state);
    long after = server_rss_kib(s);
    if (before > 0 && after > 0)
        assert_true(after - before < 32 * 1024);
}

static void test_http(void **state)
{
    int fd = conn(state);
    text_send(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(sock_expect_closed(fd, CLOSE_TIMEOUT_MS));
    close(fd);
    still_serving(state);
}

/* 10,000 keys in one get: every hit comes back, then END. */
static void test_many_keys(void **state)
{
    int fd = conn(state);
    enum { NKEYS = 10000 };
    size_t cap = (size_t)NKEYS * 12 + 16;
    char *line = malloc(cap);
    assert_non_null(line);
    text_xchg(fd, "set key1 0 0 1\r\na\r\nset key9999 0 0 1\r\nb\r\n", "STORED\r\nSTORED\r\n");
    size_t n = (size_t)snprintf(line, cap, "get");
    for (int i = 0; i < NKEYS; i++)
        n += (size_t)snprintf(line + n, cap - n, " key%d", i);
    snprintf(line + n, cap - n, "\r\n");
    text_xchg(fd, line, "VALUE key1 0 1\r\na\r\nVALUE key9999 0 1\r\nb\r\nEND\r\n");
    free(line);
    close(fd);
    still_serving(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bad_command_lines, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_key_rules, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_bad_data_chunk, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_too_large, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_line_too_long, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_megabyte_line, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_http, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_many_keys, server_setup, server_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
