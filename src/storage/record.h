/*
 * The on-disk format: segment headers and records (docs/storage.md has the
 * byte layout). Pure encoders and decoders, no I/O: a decoder takes any bytes
 * and trusts no length in them, so a fuzz target can feed it anything.
 * All integers are little-endian.
 */
#ifndef BASALT_STORAGE_RECORD_H
#define BASALT_STORAGE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "base/compiler.h"

#define STORE_KEY_MAX 250
#define STORE_RECORD_HEADER 40u  /* bytes before the key */
#define STORE_SEGMENT_HEADER 32u /* bytes before the first record of a segment */
#define STORE_RECORD_MAGIC 0xB5u
#define STORE_FORMAT_VERSION 1u

enum store_kind {
    STORE_KIND_VALUE = 1,     /* key holds value */
    STORE_KIND_TOMBSTONE = 2, /* key was deleted; no value */
};

/*
 * One record. key and value are borrowed: from the caller when encoding, and
 * pointing into the decoded buffer when decoding.
 */
struct store_record {
    uint64_t seq;     /* position in the write order; never 0; the newest seq of a key wins */
    uint64_t cas;     /* the item's CAS */
    uint64_t exptime; /* absolute Unix time in seconds; 0 = never expires */
    uint32_t flags;   /* the client's opaque flags */
    uint8_t kind;     /* enum store_kind */
    uint8_t nkey;     /* 1..STORE_KEY_MAX */
    uint32_t nvalue;  /* value bytes; 0 for a tombstone */
    const char *key;
    const char *value;
};

/* Why bytes are not a record; STORE_REC_OK when they are. */
enum store_verdict {
    STORE_REC_OK = 0,
    STORE_REC_SHORT,         /* fewer bytes than the header or the length announce */
    STORE_REC_BAD_MAGIC,     /* the magic byte is wrong */
    STORE_REC_BAD_KIND,      /* neither value nor tombstone */
    STORE_REC_BAD_KEY,       /* key length 0 or above STORE_KEY_MAX */
    STORE_REC_BAD_RESERVED,  /* a reserved byte is not 0 */
    STORE_REC_BAD_LENGTH,    /* length below header + key, or above the record limit */
    STORE_REC_BAD_SEQ,       /* sequence number 0 */
    STORE_REC_BAD_TOMBSTONE, /* a tombstone with value bytes */
    STORE_REC_BAD_CRC,       /* the checksum does not match */
};

/* Returns a short, static description of v. */
const char *store_verdict_str(enum store_verdict v);

/* Returns the bytes a record with this key and value length occupies on disk. */
static inline uint64_t store_record_size(size_t nkey, size_t nvalue)
{
    return (uint64_t)STORE_RECORD_HEADER + nkey + nvalue;
}

/*
 * Fills hdr with the header of r, checksum included (computed over the rest
 * of the header, the key and the value). r must be well formed (see
 * store_record_check). Pure.
 */
void store_record_encode_header(const struct store_record *r, uint8_t hdr[STORE_RECORD_HEADER]);

/*
 * Writes the whole record r to buf; returns its size, or 0 when it does not
 * fit in cap bytes or r is not well formed. Pure.
 */
size_t store_record_encode(const struct store_record *r, void *buf, size_t cap) WARN_UNUSED;

/* Returns STORE_REC_OK when r can be encoded within record_max bytes; pure. */
enum store_verdict store_record_check(const struct store_record *r,
                                      uint64_t record_max) WARN_UNUSED;

/*
 * Decodes the record at the start of the len bytes at buf. On STORE_REC_OK,
 * *out describes it (key and value point into buf) and *used is its size,
 * at most record_max. Any other verdict leaves *out and *used unspecified.
 * Pure; reads no byte beyond buf + len.
 */
enum store_verdict store_record_decode(const void *buf, size_t len, uint64_t record_max,
                                       struct store_record *out, uint32_t *used) WARN_UNUSED;

/* A segment file's header: what the file is and which number it carries. */
struct store_segment_header {
    uint64_t segno;      /* the segment number, as in the file name */
    uint32_t generation; /* 0 when written by the appender, +1 per compaction */
};

/* Fills hdr with the header of segment h. Pure. */
void store_segment_header_encode(const struct store_segment_header *h,
                                 uint8_t hdr[STORE_SEGMENT_HEADER]);

/* Decodes a segment header; 0 when magic, version, reserved bytes and checksum are right, -1
 * otherwise. */
int store_segment_header_decode(const uint8_t hdr[STORE_SEGMENT_HEADER],
                                struct store_segment_header *out) WARN_UNUSED;

#endif
