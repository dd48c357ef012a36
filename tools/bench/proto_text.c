/*
 * Reply parsers of the text and meta protocols: one reply line (with its data
 * block, if any) per call, in the order the requests were sent. Runs on the
 * worker thread that owns the connection.
 */
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "proto_internal.h"

#define LINE_MAX_BYTES 8192

/* Returns the length of the line at in (without "\r\n"), -1 when incomplete, -2 for a bare "\n". */
static long proto_line(const uint8_t *in, size_t n)
{
    const uint8_t *p = memchr(in, '\n', n);
    if (!p)
        return -1;
    size_t len = (size_t)(p - in);
    return len > 0 && in[len - 1] == '\r' ? (long)len - 1 : -2;
}

static bool starts(const uint8_t *in, long len, const char *word)
{
    size_t wl = strlen(word);
    if ((size_t)len < wl || memcmp(in, word, wl) != 0)
        return false;
    return (size_t)len == wl || in[wl] == ' ';
}

/* Parses the decimal token that starts `skip` space-separated tokens into the line. */
static int token_u32(const uint8_t *in, long len, unsigned skip, uint32_t *out)
{
    long i = 0;
    for (unsigned k = 0; k < skip; k++) {
        while (i < len && in[i] != ' ')
            i++;
        while (i < len && in[i] == ' ')
            i++;
    }
    uint64_t v = 0;
    long start = i;
    while (i < len && in[i] >= '0' && in[i] <= '9' && v <= UINT32_MAX)
        v = v * 10 + (uint64_t)(in[i++] - '0');
    if (i == start || v > UINT32_MAX || (i < len && in[i] != ' '))
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/*
 * A line with a data block of `bytes` after it: returns the bytes the whole
 * reply takes, 0 when not all buffered, -1 when the block is not terminated.
 */
static long with_data(const uint8_t *in, size_t n, long len, uint32_t bytes)
{
    size_t need = (size_t)len + 2 + bytes + 2;
    if (n < need)
        return 0;
    if (in[need - 2] != '\r' || in[need - 1] != '\n')
        return -1;
    return (long)need;
}

/* Returns the line length, 0 when more bytes are needed, -1 on garbage. */
static long line_or_wait(const uint8_t *in, size_t n, long *len)
{
    *len = proto_line(in, n);
    if (*len == -2)
        return -1;
    if (*len == -1)
        return n > LINE_MAX_BYTES ? -1 : 0;
    return 1;
}

long proto_parse_text(struct bench_conn *c, const uint8_t *in, size_t n, uint64_t now)
{
    long len, r = line_or_wait(in, n, &len);
    if (r <= 0)
        return r;
    const struct req_slot *s = &c->slots[c->head];
    if (s->kind == REQ_GET || s->kind == REQ_MGET) {
        if (starts(in, len, "VALUE")) {
            uint32_t bytes;
            if (token_u32(in, len, 3, &bytes) != 0)
                return -1;
            long need = with_data(in, n, len, bytes);
            if (need > 0)
                c->ps.hits++;
            return need;
        }
        if (!starts(in, len, "END"))
            c->ps.errors = s->nkeys - c->ps.hits; /* ERROR, CLIENT_ERROR, SERVER_ERROR */
    } else if (!starts(in, len, "STORED")) {
        c->ps.errors = 1;
    }
    load_complete(c, now);
    return len + 2;
}

long proto_parse_meta(struct bench_conn *c, const uint8_t *in, size_t n, uint64_t now)
{
    long len, r = line_or_wait(in, n, &len);
    if (r <= 0)
        return r;
    const struct req_slot *s = &c->slots[c->head];
    long used = len + 2;
    bool done = true;
    if (starts(in, len, "VA")) {
        uint32_t bytes;
        if (token_u32(in, len, 1, &bytes) != 0)
            return -1;
        used = with_data(in, n, len, bytes);
        if (used <= 0)
            return used;
        c->ps.hits++;
        done = s->kind != REQ_MGET;
    } else if (starts(in, len, "EN")) {
        done = s->kind != REQ_MGET;
    } else if (starts(in, len, "HD")) {
        if (s->kind == REQ_GET)
            c->ps.hits++;
        done = s->kind != REQ_MGET;
    } else if (s->kind == REQ_MGET && starts(in, len, "MN")) {
        done = true;
    } else {
        c->ps.errors++; /* NS, EX, NF, CLIENT_ERROR, SERVER_ERROR, ERROR */
        done = s->kind != REQ_MGET;
    }
    if (done)
        load_complete(c, now);
    return used;
}
