/*
 * store_open: takes the data directory, cleans up what interrupted
 * compactions and segment creations left, and runs the recovery scan that
 * hands every valid record to the caller. A torn tail of the newest segment
 * is cut; a bad record or header anywhere else is corruption, refused with
 * file and offset unless repair mode rewrites the segment without it.
 * Runs on whichever thread calls (start-up).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "storage/store_internal.h"

/* Ends a failed open: the report gets the store's last message. */
static enum store_err fail(struct store *s, struct store_open_report *rep, enum store_err e)
{
    snprintf(rep->message, sizeof(rep->message), "%s",
             s->io.error[0] ? s->io.error : store_err_str(e));
    return e;
}

/* Records corruption at name:offset. */
static enum store_err corrupt(struct store *s, struct store_open_report *rep, const char *name,
                              uint64_t offset, const char *why)
{
    snprintf(rep->path, sizeof(rep->path), "%s/%s", s->io.dir, name);
    rep->offset = offset;
    store_io_fail(&s->io, 0,
                  "corrupt data in %s at offset %" PRIu64 " (%s): refusing to start; repair mode "
                  "drops the bad part",
                  rep->path, offset, why);
    return fail(s, rep, STORE_ECORRUPT);
}

/* Creates the directory if needed, opens it and takes its lock. */
/* fsyncs the directory that holds dir, so a directory just created survives a crash. */
static int sync_parent(struct store *s, const char *dir)
{
    char parent[sizeof(s->io.dir)];
    snprintf(parent, sizeof(parent), "%s", dir);
    char *slash = strrchr(parent, '/');
    if (slash == parent)
        slash[1] = '\0'; /* "/x": the root */
    else if (slash != NULL)
        *slash = '\0';
    else
        snprintf(parent, sizeof(parent), ".");
    int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return store_io_fail(&s->io, errno, "open %s", parent);
    int r = store_io_sync(&s->io, fd, true, "..");
    close(fd);
    return r;
}

/* Creates the directory if needed, opens it and takes its lock. */
static enum store_err take_dir(struct store *s, const char *dir)
{
    if (mkdir(dir, 0755) == 0) {
        if (sync_parent(s, dir) != 0)
            return STORE_ESYS;
    } else if (errno != EEXIST) {
        return store_io_fail(&s->io, errno, "mkdir %s", dir), STORE_ESYS;
    }
    s->io.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->io.dirfd < 0)
        return store_io_fail(&s->io, errno, "open %s", dir), STORE_ESYS;
    s->lockfd = openat(s->io.dirfd, "LOCK", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (s->lockfd < 0)
        return store_io_fail(&s->io, errno, "open %s/LOCK", dir), STORE_ESYS;
    if (flock(s->lockfd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        if (err == EWOULDBLOCK) {
            store_io_fail(&s->io, 0, "data directory %s is in use by another process (%s/LOCK)",
                          dir, dir);
            return STORE_ELOCKED;
        }
        return store_io_fail(&s->io, err, "lock %s/LOCK", dir), STORE_ESYS;
    }
    return STORE_OK;
}

static int seg_cmp(const void *a, const void *b)
{
    const struct store_seg *x = a, *y = b;
    if (x->segno != y->segno)
        return x->segno < y->segno ? -1 : 1;
    return x->gen < y->gen ? -1 : x->gen > y->gen;
}

/* Adds a segment file to the table (fd not yet open). */
static int push_seg(struct store *s, uint64_t segno, uint32_t gen)
{
    if (s->nsegs == s->segs_cap) {
        size_t cap = s->segs_cap ? s->segs_cap * 2 : 16;
        struct store_seg *n = realloc(s->segs, cap * sizeof(*n));
        if (n == NULL)
            return -1;
        s->segs = n;
        s->segs_cap = cap;
    }
    s->segs[s->nsegs++] = (struct store_seg){segno, gen, -1, 0};
    return 0;
}

/* Lists the segment files; removes temporaries of interrupted compactions. */
static enum store_err list_dir(struct store *s, struct store_open_report *rep)
{
    int fd = dup(s->io.dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        if (fd >= 0)
            close(fd);
        return store_io_fail(&s->io, errno, "list %s", s->io.dir), STORE_ESYS;
    }
    enum store_err e = STORE_OK;
    struct dirent *de;
    while (e == STORE_OK && (de = readdir(d)) != NULL) {
        uint64_t segno;
        uint32_t gen;
        bool tmp;
        if (store_seg_parse(de->d_name, &segno, &gen, &tmp) != 0)
            continue; /* not ours (LOCK, or anything an operator put there) */
        if (tmp) {
            /* Never renamed into place: the old segment still holds every record. */
            if (store_io_unlink(&s->io, de->d_name) != 0)
                e = STORE_ESYS;
            rep->removed_files++;
        } else if (push_seg(s, segno, gen) != 0) {
            e = STORE_ENOMEM;
        }
    }
    closedir(d);
    return e;
}

/* Keeps the highest generation of each segment number: a lower one was superseded. */
static enum store_err drop_superseded(struct store *s, struct store_open_report *rep)
{
    if (s->nsegs > 1)
        qsort(s->segs, s->nsegs, sizeof(*s->segs), seg_cmp);
    size_t kept = 0;
    for (size_t i = 0; i < s->nsegs; i++) {
        if (i + 1 < s->nsegs && s->segs[i + 1].segno == s->segs[i].segno) {
            char name[STORE_NAME_MAX];
            store_seg_name(name, s->segs[i].segno, s->segs[i].gen, false);
            if (store_io_unlink(&s->io, name) != 0)
                return STORE_ESYS;
            rep->removed_files++;
            continue;
        }
        s->segs[kept++] = s->segs[i];
    }
    s->nsegs = kept;
    if (rep->removed_files > 0 && store_io_sync_dir(&s->io) != 0)
        return STORE_ESYS;
    return STORE_OK;
}

/* Opens segment i and checks its header; -1 (errno kept) on I/O error, 1 on a bad header. */
static int open_seg(struct store *s, size_t i, bool writable)
{
    struct store_seg *g = &s->segs[i];
    char name[STORE_NAME_MAX];
    store_seg_name(name, g->segno, g->gen, false);
    g->fd = openat(s->io.dirfd, name, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    struct stat st;
    if (g->fd < 0 || fstat(g->fd, &st) != 0)
        return store_io_fail(&s->io, errno, "open %s/%s", s->io.dir, name);
    g->size = (uint64_t)st.st_size;
    uint8_t hdr[STORE_SEGMENT_HEADER];
    struct store_segment_header h;
    ssize_t r = store_io_pread(g->fd, hdr, sizeof(hdr), 0);
    if (r < 0)
        return store_io_fail(&s->io, errno, "read %s/%s", s->io.dir, name);
    if ((size_t)r < sizeof(hdr) || store_segment_header_decode(hdr, &h) != 0 ||
        h.segno != g->segno || h.generation != g->gen)
        return 1;
    return 0;
}

/* Removes segment i from the table and the directory. */
static enum store_err remove_seg(struct store *s, size_t i)
{
    char name[STORE_NAME_MAX];
    store_seg_name(name, s->segs[i].segno, s->segs[i].gen, false);
    if (s->segs[i].fd >= 0)
        close(s->segs[i].fd);
    memmove(&s->segs[i], &s->segs[i + 1], (s->nsegs - i - 1) * sizeof(*s->segs));
    s->nsegs--;
    if (store_io_unlink(&s->io, name) != 0 || store_io_sync_dir(&s->io) != 0)
        return STORE_ESYS;
    return STORE_OK;
}

/* Opens every segment. A bad header on the newest is an interrupted creation. */
static enum store_err open_segs(struct store *s, struct store_open_report *rep)
{
    bool may_be_torn = true; /* only the original newest segment can be half created */
    for (size_t i = 0; i < s->nsegs;) {
        bool newest = i + 1 == s->nsegs;
        int r = open_seg(s, i, newest);
        if (r < 0)
            return STORE_ESYS;
        if (r == 0) {
            i++;
            continue;
        }
        char name[STORE_NAME_MAX];
        store_seg_name(name, s->segs[i].segno, s->segs[i].gen, false);
        if (newest && may_be_torn && s->segs[i].gen == 0) {
            may_be_torn = false;
            rep->removed_files++;
        } else if (s->repair) {
            log_warn("storage: repair: dropping %s/%s (%" PRIu64 " bytes): bad segment header",
                     s->io.dir, name, s->segs[i].size);
            rep->dropped_ranges++;
            rep->dropped_bytes += s->segs[i].size;
        } else {
            return corrupt(s, rep, name, 0, "bad segment header");
        }
        enum store_err e = remove_seg(s, i);
        if (e != STORE_OK)
            return e;
        if (newest && s->nsegs > 0) {
            /* The previous segment is the newest now, and the one appends go to. */
            close(s->segs[s->nsegs - 1].fd);
            s->segs[s->nsegs - 1].fd = -1;
            i = s->nsegs - 1;
        }
    }
    return STORE_OK;
}

/* Repair mode: rewrites every sealed segment that holds a bad record. */
static enum store_err repair_pass(struct store *s, struct store_open_report *rep)
{
    for (size_t i = 0; i + 1 < s->nsegs;) {
        struct store_scan sc;
        if (store_scan_init(&sc, s->segs[i].fd, STORE_SEGMENT_HEADER, s->segs[i].size,
                            s->record_max) != 0)
            return STORE_ENOMEM;
        enum store_scan_step st;
        while ((st = store_scan_next(&sc)) == STORE_SCAN_RECORD)
            ;
        store_scan_deinit(&sc);
        if (st == STORE_SCAN_EIO)
            return store_io_fail(&s->io, errno, "read %s", s->io.dir), STORE_ESYS;
        if (st == STORE_SCAN_END) {
            i++;
            continue;
        }
        enum store_err e =
            store_compact_repair(s, s->segs[i].segno, &rep->dropped_ranges, &rep->dropped_bytes);
        if (e != STORE_OK)
            return e;
        rep->repaired_segments++;
        /* Scan the rewritten file again, unless nothing was left and it is gone. */
    }
    return STORE_OK;
}

/* Cuts the newest segment at a torn tail, logs it and counts it. */
static enum store_err cut_torn_tail(struct store *s, struct store_open_report *rep, uint64_t at,
                                    enum store_verdict why)
{
    struct store_seg *g = &s->segs[s->nsegs - 1];
    char name[STORE_NAME_MAX];
    store_seg_name(name, g->segno, g->gen, false);
    log_warn("storage: %s/%s: torn tail at offset %" PRIu64 " (%s): cutting %" PRIu64 " bytes",
             s->io.dir, name, at, store_verdict_str(why), g->size - at);
    rep->truncated_bytes += g->size - at;
    if (ftruncate(g->fd, (off_t)at) != 0)
        return store_io_fail(&s->io, errno, "truncate %s/%s", s->io.dir, name), STORE_ESYS;
    g->size = at;
    return STORE_OK;
}

/* Scans segment i, handing each record to visit. */
static enum store_err visit_seg(struct store *s, size_t i, store_visit_fn visit, void *arg,
                                struct store_open_report *rep)
{
    struct store_seg *g = &s->segs[i];
    struct store_scan sc;
    if (store_scan_init(&sc, g->fd, STORE_SEGMENT_HEADER, g->size, s->record_max) != 0)
        return STORE_ENOMEM;
    enum store_err e = STORE_OK;
    enum store_scan_step st;
    while (e == STORE_OK && (st = store_scan_next(&sc)) == STORE_SCAN_RECORD) {
        struct store_loc loc = {g->segno, sc.rec_off, sc.rawlen};
        rep->records++;
        rep->bytes += sc.rawlen;
        if (sc.rec.seq > rep->max_seq)
            rep->max_seq = sc.rec.seq;
        if (visit != NULL && visit(arg, &sc.rec, &loc) != 0)
            e = STORE_ECALLBACK;
    }
    if (e == STORE_OK && st == STORE_SCAN_EIO)
        e = STORE_ESYS, store_io_fail(&s->io, errno, "read %s", s->io.dir);
    if (e == STORE_OK && st == STORE_SCAN_BAD) {
        if (i + 1 == s->nsegs) {
            e = cut_torn_tail(s, rep, sc.pos, sc.why);
        } else {
            char name[STORE_NAME_MAX];
            store_seg_name(name, g->segno, g->gen, false);
            e = corrupt(s, rep, name, sc.pos, store_verdict_str(sc.why));
        }
    }
    store_scan_deinit(&sc);
    return e;
}

/* Checks the configuration; STORE_EINVAL with a message when it cannot work. */
static enum store_err check_config(const struct store_config *cfg, struct store_open_report *rep)
{
    const char *why = NULL;
    if (cfg->dir == NULL || cfg->dir[0] == '\0')
        why = "no data directory";
    else if (strlen(cfg->dir) >= sizeof(((struct store_io *)0)->dir))
        why = "data directory path too long";
    else if (cfg->record_max < STORE_RECORD_HEADER + 1)
        why = "record_max below the smallest record";
    else if (cfg->segment_max < STORE_SEGMENT_HEADER + (uint64_t)cfg->record_max)
        why = "segment_max cannot hold a record of record_max bytes";
    if (why != NULL)
        snprintf(rep->message, sizeof(rep->message), "storage: %s", why);
    return why ? STORE_EINVAL : STORE_OK;
}

/* The steps of store_open after the store exists. */
static enum store_err recover(struct store *s, const struct store_config *cfg, store_visit_fn visit,
                              void *arg, struct store_open_report *rep)
{
    enum store_err e = take_dir(s, cfg->dir);
    if (e == STORE_OK)
        e = list_dir(s, rep);
    if (e == STORE_OK)
        e = drop_superseded(s, rep);
    if (e == STORE_OK)
        e = open_segs(s, rep);
    if (e == STORE_OK && s->repair)
        e = repair_pass(s, rep);
    for (size_t i = 0; e == STORE_OK && i < s->nsegs; i++)
        e = visit_seg(s, i, visit, arg, rep);
    if (e != STORE_OK)
        return e;
    rep->segments = s->nsegs;
    s->next_seq = rep->max_seq + 1;
    s->durable_seq = rep->max_seq;
    if (s->nsegs == 0)
        return store_roll(s);
    /* What the last run wrote may still sit in the page cache only. */
    struct store_seg *a = &s->segs[s->nsegs - 1];
    char name[STORE_NAME_MAX];
    store_seg_name(name, a->segno, a->gen, false);
    if (store_io_sync(&s->io, a->fd, false, name) != 0)
        return STORE_ESYS;
    s->durable_size = a->size;
    return STORE_OK;
}

enum store_err store_open(const struct store_config *cfg, store_visit_fn visit, void *arg,
                          struct store **out, struct store_open_report *report)
{
    struct store_open_report scratch = {0};
    struct store_open_report *rep = report ? report : &scratch;
    memset(rep, 0, sizeof(*rep));
    *out = NULL;
    enum store_err e = check_config(cfg, rep);
    if (e != STORE_OK)
        return e;
    struct store *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return STORE_ENOMEM;
    s->io.dirfd = -1;
    s->lockfd = -1;
    snprintf(s->io.dir, sizeof(s->io.dir), "%s", cfg->dir);
    s->io.faults = cfg->faults;
    s->segment_max = cfg->segment_max;
    s->record_max = cfg->record_max;
    s->repair = cfg->repair;
    e = recover(s, cfg, visit, arg, rep);
    if (e != STORE_OK) {
        if (rep->message[0] == '\0')
            fail(s, rep, e);
        store_free(s);
        return e;
    }
    if (rep->dropped_ranges > 0)
        snprintf(rep->message, sizeof(rep->message),
                 "storage: repair dropped %" PRIu64 " bytes in %" PRIu64
                 " places and rewrote %" PRIu64 " segments",
                 rep->dropped_bytes, rep->dropped_ranges, rep->repaired_segments);
    *out = s;
    return STORE_OK;
}
