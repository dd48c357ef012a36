/*
 * Connection timeouts (-o idle_timeout, read_timeout, stuck_send_timeout),
 * each with short values: an idle connection is closed and counted, an
 * active one never; a command whose rest never arrives (binary body, text
 * data block, text line, one byte at a time) is closed after read_timeout
 * while holding no more than its frame; a client that never reads its
 * replies is closed after stuck_send_timeout and others are unaffected; a
 * connection blocked on the engine is neither idle nor incomplete. Only the
 * timeouts themselves are timed, with generous bounds.
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

#define KICK_BOUND_MS 6000 /* a short timeout has fired by then (value + sweep + ASan slack) */
#define EARLY_MS 300       /* no timeout below 0.5 s fires sooner than this */
#define BIG_VALUE (100u * 1024)
#define STUCK_GETS 400 /* 40 MiB of replies: far more than any buffer on the way */

static const char *const idle_args[] = {"-o", "idle_timeout=1", NULL};
static const char *const read_args[] = {"-o", "read_timeout=0.5", "-I", "1m", NULL};
static const char *const stuck_args[] = {"-o", "stuck_send_timeout=1,max_send_queue=65536", "-t",
                                         "2", NULL};
static const char *const blocked_args[] = {
    "-o", "engine=wouldblock,wouldblock_mode=never,idle_timeout=0.5,read_timeout=0.5", NULL};

#define SETUP(name, argv)                                                                          \
    static int name(void **state)                                                                  \
    {                                                                                              \
        const struct server_opts o = {.basalt_args = argv};                                        \
        return server_setup_opts(state, &o);                                                       \
    }
SETUP(idle_setup, idle_args)
SETUP(read_setup, read_args)
SETUP(stuck_setup, stuck_args)
SETUP(blocked_setup, blocked_args)

/* A counter read on a fresh connection. */
static long long stat_of(uint16_t port, const char *name)
{
    int fd = sock_connect(port);
    assert_true(fd >= 0);
    long long v = stat_value(fd, name);
    close(fd);
    return v;
}

static bool noop_ok(int fd)
{
    struct frame_req r = {.opcode = BIN_CMD_NOOP, .opaque = 9};
    struct frame_resp m;
    if (frame_call(fd, &r, &m) != BIN_STATUS_SUCCESS)
        return false;
    bool ok = m.h.opaque == 9;
    frame_free(&m);
    return ok;
}

/* Waits for the server to close fd; returns how long it took. */
static int64_t closed_after(int fd, int64_t since)
{
    assert_true(sock_expect_closed(fd, KICK_BOUND_MS));
    return now_ms() - since;
}

static void test_idle_kick(void **state)
{
    struct server *s = *state;
    int64_t start = now_ms();
    int idle = sock_connect(s->port);
    assert_true(idle >= 0);
    int active = sock_connect(s->port);
    assert_true(active >= 0);
    /* Active: a command every 100 ms for 2.4 s, more than twice the timeout (a
     * tenth of it apart, so a descheduled test process cannot look idle). */
    for (int i = 0; i < 24; i++) {
        assert_true(noop_ok(active));
        sleep_ms(100);
    }
    assert_true(closed_after(idle, start) >= 900);
    assert_true(noop_ok(active));
    /* The idle one was kicked; the active one is still served. */
    assert_int_equal(stat_of(s->port, "idle_kicks"), 1);
    close(idle);
    close(active);
}

static void test_idle_after_reply(void **state)
{
    struct server *s = *state;
    int fd = sock_connect(s->port);
    assert_true(fd >= 0);
    text_xchg(fd, "set k 0 0 1\r\nv\r\n", "STORED\r\n");
    int64_t since = now_ms();
    assert_true(closed_after(fd, since) >= 900);
    close(fd);
}

/* A SET announcing a value of vallen bytes of which only sent arrive. */
static void send_partial_set(int fd, uint32_t vallen, uint32_t sent)
{
    static const uint8_t extras[8];
    struct frame_req r = {.opcode = BIN_CMD_SET,
                          .extras = extras,
                          .extlen = 8,
                          .key = "k",
                          .keylen = 1,
                          .vallen = vallen};
    size_t head = frame_size(&r) - vallen;
    uint8_t *val = calloc(1, vallen);
    assert_non_null(val);
    r.value = val;
    uint8_t *whole = malloc(frame_size(&r));
    assert_non_null(whole);
    frame_encode(&r, whole);
    assert_int_equal(sock_write_all(fd, whole, head + sent), 0);
    free(whole);
    free(val);
}

static void test_read_timeout_binary(void **state)
{
    struct server *s = *state;
    int good = sock_connect(s->port);
    assert_true(good >= 0 && noop_ok(good));
    int fd = sock_connect(s->port);
    assert_true(fd >= 0);
    int64_t start = now_ms();
    send_partial_set(fd, 1000, 10);
    assert_true(closed_after(fd, start) >= EARLY_MS);
    close(fd);
    /* A header cut short, too. */
    fd = sock_connect(s->port);
    assert_true(fd >= 0);
    uint8_t half[10] = {BIN_MAGIC_REQUEST, BIN_CMD_GET};
    assert_int_equal(sock_write_all(fd, half, sizeof(half)), 0);
    closed_after(fd, now_ms());
    close(fd);
    assert_true(noop_ok(good));
    assert_int_equal(stat_of(s->port, "read_timeout_kicks"), 2);
    close(good);
}

static void test_read_timeout_text(void **state)
{
    struct server *s = *state;
    static const char *const partial[] = {
        "set k 0 0 10\r\nab",                 /* a data block that never ends */
        "get k",                              /* a line without its end */
        "mg k v", "set k 0 0 2000000\r\nxyz", /* an oversized block being discarded */
    };
    for (size_t i = 0; i < sizeof(partial) / sizeof(partial[0]); i++) {
        int fd = sock_connect(s->port);
        assert_true(fd >= 0);
        text_send(fd, partial[i]);
        if (i == 3)
            text_expect(fd, "SERVER_ERROR object too large for cache\r\n");
        closed_after(fd, now_ms());
        close(fd);
    }
    int fd = sock_connect(s->port);
    assert_true(fd >= 0);
    text_xchg(fd, "version\r\n", "VERSION ");
    close(fd);
}

/* One byte every 100 ms: a slow client whose frame takes longer than read_timeout. */
static void test_slowloris(void **state)
{
    struct server *s = *state;
    int good = sock_connect(s->port);
    assert_true(good >= 0);
    int fd = sock_connect(s->port);
    assert_true(fd >= 0);
    struct frame_req r = {.opcode = BIN_CMD_GET, .key = "slowkey", .keylen = 7};
    uint8_t frame[64];
    frame_encode(&r, frame);
    bool closed = false;
    int64_t start = now_ms();
    for (size_t i = 0; i < frame_size(&r) && !closed; i++) {
        closed = send(fd, frame + i, 1, MSG_NOSIGNAL) != 1;
        assert_true(noop_ok(good)); /* others are served meanwhile */
        sleep_ms(100);
        closed = closed || !sock_expect_silent(fd, 0);
    }
    /* 31 bytes take 3.1 s: the server gives up after 0.5 s. */
    assert_true(closed || sock_expect_closed(fd, KICK_BOUND_MS));
    assert_true(now_ms() - start < 3000 + KICK_BOUND_MS);
    close(fd);
    close(good);
}

/* A frame's body held back: the server buffers at most that frame, then closes. */
static void test_read_timeout_memory(void **state)
{
    struct server *s = *state;
    long before = server_rss_kib(s);
    assert_true(before > 0);
    int fd[4];
    for (int i = 0; i < 4; i++) {
        fd[i] = sock_connect(s->port);
        assert_true(fd[i] >= 0);
        /* A 1 MiB value minus its last byte: the largest frame -I 1m allows. */
        send_partial_set(fd[i], 1000000, 999999);
    }
    long during = server_rss_kib(s);
    for (int i = 0; i < 4; i++) {
        closed_after(fd[i], now_ms());
        close(fd[i]);
    }
    /* Four frames of 1 MB plus libevent's read-ahead: well below 16 MiB. */
    assert_true(during - before < 16 * 1024);
    assert_int_equal(stat_of(s->port, "read_timeout_kicks"), 4);
}

/* Stores a BIG_VALUE-byte value under key. */
static void store_big(int fd, const char *key)
{
    uint8_t *val = malloc(BIG_VALUE);
    assert_non_null(val);
    memset(val, 'b', BIG_VALUE);
    assert_int_equal(kv_set(fd, BIN_CMD_SET, key, val, BIG_VALUE, 0, 0), BIN_STATUS_SUCCESS);
    free(val);
}

/* Reads what waits on fd until EOF or reset within timeout_ms; returns the bytes, or -1. */
static long long drain_until_closed(int fd, int timeout_ms)
{
    static uint8_t buf[65536];
    long long total = 0;
    int64_t deadline = now_ms() + timeout_ms;
    while (now_ms() < deadline) {
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return total;
        if (n > 0)
            total += n;
        else
            sleep_ms(5);
    }
    return -1;
}

static void test_stuck_send(void **state)
{
    struct server *s = *state;
    int good = sock_connect(s->port);
    assert_true(good >= 0);
    store_big(good, "big");
    long before = server_rss_kib(s);
    int stuck = sock_connect(s->port);
    assert_true(stuck >= 0);
    int small = 16 * 1024;
    setsockopt(stuck, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    struct frame_req get = {.opcode = BIN_CMD_GET, .key = "big", .keylen = 3};
    size_t one = frame_size(&get);
    uint8_t *reqs = malloc(one * STUCK_GETS);
    assert_non_null(reqs);
    for (int i = 0; i < STUCK_GETS; i++)
        frame_encode(&get, reqs + one * (size_t)i);
    /* 400 small requests fit the socket buffers; their 40 MiB of replies do not. */
    assert_int_equal(sock_write_all(stuck, reqs, one * STUCK_GETS), 0);
    free(reqs);
    int64_t start = now_ms();
    /* Others are served while the stuck one waits. */
    for (int i = 0; i < 5; i++) {
        char out[16];
        size_t len;
        assert_int_equal(kv_get(good, "big", out, sizeof(out), &len), BIN_STATUS_SUCCESS);
        assert_int_equal(len, BIG_VALUE);
        sleep_ms(100);
    }
    long during = server_rss_kib(s);
    /* After the timeout (1 s) the server has closed it: what arrives ends early. */
    sleep_ms(2500);
    long long got = drain_until_closed(stuck, KICK_BOUND_MS);
    assert_true(got >= 0);
    assert_true(got < (long long)STUCK_GETS * BIG_VALUE / 2);
    assert_true(now_ms() - start >= 900);
    assert_int_equal(stat_of(s->port, "stuck_send_kicks"), 1);
    /* The queue stopped at max_send_queue: no 40 MiB of replies were buffered. */
    assert_true(during - before < 16 * 1024);
    close(stuck);
    close(good);
}

/* Blocked on the engine (never completes): neither idle nor incomplete, so never kicked. */
static void test_blocked_not_kicked(void **state)
{
    struct server *s = *state;
    int blocked = sock_connect(s->port);
    assert_true(blocked >= 0);
    struct frame_req get = {.opcode = BIN_CMD_GET, .key = "k", .keylen = 1};
    assert_int_equal(frame_send(blocked, &get), 0);
    /* Half a header after the blocked command waits in the input: still not incomplete. */
    uint8_t half[10] = {BIN_MAGIC_REQUEST, BIN_CMD_NOOP};
    assert_int_equal(sock_write_all(blocked, half, sizeof(half)), 0);
    int idle = sock_connect(s->port);
    assert_true(idle >= 0);
    closed_after(idle, now_ms());
    assert_true(sock_expect_silent(blocked, 1500));
    close(idle);
    close(blocked);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_idle_kick, idle_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_idle_after_reply, idle_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_read_timeout_binary, read_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_read_timeout_text, read_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_slowloris, read_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_read_timeout_memory, read_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_stuck_send, stuck_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_blocked_not_kicked, blocked_setup, server_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
