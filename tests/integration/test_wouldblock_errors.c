/*
 * error: mode of the wouldblock engine: every engine call blocks and then
 * completes with one engine status. Each executor must turn each status into
 * the wire status (or the silence, or the close) its command calls for. The
 * mode is switched per connection with TEST_CONTROL, which a server started
 * without -o enable_test_opcodes=1 refuses as an unknown command.
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
#include "integration/wouldblock_util.h"

/* The engine statuses error: accepts (but disconnect, tested apart) and their wire status. */
static const struct {
    const char *name;
    uint16_t wire;
} statuses[] = {
    {"key_enoent", BIN_STATUS_KEY_ENOENT},
    {"key_eexists", BIN_STATUS_KEY_EEXISTS},
    {"e2big", BIN_STATUS_E2BIG},
    {"einval", BIN_STATUS_EINVAL},
    {"not_stored", BIN_STATUS_NOT_STORED},
    {"delta_badval", BIN_STATUS_DELTA_BADVAL},
    {"enomem", BIN_STATUS_ENOMEM},
    {"tmpfail", BIN_STATUS_ETMPFAIL},
    {"not_supported", BIN_STATUS_NOT_SUPPORTED},
    {"failed", BIN_STATUS_EINTERNAL},
};

/* One request per executor that reaches the engine. */
enum op_kind { OP_PLAIN, OP_GET_QUIET, OP_WITH_KEY };

static const struct {
    uint8_t opcode;
    uint8_t extlen;
    bool has_key;
    bool has_value;
    enum op_kind kind;
} ops[] = {
    {BIN_CMD_GET, 0, true, false, OP_PLAIN},         {BIN_CMD_GETQ, 0, true, false, OP_GET_QUIET},
    {BIN_CMD_GETK, 0, true, false, OP_WITH_KEY},     {BIN_CMD_TOUCH, 4, true, false, OP_PLAIN},
    {BIN_CMD_GAT, 4, true, false, OP_PLAIN},         {BIN_CMD_GATQ, 4, true, false, OP_GET_QUIET},
    {BIN_CMD_GATK, 4, true, false, OP_WITH_KEY},     {BIN_CMD_SET, 8, true, true, OP_PLAIN},
    {BIN_CMD_SETQ, 8, true, true, OP_PLAIN},         {BIN_CMD_ADD, 8, true, true, OP_PLAIN},
    {BIN_CMD_REPLACE, 8, true, true, OP_PLAIN},      {BIN_CMD_APPEND, 0, true, true, OP_PLAIN},
    {BIN_CMD_PREPENDQ, 0, true, true, OP_PLAIN},     {BIN_CMD_DELETE, 0, true, false, OP_PLAIN},
    {BIN_CMD_DELETEQ, 0, true, false, OP_PLAIN},     {BIN_CMD_INCREMENT, 20, true, false, OP_PLAIN},
    {BIN_CMD_DECREMENTQ, 20, true, false, OP_PLAIN}, {BIN_CMD_FLUSH, 0, false, false, OP_PLAIN},
    {BIN_CMD_FLUSHQ, 4, false, false, OP_PLAIN},
};

static struct frame_req op_request(size_t i, const uint8_t *ext)
{
    return (struct frame_req){
        .opcode = ops[i].opcode,
        .extras = ext,
        .extlen = ops[i].extlen,
        .key = ops[i].has_key ? "errkey" : NULL,
        .keylen = ops[i].has_key ? 6 : 0,
        .value = ops[i].has_value ? "val" : NULL,
        .vallen = ops[i].has_value ? 3 : 0,
        .opaque = (uint32_t)(0x100 + i),
    };
}

/* Sends op i, then a NOOP; checks the op's reply (or its silence) and that the NOOP follows. */
static void check_op(int fd, size_t i, const char *status, uint16_t wire)
{
    uint8_t ext[20] = {0};
    struct frame_req r = op_request(i, ext);
    assert_int_equal(frame_send(fd, &r), 0);
    assert_int_equal(frame_send(fd, &(struct frame_req){.opcode = BIN_CMD_NOOP, .opaque = 1}), 0);
    /* A quiet get's miss says nothing; every other status of every opcode is answered. */
    bool silent = ops[i].kind == OP_GET_QUIET && wire == BIN_STATUS_KEY_ENOENT;
    struct frame_resp m;
    if (!silent) {
        assert_int_equal(frame_recv(fd, &m, IO_TIMEOUT_MS), 0);
        if (m.h.opaque != r.opaque || resp_status(&m) != wire) {
            fail_msg("%s with error:%s: got opaque 0x%x status 0x%02x, want 0x%02x",
                     bin_opcode_name(ops[i].opcode), status, m.h.opaque, resp_status(&m), wire);
        }
        bool key_back = ops[i].kind == OP_WITH_KEY && wire == BIN_STATUS_KEY_ENOENT;
        assert_int_equal(m.h.keylen, key_back ? 6 : 0);
        frame_free(&m);
    }
    assert_int_equal(frame_recv(fd, &m, IO_TIMEOUT_MS), 0);
    assert_int_equal(m.h.opaque, 1);
    assert_int_equal(m.h.opcode, BIN_CMD_NOOP);
    frame_free(&m);
}

static void test_error_statuses(void **state)
{
    struct server *s = wb_server(state);
    int fd = wb_connect(s);
    for (size_t k = 0; k < sizeof(statuses) / sizeof(statuses[0]); k++) {
        char mode[64];
        snprintf(mode, sizeof(mode), "error:%s", statuses[k].name);
        assert_int_equal(wb_control(fd, mode), BIN_STATUS_SUCCESS);
        for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
            check_op(fd, i, statuses[k].name, statuses[k].wire);
        }
    }
    close(fd);
}

/* error:disconnect closes the connection, whatever the command; others are not affected. */
static void test_error_disconnect(void **state)
{
    struct server *s = wb_server(state);
    int other = wb_connect(s);
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        int fd = wb_connect(s);
        assert_int_equal(wb_control(fd, "error:disconnect"), BIN_STATUS_SUCCESS);
        uint8_t ext[20] = {0};
        struct frame_req r = op_request(i, ext);
        assert_int_equal(frame_send(fd, &r), 0);
        if (!sock_expect_closed(fd, IO_TIMEOUT_MS)) {
            fail_msg("%s with error:disconnect: connection not closed",
                     bin_opcode_name(ops[i].opcode));
        }
        close(fd);
    }
    wb_noop(other);
    close(other);
}

/* TEST_CONTROL checks its argument; modes of one connection do not leak to another. */
static void test_control_values(void **state)
{
    struct server *s = wb_server(state);
    int a = wb_connect(s), b = wb_connect(s);
    const char *bad[] = {"sometimes", "random:2", "random:", "error:nope", "error:ewouldblock"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(wb_control(a, bad[i]), BIN_STATUS_EINVAL);
    }
    assert_int_equal(wb_control(a, "error:key_eexists"), BIN_STATUS_SUCCESS);
    assert_int_equal(kv_set(a, BIN_CMD_SET, "iso", "1", 1, 0, 0), BIN_STATUS_KEY_EEXISTS);
    assert_int_equal(kv_set(b, BIN_CMD_SET, "iso", "1", 1, 0, 0), BIN_STATUS_SUCCESS);
    assert_int_equal(wb_control(a, "random:0"), BIN_STATUS_SUCCESS);
    char v[8];
    size_t n = 0;
    assert_int_equal(kv_get(a, "iso", v, sizeof(v), &n), BIN_STATUS_SUCCESS);
    close(a);
    close(b);
}

static int setup_enabled(void **state)
{
    return wb_setup(state, "wouldblock_mode=always,enable_test_opcodes=1", "2");
}

/* Without enable_test_opcodes the opcode is unknown, its body skipped, the connection usable. */
static void test_control_refused(void **state)
{
    struct server *s = wb_server(state);
    int fd = wb_connect(s);
    assert_int_equal(wb_control(fd, "never"), BIN_STATUS_UNKNOWN_COMMAND);
    assert_int_equal(kv_set(fd, BIN_CMD_SET, "k", "v", 1, 0, 0), BIN_STATUS_SUCCESS);
    close(fd);
}

static int setup_disabled(void **state)
{
    return wb_setup(state, "wouldblock_mode=always", "2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_error_statuses, setup_enabled, server_teardown),
        cmocka_unit_test_setup_teardown(test_error_disconnect, setup_enabled, server_teardown),
        cmocka_unit_test_setup_teardown(test_control_values, setup_enabled, server_teardown),
        cmocka_unit_test_setup_teardown(test_control_refused, setup_disabled, server_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
