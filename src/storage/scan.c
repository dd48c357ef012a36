/*
 * The segment scanner: reads a segment file front to back through a buffer
 * and decodes one record at a time, for the recovery scan and compaction.
 * Never trusts a length: a record is returned only when it decodes whole
 * within the file. In repair mode it can resync: find the next offset where
 * a valid record starts. Runs on whichever thread calls.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "storage/store_internal.h"

#define SCAN_MIN_BUFFER (64u * 1024)

int store_scan_init(struct store_scan *sc, int fd, uint64_t start, uint64_t end,
                    uint64_t record_max)
{
    memset(sc, 0, sizeof(*sc));
    sc->fd = fd;
    sc->end = end;
    sc->record_max = record_max;
    sc->cap = record_max > SCAN_MIN_BUFFER ? (size_t)record_max : SCAN_MIN_BUFFER;
    sc->buf = malloc(sc->cap);
    sc->base = start;
    sc->pos = start;
    return sc->buf != NULL ? 0 : -1;
}

void store_scan_deinit(struct store_scan *sc)
{
    free(sc->buf);
    sc->buf = NULL;
}

/* Refills the buffer starting at sc->pos; -1 with errno on a read error. */
static int refill(struct store_scan *sc)
{
    uint64_t want = sc->end - sc->pos;
    if (want > sc->cap)
        want = sc->cap;
    ssize_t r = store_io_pread(sc->fd, sc->buf, (size_t)want, sc->pos);
    if (r < 0)
        return -1;
    sc->base = sc->pos;
    sc->len = (size_t)r;
    if ((uint64_t)r < want)
        sc->end = sc->pos + (uint64_t)r; /* the file shrank under us: its end is here */
    return 0;
}

/* Decodes at sc->pos without moving past it. */
static enum store_scan_step peek(struct store_scan *sc)
{
    if (sc->pos >= sc->end)
        return STORE_SCAN_END;
    for (int attempt = 0; attempt < 2; attempt++) {
        size_t at = (size_t)(sc->pos - sc->base);
        bool in_buffer = sc->pos >= sc->base && sc->pos <= sc->base + sc->len;
        if (in_buffer) {
            uint32_t used = 0;
            sc->why =
                store_record_decode(sc->buf + at, sc->len - at, sc->record_max, &sc->rec, &used);
            if (sc->why == STORE_REC_OK) {
                sc->raw = sc->buf + at;
                sc->rawlen = used;
                sc->rec_off = sc->pos;
                return STORE_SCAN_RECORD;
            }
            /* Only a short read can improve with more bytes, and only if more exist. */
            if (sc->why != STORE_REC_SHORT || sc->base + sc->len >= sc->end)
                return STORE_SCAN_BAD;
            if (at == 0 && sc->len == sc->cap)
                return STORE_SCAN_BAD; /* cannot happen: a record fits the buffer */
        }
        if (refill(sc) != 0)
            return STORE_SCAN_EIO;
    }
    return STORE_SCAN_BAD;
}

enum store_scan_step store_scan_next(struct store_scan *sc)
{
    enum store_scan_step st = peek(sc);
    if (st == STORE_SCAN_RECORD)
        sc->pos += sc->rawlen;
    return st;
}

enum store_scan_step store_scan_resync(struct store_scan *sc)
{
    while (sc->pos < sc->end) {
        sc->pos++;
        size_t at = (size_t)(sc->pos - sc->base);
        /* Cheap filter first: a record's magic byte sits at offset 8. */
        if (sc->pos >= sc->base && at + 9 <= sc->len && sc->buf[at + 8] != STORE_RECORD_MAGIC)
            continue;
        enum store_scan_step st = peek(sc);
        if (st == STORE_SCAN_RECORD || st == STORE_SCAN_EIO)
            return st;
    }
    return STORE_SCAN_END;
}
