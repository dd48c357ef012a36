/*
 * Binary protocol framing: header encode/decode in network byte order, the
 * header check the read path runs before buffering a body, request views,
 * extras decoders, response headers and status texts. Pure functions of
 * their arguments, no allocation: any thread.
 */
#include "protocol/binary.h"

#include <assert.h>

/* Byte offsets of the fields in the 24-byte header. */
enum {
    OFF_MAGIC = 0,
    OFF_OPCODE = 1,
    OFF_KEYLEN = 2,
    OFF_EXTLEN = 4,
    OFF_DATATYPE = 5,
    OFF_VBUCKET = 6,
    OFF_BODYLEN = 8,
    OFF_OPAQUE = 12,
    OFF_CAS = 16,
};

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* Decodes 24 network-order bytes into host-order fields. */
void bin_header_decode(const uint8_t raw[BIN_HEADER_LEN], struct bin_header *h)
{
    h->magic = raw[OFF_MAGIC];
    h->opcode = raw[OFF_OPCODE];
    h->keylen = get_u16(raw + OFF_KEYLEN);
    h->extlen = raw[OFF_EXTLEN];
    h->datatype = raw[OFF_DATATYPE];
    h->vbucket = get_u16(raw + OFF_VBUCKET);
    h->bodylen = bin_get_u32(raw + OFF_BODYLEN);
    h->opaque = bin_get_u32(raw + OFF_OPAQUE);
    h->cas = bin_get_u64(raw + OFF_CAS);
}

/* Encodes host-order fields into 24 network-order bytes. */
void bin_header_encode(const struct bin_header *h, uint8_t raw[BIN_HEADER_LEN])
{
    raw[OFF_MAGIC] = h->magic;
    raw[OFF_OPCODE] = h->opcode;
    put_u16(raw + OFF_KEYLEN, h->keylen);
    raw[OFF_EXTLEN] = h->extlen;
    raw[OFF_DATATYPE] = h->datatype;
    put_u16(raw + OFF_VBUCKET, h->vbucket);
    bin_put_u32(raw + OFF_BODYLEN, h->bodylen);
    bin_put_u32(raw + OFF_OPAQUE, h->opaque);
    bin_put_u64(raw + OFF_CAS, h->cas);
}

/* Magic, then lengths, then the value limit of storage opcodes, then the frame limit. */
enum bin_header_verdict bin_header_check(const struct bin_header *h, uint32_t frame_limit,
                                         uint32_t item_size_max)
{
    /* 64-bit sums: 24 + a bodylen of 0xFFFFFFFF must not wrap. */
    const uint64_t prefix = (uint64_t)h->extlen + h->keylen;
    const uint64_t body = h->bodylen;

    if (h->magic != BIN_MAGIC_REQUEST) {
        return BIN_HDR_BAD_MAGIC;
    }
    if (prefix > body) {
        return BIN_HDR_BAD_LENGTHS;
    }
    if ((bin_opcode_flags(h->opcode) & BIN_OP_STORAGE) && body - prefix > item_size_max) {
        /*
         * The value can be skipped without buffering it, but the header,
         * extras and key must still fit in a frame to answer E2BIG.
         */
        if (BIN_HEADER_LEN + prefix <= frame_limit) {
            return BIN_HDR_VALUE_TOO_BIG;
        }
        return BIN_HDR_TOO_BIG;
    }
    if (BIN_HEADER_LEN + body > frame_limit) {
        return BIN_HDR_TOO_BIG;
    }
    return BIN_HDR_OK;
}

/* Returns a short lower-case name for a verdict. */
const char *bin_header_verdict_str(enum bin_header_verdict v)
{
    switch (v) {
    case BIN_HDR_OK:
        return "ok";
    case BIN_HDR_BAD_MAGIC:
        return "bad magic";
    case BIN_HDR_BAD_LENGTHS:
        return "bad lengths";
    case BIN_HDR_TOO_BIG:
        return "frame too big";
    case BIN_HDR_VALUE_TOO_BIG:
        return "value too big";
    }
    return "unknown verdict";
}

/* Points extras and key into body (extras first) and derives the value length. */
void bin_request_init(struct bin_request *r, const struct bin_header *h, const uint8_t *body)
{
    const uint32_t prefix = (uint32_t)h->extlen + h->keylen;

    /* The header check ran first (BAD_LENGTHS closes the connection). */
    assert(prefix <= h->bodylen);
    r->h = *h;
    /* No pointer arithmetic on NULL: a body-less request has no extras or key. */
    r->extras = body;
    r->key = body != NULL ? body + h->extlen : NULL;
    r->vallen = prefix <= h->bodylen ? h->bodylen - prefix : 0;
}

size_t bin_batch_get_keys(const uint8_t *p, size_t len, struct bin_key *keys, size_t max_frames)
{
    size_t n = 0;
    /* Only the fields the walk needs: it runs whenever the input holds two frames or more. */
    for (size_t i = 0; i < max_frames && len >= BIN_HEADER_LEN; i++) {
        uint32_t body = bin_get_u32(p + OFF_BODYLEN);
        size_t frame = BIN_HEADER_LEN + (size_t)body;
        uint16_t keylen = get_u16(p + OFF_KEYLEN);
        uint8_t extlen = p[OFF_EXTLEN];
        if (p[OFF_MAGIC] != BIN_MAGIC_REQUEST || frame > len || (size_t)extlen + keylen > body)
            break;
        /* A lone frame: its lookup comes next anyway, so there is nothing to overlap. */
        if (i == 0 && frame == len)
            break;
        uint8_t op = p[OFF_OPCODE];
        bool get =
            op == BIN_CMD_GET || op == BIN_CMD_GETQ || op == BIN_CMD_GETK || op == BIN_CMD_GETKQ;
        /* Only the key of a get as it must be (no extras, no value, 1..250 bytes). */
        if (get && keylen > 0 && keylen <= BIN_KEY_MAX && extlen == 0 && body == keylen) {
            keys[n].key = p + BIN_HEADER_LEN;
            keys[n].len = keylen;
            n++;
        }
        p += frame;
        len -= frame;
    }
    return n;
}

/* Flags and exptime of an 8-byte extras block; zeros when there is none. */
void bin_store_extras_decode(const struct bin_request *r, struct bin_store_extras *out)
{
    /* APPEND/PREPEND carry no extras: they read as flags 0, exptime 0. */
    if (r->h.extlen != 8) {
        out->flags = 0;
        out->exptime = 0;
        return;
    }
    out->flags = bin_get_u32(r->extras);
    out->exptime = bin_get_u32(r->extras + 4);
}

/* Delta, initial and exptime of a 20-byte extras block; zeros when there is none. */
void bin_arith_extras_decode(const struct bin_request *r, struct bin_arith_extras *out)
{
    if (r->h.extlen != 20) {
        out->delta = 0;
        out->initial = 0;
        out->exptime = 0;
        return;
    }
    out->delta = bin_get_u64(r->extras);
    out->initial = bin_get_u64(r->extras + 8);
    out->exptime = bin_get_u32(r->extras + 16);
}

/* The 4-byte extra, or 0 when the extras are not exactly 4 bytes. */
uint32_t bin_u32_extra(const struct bin_request *r)
{
    return r->h.extlen == 4 ? bin_get_u32(r->extras) : 0;
}

/* Fills a response header; the status goes where requests carry the vbucket. */
void bin_response_header(uint8_t out[BIN_HEADER_LEN], uint8_t opcode, uint16_t status,
                         uint8_t extlen, uint16_t keylen, uint32_t bodylen, uint32_t opaque,
                         uint64_t cas)
{
    const struct bin_header h = {
        .magic = BIN_MAGIC_RESPONSE,
        .opcode = opcode,
        .keylen = keylen,
        .extlen = extlen,
        .datatype = 0,
        .vbucket = status,
        .bodylen = bodylen,
        .opaque = opaque,
        .cas = cas,
    };

    bin_header_encode(&h, out);
}

/* memcached's text for a status; "Unknown error" for others. */
const char *bin_status_str(uint16_t status)
{
    /* memcached 1.6's error texts (write_bin_error), so clients that match on them work. */
    switch (status) {
    case BIN_STATUS_SUCCESS:
        return "Success";
    case BIN_STATUS_KEY_ENOENT:
        return "Not found";
    case BIN_STATUS_KEY_EEXISTS:
        return "Data exists for key.";
    case BIN_STATUS_E2BIG:
        return "Too large.";
    case BIN_STATUS_EINVAL:
        return "Invalid arguments";
    case BIN_STATUS_NOT_STORED:
        return "Not stored.";
    case BIN_STATUS_DELTA_BADVAL:
        return "Non-numeric server-side value for incr or decr";
    case BIN_STATUS_AUTH_ERROR:
        return "Auth failure.";
    case BIN_STATUS_AUTH_CONTINUE:
        return "Auth continue";
    case BIN_STATUS_UNKNOWN_COMMAND:
        return "Unknown command";
    case BIN_STATUS_ENOMEM:
        return "Out of memory";
    case BIN_STATUS_NOT_SUPPORTED:
        return "Not supported";
    case BIN_STATUS_EINTERNAL:
        return "Internal error";
    case BIN_STATUS_EBUSY:
        return "Busy";
    case BIN_STATUS_ETMPFAIL:
        return "Temporary failure";
    }
    return "Unknown error";
}
