/*
 * A client that floods GETs of a 512 KiB value and never reads its replies
 * must not make the server buffer the replies without bound, nor stall other
 * clients. basalt is started with -o max_send_queue=1048576 (1 MiB of output
 * per connection before it stops reading); memcached has no such option and
 * bounds its output by referencing items, so it runs without the flag.
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

#define VALUE_LEN (512u * 1024)
#define MAX_GETS 600000     /* 16 MiB of requests, far more replies than any buffer holds */
#define FLOOD_MS 3000       /* bound on the flooding loop */
#define STALL_MS 500        /* the socket stayed full this long: the server stopped reading */
#define RSS_BOUND_KIB 65536 /* 64 MiB: far below what buffering 200+ MiB of replies takes */

static const char *const slow_basalt_args[] = {"-o", "max_send_queue=1048576", NULL};

static int slow_setup(void **state)
{
    const struct server_opts o = {.basalt_args = slow_basalt_args};
    return server_setup_opts(state, &o);
}

/* Byte i of the stored value: no short period, so a reply resumed at a wrong offset shows. */
static uint8_t value_byte(uint32_t i)
{
    return (uint8_t)((i * 2654435761u) >> 24);
}

static void store_value(int fd)
{
    uint8_t *val = malloc(VALUE_LEN);
    assert_non_null(val);
    for (uint32_t i = 0; i < VALUE_LEN; i++) {
        val[i] = value_byte(i);
    }
    assert_int_equal(kv_set(fd, BIN_CMD_SET, "slowval", val, VALUE_LEN, 0, 0), BIN_STATUS_SUCCESS);
    free(val);
}

/* Writes GETs without reading until the socket stays full; returns how many were written,
 * *blocked tells whether the server stopped taking requests (backpressure). */
static int flood_gets(int fd, bool *blocked)
{
    struct frame_req get = {.opcode = BIN_CMD_GET, .key = "slowval", .keylen = 7};
    size_t one = frame_size(&get);
    uint8_t *buf = malloc(one * MAX_GETS);
    assert_non_null(buf);
    for (int i = 0; i < MAX_GETS; i++) {
        frame_encode(&get, buf + one * (size_t)i);
    }
    size_t total = one * MAX_GETS, sent = 0;
    int64_t start = now_ms(), last_progress = start;
    while (sent < total && now_ms() - start < FLOOD_MS && now_ms() - last_progress < STALL_MS) {
        ssize_t n = send(fd, buf + sent, total - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            sent += (size_t)n;
            last_progress = now_ms();
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
            fail_msg("flood: send: %s", strerror(errno));
        } else {
            sleep_ms(5);
        }
    }
    free(buf);
    *blocked = now_ms() - last_progress >= STALL_MS;
    return (int)(sent / one);
}

/* SET and GET on a fresh connection, within 2 s. */
static void other_client_served(uint16_t port)
{
    int fd = sock_connect(port);
    assert_true(fd >= 0);
    int64_t t0 = now_ms();
    assert_int_equal(kv_set(fd, BIN_CMD_SET, "other", "fine", 4, 0, 0), BIN_STATUS_SUCCESS);
    char v[8];
    size_t len = 0;
    assert_int_equal(kv_get(fd, "other", v, sizeof(v), &len), BIN_STATUS_SUCCESS);
    assert_int_equal(len, 4);
    int64_t took = now_ms() - t0;
    if (took > 2000) {
        fail_msg("second client took %lld ms", (long long)took);
    }
    close(fd);
}

/* One reply of the slow client is intact, every byte. */
static void first_reply_intact(int fd)
{
    struct frame_resp m;
    assert_int_equal(frame_recv(fd, &m, IO_TIMEOUT_MS), 0);
    assert_int_equal(m.h.opcode, BIN_CMD_GET);
    assert_int_equal(resp_status(&m), BIN_STATUS_SUCCESS);
    assert_int_equal(resp_vallen(&m), VALUE_LEN);
    const uint8_t *v = resp_value(&m);
    for (uint32_t i = 0; i < VALUE_LEN; i++) {
        if (v[i] != value_byte(i))
            fail_msg("byte %u of the reply is %u, not %u", i, v[i], value_byte(i));
    }
    frame_free(&m);
}

/*
 * The slow client's replies, when it finally reads them, are intact: the
 * first ones, which include the one the server wrote in part when the
 * socket filled and finished from where it stopped.
 */
static void first_replies_intact(int fd, int n)
{
    for (int i = 0; i < n; i++)
        first_reply_intact(fd);
}

static void test_slow_reader(void **state)
{
    struct server *s = *state;
    int fd = sock_connect(s->port);
    assert_true(fd >= 0);
    store_value(fd);
    char *v = malloc(VALUE_LEN);
    size_t len = 0;
    assert_int_equal(kv_get(fd, "slowval", v, VALUE_LEN, &len), BIN_STATUS_SUCCESS);
    free(v);
    long before = server_rss_kib(s);
    assert_true(before > 0);

    int slow = sock_connect(s->port);
    assert_true(slow >= 0);
    bool blocked = false;
    int gets = flood_gets(slow, &blocked);
    sleep_ms(500); /* let the server do whatever it does with the backlog */
    other_client_served(s->port);
    long after = server_rss_kib(s);
    fprintf(stderr, "slow reader: %d GETs (%d MiB of replies) written, %s; RSS %ld -> %ld KiB\n",
            gets, gets / 2, blocked ? "then the socket stayed full" : "never blocked", before,
            after);
    assert_true(gets >= 400); /* 200+ MiB worth of replies were asked for */
    assert_true(blocked);     /* the server stopped reading requests it could not answer */
    if (after - before > RSS_BOUND_KIB) {
        fail_msg("RSS grew by %ld KiB with a slow reader", after - before);
    }
    first_replies_intact(slow, 32); /* 16 MiB: well past what the socket took at once */
    close(slow);
    other_client_served(s->port);
    close(fd);
}

/*
 * GETs of a 512 KiB value, one at a time, to a client whose receive buffer
 * is small and who does not read yet: each reply is the only one of its
 * callback, written at once, until the socket takes only part of one; the
 * rest of that reply goes out later from where it stopped, and the replies
 * behind it follow. Every byte must arrive in order.
 */
static void test_reply_in_parts(void **state)
{
    struct server *s = *state;
    int fd = sock_connect(s->port);
    assert_true(fd >= 0);
    store_value(fd);
    int small = 16 * 1024;
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
    struct frame_req get = {.opcode = BIN_CMD_GET, .key = "slowval", .keylen = 7};
    for (int i = 0; i < 8; i++) {
        assert_int_equal(frame_send(fd, &get), 0);
        sleep_ms(50); /* one callback per GET: the server writes what the socket takes */
    }
    first_replies_intact(fd, 8);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_slow_reader, slow_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_reply_in_parts, slow_setup, server_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
