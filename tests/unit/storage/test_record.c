/*
 * Unit tests of the storage format: CRC32C against the RFC 3720 vectors and
 * a bitwise reference, record encode/decode round trips, rejection of every
 * malformed shape (truncations, each header field out of range, every
 * single-byte corruption), and segment headers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "storage/crc32c.h"
#include "storage/record.h"

/* The checksum computed bit by bit, as the definition says. */
static uint32_t crc_reference(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
    return ~c;
}

/* RFC 3720 appendix B.4 vectors, and the usual "123456789" check value. */
static void test_crc_vectors(void **state)
{
    uint8_t buf[48];
    memset(buf, 0, 32);
    assert_int_equal(store_crc32c(0, buf, 32), 0x8A9136AAu);
    memset(buf, 0xff, 32);
    assert_int_equal(store_crc32c(0, buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    assert_int_equal(store_crc32c(0, buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    assert_int_equal(store_crc32c(0, buf, 32), 0x113FDB5Cu);
    static const uint8_t pdu[48] = {0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00,
                                    0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00,
                                    0x00, 0x18, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                    0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    assert_int_equal(store_crc32c(0, pdu, sizeof(pdu)), 0xD9963A56u);
    assert_int_equal(store_crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(store_crc32c(0, "", 0), 0);
}

/* Every length and alignment agrees with the bitwise reference, in one call or in two parts,
 * with the crc32 instruction (where the CPU has it) and with the tables. */
static void test_crc_reference_and_parts(void **state)
{
    uint8_t buf[300];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof(buf); i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)(x >> 16);
    }
    for (size_t start = 0; start < 9; start++)
        for (size_t n = 0; start + n <= sizeof(buf); n += 7) {
            uint32_t want = crc_reference(buf + start, n);
            assert_int_equal(store_crc32c(0, buf + start, n), want);
            assert_int_equal(store_crc32c_portable(0, buf + start, n), want);
            size_t half = n / 3;
            uint32_t part = store_crc32c(0, buf + start, half);
            assert_int_equal(store_crc32c(part, buf + start + half, n - half), want);
            part = store_crc32c_portable(0, buf + start, half);
            assert_int_equal(store_crc32c_portable(part, buf + start + half, n - half), want);
        }
}

static struct store_record sample(const char *key, const char *value)
{
    return (struct store_record){.seq = 0x0102030405060708ull,
                                 .cas = 0xfedcba9876543210ull,
                                 .exptime = 1900000000,
                                 .flags = 0xdeadbeef,
                                 .kind = value ? STORE_KIND_VALUE : STORE_KIND_TOMBSTONE,
                                 .nkey = (uint8_t)strlen(key),
                                 .key = key,
                                 .nvalue = value ? (uint32_t)strlen(value) : 0,
                                 .value = value};
}

static void assert_same(const struct store_record *a, const struct store_record *b)
{
    assert_int_equal(a->seq, b->seq);
    assert_int_equal(a->cas, b->cas);
    assert_int_equal(a->exptime, b->exptime);
    assert_int_equal(a->flags, b->flags);
    assert_int_equal(a->kind, b->kind);
    assert_int_equal(a->nkey, b->nkey);
    assert_int_equal(a->nvalue, b->nvalue);
    assert_memory_equal(a->key, b->key, a->nkey);
    if (a->nvalue > 0)
        assert_memory_equal(a->value, b->value, a->nvalue);
}

/* Values, empty values, tombstones and 250-byte keys come back field for field. */
static void test_round_trip(void **state)
{
    char key250[251];
    memset(key250, 'k', 250);
    key250[250] = '\0';
    struct store_record cases[] = {sample("key", "value"), sample("k", ""), sample("gone", NULL),
                                   sample(key250, "v")};
    uint8_t buf[1024];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = store_record_encode(&cases[i], buf, sizeof(buf));
        assert_int_equal(n, store_record_size(cases[i].nkey, cases[i].nvalue));
        /* Trailing bytes after a record do not matter. */
        memset(buf + n, 0x5a, 16);
        struct store_record out;
        uint32_t used = 0;
        assert_int_equal(store_record_decode(buf, n + 16, 1024, &out, &used), STORE_REC_OK);
        assert_int_equal(used, n);
        assert_same(&cases[i], &out);
        assert_ptr_equal(out.key, (char *)buf + STORE_RECORD_HEADER);
    }
}

/* Encoding refuses what it cannot represent, and a buffer too small. */
static void test_encode_rejects(void **state)
{
    uint8_t buf[512];
    struct store_record r = sample("key", "value");
    assert_int_equal(store_record_encode(&r, buf, STORE_RECORD_HEADER + 7), 0);
    r.seq = 0;
    assert_int_equal(store_record_encode(&r, buf, sizeof(buf)), 0);
    assert_int_equal(store_record_check(&r, 512), STORE_REC_BAD_SEQ);
    r = sample("key", "value");
    r.kind = 3;
    assert_int_equal(store_record_check(&r, 512), STORE_REC_BAD_KIND);
    r = sample("key", "value");
    r.nkey = 0;
    assert_int_equal(store_record_check(&r, 512), STORE_REC_BAD_KEY);
    r = sample("gone", NULL);
    r.nvalue = 1;
    r.value = "x";
    assert_int_equal(store_record_check(&r, 512), STORE_REC_BAD_TOMBSTONE);
    r = sample("key", "value");
    assert_int_equal(store_record_check(&r, STORE_RECORD_HEADER + 7), STORE_REC_BAD_LENGTH);
    assert_int_equal(store_record_check(&r, STORE_RECORD_HEADER + 8), STORE_REC_OK);
}

/* Encodes sample("key","value") into buf; returns its size. */
static size_t encoded(uint8_t *buf)
{
    struct store_record r = sample("key", "value");
    size_t n = store_record_encode(&r, buf, 256);
    assert_int_equal(n, STORE_RECORD_HEADER + 8);
    return n;
}

static enum store_verdict decode(const uint8_t *buf, size_t n)
{
    struct store_record out;
    uint32_t used;
    return store_record_decode(buf, n, 256, &out, &used);
}

/* Every truncation is short, never OK and never read beyond the end. */
static void test_truncations(void **state)
{
    uint8_t buf[256];
    size_t n = encoded(buf);
    for (size_t cut = 0; cut < n; cut++)
        assert_int_equal(decode(buf, cut), STORE_REC_SHORT);
    assert_int_equal(decode(buf, n), STORE_REC_OK);
}

/* Sets a little-endian u32 in buf. */
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Each header field out of range is named by its verdict, checksum or not. */
static void test_malformed_fields(void **state)
{
    uint8_t b[256];
    size_t n = encoded(b);
    struct {
        size_t at;
        uint8_t value;
        enum store_verdict want;
    } cases[] = {
        {8, 0x00, STORE_REC_BAD_MAGIC}, {9, 0, STORE_REC_BAD_KIND},
        {9, 3, STORE_REC_BAD_KIND},     {10, 0, STORE_REC_BAD_KEY},
        {10, 251, STORE_REC_BAD_KEY},   {11, 1, STORE_REC_BAD_RESERVED},
        {10, 9, STORE_REC_BAD_LENGTH}, /* key longer than the record */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        encoded(b);
        b[cases[i].at] = cases[i].value;
        assert_int_equal(decode(b, n), cases[i].want);
    }
    /* Lengths: below header + key, above record_max, above the buffer. */
    encoded(b);
    put32(b + 4, STORE_RECORD_HEADER + 2);
    assert_int_equal(decode(b, n), STORE_REC_BAD_LENGTH);
    put32(b + 4, 257);
    assert_int_equal(decode(b, n), STORE_REC_BAD_LENGTH);
    put32(b + 4, 0xffffffffu);
    assert_int_equal(decode(b, n), STORE_REC_BAD_LENGTH);
    put32(b + 4, (uint32_t)n + 1);
    assert_int_equal(decode(b, n), STORE_REC_SHORT);
    /* Sequence 0, and a tombstone that carries bytes. */
    encoded(b);
    memset(b + 16, 0, 8);
    assert_int_equal(decode(b, n), STORE_REC_BAD_SEQ);
    encoded(b);
    b[9] = STORE_KIND_TOMBSTONE;
    assert_int_equal(decode(b, n), STORE_REC_BAD_TOMBSTONE);
}

/* Any single corrupted byte, anywhere in the record, is refused. */
static void test_every_byte_flip(void **state)
{
    uint8_t b[256];
    size_t n = encoded(b);
    for (size_t i = 0; i < n; i++)
        for (int bit = 0; bit < 8; bit++) {
            encoded(b);
            b[i] ^= (uint8_t)(1u << bit);
            assert_int_not_equal(decode(b, n), STORE_REC_OK);
        }
    /* A wrong checksum alone is BAD_CRC. */
    encoded(b);
    b[0] ^= 1;
    assert_int_equal(decode(b, n), STORE_REC_BAD_CRC);
    encoded(b);
    b[n - 1] ^= 0x80;
    assert_int_equal(decode(b, n), STORE_REC_BAD_CRC);
    assert_string_equal(store_verdict_str(STORE_REC_BAD_CRC), "checksum mismatch");
}

/* Segment headers round trip; a wrong byte anywhere is refused. */
static void test_segment_header(void **state)
{
    uint8_t h[STORE_SEGMENT_HEADER];
    struct store_segment_header in = {.segno = 0x1122334455ull, .generation = 7}, out;
    store_segment_header_encode(&in, h);
    assert_int_equal(store_segment_header_decode(h, &out), 0);
    assert_int_equal(out.segno, in.segno);
    assert_int_equal(out.generation, 7);
    for (size_t i = 0; i < sizeof(h); i++) {
        store_segment_header_encode(&in, h);
        h[i] ^= 0x10;
        assert_int_equal(store_segment_header_decode(h, &out), -1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc_vectors),     cmocka_unit_test(test_crc_reference_and_parts),
        cmocka_unit_test(test_round_trip),      cmocka_unit_test(test_encode_rejects),
        cmocka_unit_test(test_truncations),     cmocka_unit_test(test_malformed_fields),
        cmocka_unit_test(test_every_byte_flip), cmocka_unit_test(test_segment_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
