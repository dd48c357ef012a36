/*
 * Request encoding for the three protocols (binary, text, meta), appended to
 * a connection's output buffer, and the dispatch of reply parsing. Runs on the
 * worker thread that owns the connection.
 */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "proto_internal.h"
#include "protocol/binary.h"

static void bin_request(struct bench_conn *c, uint8_t opcode, const char *key, size_t klen,
                        uint8_t extlen, uint32_t vlen, uint32_t opaque)
{
    struct bin_header h = {
        .magic = BIN_MAGIC_REQUEST,
        .opcode = opcode,
        .keylen = (uint16_t)klen,
        .extlen = extlen,
        .bodylen = (uint32_t)(extlen + klen + vlen),
        .opaque = opaque,
    };
    uint8_t *p = bbuf_reserve(&c->out, BIN_HEADER_LEN + extlen + klen);
    bin_header_encode(&h, p);
    memset(p + BIN_HEADER_LEN, 0, extlen); /* SET extras: flags 0, exptime 0 */
    if (klen)
        memcpy(p + BIN_HEADER_LEN + extlen, key, klen);
    c->out.len += BIN_HEADER_LEN + extlen + klen;
}

static void append_str(struct bench_conn *c, const char *s)
{
    bbuf_append(&c->out, s, strlen(s));
}

void proto_encode_get(struct bench_conn *c, const char *key, size_t klen, uint32_t opaque)
{
    switch (c->t->o->proto) {
    case PROTO_BINARY:
        bin_request(c, BIN_CMD_GET, key, klen, 0, 0, opaque);
        return;
    case PROTO_TEXT:
        append_str(c, "get ");
        bbuf_append(&c->out, key, klen);
        append_str(c, "\r\n");
        return;
    case PROTO_META:
        append_str(c, "mg ");
        bbuf_append(&c->out, key, klen);
        append_str(c, " v\r\n");
        return;
    }
}

void proto_encode_set(struct bench_conn *c, const char *key, size_t klen, uint32_t vlen,
                      uint32_t opaque)
{
    char line[64];
    switch (c->t->o->proto) {
    case PROTO_BINARY:
        bin_request(c, BIN_CMD_SET, key, klen, 8, vlen, opaque);
        bbuf_append(&c->out, c->t->sh->filler, vlen);
        return;
    case PROTO_TEXT:
    case PROTO_META:
        append_str(c, c->t->o->proto == PROTO_TEXT ? "set " : "ms ");
        bbuf_append(&c->out, key, klen);
        snprintf(line, sizeof(line), c->t->o->proto == PROTO_TEXT ? " 0 0 %u\r\n" : " %u\r\n",
                 vlen);
        append_str(c, line);
        bbuf_append(&c->out, c->t->sh->filler, vlen);
        append_str(c, "\r\n");
        return;
    }
}

void proto_encode_mget_key(struct bench_conn *c, const char *key, size_t klen, uint32_t opaque,
                           bool first)
{
    switch (c->t->o->proto) {
    case PROTO_BINARY:
        bin_request(c, BIN_CMD_GETKQ, key, klen, 0, 0, opaque);
        return;
    case PROTO_TEXT:
        append_str(c, first ? "get " : " ");
        bbuf_append(&c->out, key, klen);
        return;
    case PROTO_META:
        append_str(c, "mg ");
        bbuf_append(&c->out, key, klen);
        append_str(c, " v q\r\n");
        return;
    }
}

void proto_encode_mget_end(struct bench_conn *c, uint32_t opaque)
{
    switch (c->t->o->proto) {
    case PROTO_BINARY:
        bin_request(c, BIN_CMD_NOOP, NULL, 0, 0, 0, opaque);
        return;
    case PROTO_TEXT:
        append_str(c, "\r\n");
        return;
    case PROTO_META:
        append_str(c, "mn\r\n");
        return;
    }
}

/* Binary replies: one frame per call; GETKQ hits accumulate until the NOOP. */
static long parse_binary(struct bench_conn *c, const uint8_t *in, size_t n, uint64_t now)
{
    if (n < BIN_HEADER_LEN)
        return 0;
    struct bin_header h;
    bin_header_decode(in, &h);
    if (h.magic != BIN_MAGIC_RESPONSE)
        return -1;
    size_t total = BIN_HEADER_LEN + (size_t)h.bodylen;
    if (n < total)
        return 0;
    const struct req_slot *s = &c->slots[c->head];
    if (h.opaque != s->opaque)
        return -1;
    uint16_t status = h.vbucket;
    if (s->kind == REQ_MGET && h.opcode != BIN_CMD_NOOP) {
        if (status == BIN_STATUS_SUCCESS)
            c->ps.hits++;
        else
            c->ps.errors++; /* quiet gets send misses as nothing: any status is an error */
        return (long)total;
    }
    if (s->kind == REQ_GET && status == BIN_STATUS_SUCCESS)
        c->ps.hits = 1;
    else if (s->kind == REQ_GET && status == BIN_STATUS_KEY_ENOENT)
        c->ps.hits = 0;
    else if (status != BIN_STATUS_SUCCESS)
        c->ps.errors = 1;
    load_complete(c, now);
    return (long)total;
}

long proto_parse(struct bench_conn *c, const uint8_t *in, size_t n, uint64_t now)
{
    if (c->count == 0)
        return n ? -1 : 0; /* bytes nobody asked for */
    switch (c->t->o->proto) {
    case PROTO_BINARY:
        return parse_binary(c, in, n, now);
    case PROTO_TEXT:
        return proto_parse_text(c, in, n, now);
    case PROTO_META:
        return proto_parse_meta(c, in, n, now);
    }
    return -1;
}
