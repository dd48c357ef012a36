/*
 * Encoding and decoding of records and segment headers (layout in
 * docs/storage.md). Pure functions; whichever thread calls.
 */
#include "storage/record.h"

#include <string.h>

#include "storage/crc32c.h"

static const char segment_magic[8] = {'B', 'A', 'S', 'A', 'L', 'T', 'S', 'G'};

/* Little-endian fields: one move on little-endian hosts, bytes elsewhere. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define RECORD_LE_HOST 1
#else
#define RECORD_LE_HOST 0
#endif

static void put32(uint8_t *p, uint32_t v)
{
    if (RECORD_LE_HOST) {
        memcpy(p, &v, 4);
        return;
    }
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    if (RECORD_LE_HOST) {
        memcpy(p, &v, 8);
        return;
    }
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v = 0;
    if (RECORD_LE_HOST) {
        memcpy(&v, p, 4);
        return v;
    }
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    if (RECORD_LE_HOST) {
        memcpy(&v, p, 8);
        return v;
    }
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

const char *store_verdict_str(enum store_verdict v)
{
    switch (v) {
    case STORE_REC_OK:
        return "ok";
    case STORE_REC_SHORT:
        return "truncated record";
    case STORE_REC_BAD_MAGIC:
        return "bad magic";
    case STORE_REC_BAD_KIND:
        return "bad record kind";
    case STORE_REC_BAD_KEY:
        return "bad key length";
    case STORE_REC_BAD_RESERVED:
        return "reserved byte set";
    case STORE_REC_BAD_LENGTH:
        return "bad record length";
    case STORE_REC_BAD_SEQ:
        return "sequence number 0";
    case STORE_REC_BAD_TOMBSTONE:
        return "tombstone with a value";
    case STORE_REC_BAD_CRC:
        return "checksum mismatch";
    }
    return "unknown verdict";
}

enum store_verdict store_record_check(const struct store_record *r, uint64_t record_max)
{
    if (r->kind != STORE_KIND_VALUE && r->kind != STORE_KIND_TOMBSTONE)
        return STORE_REC_BAD_KIND;
    if (r->nkey == 0 || r->nkey > STORE_KEY_MAX)
        return STORE_REC_BAD_KEY;
    if (r->seq == 0)
        return STORE_REC_BAD_SEQ;
    if (r->kind == STORE_KIND_TOMBSTONE && r->nvalue != 0)
        return STORE_REC_BAD_TOMBSTONE;
    if (store_record_size(r->nkey, r->nvalue) > record_max ||
        store_record_size(r->nkey, r->nvalue) > UINT32_MAX)
        return STORE_REC_BAD_LENGTH;
    return STORE_REC_OK;
}

void store_record_encode_header(const struct store_record *r, uint8_t hdr[STORE_RECORD_HEADER])
{
    put32(hdr + 4, (uint32_t)store_record_size(r->nkey, r->nvalue));
    hdr[8] = STORE_RECORD_MAGIC;
    hdr[9] = r->kind;
    hdr[10] = r->nkey;
    hdr[11] = 0;
    put32(hdr + 12, r->flags);
    put64(hdr + 16, r->seq);
    put64(hdr + 24, r->cas);
    put64(hdr + 32, r->exptime);
    uint32_t crc = store_crc32c(0, hdr + 4, STORE_RECORD_HEADER - 4);
    crc = store_crc32c(crc, r->key, r->nkey);
    if (r->nvalue > 0)
        crc = store_crc32c(crc, r->value, r->nvalue);
    put32(hdr, crc);
}

size_t store_record_encode(const struct store_record *r, void *buf, size_t cap)
{
    uint64_t size = store_record_size(r->nkey, r->nvalue);
    if (store_record_check(r, UINT32_MAX) != STORE_REC_OK || size > cap)
        return 0;
    uint8_t *p = buf;
    memcpy(p + STORE_RECORD_HEADER, r->key, r->nkey);
    if (r->nvalue > 0)
        memcpy(p + STORE_RECORD_HEADER + r->nkey, r->value, r->nvalue);
    store_record_encode_header(r, p);
    return (size_t)size;
}

/* Checks the fixed header fields; the length is checked against what is available by the caller. */
static enum store_verdict check_header(const uint8_t *p, uint64_t record_max, uint32_t *len)
{
    if (p[8] != STORE_RECORD_MAGIC)
        return STORE_REC_BAD_MAGIC;
    if (p[9] != STORE_KIND_VALUE && p[9] != STORE_KIND_TOMBSTONE)
        return STORE_REC_BAD_KIND;
    if (p[10] == 0 || p[10] > STORE_KEY_MAX)
        return STORE_REC_BAD_KEY;
    if (p[11] != 0)
        return STORE_REC_BAD_RESERVED;
    *len = get32(p + 4);
    if (*len < STORE_RECORD_HEADER + (uint32_t)p[10] || *len > record_max)
        return STORE_REC_BAD_LENGTH;
    if (p[9] == STORE_KIND_TOMBSTONE && *len != STORE_RECORD_HEADER + (uint32_t)p[10])
        return STORE_REC_BAD_TOMBSTONE;
    if (get64(p + 16) == 0)
        return STORE_REC_BAD_SEQ;
    return STORE_REC_OK;
}

enum store_verdict store_record_decode(const void *buf, size_t len, uint64_t record_max,
                                       struct store_record *out, uint32_t *used)
{
    const uint8_t *p = buf;
    if (len < STORE_RECORD_HEADER)
        return STORE_REC_SHORT;
    uint32_t size = 0;
    enum store_verdict v = check_header(p, record_max, &size);
    if (v != STORE_REC_OK)
        return v;
    if (len < size)
        return STORE_REC_SHORT;
    if (store_crc32c(0, p + 4, size - 4) != get32(p))
        return STORE_REC_BAD_CRC;
    out->kind = p[9];
    out->nkey = p[10];
    out->flags = get32(p + 12);
    out->seq = get64(p + 16);
    out->cas = get64(p + 24);
    out->exptime = get64(p + 32);
    out->key = (const char *)p + STORE_RECORD_HEADER;
    out->nvalue = size - STORE_RECORD_HEADER - out->nkey;
    out->value = out->key + out->nkey;
    *used = size;
    return STORE_REC_OK;
}

void store_segment_header_encode(const struct store_segment_header *h,
                                 uint8_t hdr[STORE_SEGMENT_HEADER])
{
    memcpy(hdr, segment_magic, sizeof(segment_magic));
    put32(hdr + 8, STORE_FORMAT_VERSION);
    put32(hdr + 12, h->generation);
    put64(hdr + 16, h->segno);
    put32(hdr + 24, 0);
    put32(hdr + 28, store_crc32c(0, hdr, 28));
}

int store_segment_header_decode(const uint8_t hdr[STORE_SEGMENT_HEADER],
                                struct store_segment_header *out)
{
    if (memcmp(hdr, segment_magic, sizeof(segment_magic)) != 0 ||
        get32(hdr + 8) != STORE_FORMAT_VERSION || get32(hdr + 24) != 0 ||
        get32(hdr + 28) != store_crc32c(0, hdr, 28))
        return -1;
    out->generation = get32(hdr + 12);
    out->segno = get64(hdr + 16);
    return 0;
}
