/*
 * The memcached binary protocol codec: header layout, opcodes, status codes,
 * per-opcode request validation and response header encoding. Pure functions
 * of bytes: no connection, no engine, no allocation. Any thread.
 */
#ifndef BASALT_PROTOCOL_BINARY_H
#define BASALT_PROTOCOL_BINARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/compiler.h"

#define BIN_HEADER_LEN 24
#define BIN_KEY_MAX 250
/* The frame limit is the item size max plus this much room for header, extras and key. */
#define BIN_FRAME_SLACK 1024

enum bin_magic {
    BIN_MAGIC_REQUEST = 0x80,
    BIN_MAGIC_RESPONSE = 0x81,
};

enum bin_opcode {
    BIN_CMD_GET = 0x00,
    BIN_CMD_SET = 0x01,
    BIN_CMD_ADD = 0x02,
    BIN_CMD_REPLACE = 0x03,
    BIN_CMD_DELETE = 0x04,
    BIN_CMD_INCREMENT = 0x05,
    BIN_CMD_DECREMENT = 0x06,
    BIN_CMD_QUIT = 0x07,
    BIN_CMD_FLUSH = 0x08,
    BIN_CMD_GETQ = 0x09,
    BIN_CMD_NOOP = 0x0a,
    BIN_CMD_VERSION = 0x0b,
    BIN_CMD_GETK = 0x0c,
    BIN_CMD_GETKQ = 0x0d,
    BIN_CMD_APPEND = 0x0e,
    BIN_CMD_PREPEND = 0x0f,
    BIN_CMD_STAT = 0x10,
    BIN_CMD_SETQ = 0x11,
    BIN_CMD_ADDQ = 0x12,
    BIN_CMD_REPLACEQ = 0x13,
    BIN_CMD_DELETEQ = 0x14,
    BIN_CMD_INCREMENTQ = 0x15,
    BIN_CMD_DECREMENTQ = 0x16,
    BIN_CMD_QUITQ = 0x17,
    BIN_CMD_FLUSHQ = 0x18,
    BIN_CMD_APPENDQ = 0x19,
    BIN_CMD_PREPENDQ = 0x1a,
    BIN_CMD_VERBOSITY = 0x1b,
    BIN_CMD_TOUCH = 0x1c,
    BIN_CMD_GAT = 0x1d,
    BIN_CMD_GATQ = 0x1e,
    BIN_CMD_SASL_LIST_MECHS = 0x20,
    BIN_CMD_SASL_AUTH = 0x21,
    BIN_CMD_SASL_STEP = 0x22,
    BIN_CMD_GATK = 0x23,
    BIN_CMD_GATKQ = 0x24,
    /* basalt's test hook (kv_engine's EWOULDBLOCK_CTL number): the value is a
       text setting for the engine, e.g. a wouldblock mode. Refused as unknown
       unless the server runs with -o enable_test_opcodes=1. */
    BIN_CMD_TEST_CONTROL = 0xeb,
};

/* Longest value of a TEST_CONTROL request. */
#define BIN_TEST_CONTROL_MAX 64

enum bin_status {
    BIN_STATUS_SUCCESS = 0x00,
    BIN_STATUS_KEY_ENOENT = 0x01,
    BIN_STATUS_KEY_EEXISTS = 0x02,
    BIN_STATUS_E2BIG = 0x03,
    BIN_STATUS_EINVAL = 0x04,
    BIN_STATUS_NOT_STORED = 0x05,
    BIN_STATUS_DELTA_BADVAL = 0x06,
    BIN_STATUS_AUTH_ERROR = 0x20,
    BIN_STATUS_AUTH_CONTINUE = 0x21,
    BIN_STATUS_UNKNOWN_COMMAND = 0x81,
    BIN_STATUS_ENOMEM = 0x82,
    BIN_STATUS_NOT_SUPPORTED = 0x83,
    BIN_STATUS_EINTERNAL = 0x84,
    BIN_STATUS_EBUSY = 0x85,
    BIN_STATUS_ETMPFAIL = 0x86,
};

/* Returns memcached's text for a status ("Not found", "Data exists for key.", ...). */
const char *bin_status_str(uint16_t status);

/* A decoded header, host byte order. For responses `vbucket` holds the status. */
struct bin_header {
    uint8_t magic;
    uint8_t opcode;
    uint16_t keylen;
    uint8_t extlen;
    uint8_t datatype;
    uint16_t vbucket;
    uint32_t bodylen;
    uint32_t opaque;
    uint64_t cas;
};

/* Decodes 24 raw bytes (network order) into *h. */
void bin_header_decode(const uint8_t raw[BIN_HEADER_LEN], struct bin_header *h);

/* Encodes *h into 24 raw bytes (network order). */
void bin_header_encode(const struct bin_header *h, uint8_t raw[BIN_HEADER_LEN]);

/* What the read path does with a header, before any body byte is looked at. */
enum bin_header_verdict {
    BIN_HDR_OK,            /* read the whole frame, then validate it */
    BIN_HDR_BAD_MAGIC,     /* close without reply */
    BIN_HDR_BAD_LENGTHS,   /* extlen + keylen > bodylen: close without reply */
    BIN_HDR_TOO_BIG,       /* 24 + bodylen above the frame limit: close without reply */
    BIN_HDR_VALUE_TOO_BIG, /* storage opcode whose value is above the item size max:
                              answer E2BIG and skip the value without buffering it */
};

/* Returns a short name for a verdict. */
const char *bin_header_verdict_str(enum bin_header_verdict v);

/*
 * Checks a request header against the limits; pure. frame_limit bounds
 * 24 + bodylen; item_size_max bounds the value of storage opcodes.
 */
enum bin_header_verdict bin_header_check(const struct bin_header *h, uint32_t frame_limit,
                                         uint32_t item_size_max);

/* A request whose extras and key are in memory; the value may still be in the input buffer. */
struct bin_request {
    struct bin_header h;
    const uint8_t *extras; /* h.extlen bytes */
    const uint8_t *key;    /* h.keylen bytes */
    uint32_t vallen;       /* bodylen - extlen - keylen */
};

/*
 * Fills the derived fields of *r from its header and body pointer (extras, then key).
 * The header must have passed bin_header_check (asserted); body may be NULL when
 * extlen and keylen are 0.
 */
void bin_request_init(struct bin_request *r, const struct bin_header *h, const uint8_t *body);

/* A key inside a frame (borrowed from the bytes the frame was read into). */
struct bin_key {
    const uint8_t *key;
    uint16_t len;
};

/*
 * Walks the whole request frames at the start of p (len bytes), at most
 * max_frames of them, and stores in keys (room for max_frames) the keys of
 * the well-formed gets among them (GET, GETQ, GETK, GETKQ with a key of 1 to
 * BIN_KEY_MAX bytes and nothing else in the body). Returns how many. Stops
 * at the first bytes that are not a whole request frame with consistent
 * lengths, and gives 0 when p holds one frame alone. A hint for prefetching
 * a batch, not validation: frames are checked again before they run.
 */
size_t bin_batch_get_keys(const uint8_t *p, size_t len, struct bin_key *keys, size_t max_frames);

/*
 * Validates the shape of a request with a known opcode: extras length, key
 * presence and length (<= 250), value presence, CAS rule, datatype 0.
 * Returns BIN_STATUS_SUCCESS or BIN_STATUS_EINVAL; for an opcode not in the
 * table, BIN_STATUS_UNKNOWN_COMMAND. Pure: one table row per opcode.
 */
enum bin_status bin_validate(const struct bin_request *r);

/* Opcode properties, from the same table. */
enum bin_op_flag {
    BIN_OP_KNOWN = 1 << 0,
    /* Quiet form: success replies suppressed; for GETQ/GETKQ/GATQ/GATKQ the misses
       are suppressed instead and hits are still sent. Errors are always sent. */
    BIN_OP_QUIET = 1 << 1,
    BIN_OP_STORAGE = 1 << 2,  /* carries a value: SET/ADD/REPLACE/APPEND/PREPEND and quiet forms */
    BIN_OP_WITH_KEY = 1 << 3, /* the reply carries the key (GETK, GETKQ, GATK, GATKQ) */
    BIN_OP_TEST = 1 << 4,     /* a test-only opcode: unknown unless test opcodes are enabled */
};

/* Returns the BIN_OP_* flags of an opcode (0 when unknown). */
unsigned bin_opcode_flags(uint8_t opcode);

/* Returns the opcode's name ("GET", "SETQ", ...) or "UNKNOWN". */
const char *bin_opcode_name(uint8_t opcode);

/* Encodes a response header (magic 0x81, datatype 0) into out. */
void bin_response_header(uint8_t out[BIN_HEADER_LEN], uint8_t opcode, uint16_t status,
                         uint8_t extlen, uint16_t keylen, uint32_t bodylen, uint32_t opaque,
                         uint64_t cas);

/* Big-endian field access, for extras and values. */
static inline uint32_t bin_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline uint64_t bin_get_u64(const uint8_t *p)
{
    return (uint64_t)bin_get_u32(p) << 32 | bin_get_u32(p + 4);
}

static inline void bin_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void bin_put_u64(uint8_t *p, uint64_t v)
{
    bin_put_u32(p, (uint32_t)(v >> 32));
    bin_put_u32(p + 4, (uint32_t)v);
}

/* Extras of SET/ADD/REPLACE (8 bytes). */
struct bin_store_extras {
    uint32_t flags;
    uint32_t exptime;
};

/* Extras of INCREMENT/DECREMENT (20 bytes). */
struct bin_arith_extras {
    uint64_t delta;
    uint64_t initial;
    uint32_t exptime;
};

/*
 * Decoders for validated requests. Extras of any other length decode as zeros
 * (so APPEND/PREPEND read flags 0, exptime 0).
 */
void bin_store_extras_decode(const struct bin_request *r, struct bin_store_extras *out);
void bin_arith_extras_decode(const struct bin_request *r, struct bin_arith_extras *out);
/* TOUCH, GAT family, FLUSH, VERBOSITY: the single 4-byte extra, or 0 when there are no extras. */
uint32_t bin_u32_extra(const struct bin_request *r);

#endif
