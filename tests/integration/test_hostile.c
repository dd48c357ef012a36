/*
 * Hostile clients: each may close its own connection and nothing else.
 * Connections that open and close (or reset) in a burst; a valid frame
 * followed by garbage in the same write; body lengths of 4 GiB, 2 GiB and
 * just above the frame limit (closed after the header, nothing buffered);
 * every opcode 0x00-0xff with random lengths; 1,000 connections sending one
 * byte at a time; a reset in the middle of a large reply (SIGPIPE must be
 * ignored); a half-close after a pipeline. After each, the server still
 * serves and, at teardown, exits 0 under the sanitizers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "integration/harness.h"
#include "integration/text_client.h"

#define BURST_CONNS 2000
#define SLOW_CONNS 1000
#define LARGE_VALUE (1u << 20)
#define RESET_ROUNDS 20
#define RSS_SLACK_KIB (16 * 1024)

static const char *const many_args[] = {"-c", "4096", "-t", "4", NULL};
static const char *const small_args[] = {"-I", "4k", NULL};

static int many_setup(void **state)
{
    const struct server_opts o = {.basalt_args = many_args};
    return server_setup_opts(state, &o);
}

static int small_setup(void **state)
{
    const struct server_opts o = {.basalt_args = small_args};
    return server_setup_opts(state, &o);
}

static bool noop_ok(int fd, uint32_t opaque)
{
    struct frame_req r = {.opcode = BIN_CMD_NOOP, .opaque = opaque};
    struct frame_resp m;
    if (frame_call(fd, &r, &m) != BIN_STATUS_SUCCESS)
        return false;
    bool ok = m.h.opcode == BIN_CMD_NOOP && m.h.opaque == opaque;
    frame_free(&m);
    return ok;
}

/* The server answers a new connection. */
static void still_served(uint16_t port)
{
    int fd = sock_connect(port);
    assert_true(fd >= 0);
    assert_true(noop_ok(fd, 4242));
    close(fd);
}

/* Closes fd with a reset (RST) instead of a FIN. */
static void close_reset(int fd)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
}

static void test_connect_burst(void **state)
{
    struct server *s = *state;
    static const uint8_t half[12] = {BIN_MAGIC_REQUEST, BIN_CMD_GET, 0, 1};
    for (int i = 0; i < BURST_CONNS; i++) {
        int fd = sock_connect(s->port);
        assert_true(fd >= 0);
        if (i % 3 == 1)
            assert_int_equal(sock_write_all(fd, half, sizeof(half)), 0);
        if (i % 2 == 0)
            close_reset(fd);
        else
            close(fd);
    }
    still_served(s->port);
    /* Every one of them is gone: only the stats connection is open. */
    int64_t deadline = now_ms() + 5000;
    long long curr = -1;
    while (now_ms() < deadline && curr != 1) {
        int fd = sock_connect(s->port);
        assert_true(fd >= 0);
        curr = stat_value(fd, "curr_connections");
        close(fd);
        sleep_ms(20);
    }
    assert_int_equal(curr, 1);
}

static void test_garbage_after_frames(void **state)
{
    struct server *s = *state;
    int fd = sock_connect(s->port);
    assert_true(fd >= 0);
    struct frame_req noop = {.opcode = BIN_CMD_NOOP, .opaque = 1};
    struct frame_req ver = {.opcode = BIN_CMD_VERSION, .opaque = 2};
    uint8_t buf[256];
    size_t n = 0;
    frame_encode(&noop, buf);
    n += frame_size(&noop);
    frame_encode(&ver, buf + n);
    n += frame_size(&ver);
    for (int i = 0; i < 64; i++)
        buf[n++] = (uint8_t)(0xde + i * 7);
    assert_int_equal(sock_write_all(fd, buf, n), 0);
    struct frame_resp m;
    assert_int_equal(frame_recv(fd, &m, IO_TIMEOUT_MS), 0);
    assert_int_equal(m.h.opaque, 1);
    frame_free(&m);
    assert_int_equal(frame_recv(fd, &m, IO_TIMEOUT_MS), 0);
    assert_int_equal(m.h.opaque, 2);
    frame_free(&m);
    /* The garbage is not a header: closed without a reply. */
    assert_true(sock_expect_closed(fd, IO_TIMEOUT_MS));
    close(fd);
    /* Text: the valid line is answered, the garbage gets errors, the rest is served. */
    fd = sock_connect(s->port);
    assert_true(fd >= 0);
    text_send(fd, "version\r\n\x01\x02\xff garbage\r\nmn\r\n");
    text_expect(fd, "VERSION ");
    char line[256];
    text_read_line(fd, line, sizeof(line));
    text_expect(fd, "ERROR\r\nMN\r\n");
    close(fd);
    still_served(s->port);
}

/* A header announcing bodylen: closed right after it, nothing answered, nothing buffered. */
static void huge_body(struct server *s, uint8_t opcode, uint32_t bodylen)
{
    int fd = sock_connect(s->port);
    assert_true(fd >= 0);
    struct bin_header h = {
        .magic = BIN_MAGIC_REQUEST, .opcode = opcode, .keylen = 1, .bodylen = bodylen};
    uint8_t raw[BIN_HEADER_LEN + 1];
    bin_header_encode(&h, raw);
    raw[BIN_HEADER_LEN] = 'k';
    assert_int_equal(sock_write_all(fd, raw, sizeof(raw)), 0);
    assert_true(sock_expect_closed(fd, IO_TIMEOUT_MS));
    close(fd);
}

static void test_huge_bodylen(void **state)
{
    struct server *s = *state;
    long before = server_rss_kib(s);
    /* -I 4k: the frame limit is 4 KiB + 1 KiB. */
    uint32_t limit = 4096 + 1024;
    static const uint8_t ops[] = {BIN_CMD_GET, BIN_CMD_NOOP, BIN_CMD_DELETE, 0xff};
    for (size_t i = 0; i < sizeof(ops); i++) {
        huge_body(s, ops[i], 0xffffffffu);
        huge_body(s, ops[i], 0x80000000u);
        huge_body(s, ops[i], limit - BIN_HEADER_LEN + 1);
    }
    /* A storage command is told E2BIG and its value would be skipped as it comes. */
    int fd = sock_connect(s->port);
    assert_true(fd >= 0);
    static const uint8_t extras[8];
    struct bin_header h = {.magic = BIN_MAGIC_REQUEST,
                           .opcode = BIN_CMD_SET,
                           .extlen = 8,
                           .keylen = 1,
                           .bodylen = 0xffffffffu,
                           .opaque = 3};
    uint8_t raw[BIN_HEADER_LEN + 9];
    bin_header_encode(&h, raw);
    memcpy(raw + BIN_HEADER_LEN, extras, 8);
    raw[BIN_HEADER_LEN + 8] = 'k';
    assert_int_equal(sock_write_all(fd, raw, sizeof(raw)), 0);
    struct frame_resp m;
    assert_int_equal(frame_recv(fd, &m, IO_TIMEOUT_MS), 0);
    assert_int_equal(resp_status(&m), BIN_STATUS_E2BIG);
    frame_free(&m);
    close(fd);
    assert_true(server_rss_kib(s) - before < RSS_SLACK_KIB);
    still_served(s->port);
}

/* Reads replies until the NOOP with opaque 0xfeed arrives (true) or the server closes (false). */
static bool until_noop(int fd)
{
    for (;;) {
        struct frame_resp m;
        if (frame_recv(fd, &m, IO_TIMEOUT_MS) != 0)
            return false;
        assert_int_equal(m.h.magic, BIN_MAGIC_RESPONSE);
        bool done = m.h.opcode == BIN_CMD_NOOP && m.h.opaque == 0xfeed;
        frame_free(&m);
        if (done)
            return true;
    }
}

static void test_every_opcode(void **state)
{
    struct server *s = *state;
    srand(9);
    int fd = sock_connect(s->port);
    assert_true(fd >= 0);
    uint8_t frame[BIN_HEADER_LEN + 300];
    for (int op = 0; op < 256; op++) {
        for (int round = 0; round < 4; round++) {
            struct bin_header h = {.magic = BIN_MAGIC_REQUEST,
                                   .opcode = (uint8_t)op,
                                   .extlen = (uint8_t)(rand() % 3 == 0 ? rand() % 24 : 0),
                                   .keylen = (uint16_t)(rand() % 3 == 0 ? 0 : rand() % 20)};
            uint32_t body = h.extlen + h.keylen + (uint32_t)(rand() % 40);
            /* Now and then lengths that do not add up (the connection closes). */
            h.bodylen = rand() % 8 == 0 ? (uint32_t)(rand() % 8) : body;
            bin_header_encode(&h, frame);
            for (uint32_t i = 0; i < h.bodylen; i++)
                frame[BIN_HEADER_LEN + i] = (uint8_t)(rand() % 26 + 'a');
            struct frame_req noop = {.opcode = BIN_CMD_NOOP, .opaque = 0xfeed};
            frame_encode(&noop, frame + BIN_HEADER_LEN + h.bodylen);
            size_t n = BIN_HEADER_LEN + h.bodylen + BIN_HEADER_LEN;
            if (sock_write_all(fd, frame, n) != 0 || !until_noop(fd)) {
                close(fd);
                fd = sock_connect(s->port);
                assert_true(fd >= 0);
            }
        }
    }
    close(fd);
    still_served(s->port);
}

/* SET then GET of key i, one byte at a time across all connections. */
static size_t slow_request(int i, uint8_t *out)
{
    char key[16], val[16];
    snprintf(key, sizeof(key), "slow%04d", i);
    snprintf(val, sizeof(val), "v%04d", i);
    static const uint8_t extras[8];
    struct frame_req set = {.opcode = BIN_CMD_SET,
                            .extras = extras,
                            .extlen = 8,
                            .key = key,
                            .keylen = 8,
                            .value = val,
                            .vallen = 5,
                            .opaque = 1};
    struct frame_req get = {.opcode = BIN_CMD_GET, .key = key, .keylen = 8, .opaque = 2};
    frame_encode(&set, out);
    frame_encode(&get, out + frame_size(&set));
    return frame_size(&set) + frame_size(&get);
}

static void test_thousand_bytewise(void **state)
{
    struct server *s = *state;
    static int fds[SLOW_CONNS];
    static uint8_t req[SLOW_CONNS][128];
    size_t len = 0;
    for (int i = 0; i < SLOW_CONNS; i++) {
        fds[i] = sock_connect(s->port);
        assert_true(fds[i] >= 0);
        len = slow_request(i, req[i]);
    }
    int control = sock_connect(s->port);
    assert_true(control >= 0);
    for (size_t b = 0; b < len; b++) {
        for (int i = 0; i < SLOW_CONNS; i++)
            assert_int_equal(send(fds[i], &req[i][b], 1, MSG_NOSIGNAL), 1);
        if (b % 8 == 0)
            assert_true(noop_ok(control, (uint32_t)b)); /* still responsive */
    }
    for (int i = 0; i < SLOW_CONNS; i++) {
        struct frame_resp m;
        assert_int_equal(frame_recv(fds[i], &m, IO_TIMEOUT_MS), 0);
        assert_int_equal(resp_status(&m), BIN_STATUS_SUCCESS);
        frame_free(&m);
        assert_int_equal(frame_recv(fds[i], &m, IO_TIMEOUT_MS), 0);
        assert_int_equal(resp_status(&m), BIN_STATUS_SUCCESS);
        char want[16];
        snprintf(want, sizeof(want), "v%04d", i);
        assert_int_equal(resp_vallen(&m), 5);
        assert_memory_equal(resp_value(&m), want, 5);
        frame_free(&m);
        close(fds[i]);
    }
    close(control);
}

static void test_reset_mid_reply(void **state)
{
    struct server *s = *state;
    int fd = sock_connect(s->port);
    assert_true(fd >= 0);
    uint8_t *val = malloc(LARGE_VALUE);
    assert_non_null(val);
    memset(val, 'L', LARGE_VALUE);
    assert_int_equal(kv_set(fd, BIN_CMD_SET, "large", val, LARGE_VALUE, 0, 0), 0);
    free(val);
    close(fd);
    struct frame_req get = {.opcode = BIN_CMD_GET, .key = "large", .keylen = 5};
    uint8_t frames[8][64];
    for (int i = 0; i < 8; i++)
        frame_encode(&get, frames[i]);
    for (int round = 0; round < RESET_ROUNDS; round++) {
        fd = sock_connect(s->port);
        assert_true(fd >= 0);
        for (int i = 0; i < 8; i++)
            assert_int_equal(sock_write_all(fd, frames[i], frame_size(&get)), 0);
        uint8_t some[4096];
        assert_int_equal(sock_read_exact(fd, some, sizeof(some), IO_TIMEOUT_MS), 0);
        /* Half the rounds reset with 8 MiB still to write; the others close normally. */
        if (round % 2 == 0)
            close_reset(fd);
        else
            close(fd);
    }
    assert_true(server_alive(s));
    still_served(s->port);
}

static void test_half_close(void **state)
{
    struct server *s = *state;
    int fd = sock_connect(s->port);
    assert_true(fd >= 0);
    struct frame_req get = {.opcode = BIN_CMD_GET, .key = "nokey", .keylen = 5, .opaque = 7};
    struct frame_req noop = {.opcode = BIN_CMD_NOOP, .opaque = 8};
    assert_int_equal(frame_send(fd, &get), 0);
    assert_int_equal(frame_send(fd, &noop), 0);
    shutdown(fd, SHUT_WR);
    struct frame_resp m;
    assert_int_equal(frame_recv(fd, &m, IO_TIMEOUT_MS), 0);
    assert_int_equal(resp_status(&m), BIN_STATUS_KEY_ENOENT);
    frame_free(&m);
    assert_int_equal(frame_recv(fd, &m, IO_TIMEOUT_MS), 0);
    assert_int_equal(m.h.opaque, 8);
    frame_free(&m);
    assert_true(sock_expect_closed(fd, IO_TIMEOUT_MS));
    close(fd);
    still_served(s->port);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_connect_burst, many_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_garbage_after_frames, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_huge_bodylen, small_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_every_opcode, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_thousand_bytewise, many_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_reset_mid_reply, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_half_close, server_setup, server_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
