/*
 * The would-block path against the wouldblock test engine: 1,000 pipelined
 * mixed commands with random blocking answered in request order with the
 * right values; a blocked connection does not hold up another connection of
 * the same worker; a connection closed while its command is blocked forever
 * (never mode) is freed, and SIGTERM with blocked commands exits cleanly
 * (AddressSanitizer reports any leak as a non-zero exit in the teardown).
 */
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
#include "integration/wouldblock_util.h"

#define NCMDS 1000
#define NKEYS 40
#define VAL_MAX 200

/* The expected outcome of one pipelined request. */
struct expect {
    bool reply; /* a reply is expected (quiet hits/successes send none) */
    uint16_t status;
    char value[VAL_MAX]; /* GET value, or the decimal INCR result */
    uint32_t vallen;
    bool numeric; /* value is an 8-byte INCR result */
};

/* The test's own model of the store: key i holds vals[i] when present[i]. */
struct model {
    bool present[NKEYS];
    char vals[NKEYS][VAL_MAX];
    uint64_t counter[NKEYS];
    bool counter_present[NKEYS];
};

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

/* Builds request i into r (strings in keybuf/valbuf) and what it must answer. */
static void make_cmd(struct model *m, uint32_t *seed, int i, struct frame_req *r, char *keybuf,
                     char *valbuf, uint8_t *ext, struct expect *e)
{
    int k = (int)(lcg(seed) % NKEYS);
    int kind = (int)(lcg(seed) % 8);
    memset(e, 0, sizeof(*e));
    memset(r, 0, sizeof(*r));
    r->opaque = (uint32_t)i;
    snprintf(keybuf, 32, kind == 5 ? "ctr%d" : "key%d", k);
    r->key = keybuf;
    r->keylen = (uint16_t)strlen(keybuf);
    e->reply = true;
    switch (kind) {
    case 0: /* SET */
    case 1: /* SETQ */
        snprintf(valbuf, 64, "v%d-%u", i, lcg(seed) % 1000);
        memset(ext, 0, 8);
        *r = (struct frame_req){.opcode = kind ? BIN_CMD_SETQ : BIN_CMD_SET,
                                .extras = ext,
                                .extlen = 8,
                                .key = keybuf,
                                .keylen = r->keylen,
                                .value = valbuf,
                                .vallen = (uint32_t)strlen(valbuf),
                                .opaque = (uint32_t)i};
        m->present[k] = true;
        snprintf(m->vals[k], VAL_MAX, "%s", valbuf);
        e->reply = kind == 0;
        break;
    case 2: /* GET */
    case 3: /* GETQ: hits only */
        r->opcode = kind == 2 ? BIN_CMD_GET : BIN_CMD_GETQ;
        e->status = m->present[k] ? BIN_STATUS_SUCCESS : BIN_STATUS_KEY_ENOENT;
        e->reply = m->present[k] || kind == 2;
        if (m->present[k]) {
            e->vallen = (uint32_t)strlen(m->vals[k]);
            memcpy(e->value, m->vals[k], e->vallen);
        }
        break;
    case 4: /* APPEND */
        r->opcode = BIN_CMD_APPEND;
        r->value = "+a";
        r->vallen = 2;
        if (m->present[k] && strlen(m->vals[k]) + 2 < VAL_MAX) {
            strcat(m->vals[k], "+a");
        } else if (m->present[k]) {
            /* Keep values short: replace instead of growing past VAL_MAX. */
            r->opcode = BIN_CMD_DELETE;
            r->value = NULL;
            r->vallen = 0;
            m->present[k] = false;
        }
        e->status = r->opcode == BIN_CMD_DELETE ? BIN_STATUS_SUCCESS
                    : m->present[k]             ? BIN_STATUS_SUCCESS
                                                : BIN_STATUS_NOT_STORED;
        break;
    case 5: /* INCREMENT by 3, created at 10 */
        memset(ext, 0, 20);
        bin_put_u64(ext, 3);
        bin_put_u64(ext + 8, 10);
        r->opcode = BIN_CMD_INCREMENT;
        r->extras = ext;
        r->extlen = 20;
        m->counter[k] = m->counter_present[k] ? m->counter[k] + 3 : 10;
        m->counter_present[k] = true;
        e->numeric = true;
        e->vallen = 8;
        bin_put_u64((uint8_t *)e->value, m->counter[k]);
        break;
    case 6: /* DELETE */
        r->opcode = BIN_CMD_DELETE;
        e->status = m->present[k] ? BIN_STATUS_SUCCESS : BIN_STATUS_KEY_ENOENT;
        m->present[k] = false;
        break;
    default: /* NOOP: never reaches the engine, still waits its turn */
        r->opcode = BIN_CMD_NOOP;
        r->key = NULL;
        r->keylen = 0;
        break;
    }
}

static void check_reply(const struct frame_resp *m, int i, const struct expect *e)
{
    if (m->h.opaque != (uint32_t)i || resp_status(m) != e->status) {
        fail_msg("request %d: got opaque %u status 0x%02x, want opaque %d status 0x%02x", i,
                 m->h.opaque, resp_status(m), i, e->status);
    }
    if (e->status == BIN_STATUS_SUCCESS && e->vallen > 0) {
        assert_int_equal(resp_vallen(m), e->vallen);
        assert_memory_equal(resp_value(m), e->value, e->vallen);
    }
}

static void test_pipeline_order(void **state)
{
    struct server *s = wb_server(state);
    int fd = wb_connect(s);
    struct model *m = calloc(1, sizeof(*m));
    struct expect *ex = calloc(NCMDS + 1, sizeof(*ex));
    uint8_t *buf = malloc((size_t)(NCMDS + 1) * 512);
    assert_true(m && ex && buf);
    size_t len = 0;
    uint32_t seed = 12345;
    for (int i = 0; i < NCMDS; i++) {
        struct frame_req r;
        char key[32], val[64];
        uint8_t ext[20];
        make_cmd(m, &seed, i, &r, key, val, ext, &ex[i]);
        frame_encode(&r, buf + len);
        len += frame_size(&r);
    }
    /* A final NOOP proves nothing quiet answered late. */
    struct frame_req noop = {.opcode = BIN_CMD_NOOP, .opaque = NCMDS};
    ex[NCMDS] = (struct expect){.reply = true, .status = BIN_STATUS_SUCCESS};
    frame_encode(&noop, buf + len);
    len += frame_size(&noop);
    assert_int_equal(sock_write_all(fd, buf, len), 0);
    int answered = 0;
    for (int i = 0; i <= NCMDS; i++) {
        if (!ex[i].reply) {
            continue;
        }
        struct frame_resp resp;
        assert_int_equal(frame_recv(fd, &resp, 20000), 0);
        check_reply(&resp, i, &ex[i]);
        frame_free(&resp);
        answered++;
    }
    assert_true(answered > NCMDS / 2);
    assert_true(sock_expect_silent(fd, 50));
    close(fd);
    free(buf);
    free(ex);
    free(m);
}

static int setup_random(void **state)
{
    return wb_setup(state, "wouldblock_mode=random:0.5,wouldblock_delay_us=1000", "2");
}

/* One worker (-t 1): a command blocked for 200 ms on one connection, a NOOP on another. */
static void test_isolation(void **state)
{
    struct server *s = wb_server(state);
    int a = wb_connect(s), b = wb_connect(s);
    /* Both connections are set up on the worker before the timed part starts. */
    wb_noop(a);
    wb_noop(b);
    struct frame_req get = {.opcode = BIN_CMD_GET, .key = "iso", .keylen = 3, .opaque = 7};
    assert_int_equal(frame_send(a, &get), 0);
    sleep_ms(20); /* the worker has started the GET and it now waits on a reader thread */
    int64_t t0 = now_ms();
    wb_noop(b);
    int64_t took = now_ms() - t0;
    fprintf(stderr, "isolation: NOOP answered in %lld ms beside a blocked GET\n", (long long)took);
    /* The engine delays 200 ms; an answer well inside that proves the worker did not wait. */
    if (took >= 100) {
        fail_msg("NOOP on another connection took %lld ms while a command was blocked",
                 (long long)took);
    }
    /* ...and the GET was still blocked then: the engine did hold it. */
    assert_true(sock_expect_silent(a, 0));
    struct frame_resp m;
    assert_int_equal(frame_recv(a, &m, IO_TIMEOUT_MS), 0);
    assert_int_equal(m.h.opaque, 7);
    assert_int_equal(resp_status(&m), BIN_STATUS_KEY_ENOENT);
    frame_free(&m);
    close(a);
    close(b);
}

static int setup_isolation(void **state)
{
    return wb_setup(state, "wouldblock_mode=always,wouldblock_delay_us=200000", "1");
}

/* Reads curr_connections from STAT; -1 on failure. */
static long stat_curr_connections(int fd)
{
    struct frame_req r = {.opcode = BIN_CMD_STAT};
    if (frame_send(fd, &r) != 0) {
        return -1;
    }
    long v = -1;
    for (;;) {
        struct frame_resp m;
        if (frame_recv(fd, &m, IO_TIMEOUT_MS) != 0) {
            return -1;
        }
        bool last = m.h.keylen == 0;
        if (m.h.keylen == 16 && memcmp(resp_key(&m), "curr_connections", 16) == 0) {
            char num[32] = "";
            uint32_t n = resp_vallen(&m) < 31 ? resp_vallen(&m) : 31;
            memcpy(num, resp_value(&m), n);
            v = strtol(num, NULL, 10);
        }
        frame_free(&m);
        if (last) {
            return v;
        }
    }
}

/* SET k value, with ext (8 zero bytes) as its extras. */
static struct frame_req set_k(const uint8_t *ext, const char *value)
{
    return (struct frame_req){.opcode = BIN_CMD_SET,
                              .extras = ext,
                              .extlen = 8,
                              .key = "k",
                              .keylen = 1,
                              .value = value,
                              .vallen = (uint32_t)strlen(value)};
}

/* Never mode: a connection closed while blocked is freed once the engine drops its call. */
static void test_never_disconnect(void **state)
{
    struct server *s = wb_server(state);
    int ctl = wb_connect(s);
    /* Only ctl remains once the harness's readiness probes are gone. */
    const long before = 1;
    for (int round = 0; round < 3; round++) {
        int fd = wb_connect(s);
        uint8_t ext[8] = {0};
        struct frame_req set = set_k(ext, "v");
        struct frame_req get = {.opcode = BIN_CMD_GET, .key = "k", .keylen = 1};
        assert_int_equal(frame_send(fd, round == 1 ? &set : &get), 0);
        /* A later frame on the same connection must not start either. */
        assert_int_equal(frame_send(fd, &(struct frame_req){.opcode = BIN_CMD_NOOP}), 0);
        assert_true(sock_expect_silent(fd, 100));
        /* A reset, not a FIN: a FIN may be a half-close, which still waits for the replies. */
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
        close(fd);
    }
    /* The blocked connections go away: the count returns to where it was. */
    long now = -1;
    for (int i = 0; i < 200 && now != before; i++) {
        now = stat_curr_connections(ctl);
        if (now != before) {
            sleep_ms(10);
        }
    }
    assert_int_equal(now, before);
    /* Connections of this worker are still served; this one chose its own mode. */
    assert_int_equal(wb_control(ctl, "always"), BIN_STATUS_SUCCESS);
    assert_int_equal(kv_set(ctl, BIN_CMD_SET, "k", "v2", 2, 0, 0), BIN_STATUS_SUCCESS);
    char v[8];
    size_t n = 0;
    assert_int_equal(kv_get(ctl, "k", v, sizeof(v), &n), BIN_STATUS_SUCCESS);
    assert_int_equal(n, 2);
    close(ctl);
}

/* Never mode: SIGTERM with blocked commands on several connections exits 0 (teardown checks). */
static void test_never_sigterm(void **state)
{
    struct server *s = wb_server(state);
    int fds[4];
    for (int i = 0; i < 4; i++) {
        fds[i] = wb_connect(s);
        uint8_t ext[8] = {0};
        struct frame_req set = set_k(ext, "value");
        assert_int_equal(frame_send(fds[i], &set), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_true(sock_expect_silent(fds[i], 50));
    }
    int64_t t0 = now_ms();
    assert_int_equal(server_stop(s), 0);
    assert_true(now_ms() - t0 < 10000);
    for (int i = 0; i < 4; i++) {
        assert_true(sock_expect_closed(fds[i], IO_TIMEOUT_MS));
        close(fds[i]);
    }
}

static int setup_never(void **state)
{
    return wb_setup(state, "wouldblock_mode=never,enable_test_opcodes=1", "2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pipeline_order, setup_random, server_teardown),
        cmocka_unit_test_setup_teardown(test_isolation, setup_isolation, server_teardown),
        cmocka_unit_test_setup_teardown(test_never_disconnect, setup_never, server_teardown),
        cmocka_unit_test_setup_teardown(test_never_sigterm, setup_never, server_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
