/*
 * The log-structured store: a data directory of segment files, appended in
 * batches, read one record at a time, rebuilt by a recovery scan at open and
 * rewritten by compaction. Synchronous file I/O, no threads.
 *
 * Threads: no call is thread-safe; the caller serialises every call on one
 * store (one mutex, or a rwlock where store_read takes it shared: store_read
 * changes nothing in the store). The long part of a compaction,
 * store_compact_run, touches only its compaction object and may run while
 * other threads use the store under that lock (see store_compact_begin).
 *
 * Durability: store_append only writes; store_sync makes everything appended
 * so far durable. Every record with seq <= store_durable_seq() is durable.
 * After a failed append or sync, every record with a higher seq is gone from
 * disk (the tail is cut back to the durable point): the caller re-appends
 * what it still wants persisted.
 */
#ifndef BASALT_STORAGE_STORE_H
#define BASALT_STORAGE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/compiler.h"
#include "storage/record.h"

struct store;
struct store_compaction;

enum store_err {
    STORE_OK = 0,
    STORE_ESYS,      /* a system call failed: store_errno() says why (EIO, ENOSPC, ...) */
    STORE_ECORRUPT,  /* a bad record or header outside the newest segment's tail */
    STORE_ETOOBIG,   /* a record above record_max */
    STORE_EINVAL,    /* a malformed record or argument */
    STORE_ENOTFOUND, /* no such segment, or no record at that place */
    STORE_EBADREC,   /* the record read back fails its checks */
    STORE_ELOCKED,   /* another process has the data directory open */
    STORE_ENOMEM,    /* out of memory */
    STORE_ECALLBACK, /* the caller's callback asked to stop */
    STORE_ECRASHED,  /* an injected crash point was reached: only close/destroy are valid now */
};

/* Returns a short, static description of e. */
const char *store_err_str(enum store_err e);

/* Where fault injection makes the store stop dead, as if the process had been killed. */
enum store_crash {
    STORE_CRASH_NONE = 0,
    STORE_CRASH_ROLL_HEADER,       /* a new segment file holds half its header */
    STORE_CRASH_COMPACT_PARTIAL,   /* the compaction's temporary file holds half its records */
    STORE_CRASH_COMPACT_WRITTEN,   /* ... holds all of them, not yet fsynced */
    STORE_CRASH_COMPACT_SYNCED,    /* ... is fsynced, not yet renamed */
    STORE_CRASH_COMPACT_RENAMED,   /* renamed over the new name, directory not yet fsynced */
    STORE_CRASH_COMPACT_DIRSYNCED, /* the rename is durable, the old segment still exists */
    STORE_CRASH_COMPACT_UNLINKED,  /* the old segment is unlinked, directory not yet fsynced */
};

/*
 * Fault injection, for tests: counts the writes (each pwrite/pwritev call)
 * and fsyncs (file and directory) the store makes, and makes the chosen ones
 * fail. A failed write first writes half its bytes, as a full disk would.
 * Owned by the caller, read and updated by store calls (under the caller's
 * serialisation, and by store_compact_run, which runs without it); change it
 * between calls to arm or clear a fault.
 */
struct store_faults {
    uint64_t writes, fsyncs; /* counters the store increments */
    uint64_t write_fail_at;  /* the write with this count fails (0: none) ... */
    uint64_t write_fail_n;   /* ... and so do the next n-1 (0 counts as 1) */
    int write_errno;         /* with this errno (0: EIO) */
    uint64_t fsync_fail_at;  /* the same for fsyncs */
    uint64_t fsync_fail_n;
    int fsync_errno;
    enum store_crash crash_at; /* stop at this point */
};

struct store_config {
    const char *dir;      /* the data directory; created if missing; borrowed for the call */
    uint64_t segment_max; /* bytes per segment file, header included */
    uint32_t record_max;  /* largest record (header + key + value); segment_max must hold one */
    bool repair;          /* on corruption: drop what is bad and go on, instead of failing */
    struct store_faults *faults; /* NULL, or borrowed for the life of the store */
};

/* Where a record is: enough for one pread. */
struct store_loc {
    uint64_t segno;
    uint64_t offset; /* from the start of the file */
    uint32_t len;    /* the record's size on disk */
};

/* What store_open found and did. */
struct store_open_report {
    uint64_t segments, records, bytes;      /* what the scan visited */
    uint64_t max_seq;                       /* the newest seq on disk (0: none) */
    uint64_t truncated_bytes;               /* torn tail cut from the newest segment */
    uint64_t removed_files;                 /* leftovers: temporaries, superseded, half-created */
    uint64_t dropped_ranges, dropped_bytes; /* repair mode: what was skipped */
    uint64_t repaired_segments;             /* repair mode: segments rewritten without bad parts */
    char path[512];                         /* on STORE_ECORRUPT: the file ... */
    uint64_t offset;                        /* ... and the offset of the bad bytes */
    char message[768];                      /* on failure: what went wrong and where */
};

/*
 * Called by store_open for every valid record, oldest segment first, in file
 * order within a segment. A key may appear several times: the highest seq
 * wins (a compacted segment can hold older records than the segment before
 * it). rec's key and value are valid during the call only. Return 0 to go
 * on, anything else to make store_open fail with STORE_ECALLBACK.
 */
typedef int (*store_visit_fn)(void *arg, const struct store_record *rec,
                              const struct store_loc *loc);

/*
 * Opens (creating if needed) the store in cfg->dir, takes the directory's
 * lock, removes leftovers of interrupted compactions and segment creations,
 * and scans every segment, calling visit (may be NULL) per valid record. A
 * torn tail of the newest segment is cut; a bad record elsewhere fails with
 * STORE_ECORRUPT naming file and offset, unless cfg->repair. report (may be
 * NULL) is filled either way. On success *out is a new store (store_close).
 */
enum store_err store_open(const struct store_config *cfg, store_visit_fn visit, void *arg,
                          struct store **out, struct store_open_report *report) WARN_UNUSED;

/* Closes the files and frees the store; sets *sp to NULL. Does not sync. */
void store_close(struct store **sp);

/*
 * Appends n records as one write per segment touched, rolling to a new
 * segment when the active one is full (the full one is fsynced first). Sets
 * recs[i].seq to the next sequence numbers and locs[i] (may be NULL) to where
 * each record went. *appended (may be NULL) is how many of the first records
 * are written (all on success); on failure the rest are not, and see
 * "Durability" above. Records are borrowed.
 */
enum store_err store_append(struct store *s, struct store_record *recs, size_t n,
                            struct store_loc *locs, size_t *appended) WARN_UNUSED;

/* Makes every appended record durable (fdatasync of the active segment). */
enum store_err store_sync(struct store *s) WARN_UNUSED;

/* Returns the highest seq known durable. */
uint64_t store_durable_seq(const struct store *s);

/* Returns the seq the next appended record will get. */
uint64_t store_next_seq(const struct store *s);

/*
 * Reads the record at loc into buf (cap >= loc->len) with one pread and
 * checks it; on success *out describes it, pointing into buf. STORE_EBADREC
 * when the bytes there are not that record; STORE_ESYS with errno set when
 * the read fails. Changes nothing in the store.
 */
enum store_err store_read(const struct store *s, const struct store_loc *loc, void *buf, size_t cap,
                          struct store_record *out) WARN_UNUSED;

/* One segment file, for compaction scheduling and statistics. */
struct store_segment_info {
    uint64_t segno;
    uint32_t generation;
    uint64_t size; /* bytes in the file, header included */
    bool active;   /* the segment appends go to; never compacted */
};

/* Returns how many segment files the store has. */
size_t store_segment_count(const struct store *s);

/* Fills *info for the i-th segment in segment order; -1 when i is out of range. */
int store_segment_at(const struct store *s, size_t i, struct store_segment_info *info) WARN_UNUSED;

/* Returns the bytes of all segment files. */
uint64_t store_bytes(const struct store *s);

/* Returns the errno of the last STORE_ESYS (0 if none). */
int store_errno(const struct store *s);

/* Returns a message about the last failure: operation, file, offset, reason ("" if none). */
const char *store_last_error(const struct store *s);

/*
 * Compaction. Rewrites the records of one sealed segment that live() keeps
 * into a new generation of the same segment number, then replaces the old
 * file. Seqs and bytes of kept records are unchanged. In three steps, so a
 * threaded caller holds its lock only for the short ones:
 *   begin   (lock held)   checks the segment and takes what run needs;
 *   run     (no lock)     reads the old file, writes and fsyncs a temporary one;
 *   install (lock held)   renames it in place, fsyncs the directory, removes the
 *                         old file, fsyncs the directory again. Then the caller
 *                         updates its index from store_compact_moves().
 * A crash at any step leaves exactly one copy of every record (docs/storage.md).
 */

/*
 * Decides whether a record is kept; rec is valid during the call only. Keep a
 * record until a newer record of its key is durable (seq <= store_durable_seq):
 * a newer one not yet synced can still be cut by a failed write or fsync.
 */
typedef bool (*store_live_fn)(void *arg, const struct store_record *rec,
                              const struct store_loc *loc);

/* Where a kept record moved: same segno, new offset. */
struct store_move {
    uint64_t seq;
    uint64_t old_offset, new_offset;
    uint32_t len;
};

/* Starts compacting segment segno (not the active one); *out is new (store_compact_destroy). */
enum store_err store_compact_begin(struct store *s, uint64_t segno,
                                   struct store_compaction **out) WARN_UNUSED;

/*
 * Writes the records live() keeps to a temporary file and fsyncs it. Uses
 * only c (never the store), so it may run without the caller's lock, but
 * before store_close. live is called in file order.
 */
enum store_err store_compact_run(struct store_compaction *c, store_live_fn live,
                                 void *arg) WARN_UNUSED;

/*
 * Puts the rewritten segment in place of the old one (or removes the old one
 * if nothing was kept). An error can come after the switch, when removing
 * the old file fails: then store_compact_installed() is true, the moves
 * apply, the next open removes the old file, and store_sync retries a failed
 * directory fsync.
 */
enum store_err store_compact_install(struct store *s, struct store_compaction *c) WARN_UNUSED;

/* True once install has switched the store to the new generation. */
bool store_compact_installed(const struct store_compaction *c);

/* Returns the moves of kept records (valid until destroy); *n is how many. */
const struct store_move *store_compact_moves(const struct store_compaction *c, size_t *n);

/* Returns the records and bytes run dropped. */
void store_compact_dropped(const struct store_compaction *c, uint64_t *records, uint64_t *bytes);

/* Returns a message about the compaction's last failure ("" if none). */
const char *store_compact_error(const struct store_compaction *c);

/* Frees c, removing its temporary file unless installed; sets *cp to NULL. */
void store_compact_destroy(struct store_compaction **cp);

#endif
