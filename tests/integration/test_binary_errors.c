/*
 * Binary protocol error paths over raw sockets: unknown opcodes, values above
 * the item size max (E2BIG), and malformed frames that must close only their
 * own connection while another connection keeps being served.
 *
 * Where basalt intentionally differs from memcached (see DESIGN.md: a bad
 * header closes the connection without a reply, while memcached answers some
 * of them with EINVAL before closing), the test accepts memcached's extra
 * reply only when the server under test is memcached.
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

#define KEY(s) .key = (s), .keylen = (uint16_t)(sizeof(s) - 1)
#define CLOSE_TIMEOUT_MS 3000

static const uint8_t set_extras[8] = {0, 0, 0, 1, 0, 0, 0, 0};

static void send_two(int fd, const struct frame_req *a, const struct frame_req *b)
{
    size_t na = frame_size(a), nb = frame_size(b);
    uint8_t *buf = malloc(na + nb);
    assert_non_null(buf);
    frame_encode(a, buf);
    frame_encode(b, buf + na);
    assert_int_equal(sock_write_all(fd, buf, na + nb), 0);
    free(buf);
}

static void expect_reply(int fd, uint8_t opcode, uint16_t status, uint32_t opaque)
{
    struct frame_resp m;
    assert_int_equal(frame_recv(fd, &m, IO_TIMEOUT_MS), 0);
    assert_int_equal(m.h.magic, BIN_MAGIC_RESPONSE);
    assert_int_equal(m.h.opcode, opcode);
    assert_int_equal(resp_status(&m), status);
    assert_int_equal(m.h.opaque, opaque);
    frame_free(&m);
}

/* An unknown opcode with a body: 0x81, the body skipped exactly, the connection usable. */
static void unknown_then_noop(int fd, const struct frame_req *unk)
{
    send_two(fd, unk, &(struct frame_req){.opcode = BIN_CMD_NOOP, .opaque = 0x5678});
    expect_reply(fd, unk->opcode, BIN_STATUS_UNKNOWN_COMMAND, unk->opaque);
    expect_reply(fd, BIN_CMD_NOOP, BIN_STATUS_SUCCESS, 0x5678);
}

static void test_unknown_opcode(void **state)
{
    struct server *s = *state;
    int fd = sock_connect(s->port);
    assert_true(fd >= 0);
    unknown_then_noop(fd, &(struct frame_req){.opcode = 0x3f, .opaque = 0x1233});
    unknown_then_noop(
        fd,
        &(struct frame_req){.opcode = 0x3f, .value = "some bytes", .vallen = 10, .opaque = 0x1234});
    if (!s->is_memcached) {
        /*
         * With extras and a key as well. memcached 1.6.18 answers 0x81 but then
         * swallows bodylen bytes after having read extras and key, eating the
         * next frame; basalt skips the body exactly.
         */
        unknown_then_noop(fd, &(struct frame_req){.opcode = 0x3f,
                                                  .extras = "eeeee",
                                                  .extlen = 5,
                                                  KEY("kkk"),
                                                  .value = "vvvvv",
                                                  .vallen = 5,
                                                  .opaque = 0x1235});
    }
    assert_int_equal(kv_set(fd, BIN_CMD_SET, "after", "x", 1, 0, 0), BIN_STATUS_SUCCESS);
    close(fd);
}

static const char *const small_item_args[] = {"-I", "1024", "-m", "64", NULL};
/* memcached refuses -I below its default slab chunk size unless that is lowered too. */
static const char *const small_item_mc_args[] = {"-o", "slab_chunk_max=512", NULL};

static int small_item_setup(void **state)
{
    const struct server_opts o = {.args = small_item_args, .memcached_args = small_item_mc_args};
    return server_setup_opts(state, &o);
}

/* SET key with a value above -I; expects E2BIG, the value skipped exactly, the key gone. */
static void big_set(int fd, const char *key, uint32_t vallen)
{
    char v[8];
    size_t len;
    assert_int_equal(kv_set(fd, BIN_CMD_SET, key, "old", 3, 0, 0), BIN_STATUS_SUCCESS);
    uint8_t *val = malloc(vallen);
    assert_non_null(val);
    memset(val, 'b', vallen);
    struct frame_req set = {.opcode = BIN_CMD_SET,
                            .extras = set_extras,
                            .extlen = 8,
                            .key = key,
                            .keylen = (uint16_t)strlen(key),
                            .value = val,
                            .vallen = vallen,
                            .opaque = 41};
    send_two(fd, &set, &(struct frame_req){.opcode = BIN_CMD_NOOP, .opaque = 42});
    free(val);
    expect_reply(fd, BIN_CMD_SET, BIN_STATUS_E2BIG, 41);
    expect_reply(fd, BIN_CMD_NOOP, BIN_STATUS_SUCCESS, 42);
    assert_int_equal(kv_get(fd, key, v, sizeof(v), &len), BIN_STATUS_KEY_ENOENT);
}

static void test_value_too_big(void **state)
{
    struct server *s = *state;
    int fd = sock_connect(s->port);
    assert_true(fd >= 0);
    big_set(fd, "big1", 2000);       /* above -I 1024 */
    big_set(fd, "big2", 200 * 1024); /* also above basalt's frame limit (-I + 1 KiB) */
    char v[8];
    size_t len;
    assert_int_equal(kv_set(fd, BIN_CMD_SET, "small", "ok", 2, 0, 0), BIN_STATUS_SUCCESS);
    assert_int_equal(kv_get(fd, "small", v, sizeof(v), &len), BIN_STATUS_SUCCESS);
    close(fd);
}

/* A connection that keeps being served while others misbehave. */
static int good_conn(uint16_t port)
{
    int fd = sock_connect(port);
    assert_true(fd >= 0);
    assert_int_equal(kv_set(fd, BIN_CMD_SET, "alive", "yes", 3, 0, 0), BIN_STATUS_SUCCESS);
    return fd;
}

static void good_still_served(int fd)
{
    char v[8];
    size_t len = 0;
    int64_t t0 = now_ms();
    assert_int_equal(kv_get(fd, "alive", v, sizeof(v), &len), BIN_STATUS_SUCCESS);
    assert_int_equal(len, 3);
    assert_true(now_ms() - t0 < 2000);
}

/* A connection already in binary mode (one NOOP answered). */
static int binary_conn(uint16_t port)
{
    int fd = sock_connect(port);
    assert_true(fd >= 0);
    struct frame_resp m;
    assert_int_equal(frame_call(fd, &(struct frame_req){.opcode = BIN_CMD_NOOP}, &m), 0);
    return fd;
}

static void send_raw_header(int fd, const struct bin_header *h, size_t body_bytes)
{
    uint8_t buf[BIN_HEADER_LEN + 64] = {0};
    assert_true(body_bytes <= 64);
    bin_header_encode(h, buf);
    memset(buf + BIN_HEADER_LEN, 'k', body_bytes);
    assert_int_equal(sock_write_all(fd, buf, BIN_HEADER_LEN + body_bytes), 0);
}

static void bad_magic(uint16_t port, uint8_t magic)
{
    int good = good_conn(port);
    int bad = binary_conn(port);
    struct bin_header h = {.magic = magic, .opcode = BIN_CMD_NOOP};
    send_raw_header(bad, &h, 0);
    assert_true(sock_expect_closed(bad, CLOSE_TIMEOUT_MS));
    close(bad);
    good_still_served(good);
    close(good);
}

static void test_bad_magic(void **state)
{
    struct server *s = *state;
    bad_magic(s->port, 0x42);
    bad_magic(s->port, BIN_MAGIC_RESPONSE);
    bad_magic(s->port, 0x00);
}

/*
 * Sends a header that basalt rejects before reading the body: the connection
 * closes without a reply. memcached validates these in its command switch and
 * answers EINVAL first; that reply is accepted only from memcached.
 */
static void closed_without_reply(const struct server *s, int fd, const struct bin_header *h,
                                 size_t body_bytes)
{
    send_raw_header(fd, h, body_bytes);
    if (s->is_memcached) {
        expect_reply(fd, h->opcode, BIN_STATUS_EINVAL, h->opaque);
    }
    assert_true(sock_expect_closed(fd, CLOSE_TIMEOUT_MS));
}

static void test_bad_lengths(void **state)
{
    struct server *s = *state;
    if (s->is_memcached) {
        /* memcached 1.6.18 neither answers nor closes: it waits for extras and key
         * bytes beyond bodylen. basalt closes at the header (DESIGN.md, Read). */
        skip();
    }
    int good = good_conn(s->port);
    int bad = binary_conn(s->port);
    /* keylen 10 > bodylen 4 */
    struct bin_header h = {
        .magic = BIN_MAGIC_REQUEST, .opcode = BIN_CMD_GET, .keylen = 10, .bodylen = 4, .opaque = 3};
    closed_without_reply(s, bad, &h, 4);
    close(bad);
    good_still_served(good);
    bad = binary_conn(s->port);
    /* extlen 8 + keylen 4 > bodylen 10 on a SET */
    h = (struct bin_header){.magic = BIN_MAGIC_REQUEST,
                            .opcode = BIN_CMD_SET,
                            .extlen = 8,
                            .keylen = 4,
                            .bodylen = 10,
                            .opaque = 4};
    closed_without_reply(s, bad, &h, 10);
    close(bad);
    good_still_served(good);
    close(good);
}

static void test_frame_too_big(void **state)
{
    struct server *s = *state;
    int good = good_conn(s->port);
    int bad = binary_conn(s->port);
    /* A GET announcing 10 MiB of body: only the header and the key are ever sent. */
    struct bin_header h = {.magic = BIN_MAGIC_REQUEST,
                           .opcode = BIN_CMD_GET,
                           .keylen = 5,
                           .bodylen = 10u << 20,
                           .opaque = 5};
    closed_without_reply(s, bad, &h, 5);
    close(bad);
    good_still_served(good);
    close(good);
}

/* Sends a frame that fails validation: EINVAL, then the connection closes. */
static void einval_then_close(uint16_t port, const struct frame_req *r)
{
    int good = good_conn(port);
    int bad = binary_conn(port);
    assert_int_equal(frame_send(bad, r), 0);
    expect_reply(bad, r->opcode, BIN_STATUS_EINVAL, r->opaque);
    assert_true(sock_expect_closed(bad, CLOSE_TIMEOUT_MS));
    close(bad);
    good_still_served(good);
    close(good);
}

static void test_shape_errors(void **state)
{
    struct server *s = *state;
    /* GET with extras */
    einval_then_close(
        s->port,
        &(struct frame_req){
            .opcode = BIN_CMD_GET, .extras = "xxxx", .extlen = 4, KEY("key"), .opaque = 11});
    /* SET without its 8 bytes of extras */
    einval_then_close(
        s->port, &(struct frame_req){
                     .opcode = BIN_CMD_SET, KEY("key"), .value = "v", .vallen = 1, .opaque = 12});
    /* a key of 251 bytes */
    char key[251];
    memset(key, 'k', sizeof(key));
    einval_then_close(s->port,
                      &(struct frame_req){
                          .opcode = BIN_CMD_GET, .key = key, .keylen = sizeof(key), .opaque = 13});
}

static void test_key_250_ok(void **state)
{
    struct server *s = *state;
    int fd = sock_connect(s->port);
    assert_true(fd >= 0);
    char key[251];
    memset(key, 'k', 250);
    key[250] = '\0';
    char v[8];
    size_t len;
    assert_int_equal(kv_set(fd, BIN_CMD_SET, key, "v", 1, 0, 0), BIN_STATUS_SUCCESS);
    assert_int_equal(kv_get(fd, key, v, sizeof(v), &len), BIN_STATUS_SUCCESS);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unknown_opcode, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_value_too_big, small_item_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_bad_magic, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_bad_lengths, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_frame_too_big, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_shape_errors, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_key_250_ok, server_setup, server_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
