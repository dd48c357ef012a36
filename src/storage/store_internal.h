/*
 * What the storage module's files share and nobody else sees: the store's
 * layout, the fault-aware I/O helpers (io.c) and the segment scanner
 * (scan.c). Same threading rules as store.h.
 */
#ifndef BASALT_STORAGE_STORE_INTERNAL_H
#define BASALT_STORAGE_STORE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "base/compiler.h"
#include "storage/record.h"
#include "storage/store.h"

#define STORE_NAME_MAX 48 /* "<16 hex>-<8 hex>.seg.tmp" and the NUL */

/* The directory, the fault hooks and the last error: what every I/O helper needs. */
struct store_io {
    int dirfd;
    char dir[400];
    struct store_faults *faults; /* may be NULL */
    int sys_errno;
    char error[768];
};

/* One segment file. */
struct store_seg {
    uint64_t segno;
    uint32_t gen;
    int fd;        /* read-only when sealed, read-write when active */
    uint64_t size; /* bytes that belong to the segment (the file may be longer after a failure) */
};

struct store {
    struct store_io io;
    uint64_t segment_max;
    uint32_t record_max;
    bool repair;
    int lockfd;
    struct store_seg *segs; /* sorted by segno; the last is the active segment */
    size_t nsegs, segs_cap;
    uint64_t next_seq, durable_seq;
    uint64_t durable_size; /* bytes of the active segment known durable */
    bool tail_dirty;       /* the active file may hold bytes past size: cut before writing */
    bool dir_dirty;        /* a removal's directory fsync failed: store_sync retries it */
    uint8_t *hdrs;         /* scratch for store_append: record headers ... */
    struct iovec *iov;     /* ... and the iovecs pointing at them, keys and values */
    size_t scratch_cap;    /* records the scratch holds */
    char active_name[STORE_NAME_MAX]; /* the file name of segment name_segno-name_gen ... */
    uint64_t name_segno;              /* ... (0: none yet), for messages of appends and syncs */
    uint32_t name_gen;
};

/* Records a failure: errno err (0 when not a system error) and a message. Returns -1. */
int store_io_fail(struct store_io *io, int err, const char *fmt, ...) PRINTF_LIKE(3, 4);

/* Formats the file name of a segment (tmp: its compaction temporary). */
void store_seg_name(char buf[STORE_NAME_MAX], uint64_t segno, uint32_t gen, bool tmp);

/* Parses a file name; 0 and the parts when it names a segment or a temporary, else -1. */
int store_seg_parse(const char *name, uint64_t *segno, uint32_t *gen, bool *tmp) WARN_UNUSED;

/*
 * Writes the iovecs at off, as one write for fault injection; iov is
 * consumed. 0, or -1 with the failure recorded (what names the operation).
 */
int store_io_write(struct store_io *io, int fd, struct iovec *iov, int iovcnt, uint64_t off,
                   const char *what) WARN_UNUSED;

/* fdatasync (or fsync for a directory) as one fsync for fault injection; 0 or -1 recorded. */
int store_io_sync(struct store_io *io, int fd, bool dir, const char *what) WARN_UNUSED;

/* fsyncs the data directory; 0 or -1 recorded. */
int store_io_sync_dir(struct store_io *io) WARN_UNUSED;

/* Reads up to n bytes at off; returns the count (short only at end of file) or -1. */
ssize_t store_io_pread(int fd, void *buf, size_t n, uint64_t off) WARN_UNUSED;

/* True when the injected crash point is p (the caller then stops with STORE_ECRASHED). */
bool store_io_crash(const struct store_io *io, enum store_crash p);

/* Removes a file of the data directory (gone already is fine); 0 or -1 recorded. */
int store_io_unlink(struct store_io *io, const char *name) WARN_UNUSED;

/* Returns the index of segment segno in s->segs, or -1. */
long store_seg_find(const struct store *s, uint64_t segno);

/* What a scan step found. */
enum store_scan_step {
    STORE_SCAN_RECORD, /* sc->rec, sc->raw, sc->rec_off describe it */
    STORE_SCAN_END,    /* clean end of the file */
    STORE_SCAN_BAD,    /* no valid record at sc->pos: sc->why says why */
    STORE_SCAN_EIO,    /* a read failed; errno is set */
};

/* Reads a segment's records in order through a buffer of about record_max bytes. */
struct store_scan {
    int fd;
    uint64_t end; /* file size */
    uint64_t record_max;
    uint8_t *buf;
    size_t cap;
    uint64_t base;           /* file offset of buf[0] */
    size_t len;              /* valid bytes in buf */
    uint64_t pos;            /* file offset of the next record */
    struct store_record rec; /* the last record returned */
    const uint8_t *raw;      /* its bytes (in buf) */
    uint32_t rawlen;
    uint64_t rec_off;
    enum store_verdict why; /* after STORE_SCAN_BAD */
};

/* Prepares a scan of fd's bytes [start, end); -1 when out of memory. */
int store_scan_init(struct store_scan *sc, int fd, uint64_t start, uint64_t end,
                    uint64_t record_max) WARN_UNUSED;

/* Frees the scan's buffer. */
void store_scan_deinit(struct store_scan *sc);

/* Returns the next record (and moves past it), the end, a bad record, or a read error. */
enum store_scan_step store_scan_next(struct store_scan *sc);

/*
 * After STORE_SCAN_BAD: moves sc->pos to the next offset where a valid
 * record starts (STORE_SCAN_RECORD, not yet consumed), or to the end
 * (STORE_SCAN_END); STORE_SCAN_EIO on a read error.
 */
enum store_scan_step store_scan_resync(struct store_scan *sc);

/* Cuts the active segment back to its durable size; 0 or -1 recorded. */
int store_cut_tail(struct store *s) WARN_UNUSED;

/* Opens a new segment after the active one (sealing it first); STORE_OK or the failure. */
enum store_err store_roll(struct store *s) WARN_UNUSED;

/* Frees the segment table and scratch and closes the files; the shared part of close and open. */
void store_free(struct store *s);

/* Runs a compaction that keeps every valid record and skips bad ones (repair mode at open). */
enum store_err store_compact_repair(struct store *s, uint64_t segno, uint64_t *ranges,
                                    uint64_t *bytes) WARN_UNUSED;

#endif
