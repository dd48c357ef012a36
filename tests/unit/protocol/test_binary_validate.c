/*
 * Unit tests of the binary opcode table: one row per validator rule and
 * opcode (a good request and each bad variant, with the exact status),
 * unknown opcodes, and the name and flags of every opcode.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/binary.h"

#define OK BIN_STATUS_SUCCESS
#define EINVAL BIN_STATUS_EINVAL
#define UNKNOWN BIN_STATUS_UNKNOWN_COMMAND

/* One request shape and the status bin_validate must answer. */
struct row {
    uint8_t opcode;
    uint8_t extlen;
    uint16_t keylen;
    uint32_t vallen;
    uint8_t datatype;
    uint64_t cas;
    uint16_t want;
    const char *what;
};

/* GET, GETQ, GETK, GETKQ: no extras, a key, no value. */
#define GET_ROWS(op)                                                                               \
    {op, 0, 5, 0, 0, 0, OK, "good"}, {op, 0, 1, 0, 0, 0, OK, "1-byte key"},                        \
        {op, 0, 250, 0, 0, 0, OK, "250-byte key"}, {op, 4, 5, 0, 0, 0, EINVAL, "extlen 4"},        \
        {op, 8, 5, 0, 0, 0, EINVAL, "extlen 8"}, {op, 0, 0, 0, 0, 0, EINVAL, "no key"},            \
        {op, 0, 251, 0, 0, 0, EINVAL, "251-byte key"}, {op, 0, 5, 1, 0, 0, EINVAL, "value"},       \
        {op, 0, 5, 0, 1, 0, EINVAL, "datatype 1"},                                                 \
    {                                                                                              \
        op, 0, 5, 0, 0x80, 0, EINVAL, "datatype 0x80"                                              \
    }

/* SET, ADD, REPLACE (+Q): 8 bytes of extras, a key, any value; cas_want for a CAS. */
#define STORE_ROWS(op, cas_want)                                                                   \
    {op, 8, 5, 10, 0, 0, OK, "good"}, {op, 8, 5, 0, 0, 0, OK, "empty value"},                      \
        {op, 8, 250, 10, 0, 0, OK, "250-byte key"}, {op, 0, 5, 10, 0, 0, EINVAL, "extlen 0"},      \
        {op, 4, 5, 10, 0, 0, EINVAL, "extlen 4"}, {op, 20, 5, 10, 0, 0, EINVAL, "extlen 20"},      \
        {op, 8, 0, 10, 0, 0, EINVAL, "no key"}, {op, 8, 251, 10, 0, 0, EINVAL, "251-byte key"},    \
        {op, 8, 5, 10, 1, 0, EINVAL, "datatype 1"}, {op, 8, 5, 10, 0, 1, cas_want, "cas 1"},       \
    {                                                                                              \
        op, 8, 5, 10, 0, UINT64_MAX, cas_want, "cas max"                                           \
    }

/* APPEND, PREPEND (+Q): no extras, a key, any value. */
#define CONCAT_ROWS(op)                                                                            \
    {op, 0, 5, 10, 0, 0, OK, "good"}, {op, 0, 5, 0, 0, 0, OK, "empty value"},                      \
        {op, 0, 250, 1, 0, 0, OK, "250-byte key"}, {op, 0, 5, 10, 0, 7, OK, "cas"},                \
        {op, 8, 5, 10, 0, 0, EINVAL, "extlen 8"}, {op, 4, 5, 10, 0, 0, EINVAL, "extlen 4"},        \
        {op, 0, 0, 10, 0, 0, EINVAL, "no key"}, {op, 0, 251, 10, 0, 0, EINVAL, "251-byte key"},    \
    {                                                                                              \
        op, 0, 5, 10, 2, 0, EINVAL, "datatype 2"                                                   \
    }

/* DELETE, DELETEQ: no extras, a key, no value; a CAS makes the delete conditional. */
#define DELETE_ROWS(op)                                                                            \
    {op, 0, 5, 0, 0, 0, OK, "good"}, {op, 0, 5, 0, 0, 9, OK, "cas"},                               \
        {op, 0, 250, 0, 0, 0, OK, "250-byte key"}, {op, 4, 5, 0, 0, 0, EINVAL, "extlen 4"},        \
        {op, 0, 0, 0, 0, 0, EINVAL, "no key"}, {op, 0, 251, 0, 0, 0, EINVAL, "251-byte key"},      \
        {op, 0, 5, 3, 0, 0, EINVAL, "value"},                                                      \
    {                                                                                              \
        op, 0, 5, 0, 1, 0, EINVAL, "datatype 1"                                                    \
    }

/* INCREMENT, DECREMENT (+Q): 20 bytes of extras, a key, no value. */
#define ARITH_ROWS(op)                                                                             \
    {op, 20, 5, 0, 0, 0, OK, "good"}, {op, 20, 250, 0, 0, 0, OK, "250-byte key"},                  \
        {op, 20, 5, 0, 0, 3, OK, "cas"}, {op, 0, 5, 0, 0, 0, EINVAL, "extlen 0"},                  \
        {op, 8, 5, 0, 0, 0, EINVAL, "extlen 8"}, {op, 19, 5, 0, 0, 0, EINVAL, "extlen 19"},        \
        {op, 21, 5, 0, 0, 0, EINVAL, "extlen 21"}, {op, 20, 0, 0, 0, 0, EINVAL, "no key"},         \
        {op, 20, 251, 0, 0, 0, EINVAL, "251-byte key"}, {op, 20, 5, 8, 0, 0, EINVAL, "value"},     \
    {                                                                                              \
        op, 20, 5, 0, 1, 0, EINVAL, "datatype 1"                                                   \
    }

/* QUIT, QUITQ, NOOP, VERSION: the header alone. */
#define BARE_ROWS(op)                                                                              \
    {op, 0, 0, 0, 0, 0, OK, "good"}, {op, 4, 0, 0, 0, 0, EINVAL, "extlen 4"},                      \
        {op, 0, 5, 0, 0, 0, EINVAL, "key"}, {op, 0, 251, 0, 0, 0, EINVAL, "251-byte key"},         \
        {op, 0, 0, 3, 0, 0, EINVAL, "value"},                                                      \
    {                                                                                              \
        op, 0, 0, 0, 1, 0, EINVAL, "datatype 1"                                                    \
    }

/* FLUSH, FLUSHQ: no extras or a 4-byte delay; no key, no value. */
#define FLUSH_ROWS(op)                                                                             \
    {op, 0, 0, 0, 0, 0, OK, "good"}, {op, 4, 0, 0, 0, 0, OK, "delay"},                             \
        {op, 1, 0, 0, 0, 0, EINVAL, "extlen 1"}, {op, 8, 0, 0, 0, 0, EINVAL, "extlen 8"},          \
        {op, 0, 5, 0, 0, 0, EINVAL, "key"}, {op, 4, 5, 0, 0, 0, EINVAL, "delay and key"},          \
        {op, 0, 0, 4, 0, 0, EINVAL, "value"}, {op, 4, 0, 4, 0, 0, EINVAL, "delay and value"},      \
    {                                                                                              \
        op, 4, 0, 0, 1, 0, EINVAL, "datatype 1"                                                    \
    }

/* TOUCH, GAT, GATQ, GATK, GATKQ: 4 bytes of extras, a key, no value. */
#define TOUCH_ROWS(op)                                                                             \
    {op, 4, 5, 0, 0, 0, OK, "good"}, {op, 4, 250, 0, 0, 0, OK, "250-byte key"},                    \
        {op, 0, 5, 0, 0, 0, EINVAL, "extlen 0"}, {op, 8, 5, 0, 0, 0, EINVAL, "extlen 8"},          \
        {op, 4, 0, 0, 0, 0, EINVAL, "no key"}, {op, 4, 251, 0, 0, 0, EINVAL, "251-byte key"},      \
        {op, 4, 5, 2, 0, 0, EINVAL, "value"},                                                      \
    {                                                                                              \
        op, 4, 5, 0, 1, 0, EINVAL, "datatype 1"                                                    \
    }

static const struct row rows[] = {
    GET_ROWS(BIN_CMD_GET),
    GET_ROWS(BIN_CMD_GETQ),
    GET_ROWS(BIN_CMD_GETK),
    GET_ROWS(BIN_CMD_GETKQ),
    STORE_ROWS(BIN_CMD_SET, OK),
    STORE_ROWS(BIN_CMD_SETQ, OK),
    STORE_ROWS(BIN_CMD_ADD, EINVAL),
    STORE_ROWS(BIN_CMD_ADDQ, EINVAL),
    STORE_ROWS(BIN_CMD_REPLACE, OK),
    STORE_ROWS(BIN_CMD_REPLACEQ, OK),
    CONCAT_ROWS(BIN_CMD_APPEND),
    CONCAT_ROWS(BIN_CMD_APPENDQ),
    CONCAT_ROWS(BIN_CMD_PREPEND),
    CONCAT_ROWS(BIN_CMD_PREPENDQ),
    DELETE_ROWS(BIN_CMD_DELETE),
    DELETE_ROWS(BIN_CMD_DELETEQ),
    ARITH_ROWS(BIN_CMD_INCREMENT),
    ARITH_ROWS(BIN_CMD_INCREMENTQ),
    ARITH_ROWS(BIN_CMD_DECREMENT),
    ARITH_ROWS(BIN_CMD_DECREMENTQ),
    BARE_ROWS(BIN_CMD_QUIT),
    BARE_ROWS(BIN_CMD_QUITQ),
    BARE_ROWS(BIN_CMD_NOOP),
    BARE_ROWS(BIN_CMD_VERSION),
    FLUSH_ROWS(BIN_CMD_FLUSH),
    FLUSH_ROWS(BIN_CMD_FLUSHQ),
    /* STAT: no extras, an optional key (the stats group), no value. */
    {BIN_CMD_STAT, 0, 0, 0, 0, 0, OK, "good"},
    {BIN_CMD_STAT, 0, 5, 0, 0, 0, OK, "group"},
    {BIN_CMD_STAT, 0, 250, 0, 0, 0, OK, "250-byte group"},
    {BIN_CMD_STAT, 0, 251, 0, 0, 0, EINVAL, "251-byte group"},
    {BIN_CMD_STAT, 4, 0, 0, 0, 0, EINVAL, "extlen 4"},
    {BIN_CMD_STAT, 0, 5, 3, 0, 0, EINVAL, "value"},
    {BIN_CMD_STAT, 0, 0, 0, 1, 0, EINVAL, "datatype 1"},
    /* VERBOSITY: the level in 4 bytes of extras; no key, no value. */
    {BIN_CMD_VERBOSITY, 4, 0, 0, 0, 0, OK, "good"},
    {BIN_CMD_VERBOSITY, 0, 0, 0, 0, 0, EINVAL, "extlen 0"},
    {BIN_CMD_VERBOSITY, 8, 0, 0, 0, 0, EINVAL, "extlen 8"},
    {BIN_CMD_VERBOSITY, 4, 5, 0, 0, 0, EINVAL, "key"},
    {BIN_CMD_VERBOSITY, 4, 0, 4, 0, 0, EINVAL, "value"},
    {BIN_CMD_VERBOSITY, 4, 0, 0, 1, 0, EINVAL, "datatype 1"},
    TOUCH_ROWS(BIN_CMD_TOUCH),
    TOUCH_ROWS(BIN_CMD_GAT),
    TOUCH_ROWS(BIN_CMD_GATQ),
    TOUCH_ROWS(BIN_CMD_GATK),
    TOUCH_ROWS(BIN_CMD_GATKQ),
    /* TEST_CONTROL: a text value only. */
    {BIN_CMD_TEST_CONTROL, 0, 0, 6, 0, 0, OK, "good"},
    {BIN_CMD_TEST_CONTROL, 0, 0, 0, 0, 0, EINVAL, "no value"},
    {BIN_CMD_TEST_CONTROL, 0, 5, 6, 0, 0, EINVAL, "key"},
    {BIN_CMD_TEST_CONTROL, 4, 0, 6, 0, 0, EINVAL, "extras"},
    {BIN_CMD_TEST_CONTROL, 0, 0, 6, 1, 0, EINVAL, "datatype 1"},
};

/* Room for the largest row: 20 bytes of extras, a 251-byte key and a 10-byte value. */
static uint8_t body[20 + 251 + 10];

static uint16_t validate_shape(uint8_t opcode, uint8_t extlen, uint16_t keylen, uint32_t vallen,
                               uint8_t datatype, uint64_t cas)
{
    const struct bin_header h = {
        .magic = BIN_MAGIC_REQUEST,
        .opcode = opcode,
        .keylen = keylen,
        .extlen = extlen,
        .datatype = datatype,
        .bodylen = (uint32_t)extlen + keylen + vallen,
        .cas = cas,
    };
    struct bin_request r;

    assert_true(h.bodylen <= sizeof(body));
    bin_request_init(&r, &h, body);
    return (uint16_t)bin_validate(&r);
}

static void test_validator_rows(void **state)
{
    memset(body, 'x', sizeof(body));
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *w = &rows[i];
        const uint16_t got =
            validate_shape(w->opcode, w->extlen, w->keylen, w->vallen, w->datatype, w->cas);

        if (got != w->want) {
            print_error("row %zu: %s %s: got 0x%02x, want 0x%02x\n", i, bin_opcode_name(w->opcode),
                        w->what, got, w->want);
        }
        assert_int_equal(got, w->want);
    }
}

/* Every known opcode has a good row and at least one rejected row above. */
static void test_rows_cover_every_opcode(void **state)
{
    for (unsigned op = 0; op < 256; op++) {
        int good = 0, bad = 0;

        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
            if (rows[i].opcode == op) {
                good += rows[i].want == OK;
                bad += rows[i].want == EINVAL;
            }
        }
        if (bin_opcode_flags((uint8_t)op) & BIN_OP_KNOWN) {
            assert_true(good > 0);
            assert_true(bad > 0);
        } else {
            assert_int_equal(good + bad, 0);
        }
    }
}

static void test_unknown_opcodes(void **state)
{
    const uint8_t unknown[] = {0x1f, 0x20, 0x21, 0x22, 0x25, 0x3f, 0x80, 0x81, 0xfe, 0xff};

    for (size_t i = 0; i < sizeof(unknown); i++) {
        const uint8_t op = unknown[i];

        assert_int_equal(validate_shape(op, 0, 0, 0, 0, 0), UNKNOWN);
        assert_int_equal(validate_shape(op, 8, 5, 10, 0, 0), UNKNOWN);
        /* Unknown wins over the rules every known opcode shares. */
        assert_int_equal(validate_shape(op, 0, 251, 0, 1, 0), UNKNOWN);
        assert_int_equal(bin_opcode_flags(op), 0);
        assert_string_equal(bin_opcode_name(op), "UNKNOWN");
    }
}

/* The names and flags of the 34 opcodes; every other opcode is unknown. */
static void test_opcode_flags_and_names(void **state)
{
    enum {
        K = BIN_OP_KNOWN,
        Q = BIN_OP_QUIET,
        S = BIN_OP_STORAGE,
        W = BIN_OP_WITH_KEY,
        T = BIN_OP_TEST
    };
    static const struct {
        uint8_t opcode;
        const char *name;
        unsigned flags;
    } ops[] = {
        {0x00, "GET", K},
        {0x01, "SET", K | S},
        {0x02, "ADD", K | S},
        {0x03, "REPLACE", K | S},
        {0x04, "DELETE", K},
        {0x05, "INCREMENT", K},
        {0x06, "DECREMENT", K},
        {0x07, "QUIT", K},
        {0x08, "FLUSH", K},
        {0x09, "GETQ", K | Q},
        {0x0a, "NOOP", K},
        {0x0b, "VERSION", K},
        {0x0c, "GETK", K | W},
        {0x0d, "GETKQ", K | Q | W},
        {0x0e, "APPEND", K | S},
        {0x0f, "PREPEND", K | S},
        {0x10, "STAT", K},
        {0x11, "SETQ", K | Q | S},
        {0x12, "ADDQ", K | Q | S},
        {0x13, "REPLACEQ", K | Q | S},
        {0x14, "DELETEQ", K | Q},
        {0x15, "INCREMENTQ", K | Q},
        {0x16, "DECREMENTQ", K | Q},
        {0x17, "QUITQ", K | Q},
        {0x18, "FLUSHQ", K | Q},
        {0x19, "APPENDQ", K | Q | S},
        {0x1a, "PREPENDQ", K | Q | S},
        {0x1b, "VERBOSITY", K},
        {0x1c, "TOUCH", K},
        {0x1d, "GAT", K},
        {0x1e, "GATQ", K | Q},
        {0x23, "GATK", K | W},
        {0x24, "GATKQ", K | Q | W},
        {0xeb, "TEST_CONTROL", K | T},
    };
    unsigned known = 0;

    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        assert_string_equal(bin_opcode_name(ops[i].opcode), ops[i].name);
        assert_int_equal(bin_opcode_flags(ops[i].opcode), ops[i].flags);
    }
    for (unsigned op = 0; op < 256; op++) {
        if (bin_opcode_flags((uint8_t)op) != 0) {
            known++;
        } else {
            assert_string_equal(bin_opcode_name((uint8_t)op), "UNKNOWN");
            assert_int_equal(validate_shape((uint8_t)op, 0, 5, 0, 0, 0), UNKNOWN);
        }
    }
    assert_int_equal(known, sizeof(ops) / sizeof(ops[0]));
}

/* Validation reads only the header fields, never the bytes of the key or value. */
static void test_validate_ignores_content(void **state)
{
    memset(body, 0, sizeof(body));
    assert_int_equal(validate_shape(BIN_CMD_SET, 8, 5, 10, 0, 0), OK);
    memset(body, 0xff, sizeof(body));
    assert_int_equal(validate_shape(BIN_CMD_SET, 8, 5, 10, 0, 0), OK);
    assert_int_equal(validate_shape(BIN_CMD_GET, 0, 250, 0, 0, 0), OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validator_rows),
        cmocka_unit_test(test_rows_cover_every_opcode),
        cmocka_unit_test(test_unknown_opcodes),
        cmocka_unit_test(test_opcode_flags_and_names),
        cmocka_unit_test(test_validate_ignores_content),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
