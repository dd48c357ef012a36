/*
 * Unit tests of the binary protocol framing: header encode/decode, the header
 * check of the read path, request views, extras decoders, response headers
 * and status texts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/binary.h"

#define MIB (1024u * 1024u)

static void assert_headers_equal(const struct bin_header *a, const struct bin_header *b)
{
    assert_int_equal(a->magic, b->magic);
    assert_int_equal(a->opcode, b->opcode);
    assert_int_equal(a->keylen, b->keylen);
    assert_int_equal(a->extlen, b->extlen);
    assert_int_equal(a->datatype, b->datatype);
    assert_int_equal(a->vbucket, b->vbucket);
    assert_int_equal(a->bodylen, b->bodylen);
    assert_int_equal(a->opaque, b->opaque);
    assert_true(a->cas == b->cas);
}

/* Every field lands at its offset, most significant byte first. */
static void test_encode_layout(void **state)
{
    const struct bin_header h = {
        .magic = 0x80,
        .opcode = 0x11,
        .keylen = 0x0102,
        .extlen = 0x03,
        .datatype = 0x04,
        .vbucket = 0x0506,
        .bodylen = 0x0708090a,
        .opaque = 0x0b0c0d0e,
        .cas = 0x0f10111213141516ull,
    };
    const uint8_t want[BIN_HEADER_LEN] = {0x80, 0x11, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
                                          0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
                                          0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16};
    uint8_t raw[BIN_HEADER_LEN];
    struct bin_header back;

    memset(raw, 0xaa, sizeof(raw));
    bin_header_encode(&h, raw);
    assert_memory_equal(raw, want, BIN_HEADER_LEN);
    bin_header_decode(want, &back);
    assert_headers_equal(&h, &back);
}

static void round_trip(const struct bin_header *h)
{
    uint8_t raw[BIN_HEADER_LEN], again[BIN_HEADER_LEN];
    struct bin_header back;

    bin_header_encode(h, raw);
    bin_header_decode(raw, &back);
    assert_headers_equal(h, &back);
    bin_header_encode(&back, again);
    assert_memory_equal(raw, again, BIN_HEADER_LEN);
}

/* Zero, all ones, high bit only (sign extension) and high bit plus one, per field. */
static void test_round_trip_edges(void **state)
{
    const struct bin_header cases[] = {
        {0},
        {0xff, 0xff, 0xffff, 0xff, 0xff, 0xffff, 0xffffffffu, 0xffffffffu, UINT64_MAX},
        {0x80, 0x80, 0x8000, 0x80, 0x80, 0x8000, 0x80000000u, 0x80000000u, 1ull << 63},
        {0x81, 0x7f, 0x8001, 0x7f, 0x01, 0x7fff, 0x80000001u, 0x7fffffffu, (1ull << 63) | 1},
        {0x80, 0x00, 0x00fa, 0x14, 0x00, 0x0001, 0x00000001u, 0x00000001u, 1},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        round_trip(&cases[i]);
    }
}

/* All-ones bytes decode to all-ones fields (no sign extension, no truncation). */
static void test_decode_all_ones(void **state)
{
    uint8_t raw[BIN_HEADER_LEN];
    struct bin_header h;

    memset(raw, 0xff, sizeof(raw));
    bin_header_decode(raw, &h);
    assert_int_equal(h.keylen, 0xffff);
    assert_int_equal(h.vbucket, 0xffff);
    assert_int_equal(h.bodylen, 0xffffffffu);
    assert_int_equal(h.opaque, 0xffffffffu);
    assert_true(h.cas == UINT64_MAX);
}

static struct bin_header req(uint8_t opcode, uint8_t extlen, uint16_t keylen, uint32_t bodylen)
{
    struct bin_header h = {.magic = BIN_MAGIC_REQUEST,
                           .opcode = opcode,
                           .extlen = extlen,
                           .keylen = keylen,
                           .bodylen = bodylen};
    return h;
}

static void test_check_magic(void **state)
{
    const uint8_t bad[] = {0x00, 0x08, 0x7f, 0x81, 0xff};
    struct bin_header h = req(BIN_CMD_GET, 0, 3, 3);

    assert_int_equal(bin_header_check(&h, MIB, MIB), BIN_HDR_OK);
    for (size_t i = 0; i < sizeof(bad); i++) {
        h.magic = bad[i];
        assert_int_equal(bin_header_check(&h, MIB, MIB), BIN_HDR_BAD_MAGIC);
    }
    /* The magic is checked first, before inconsistent lengths. */
    h.bodylen = 0;
    assert_int_equal(bin_header_check(&h, MIB, MIB), BIN_HDR_BAD_MAGIC);
}

static void test_check_lengths(void **state)
{
    struct bin_header h = req(BIN_CMD_SET, 8, 10, 17);

    assert_int_equal(bin_header_check(&h, MIB, MIB), BIN_HDR_BAD_LENGTHS);
    h.bodylen = 18; /* extras and key, empty value */
    assert_int_equal(bin_header_check(&h, MIB, MIB), BIN_HDR_OK);
    /* The largest extlen + keylen must not wrap in 16 or 8 bits. */
    h = req(BIN_CMD_GET, 0xff, 0xffff, 0xffff + 0xff - 1);
    assert_int_equal(bin_header_check(&h, UINT32_MAX, UINT32_MAX), BIN_HDR_BAD_LENGTHS);
    h = req(BIN_CMD_GET, 1, 0, 0);
    assert_int_equal(bin_header_check(&h, MIB, MIB), BIN_HDR_BAD_LENGTHS);
    /* Bad lengths are reported before size limits. */
    h = req(BIN_CMD_SET, 8, 250, 100);
    assert_int_equal(bin_header_check(&h, 64, 16), BIN_HDR_BAD_LENGTHS);
}

static void test_check_frame_limit(void **state)
{
    const uint32_t limit = MIB + BIN_FRAME_SLACK;
    struct bin_header h = req(BIN_CMD_GET, 0, 10, limit - BIN_HEADER_LEN);

    assert_int_equal(bin_header_check(&h, limit, MIB), BIN_HDR_OK);
    h.bodylen++;
    assert_int_equal(bin_header_check(&h, limit, MIB), BIN_HDR_TOO_BIG);
    /* Non-storage opcodes never get VALUE_TOO_BIG, whatever their body. */
    h = req(BIN_CMD_INCREMENT, 20, 10, 2 * MIB);
    assert_int_equal(bin_header_check(&h, limit, MIB), BIN_HDR_TOO_BIG);
    h = req(BIN_CMD_DELETE, 0, 10, 2 * MIB);
    assert_int_equal(bin_header_check(&h, limit, MIB), BIN_HDR_TOO_BIG);
    h = req(0x3f, 0, 0, 2 * MIB); /* unknown opcode */
    assert_int_equal(bin_header_check(&h, limit, MIB), BIN_HDR_TOO_BIG);
    h = req(BIN_CMD_NOOP, 0, 0, 0);
    assert_int_equal(bin_header_check(&h, BIN_HEADER_LEN, 0), BIN_HDR_OK);
    assert_int_equal(bin_header_check(&h, BIN_HEADER_LEN - 1, 0), BIN_HDR_TOO_BIG);
}

/* 24 + 0xFFFFFFFF must not wrap to 23 in 32 bits. */
static void test_check_max_bodylen(void **state)
{
    struct bin_header h = req(BIN_CMD_GET, 0, 10, UINT32_MAX);

    assert_int_equal(bin_header_check(&h, UINT32_MAX, UINT32_MAX), BIN_HDR_TOO_BIG);
    assert_int_equal(bin_header_check(&h, MIB, MIB), BIN_HDR_TOO_BIG);
    h = req(BIN_CMD_GET, 0, 0, UINT32_MAX - BIN_HEADER_LEN);
    assert_int_equal(bin_header_check(&h, UINT32_MAX, UINT32_MAX), BIN_HDR_OK);
    h.bodylen++;
    assert_int_equal(bin_header_check(&h, UINT32_MAX, UINT32_MAX), BIN_HDR_TOO_BIG);
    /* A storage opcode with the largest body: the value is skipped, not buffered. */
    h = req(BIN_CMD_SET, 8, 10, UINT32_MAX);
    assert_int_equal(bin_header_check(&h, MIB + BIN_FRAME_SLACK, MIB), BIN_HDR_VALUE_TOO_BIG);
    /* Even when item_size_max is the largest value: 24 + body is over any frame limit. */
    assert_int_equal(bin_header_check(&h, UINT32_MAX, UINT32_MAX), BIN_HDR_TOO_BIG);
}

static void test_check_storage_value(void **state)
{
    const uint32_t limit = MIB + BIN_FRAME_SLACK;
    static const struct {
        uint8_t opcode, extlen;
    } storage[] = {
        {BIN_CMD_SET, 8},     {BIN_CMD_ADD, 8},      {BIN_CMD_REPLACE, 8}, {BIN_CMD_SETQ, 8},
        {BIN_CMD_ADDQ, 8},    {BIN_CMD_REPLACEQ, 8}, {BIN_CMD_APPEND, 0},  {BIN_CMD_PREPEND, 0},
        {BIN_CMD_APPENDQ, 0}, {BIN_CMD_PREPENDQ, 0},
    };

    for (size_t i = 0; i < sizeof(storage) / sizeof(storage[0]); i++) {
        const uint8_t extlen = storage[i].extlen;
        /* The value exactly at item_size_max is accepted, one byte more is not. */
        struct bin_header h = req(storage[i].opcode, extlen, 250, extlen + 250 + MIB);

        assert_int_equal(bin_header_check(&h, limit, MIB), BIN_HDR_OK);
        h.bodylen++;
        assert_int_equal(bin_header_check(&h, limit, MIB), BIN_HDR_VALUE_TOO_BIG);
    }
}

/* VALUE_TOO_BIG needs header, extras and key within the frame limit; otherwise TOO_BIG. */
static void test_check_storage_prefix_over_limit(void **state)
{
    const uint32_t prefix_end = BIN_HEADER_LEN + 8 + 250;
    struct bin_header h = req(BIN_CMD_SET, 8, 250, 8 + 250 + 1000);

    assert_int_equal(bin_header_check(&h, prefix_end, 999), BIN_HDR_VALUE_TOO_BIG);
    assert_int_equal(bin_header_check(&h, prefix_end - 1, 999), BIN_HDR_TOO_BIG);
    /* Value within item_size_max but frame over the limit: TOO_BIG. */
    assert_int_equal(bin_header_check(&h, prefix_end + 999, 1000), BIN_HDR_TOO_BIG);
    assert_int_equal(bin_header_check(&h, prefix_end + 1000, 1000), BIN_HDR_OK);
}

static void test_verdict_str(void **state)
{
    assert_string_equal(bin_header_verdict_str(BIN_HDR_OK), "ok");
    assert_string_equal(bin_header_verdict_str(BIN_HDR_BAD_MAGIC), "bad magic");
    assert_string_equal(bin_header_verdict_str(BIN_HDR_BAD_LENGTHS), "bad lengths");
    assert_string_equal(bin_header_verdict_str(BIN_HDR_TOO_BIG), "frame too big");
    assert_string_equal(bin_header_verdict_str(BIN_HDR_VALUE_TOO_BIG), "value too big");
    assert_string_equal(bin_header_verdict_str((enum bin_header_verdict)99), "unknown verdict");
}

static void test_request_init(void **state)
{
    uint8_t body[8 + 5 + 7];
    struct bin_header h = req(BIN_CMD_SET, 8, 5, sizeof(body));
    struct bin_request r;

    h.cas = 42;
    h.opaque = 0xfeedface;
    bin_request_init(&r, &h, body);
    assert_ptr_equal(r.extras, body);
    assert_ptr_equal(r.key, body + 8);
    assert_int_equal(r.vallen, 7);
    assert_headers_equal(&r.h, &h);

    h = req(BIN_CMD_GET, 0, 5, 5);
    bin_request_init(&r, &h, body);
    assert_ptr_equal(r.key, body);
    assert_int_equal(r.vallen, 0);

    /* A header-only request needs no body. */
    h = req(BIN_CMD_NOOP, 0, 0, 0);
    bin_request_init(&r, &h, NULL);
    assert_null(r.extras);
    assert_null(r.key);
    assert_int_equal(r.vallen, 0);
}

static void test_store_extras(void **state)
{
    uint8_t body[8 + 3] = {0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04, 'k', 'e', 'y'};
    struct bin_header h = req(BIN_CMD_SET, 8, 3, sizeof(body));
    struct bin_request r;
    struct bin_store_extras x;

    bin_request_init(&r, &h, body);
    bin_store_extras_decode(&r, &x);
    assert_int_equal(x.flags, 0xdeadbeefu);
    assert_int_equal(x.exptime, 0x01020304u);

    memset(body, 0xff, 8);
    bin_store_extras_decode(&r, &x);
    assert_int_equal(x.flags, UINT32_MAX);
    assert_int_equal(x.exptime, UINT32_MAX);

    /* APPEND has no extras: flags and exptime read as 0. */
    h = req(BIN_CMD_APPEND, 0, 3, 3);
    bin_request_init(&r, &h, body + 8);
    x.flags = x.exptime = 7;
    bin_store_extras_decode(&r, &x);
    assert_int_equal(x.flags, 0);
    assert_int_equal(x.exptime, 0);
}

static void test_arith_extras(void **state)
{
    const uint8_t body[20 + 1] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0xff, 0xff, 0xff,
                                  0xff, 0xff, 0xff, 0xff, 0xfe, 0xff, 0xff, 0xff, 0xff, 'k'};
    struct bin_header h = req(BIN_CMD_DECREMENT, 20, 1, sizeof(body));
    struct bin_request r;
    struct bin_arith_extras x;

    bin_request_init(&r, &h, body);
    bin_arith_extras_decode(&r, &x);
    assert_true(x.delta == 0x0102030405060708ull);
    assert_true(x.initial == 0xfffffffffffffffeull);
    assert_int_equal(x.exptime, 0xffffffffu); /* "do not create" */

    h = req(BIN_CMD_INCREMENT, 0, 1, 1);
    bin_request_init(&r, &h, body + 20);
    bin_arith_extras_decode(&r, &x);
    assert_true(x.delta == 0 && x.initial == 0 && x.exptime == 0);
}

static void test_u32_extra(void **state)
{
    const uint8_t body[4 + 1] = {0x80, 0x00, 0x00, 0x2a, 'k'};
    const uint8_t ops[] = {BIN_CMD_TOUCH, BIN_CMD_GAT, BIN_CMD_GATKQ, BIN_CMD_FLUSH,
                           BIN_CMD_VERBOSITY};
    struct bin_request r;

    for (size_t i = 0; i < sizeof(ops); i++) {
        const uint16_t keylen = ops[i] == BIN_CMD_FLUSH || ops[i] == BIN_CMD_VERBOSITY ? 0 : 1;
        struct bin_header h = req(ops[i], 4, keylen, 4u + keylen);

        bin_request_init(&r, &h, body);
        assert_int_equal(bin_u32_extra(&r), 0x8000002au);
    }
    struct bin_header h = req(BIN_CMD_FLUSH, 0, 0, 0);
    bin_request_init(&r, &h, NULL);
    assert_int_equal(bin_u32_extra(&r), 0);
    /* Extras of another size are not a 4-byte extra. */
    const uint8_t eight[8] = {0, 0, 0, 1, 0, 0, 0, 2};
    h = req(BIN_CMD_TOUCH, 8, 0, 8);
    bin_request_init(&r, &h, eight);
    assert_int_equal(bin_u32_extra(&r), 0);
}

static void test_response_header_bytes(void **state)
{
    const uint8_t want[BIN_HEADER_LEN] = {
        0x81,                                           /* magic */
        0x0c,                                           /* opcode GETK */
        0x01, 0x02,                                     /* keylen */
        0x04,                                           /* extlen */
        0x00,                                           /* datatype */
        0x00, 0x01,                                     /* status */
        0x0a, 0x0b, 0x0c, 0x0d,                         /* bodylen */
        0xde, 0xad, 0xbe, 0xef,                         /* opaque */
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* cas */
    };
    uint8_t out[BIN_HEADER_LEN];

    memset(out, 0xaa, sizeof(out));
    bin_response_header(out, BIN_CMD_GETK, BIN_STATUS_KEY_ENOENT, 4, 0x0102, 0x0a0b0c0d, 0xdeadbeef,
                        0x0102030405060708ull);
    assert_memory_equal(out, want, BIN_HEADER_LEN);

    const uint8_t want_max[BIN_HEADER_LEN] = {0x81, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x86,
                                              0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                              0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    bin_response_header(out, 0xff, BIN_STATUS_ETMPFAIL, 0xff, 0xffff, UINT32_MAX, UINT32_MAX,
                        UINT64_MAX);
    assert_memory_equal(out, want_max, BIN_HEADER_LEN);

    const uint8_t want_zero[BIN_HEADER_LEN] = {0x81};
    memset(out, 0xaa, sizeof(out));
    bin_response_header(out, BIN_CMD_GET, BIN_STATUS_SUCCESS, 0, 0, 0, 0, 0);
    assert_memory_equal(out, want_zero, BIN_HEADER_LEN);
}

/* The opaque read from a request is echoed byte for byte in the response. */
static void test_response_echoes_opaque(void **state)
{
    const uint8_t raw[BIN_HEADER_LEN] = {0x80, 0x0a, 0, 0, 0,    0,    0,    0,
                                         0,    0,    0, 0, 0x12, 0x34, 0x56, 0x78};
    struct bin_header h;
    uint8_t out[BIN_HEADER_LEN];

    bin_header_decode(raw, &h);
    bin_response_header(out, h.opcode, 0, 0, 0, 0, h.opaque, 0);
    assert_memory_equal(out + 12, raw + 12, 4);
    assert_int_equal(out[1], BIN_CMD_NOOP);
}

static void test_status_str(void **state)
{
    static const struct {
        uint16_t status;
        const char *text;
    } cases[] = {
        {BIN_STATUS_SUCCESS, "Success"},
        {BIN_STATUS_KEY_ENOENT, "Not found"},
        {BIN_STATUS_KEY_EEXISTS, "Data exists for key."},
        {BIN_STATUS_E2BIG, "Too large."},
        {BIN_STATUS_EINVAL, "Invalid arguments"},
        {BIN_STATUS_NOT_STORED, "Not stored."},
        {BIN_STATUS_DELTA_BADVAL, "Non-numeric server-side value for incr or decr"},
        {BIN_STATUS_AUTH_ERROR, "Auth failure."},
        {BIN_STATUS_AUTH_CONTINUE, "Auth continue"},
        {BIN_STATUS_UNKNOWN_COMMAND, "Unknown command"},
        {BIN_STATUS_ENOMEM, "Out of memory"},
        {BIN_STATUS_NOT_SUPPORTED, "Not supported"},
        {BIN_STATUS_EINTERNAL, "Internal error"},
        {BIN_STATUS_EBUSY, "Busy"},
        {BIN_STATUS_ETMPFAIL, "Temporary failure"},
        {0x07, "Unknown error"},
        {0x87, "Unknown error"},
        {0xffff, "Unknown error"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_string_equal(bin_status_str(cases[i].status), cases[i].text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_layout),
        cmocka_unit_test(test_round_trip_edges),
        cmocka_unit_test(test_decode_all_ones),
        cmocka_unit_test(test_check_magic),
        cmocka_unit_test(test_check_lengths),
        cmocka_unit_test(test_check_frame_limit),
        cmocka_unit_test(test_check_max_bodylen),
        cmocka_unit_test(test_check_storage_value),
        cmocka_unit_test(test_check_storage_prefix_over_limit),
        cmocka_unit_test(test_verdict_str),
        cmocka_unit_test(test_request_init),
        cmocka_unit_test(test_store_extras),
        cmocka_unit_test(test_arith_extras),
        cmocka_unit_test(test_u32_extra),
        cmocka_unit_test(test_response_header_bytes),
        cmocka_unit_test(test_response_echoes_opaque),
        cmocka_unit_test(test_status_str),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
