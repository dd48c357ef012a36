/*
 * Compaction: rewrites the records of one sealed segment that the caller
 * keeps into the next generation of the same segment number, and replaces
 * the old file with it: temporary file, fsync, rename, directory fsync,
 * unlink of the old generation, directory fsync. Recovery treats a
 * temporary as never written and a lower generation next to a higher one as
 * superseded, so a crash at any step leaves exactly one copy of every record
 * (docs/storage.md). begin and install run under the caller's lock; run
 * touches only the compaction object. Whichever thread calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "storage/store_internal.h"

#define COMPACT_BUFFER (256u * 1024)

struct store_compaction {
    struct store_io io; /* a copy: same directory and faults, its own error */
    uint64_t segno;
    uint32_t old_gen, new_gen;
    int src_fd; /* a dup of the old segment's descriptor */
    uint64_t src_size;
    uint64_t record_max;
    bool repair;    /* skip bad records instead of failing */
    int tmp_fd;     /* -1 until the first kept record */
    bool installed; /* the store has been switched to the new generation */
    bool crashed;   /* an injected crash stopped it: leave the files as a dead process would */
    bool ran;       /* run finished: install may go ahead */
    uint64_t out_size;
    uint8_t *out; /* records not yet written to the temporary */
    size_t out_len, out_cap;
    struct store_move *moves;
    size_t nmoves, moves_cap;
    uint64_t dropped_records, dropped_bytes, dropped_ranges;
};

enum store_err store_compact_begin(struct store *s, uint64_t segno, struct store_compaction **out)
{
    *out = NULL;
    long i = store_seg_find(s, segno);
    if (i < 0)
        return STORE_ENOTFOUND;
    if ((size_t)i == s->nsegs - 1)
        return STORE_EINVAL; /* the active segment is still being written */
    struct store_compaction *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return STORE_ENOMEM;
    c->io = s->io;
    c->io.error[0] = '\0';
    c->io.sys_errno = 0;
    c->segno = segno;
    c->old_gen = s->segs[i].gen;
    c->new_gen = c->old_gen + 1;
    c->src_size = s->segs[i].size;
    c->record_max = s->record_max;
    c->tmp_fd = -1;
    c->src_fd = dup(s->segs[i].fd);
    c->out_cap = s->record_max > COMPACT_BUFFER ? s->record_max : COMPACT_BUFFER;
    c->out = malloc(c->out_cap);
    if (c->src_fd < 0 || c->out == NULL) {
        enum store_err e = c->out == NULL ? STORE_ENOMEM : STORE_ESYS;
        store_compact_destroy(&c);
        return e;
    }
    *out = c;
    return STORE_OK;
}

/* Writes the first n buffered bytes to the temporary. */
static int flush_out(struct store_compaction *c, size_t n)
{
    char name[STORE_NAME_MAX];
    store_seg_name(name, c->segno, c->new_gen, true);
    struct iovec iov = {c->out, n};
    if (store_io_write(&c->io, c->tmp_fd, &iov, 1, c->out_size, name) != 0)
        return -1;
    c->out_size += n;
    memmove(c->out, c->out + n, c->out_len - n);
    c->out_len -= n;
    return 0;
}

/* Creates the temporary file and buffers its header. */
static int open_tmp(struct store_compaction *c)
{
    char name[STORE_NAME_MAX];
    store_seg_name(name, c->segno, c->new_gen, true);
    c->tmp_fd = openat(c->io.dirfd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (c->tmp_fd < 0)
        return store_io_fail(&c->io, errno, "create %s/%s", c->io.dir, name);
    struct store_segment_header h = {.segno = c->segno, .generation = c->new_gen};
    store_segment_header_encode(&h, c->out);
    c->out_len = STORE_SEGMENT_HEADER;
    return 0;
}

/* Copies a kept record's bytes to the output and remembers where it went. */
static int keep(struct store_compaction *c, const struct store_scan *sc)
{
    if (c->tmp_fd < 0 && open_tmp(c) != 0)
        return -1;
    if (c->out_len + sc->rawlen > c->out_cap && flush_out(c, c->out_len) != 0)
        return -1;
    if (c->nmoves == c->moves_cap) {
        size_t cap = c->moves_cap ? c->moves_cap * 2 : 64;
        struct store_move *m = realloc(c->moves, cap * sizeof(*m));
        if (m == NULL)
            return store_io_fail(&c->io, ENOMEM, "compaction of segment %" PRIu64, c->segno);
        c->moves = m;
        c->moves_cap = cap;
    }
    c->moves[c->nmoves++] =
        (struct store_move){sc->rec.seq, sc->rec_off, c->out_size + c->out_len, sc->rawlen};
    memcpy(c->out + c->out_len, sc->raw, sc->rawlen);
    c->out_len += sc->rawlen;
    return 0;
}

/* Handles a bad record: in repair mode skips to the next valid one, else fails. */
static enum store_err skip_bad(struct store_compaction *c, struct store_scan *sc)
{
    char name[STORE_NAME_MAX];
    store_seg_name(name, c->segno, c->old_gen, false);
    if (!c->repair) {
        store_io_fail(&c->io, 0, "corrupt data in %s/%s at offset %" PRIu64 " (%s)", c->io.dir,
                      name, sc->pos, store_verdict_str(sc->why));
        return STORE_ECORRUPT;
    }
    uint64_t from = sc->pos;
    enum store_verdict why = sc->why;
    if (store_scan_resync(sc) == STORE_SCAN_EIO) {
        store_io_fail(&c->io, errno, "read %s/%s", c->io.dir, name);
        return STORE_ESYS;
    }
    log_warn("storage: repair: %s/%s: dropping bytes %" PRIu64 "..%" PRIu64 " (%s)", c->io.dir,
             name, from, sc->pos, store_verdict_str(why));
    c->dropped_ranges++;
    c->dropped_bytes += sc->pos - from;
    return STORE_OK;
}

/* Reads the old segment, keeping what live() says. */
static enum store_err copy_records(struct store_compaction *c, store_live_fn live, void *arg)
{
    struct store_scan sc;
    if (store_scan_init(&sc, c->src_fd, STORE_SEGMENT_HEADER, c->src_size, c->record_max) != 0)
        return STORE_ENOMEM;
    enum store_err e = STORE_OK;
    while (e == STORE_OK) {
        enum store_scan_step st = store_scan_next(&sc);
        if (st == STORE_SCAN_END)
            break;
        if (st == STORE_SCAN_EIO) {
            store_io_fail(&c->io, errno, "read segment %" PRIu64, c->segno);
            e = STORE_ESYS;
        } else if (st == STORE_SCAN_BAD) {
            e = skip_bad(c, &sc);
        } else if (live(arg, &sc.rec, &(struct store_loc){c->segno, sc.rec_off, sc.rawlen})) {
            if (keep(c, &sc) != 0)
                e = c->io.sys_errno == ENOMEM ? STORE_ENOMEM : STORE_ESYS;
        } else {
            c->dropped_records++;
            c->dropped_bytes += sc.rawlen;
        }
    }
    store_scan_deinit(&sc);
    return e;
}

/* The steps of store_compact_run. */
static enum store_err run_steps(struct store_compaction *c, store_live_fn live, void *arg)
{
    enum store_err e = copy_records(c, live, arg);
    if (e != STORE_OK || c->tmp_fd < 0)
        return e; /* nothing kept: install just removes the old segment */
    if (store_io_crash(&c->io, STORE_CRASH_COMPACT_PARTIAL)) {
        if (flush_out(c, c->out_len / 2) != 0) {
            /* the crash is what is reported */
        }
        return STORE_ECRASHED;
    }
    if (c->out_len > 0 && flush_out(c, c->out_len) != 0)
        return STORE_ESYS;
    if (store_io_crash(&c->io, STORE_CRASH_COMPACT_WRITTEN))
        return STORE_ECRASHED;
    char name[STORE_NAME_MAX];
    store_seg_name(name, c->segno, c->new_gen, true);
    if (store_io_sync(&c->io, c->tmp_fd, false, name) != 0)
        return STORE_ESYS;
    return STORE_OK;
}

/* Points the store at the new generation (or drops the segment when nothing was kept). */
static void switch_segment(struct store *s, long i, struct store_compaction *c)
{
    close(s->segs[i].fd);
    if (c->tmp_fd >= 0) {
        s->segs[i] = (struct store_seg){c->segno, c->new_gen, c->tmp_fd, c->out_size};
        c->tmp_fd = -1;
    } else {
        memmove(&s->segs[i], &s->segs[i + 1], (s->nsegs - (size_t)i - 1) * sizeof(*s->segs));
        s->nsegs--;
    }
    c->installed = true;
}

/* Makes the new generation durable under its final name; the store is not touched yet. */
static enum store_err publish(struct store_compaction *c)
{
    char tmp[STORE_NAME_MAX], fin[STORE_NAME_MAX];
    store_seg_name(tmp, c->segno, c->new_gen, true);
    store_seg_name(fin, c->segno, c->new_gen, false);
    if (store_io_crash(&c->io, STORE_CRASH_COMPACT_SYNCED))
        return STORE_ECRASHED;
    if (renameat(c->io.dirfd, tmp, c->io.dirfd, fin) != 0) {
        store_io_fail(&c->io, errno, "rename %s/%s", c->io.dir, tmp);
        return STORE_ESYS;
    }
    if (store_io_crash(&c->io, STORE_CRASH_COMPACT_RENAMED))
        return STORE_ECRASHED;
    if (store_io_sync_dir(&c->io) != 0)
        return STORE_ESYS;
    return STORE_OK;
}

/* The steps of store_compact_install. */
static enum store_err install_steps(struct store *s, struct store_compaction *c)
{
    long i = store_seg_find(s, c->segno);
    if (i < 0 || s->segs[i].gen != c->old_gen || c->installed || !c->ran)
        return STORE_EINVAL;
    if (c->tmp_fd >= 0) {
        enum store_err e = publish(c);
        if (e != STORE_OK)
            return e;
    }
    if (store_io_crash(&c->io, STORE_CRASH_COMPACT_DIRSYNCED))
        return STORE_ECRASHED;
    /* From here the new generation is what recovery would pick: switch to it. */
    switch_segment(s, i, c);
    char old[STORE_NAME_MAX];
    store_seg_name(old, c->segno, c->old_gen, false);
    if (store_io_unlink(&c->io, old) != 0)
        return STORE_ESYS; /* the next open removes the superseded file */
    if (store_io_crash(&c->io, STORE_CRASH_COMPACT_UNLINKED))
        return STORE_ECRASHED;
    if (store_io_sync_dir(&c->io) != 0) {
        s->dir_dirty = true; /* store_sync retries it */
        return STORE_ESYS;
    }
    return STORE_OK;
}

enum store_err store_compact_run(struct store_compaction *c, store_live_fn live, void *arg)
{
    if (c->ran)
        return STORE_EINVAL;
    enum store_err e = c->crashed ? STORE_ECRASHED : run_steps(c, live, arg);
    c->crashed = e == STORE_ECRASHED;
    c->ran = e == STORE_OK;
    return e;
}

enum store_err store_compact_install(struct store *s, struct store_compaction *c)
{
    enum store_err e = c->crashed ? STORE_ECRASHED : install_steps(s, c);
    c->crashed = e == STORE_ECRASHED;
    return e;
}

bool store_compact_installed(const struct store_compaction *c)
{
    return c->installed;
}

const struct store_move *store_compact_moves(const struct store_compaction *c, size_t *n)
{
    *n = c->nmoves;
    return c->moves;
}

void store_compact_dropped(const struct store_compaction *c, uint64_t *records, uint64_t *bytes)
{
    *records = c->dropped_records;
    *bytes = c->dropped_bytes;
}

const char *store_compact_error(const struct store_compaction *c)
{
    return c->io.error;
}

void store_compact_destroy(struct store_compaction **cp)
{
    struct store_compaction *c = *cp;
    if (c == NULL)
        return;
    if (c->tmp_fd >= 0) {
        close(c->tmp_fd);
        if (!c->installed && !c->crashed) {
            char tmp[STORE_NAME_MAX];
            store_seg_name(tmp, c->segno, c->new_gen, true);
            (void)unlinkat(c->io.dirfd, tmp, 0); /* a leftover is removed at open */
        }
    }
    if (c->src_fd >= 0)
        close(c->src_fd);
    free(c->out);
    free(c->moves);
    free(c);
    *cp = NULL;
}

static bool keep_all(void *arg, const struct store_record *rec, const struct store_loc *loc)
{
    return true;
}

enum store_err store_compact_repair(struct store *s, uint64_t segno, uint64_t *ranges,
                                    uint64_t *bytes)
{
    struct store_compaction *c = NULL;
    enum store_err e = store_compact_begin(s, segno, &c);
    if (e != STORE_OK)
        return e;
    c->repair = true;
    e = store_compact_run(c, keep_all, NULL);
    if (e == STORE_OK)
        e = store_compact_install(s, c);
    *ranges += c->dropped_ranges;
    *bytes += c->dropped_bytes;
    if (e != STORE_OK)
        memcpy(s->io.error, c->io.error, sizeof(s->io.error)), s->io.sys_errno = c->io.sys_errno;
    store_compact_destroy(&c);
    return e;
}
