/*
 * The store's write and read paths: batched appends to the active segment,
 * rolling to a new segment when it is full, fsync, cutting a failed tail
 * back to the durable point, one-record reads, and the segment table
 * queries. store_open is in recover.c, compaction in compact.c. Runs on
 * whichever thread calls; the caller serialises (store.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/store_internal.h"

const char *store_err_str(enum store_err e)
{
    switch (e) {
    case STORE_OK:
        return "ok";
    case STORE_ESYS:
        return "system error";
    case STORE_ECORRUPT:
        return "corrupt data";
    case STORE_ETOOBIG:
        return "record too large";
    case STORE_EINVAL:
        return "invalid argument";
    case STORE_ENOTFOUND:
        return "not found";
    case STORE_EBADREC:
        return "bad record";
    case STORE_ELOCKED:
        return "data directory in use";
    case STORE_ENOMEM:
        return "out of memory";
    case STORE_ECALLBACK:
        return "stopped by callback";
    case STORE_ECRASHED:
        return "injected crash";
    }
    return "unknown error";
}

void store_free(struct store *s)
{
    for (size_t i = 0; i < s->nsegs; i++)
        if (s->segs[i].fd >= 0)
            close(s->segs[i].fd);
    free(s->segs);
    free(s->hdrs);
    free(s->iov);
    if (s->lockfd >= 0)
        close(s->lockfd); /* releases the flock */
    if (s->io.dirfd >= 0)
        close(s->io.dirfd);
    free(s);
}

void store_close(struct store **sp)
{
    if (*sp == NULL)
        return;
    store_free(*sp);
    *sp = NULL;
}

long store_seg_find(const struct store *s, uint64_t segno)
{
    size_t lo = 0, hi = s->nsegs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->segs[mid].segno < segno)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->nsegs && s->segs[lo].segno == segno ? (long)lo : -1;
}

static struct store_seg *active(struct store *s)
{
    return &s->segs[s->nsegs - 1];
}

/* The active segment's file name, formatted once per segment, not per append and fsync. */
static const char *active_name(struct store *s)
{
    const struct store_seg *a = active(s);
    if (s->name_segno != a->segno || s->name_gen != a->gen) {
        store_seg_name(s->active_name, a->segno, a->gen, false);
        s->name_segno = a->segno;
        s->name_gen = a->gen;
    }
    return s->active_name;
}

int store_cut_tail(struct store *s)
{
    struct store_seg *a = active(s);
    const char *name = active_name(s);
    s->tail_dirty = true;
    if (ftruncate(a->fd, (off_t)s->durable_size) != 0)
        return store_io_fail(&s->io, errno, "truncate %s/%s to %" PRIu64, s->io.dir, name,
                             s->durable_size);
    a->size = s->durable_size;
    s->tail_dirty = false;
    return 0;
}

/* Runs the fdatasync of the active segment; on failure the unsynced tail is cut. */
static enum store_err sync_active(struct store *s)
{
    if (s->tail_dirty && store_cut_tail(s) != 0)
        return STORE_ESYS;
    if (s->dir_dirty) {
        if (store_io_sync_dir(&s->io) != 0)
            return STORE_ESYS;
        s->dir_dirty = false;
    }
    struct store_seg *a = active(s);
    if (a->size != s->durable_size) {
        if (store_io_sync(&s->io, a->fd, false, active_name(s)) != 0) {
            int err = s->io.sys_errno;
            char msg[sizeof(s->io.error)];
            memcpy(msg, s->io.error, sizeof(msg));
            if (store_cut_tail(s) != 0) {
                /* tail_dirty stays set: retried before the next write */
            }
            /* Report the fsync failure, not the cut. */
            s->io.sys_errno = err;
            memcpy(s->io.error, msg, sizeof(msg));
            return STORE_ESYS;
        }
        s->durable_size = a->size;
    }
    s->durable_seq = s->next_seq - 1;
    return STORE_OK;
}

enum store_err store_sync(struct store *s)
{
    return sync_active(s);
}

/* Creates segment segno with its header, fsyncs it and the directory; the fd or -1. */
static int create_segment(struct store *s, uint64_t segno, enum store_err *err)
{
    char name[STORE_NAME_MAX];
    store_seg_name(name, segno, 0, false);
    *err = STORE_ESYS;
    int fd = openat(s->io.dirfd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        store_io_fail(&s->io, errno, "create %s/%s", s->io.dir, name);
        return -1;
    }
    uint8_t hdr[STORE_SEGMENT_HEADER];
    store_segment_header_encode(&(struct store_segment_header){.segno = segno}, hdr);
    struct iovec iov = {hdr, sizeof(hdr)};
    if (store_io_crash(&s->io, STORE_CRASH_ROLL_HEADER)) {
        iov.iov_len /= 2;
        if (store_io_write(&s->io, fd, &iov, 1, 0, name) != 0) {
            /* the crash is what is reported */
        }
        close(fd);
        *err = STORE_ECRASHED;
        return -1;
    }
    if (store_io_write(&s->io, fd, &iov, 1, 0, name) != 0 ||
        store_io_sync(&s->io, fd, false, name) != 0 || store_io_sync_dir(&s->io) != 0) {
        close(fd);
        /* Best effort: a half-made newest segment is removed at open anyway. */
        (void)unlinkat(s->io.dirfd, name, 0);
        return -1;
    }
    return fd;
}

enum store_err store_roll(struct store *s)
{
    uint64_t segno = 1;
    if (s->nsegs > 0) {
        enum store_err e = sync_active(s);
        if (e != STORE_OK)
            return e;
        segno = active(s)->segno + 1;
    }
    if (s->nsegs == s->segs_cap) {
        size_t cap = s->segs_cap ? s->segs_cap * 2 : 16;
        struct store_seg *n = realloc(s->segs, cap * sizeof(*n));
        if (n == NULL)
            return STORE_ENOMEM;
        s->segs = n;
        s->segs_cap = cap;
    }
    enum store_err err;
    int fd = create_segment(s, segno, &err);
    if (fd < 0)
        return err;
    /* The sealed segment is only read from now on. */
    s->segs[s->nsegs++] = (struct store_seg){segno, 0, fd, STORE_SEGMENT_HEADER};
    s->durable_size = STORE_SEGMENT_HEADER;
    return STORE_OK;
}

/* Grows the append scratch to hold n records. */
static int scratch_reserve(struct store *s, size_t n)
{
    if (n <= s->scratch_cap)
        return 0;
    uint8_t *h = realloc(s->hdrs, n * STORE_RECORD_HEADER);
    if (h == NULL)
        return -1;
    s->hdrs = h;
    struct iovec *v = realloc(s->iov, n * 3 * sizeof(*v));
    if (v == NULL)
        return -1;
    s->iov = v;
    s->scratch_cap = n;
    return 0;
}

/* How many records from recs[0] fit in room bytes; sets *bytes to their size. */
static size_t batch_fit(const struct store_record *recs, size_t n, uint64_t room, uint64_t *bytes)
{
    size_t k = 0;
    *bytes = 0;
    for (; k < n; k++) {
        uint64_t sz = store_record_size(recs[k].nkey, recs[k].nvalue);
        if (*bytes + sz > room)
            break;
        *bytes += sz;
    }
    return k;
}

/* Writes recs[0..k) at the end of the active segment with one write. */
static enum store_err write_batch(struct store *s, struct store_record *recs, size_t k,
                                  uint64_t bytes, struct store_loc *locs)
{
    struct store_seg *a = active(s);
    int iovcnt = 0;
    uint64_t off = a->size;
    for (size_t i = 0; i < k; i++) {
        struct store_record *r = &recs[i];
        r->seq = s->next_seq + i;
        uint8_t *h = s->hdrs + i * STORE_RECORD_HEADER;
        store_record_encode_header(r, h);
        s->iov[iovcnt++] = (struct iovec){h, STORE_RECORD_HEADER};
        s->iov[iovcnt++] = (struct iovec){(void *)r->key, r->nkey};
        s->iov[iovcnt++] = (struct iovec){(void *)r->value, r->nvalue};
        uint32_t len = (uint32_t)store_record_size(r->nkey, r->nvalue);
        if (locs != NULL)
            locs[i] = (struct store_loc){a->segno, off, len};
        off += len;
    }
    s->next_seq += k; /* a failed write burns its seqs: they are never reused */
    if (store_io_write(&s->io, a->fd, s->iov, iovcnt, a->size, active_name(s)) != 0) {
        if (store_cut_tail(s) != 0) {
            /* tail_dirty stays set: retried before the next write */
        }
        return STORE_ESYS;
    }
    a->size += bytes;
    return STORE_OK;
}

/* Checks every record before anything is written. */
static enum store_err check_batch(const struct store *s, const struct store_record *recs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct store_record r = recs[i];
        r.seq = 1; /* assigned later */
        enum store_verdict v = store_record_check(&r, s->record_max);
        if (v == STORE_REC_BAD_LENGTH)
            return STORE_ETOOBIG;
        if (v != STORE_REC_OK || (r.nvalue > 0 && r.value == NULL))
            return STORE_EINVAL;
    }
    return STORE_OK;
}

enum store_err store_append(struct store *s, struct store_record *recs, size_t n,
                            struct store_loc *locs, size_t *appended)
{
    size_t done = 0;
    uint64_t first_seq = s->next_seq;
    enum store_err e = check_batch(s, recs, n);
    if (e == STORE_OK && scratch_reserve(s, n) != 0)
        e = STORE_ENOMEM;
    if (e == STORE_OK && s->tail_dirty && store_cut_tail(s) != 0)
        e = STORE_ESYS;
    while (e == STORE_OK && done < n) {
        uint64_t bytes;
        size_t k = batch_fit(recs + done, n - done, s->segment_max - active(s)->size, &bytes);
        if (k == 0) {
            e = store_roll(s);
            continue;
        }
        e = write_batch(s, recs + done, k, bytes, locs ? locs + done : NULL);
        if (e == STORE_OK)
            done += k;
    }
    if (e != STORE_OK) {
        /* Only what a roll sealed (and fsynced) survives a failure; the rest is cut. */
        if (s->durable_seq < first_seq)
            done = 0;
        else if (s->durable_seq - first_seq + 1 < done)
            done = (size_t)(s->durable_seq - first_seq + 1);
    }
    if (appended != NULL)
        *appended = done;
    return e;
}

uint64_t store_durable_seq(const struct store *s)
{
    return s->durable_seq;
}

uint64_t store_next_seq(const struct store *s)
{
    return s->next_seq;
}

enum store_err store_read(const struct store *s, const struct store_loc *loc, void *buf, size_t cap,
                          struct store_record *out)
{
    long i = store_seg_find(s, loc->segno);
    if (i < 0)
        return STORE_ENOTFOUND;
    const struct store_seg *g = &s->segs[i];
    if (loc->len > cap || loc->len > s->record_max || loc->offset < STORE_SEGMENT_HEADER ||
        loc->offset + loc->len > g->size)
        return STORE_EINVAL;
    ssize_t r = store_io_pread(g->fd, buf, loc->len, loc->offset);
    if (r < 0)
        return STORE_ESYS;
    uint32_t used = 0;
    if ((size_t)r != loc->len ||
        store_record_decode(buf, loc->len, s->record_max, out, &used) != STORE_REC_OK ||
        used != loc->len)
        return STORE_EBADREC;
    return STORE_OK;
}

size_t store_segment_count(const struct store *s)
{
    return s->nsegs;
}

int store_segment_at(const struct store *s, size_t i, struct store_segment_info *info)
{
    if (i >= s->nsegs)
        return -1;
    const struct store_seg *g = &s->segs[i];
    *info = (struct store_segment_info){g->segno, g->gen, g->size, i == s->nsegs - 1};
    return 0;
}

uint64_t store_bytes(const struct store *s)
{
    uint64_t b = 0;
    for (size_t i = 0; i < s->nsegs; i++)
        b += s->segs[i].size;
    return b;
}

int store_errno(const struct store *s)
{
    return s->io.sys_errno;
}

const char *store_last_error(const struct store *s)
{
    return s->io.error;
}
