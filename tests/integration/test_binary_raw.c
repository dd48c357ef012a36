/*
 * Binary protocol over raw sockets, framing and multiplexing: frames split into
 * single bytes, deep pipelines served alongside another connection, quiet
 * commands and GETKQ multi-get, VERSION and STAT. One server per test.
 */
#include <pthread.h>
#include <regex.h>
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

#define KEY(s) .key = (s), .keylen = (uint16_t)(sizeof(s) - 1)

static const uint8_t set_extras[8] = {0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0};
static const uint8_t incr_extras[20] = {0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

/* The sequence replayed whole and byte by byte. */
static const struct frame_req split_seq[] = {
    {.opcode = BIN_CMD_SET,
     .extras = set_extras,
     .extlen = 8,
     KEY("kb"),
     .value = "10",
     .vallen = 2,
     .opaque = 1},
    {.opcode = BIN_CMD_GET, KEY("kb"), .opaque = 2},
    {.opcode = BIN_CMD_GETK, KEY("kb"), .opaque = 3},
    {.opcode = BIN_CMD_INCREMENT, .extras = incr_extras, .extlen = 20, KEY("kb"), .opaque = 4},
    {.opcode = BIN_CMD_NOOP, .opaque = 5},
    {.opcode = BIN_CMD_VERSION, .opaque = 6},
};
#define SPLIT_N (sizeof(split_seq) / sizeof(split_seq[0]))

/* Sends one frame a byte at a time; no reply may appear before its last byte. */
static void send_bytewise(int fd, const struct frame_req *r)
{
    size_t n = frame_size(r);
    uint8_t *buf = malloc(n);
    assert_non_null(buf);
    frame_encode(r, buf);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(sock_write_all(fd, buf + i, 1), 0);
        if (i + 1 < n) {
            /* Let the server run on the partial frame; it must not answer yet. */
            assert_true(sock_expect_silent(fd, i + 2 == n ? 50 : 1));
        }
    }
    free(buf);
}

static void assert_same_reply(const struct frame_resp *a, const struct frame_resp *b)
{
    assert_int_equal(a->h.magic, BIN_MAGIC_RESPONSE);
    assert_int_equal(b->h.magic, BIN_MAGIC_RESPONSE);
    assert_int_equal(a->h.opcode, b->h.opcode);
    assert_int_equal(resp_status(a), BIN_STATUS_SUCCESS);
    assert_int_equal(resp_status(b), BIN_STATUS_SUCCESS);
    assert_int_equal(a->h.extlen, b->h.extlen);
    assert_int_equal(a->h.keylen, b->h.keylen);
    assert_int_equal(a->h.bodylen, b->h.bodylen);
    assert_int_equal(a->h.opaque, b->h.opaque);
    assert_int_equal(a->h.cas != 0, b->h.cas != 0);
    if (a->h.bodylen) {
        assert_memory_equal(a->body, b->body, a->h.bodylen);
    }
}

static void test_split_frames(void **state)
{
    struct server *s = *state;
    int fd = sock_connect(s->port);
    assert_true(fd >= 0);
    struct frame_resp whole[SPLIT_N], split[SPLIT_N];
    for (size_t i = 0; i < SPLIT_N; i++) {
        assert_int_equal(frame_call(fd, &split_seq[i], &whole[i]), BIN_STATUS_SUCCESS);
    }
    /* Expected contents, so that "same as whole" also means "right". */
    assert_int_equal(whole[1].h.extlen, 4);
    assert_memory_equal(whole[1].body, set_extras, 4);
    assert_memory_equal(resp_value(&whole[1]), "10", 2);
    assert_int_equal(whole[2].h.keylen, 2);
    assert_memory_equal(resp_key(&whole[2]), "kb", 2);
    assert_int_equal(bin_get_u64(resp_value(&whole[3])), 15);
    struct frame_req del = {.opcode = BIN_CMD_DELETE, KEY("kb")};
    struct frame_resp m;
    assert_int_equal(frame_call(fd, &del, &m), BIN_STATUS_SUCCESS);
    frame_free(&m);
    for (size_t i = 0; i < SPLIT_N; i++) {
        send_bytewise(fd, &split_seq[i]);
        assert_int_equal(frame_recv(fd, &split[i], IO_TIMEOUT_MS), 0);
        assert_same_reply(&whole[i], &split[i]);
        frame_free(&whole[i]);
        frame_free(&split[i]);
    }
    close(fd);
}

#define PIPELINE_N 10000

struct writer_arg {
    int fd;
    uint8_t *buf;
    size_t len;
    int rc;
};

static void *writer_main(void *p)
{
    struct writer_arg *w = p;
    w->rc = sock_write_all(w->fd, w->buf, w->len);
    return NULL;
}

/* A SET then GET on a second connection, each bounded by IO_TIMEOUT_MS. */
static void second_conn_roundtrip(uint16_t port)
{
    int fd = sock_connect(port);
    assert_true(fd >= 0);
    int64_t t0 = now_ms();
    assert_int_equal(kv_set(fd, BIN_CMD_SET, "other", "conn", 4, 0, 0), BIN_STATUS_SUCCESS);
    char v[8];
    size_t len = 0;
    assert_int_equal(kv_get(fd, "other", v, sizeof(v), &len), BIN_STATUS_SUCCESS);
    assert_int_equal(len, 4);
    assert_memory_equal(v, "conn", 4);
    assert_true(now_ms() - t0 < 2000);
    close(fd);
}

static void test_pipelined_noops(void **state)
{
    struct server *s = *state;
    int fd = sock_connect(s->port);
    assert_true(fd >= 0);
    struct writer_arg w = {.fd = fd, .len = (size_t)PIPELINE_N * BIN_HEADER_LEN};
    w.buf = malloc(w.len);
    assert_non_null(w.buf);
    for (uint32_t i = 0; i < PIPELINE_N; i++) {
        struct frame_req r = {.opcode = BIN_CMD_NOOP, .opaque = i};
        frame_encode(&r, w.buf + (size_t)i * BIN_HEADER_LEN);
    }
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, writer_main, &w), 0);
    for (uint32_t i = 0; i < PIPELINE_N; i++) {
        struct frame_resp m;
        assert_int_equal(frame_recv(fd, &m, IO_TIMEOUT_MS), 0);
        assert_int_equal(m.h.magic, BIN_MAGIC_RESPONSE);
        assert_int_equal(m.h.opcode, BIN_CMD_NOOP);
        assert_int_equal(resp_status(&m), BIN_STATUS_SUCCESS);
        assert_int_equal(m.h.opaque, i);
        assert_int_equal(m.h.bodylen, 0);
        if (i == 0) {
            /* The first connection has ~10k replies outstanding. */
            second_conn_roundtrip(s->port);
        }
    }
    pthread_join(t, NULL);
    assert_int_equal(w.rc, 0);
    assert_true(sock_expect_silent(fd, 50));
    free(w.buf);
    close(fd);
}

/* Appends a frame to buf at *off. */
static void put_frame(uint8_t *buf, size_t cap, size_t *off, const struct frame_req *r)
{
    assert_true(*off + frame_size(r) <= cap);
    frame_encode(r, buf + *off);
    *off += frame_size(r);
}

static void expect_reply(int fd, uint8_t opcode, uint16_t status, uint32_t opaque,
                         struct frame_resp *m)
{
    assert_int_equal(frame_recv(fd, m, IO_TIMEOUT_MS), 0);
    assert_int_equal(m->h.magic, BIN_MAGIC_RESPONSE);
    assert_int_equal(m->h.opcode, opcode);
    assert_int_equal(resp_status(m), status);
    assert_int_equal(m->h.opaque, opaque);
}

/*
 * A SET larger than the server's 16 KiB read buffer, a GET of it, and the
 * end of input, all sent at once: reading on past a full buffer (and the end
 * of input met while doing so) still answers both, byte for byte, before
 * the connection closes.
 */
static void test_large_set_then_eof(void **state)
{
    struct server *s = *state;
    enum { VLEN = 40 * 1024 + 7 };
    uint8_t *val = malloc(VLEN);
    assert_non_null(val);
    for (size_t i = 0; i < VLEN; i++)
        val[i] = (uint8_t)(i * 7 + i / 251); /* no short period */
    struct frame_req set = {.opcode = BIN_CMD_SET,
                            .extras = set_extras,
                            .extlen = 8,
                            KEY("big"),
                            .value = val,
                            .vallen = VLEN,
                            .opaque = 1};
    struct frame_req get = {.opcode = BIN_CMD_GET, KEY("big"), .opaque = 2};
    size_t len = frame_size(&set) + frame_size(&get);
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    frame_encode(&set, buf);
    frame_encode(&get, buf + frame_size(&set));
    int fd = sock_connect(s->port);
    assert_true(fd >= 0);
    assert_int_equal(sock_write_all(fd, buf, len), 0);
    assert_int_equal(shutdown(fd, SHUT_WR), 0);
    struct frame_resp m;
    expect_reply(fd, BIN_CMD_SET, BIN_STATUS_SUCCESS, 1, &m);
    frame_free(&m);
    expect_reply(fd, BIN_CMD_GET, BIN_STATUS_SUCCESS, 2, &m);
    assert_int_equal(resp_vallen(&m), VLEN);
    assert_memory_equal(resp_value(&m), val, VLEN);
    frame_free(&m);
    assert_true(sock_expect_closed(fd, IO_TIMEOUT_MS));
    close(fd);
    free(buf);
    free(val);
}

static void test_getkq_multiget(void **state)
{
    struct server *s = *state;
    int fd = sock_connect(s->port);
    assert_true(fd >= 0);
    char key[16], val[16];
    for (int i = 0; i < 20; i += 2) {
        snprintf(key, sizeof(key), "mk%d", i);
        snprintf(val, sizeof(val), "val%d", i);
        assert_int_equal(kv_set(fd, BIN_CMD_SET, key, val, (uint32_t)strlen(val), 0, 0), 0);
    }
    uint8_t buf[4096];
    size_t off = 0;
    char keys[20][16];
    for (int i = 0; i < 20; i++) {
        snprintf(keys[i], sizeof(keys[i]), "mk%d", i);
        struct frame_req r = {.opcode = BIN_CMD_GETKQ,
                              .key = keys[i],
                              .keylen = (uint16_t)strlen(keys[i]),
                              .opaque = 100 + (uint32_t)i};
        put_frame(buf, sizeof(buf), &off, &r);
    }
    put_frame(buf, sizeof(buf), &off, &(struct frame_req){.opcode = BIN_CMD_NOOP, .opaque = 999});
    assert_int_equal(sock_write_all(fd, buf, off), 0);
    for (int i = 0; i < 20; i += 2) {
        struct frame_resp m;
        expect_reply(fd, BIN_CMD_GETKQ, BIN_STATUS_SUCCESS, 100 + (uint32_t)i, &m);
        snprintf(val, sizeof(val), "val%d", i);
        assert_int_equal(m.h.extlen, 4);
        assert_int_equal(m.h.keylen, strlen(keys[i]));
        assert_memory_equal(resp_key(&m), keys[i], strlen(keys[i]));
        assert_int_equal(resp_vallen(&m), strlen(val));
        assert_memory_equal(resp_value(&m), val, strlen(val));
        frame_free(&m);
    }
    struct frame_resp m;
    expect_reply(fd, BIN_CMD_NOOP, BIN_STATUS_SUCCESS, 999, &m);
    assert_true(sock_expect_silent(fd, 50));
    close(fd);
}

static void test_quiet_commands(void **state)
{
    struct server *s = *state;
    int fd = sock_connect(s->port);
    assert_true(fd >= 0);
    uint8_t buf[1024];
    size_t off = 0;
    const struct frame_req reqs[] = {
        {.opcode = BIN_CMD_SETQ,
         .extras = set_extras,
         .extlen = 8,
         KEY("q"),
         .value = "qv",
         .vallen = 2,
         .opaque = 1},
        {.opcode = BIN_CMD_GETQ, KEY("missing"), .opaque = 2},
        {.opcode = BIN_CMD_GETQ, KEY("q"), .opaque = 3},
        {.opcode = BIN_CMD_ADDQ,
         .extras = set_extras,
         .extlen = 8,
         KEY("q"),
         .value = "x",
         .vallen = 1,
         .opaque = 4},
        {.opcode = BIN_CMD_DELETEQ, KEY("missing"), .opaque = 5},
        {.opcode = BIN_CMD_REPLACEQ,
         .extras = set_extras,
         .extlen = 8,
         KEY("q"),
         .value = "r",
         .vallen = 1,
         .opaque = 6},
        {.opcode = BIN_CMD_NOOP, .opaque = 7},
    };
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        put_frame(buf, sizeof(buf), &off, &reqs[i]);
    }
    assert_int_equal(sock_write_all(fd, buf, off), 0);
    struct frame_resp m;
    expect_reply(fd, BIN_CMD_GETQ, BIN_STATUS_SUCCESS, 3, &m); /* a GETQ hit is answered */
    assert_int_equal(resp_vallen(&m), 2);
    assert_memory_equal(resp_value(&m), "qv", 2);
    frame_free(&m);
    expect_reply(fd, BIN_CMD_ADDQ, BIN_STATUS_KEY_EEXISTS, 4, &m);
    frame_free(&m);
    expect_reply(fd, BIN_CMD_DELETEQ, BIN_STATUS_KEY_ENOENT, 5, &m);
    frame_free(&m);
    expect_reply(fd, BIN_CMD_NOOP, BIN_STATUS_SUCCESS, 7, &m);
    assert_true(sock_expect_silent(fd, 50));
    char v[8];
    size_t len = 0;
    assert_int_equal(kv_get(fd, "q", v, sizeof(v), &len), BIN_STATUS_SUCCESS);
    assert_int_equal(len, 1);
    assert_memory_equal(v, "r", 1); /* the silent REPLACEQ did run */
    close(fd);
}

static void test_version(void **state)
{
    struct server *s = *state;
    int fd = sock_connect(s->port);
    assert_true(fd >= 0);
    struct frame_resp m;
    struct frame_req r = {.opcode = BIN_CMD_VERSION, .opaque = 77};
    assert_int_equal(frame_call(fd, &r, &m), BIN_STATUS_SUCCESS);
    assert_int_equal(m.h.opaque, 77);
    assert_int_equal(m.h.extlen, 0);
    assert_int_equal(m.h.keylen, 0);
    assert_true(m.h.bodylen > 0 && m.h.bodylen < 64);
    char ver[64];
    memcpy(ver, m.body, m.h.bodylen);
    ver[m.h.bodylen] = '\0';
    regex_t re;
    assert_int_equal(regcomp(&re, "^[0-9]+\\.[0-9]+\\.[0-9]+$", REG_EXTENDED | REG_NOSUB), 0);
    int match = regexec(&re, ver, 0, NULL, 0);
    regfree(&re);
    if (match != 0) {
        fail_msg("VERSION answered \"%s\", not X.Y.Z", ver);
    }
    frame_free(&m);
    close(fd);
}

#define STAT_MAX 512

struct stat_kv {
    char key[64];
    char val[128];
};

/* Reads STAT packets up to the empty terminator; returns how many pairs. */
static int read_stats(int fd, uint32_t opaque, struct stat_kv *out, int cap)
{
    int n = 0;
    for (;;) {
        struct frame_resp m;
        expect_reply(fd, BIN_CMD_STAT, BIN_STATUS_SUCCESS, opaque, &m);
        if (m.h.keylen == 0) {
            assert_int_equal(m.h.bodylen, 0);
            return n;
        }
        assert_true(n < cap);
        assert_true(m.h.keylen < sizeof(out[n].key) && resp_vallen(&m) < sizeof(out[n].val));
        memcpy(out[n].key, resp_key(&m), m.h.keylen);
        out[n].key[m.h.keylen] = '\0';
        memcpy(out[n].val, resp_value(&m), resp_vallen(&m));
        out[n].val[resp_vallen(&m)] = '\0';
        n++;
        frame_free(&m);
    }
}

static const char *stat_get(const struct stat_kv *kv, int n, const char *key)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(kv[i].key, key) == 0) {
            return kv[i].val;
        }
    }
    fail_msg("STAT has no \"%s\"", key);
    return NULL;
}

static void test_stat(void **state)
{
    struct server *s = *state;
    int fd = sock_connect(s->port);
    assert_true(fd >= 0);
    char v[8];
    size_t len;
    assert_int_equal(kv_set(fd, BIN_CMD_SET, "st", "1", 1, 0, 0), BIN_STATUS_SUCCESS);
    assert_int_equal(kv_get(fd, "st", v, sizeof(v), &len), BIN_STATUS_SUCCESS);
    assert_int_equal(kv_get(fd, "nost", v, sizeof(v), &len), BIN_STATUS_KEY_ENOENT);
    assert_int_equal(frame_send(fd, &(struct frame_req){.opcode = BIN_CMD_STAT, .opaque = 9}), 0);
    struct stat_kv *kv = calloc(STAT_MAX, sizeof(*kv));
    assert_non_null(kv);
    int n = read_stats(fd, 9, kv, STAT_MAX);
    assert_true(n >= 10);
    assert_int_equal(atol(stat_get(kv, n, "pid")), s->pid);
    const char *up = stat_get(kv, n, "uptime");
    assert_true(up[0] >= '0' && up[0] <= '9');
    assert_true(atol(stat_get(kv, n, "curr_connections")) >= 1);
    assert_int_equal(atol(stat_get(kv, n, "cmd_get")), 2);
    assert_int_equal(atol(stat_get(kv, n, "get_hits")), 1);
    assert_int_equal(atol(stat_get(kv, n, "get_misses")), 1);
    assert_int_equal(atol(stat_get(kv, n, "cmd_set")), 1);
    free(kv);
    /* The connection is still usable after the stream of STAT packets. */
    struct frame_resp m;
    assert_int_equal(frame_call(fd, &(struct frame_req){.opcode = BIN_CMD_NOOP}, &m), 0);
    close(fd);
}

/* Sends n NOOPs in one write and reads their replies, in order. */
static void noop_burst(int fd, uint32_t n)
{
    uint8_t buf[64 * BIN_HEADER_LEN];
    assert_true(n <= 64);
    for (uint32_t i = 0; i < n; i++) {
        struct frame_req r = {.opcode = BIN_CMD_NOOP, .opaque = i};
        frame_encode(&r, buf + (size_t)i * BIN_HEADER_LEN);
    }
    assert_int_equal(sock_write_all(fd, buf, (size_t)n * BIN_HEADER_LEN), 0);
    for (uint32_t i = 0; i < n; i++) {
        struct frame_resp m;
        expect_reply(fd, BIN_CMD_NOOP, BIN_STATUS_SUCCESS, i, &m);
        frame_free(&m);
    }
}

static int setup_reqs_per_event(void **state)
{
    static const char *const args[] = {"-R", "4", NULL};
    struct server_opts o = {.args = args};
    return server_setup_opts(state, &o);
}

/*
 * -R 4: one callback runs the frame that woke it and four more, as memcached
 * counts; then the connection yields (conn_yields) if input remains and
 * continues later. A single small write on loopback arrives whole, so the
 * counts are exact.
 */
static void test_reqs_per_event(void **state)
{
    struct server *s = *state;
    int fd = sock_connect(s->port);
    int sfd = sock_connect(s->port);
    assert_true(fd >= 0 && sfd >= 0);
    long long y0 = stat_value(sfd, "conn_yields");
    assert_true(y0 >= 0);
    noop_burst(fd, 4);
    assert_int_equal(stat_value(sfd, "conn_yields"), y0);
    noop_burst(fd, 12); /* 5, yield, 5 (memcached 4), yield, 2 (3) */
    assert_int_equal(stat_value(sfd, "conn_yields"), y0 + 2);
    if (!s->is_memcached) {
        /* memcached also counts a yield after the fifth when nothing is left to run. */
        noop_burst(fd, 5);
        assert_int_equal(stat_value(sfd, "conn_yields"), y0 + 2);
    }
    close(sfd);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_split_frames, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_noops, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_large_set_then_eof, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_getkq_multiget, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_quiet_commands, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_version, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_stat, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_reqs_per_event, setup_reqs_per_event, server_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
