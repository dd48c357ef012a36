/*
 * The engine interface: the only thing the front-end knows about storage.
 *
 * An engine is a struct engine whose first member points to its ops table.
 * The front-end calls the ops from its worker threads, concurrently; an
 * engine must be thread-safe. An op that cannot finish without waiting (disk,
 * network) hands the work to a background thread and returns
 * ENGINE_EWOULDBLOCK; when the work is done the engine calls
 * host->notify(cookie, status) from any thread, and the front-end calls the
 * same op again with the same cookie, which then completes. The cookie is
 * opaque to the engine; host->get_private/set_private give it one slot per
 * command to keep such state in (cleared when the command ends).
 *
 * For every EWOULDBLOCK the engine calls notify exactly once, even when the
 * connection goes away meanwhile (disconnect): the front-end keeps the
 * cookie alive until that notify and frees it then.
 *
 * Items cross threads and are reference counted (see item.h).
 */
#ifndef BASALT_ENGINE_ENGINE_H
#define BASALT_ENGINE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/clock.h"
#include "base/compiler.h"
#include "engine/item.h"

typedef enum engine_status {
    ENGINE_SUCCESS = 0,
    ENGINE_KEY_ENOENT,    /* no such key (or expired, or flushed) */
    ENGINE_KEY_EEXISTS,   /* add on an existing key, or CAS mismatch */
    ENGINE_E2BIG,         /* value larger than the item size max */
    ENGINE_EINVAL,        /* request the engine cannot make sense of */
    ENGINE_NOT_STORED,    /* append/prepend on a missing key */
    ENGINE_DELTA_BADVAL,  /* incr/decr on a value that is not a decimal number */
    ENGINE_ENOMEM,        /* no memory, even after eviction */
    ENGINE_EWOULDBLOCK,   /* work handed to a background thread; notify follows */
    ENGINE_DISCONNECT,    /* drop the connection */
    ENGINE_TMPFAIL,       /* temporary failure, try again */
    ENGINE_NOT_SUPPORTED, /* op not offered by this engine */
    ENGINE_FAILED,        /* anything else */
} engine_status;

/* Returns a short constant name for a status ("success", "key_enoent", ...). */
const char *engine_status_str(engine_status s);

/* How a store op combines the new item with what is stored. */
enum engine_store_op {
    ENGINE_STORE_SET,     /* store unconditionally (or on CAS match) */
    ENGINE_STORE_ADD,     /* only if the key is missing */
    ENGINE_STORE_REPLACE, /* only if the key exists */
    ENGINE_STORE_APPEND,  /* value after the stored one; keeps its flags/expiry */
    ENGINE_STORE_PREPEND, /* value before the stored one; keeps its flags/expiry */
    /*
     * SET with a CAS that may be older than the stored one (meta ms with I):
     * a match stores as SET does; an older CAS stores too but marks the new
     * item stale (see invalidate); a newer one is KEY_EEXISTS. Engines
     * without the meta state answer ENGINE_NOT_SUPPORTED.
     */
    ENGINE_STORE_INVALIDATE,
};

/* Arguments of incr/decr. */
struct engine_arith {
    bool incr;   /* true: incr (wraps at 2^64); false: decr (stops at 0) */
    bool create; /* create with initial when the key is missing */
    uint64_t delta;
    uint64_t initial;
    rel_time_t exptime; /* server-time expiry of a created item */
    uint64_t cas;       /* non-zero: only if the stored CAS matches */
};

/* What the meta get (mg) asks beyond a plain get; times are server time. */
struct engine_meta_get {
    bool touch; /* T: set the expiry to exptime */
    rel_time_t exptime;
    bool vivify; /* N: on a miss, link an empty item (flags 0) expiring at vivify_exptime */
    rel_time_t vivify_exptime;
    bool recache; /* R: hand out a win when the item expires before recache_before */
    rel_time_t recache_before;
    /* Filled on success, as the item was when this call found it: */
    bool created;           /* vivified by this call (the caller won) */
    bool won;               /* W: this caller should refresh the item */
    bool stale;             /* X: the item was invalidated */
    bool win_sent;          /* Z: a win had already been handed out for this item */
    bool fetched;           /* h: read at least once before */
    rel_time_t last_access; /* l: server time of the previous store or hit */
    rel_time_t exptime_now; /* t: the expiry after this call (0: never) */
};

/* Counters an engine reports; the front-end prints them with memcached's names. */
struct engine_stats {
    uint64_t curr_items; /* linked items, including expired ones not yet reclaimed */
    uint64_t total_items;
    uint64_t bytes; /* bytes of linked items, headers included */
    uint64_t evictions;
    uint64_t reclaimed; /* expired or flushed items whose memory was reused or freed */
    uint64_t expired_unfetched;
    uint64_t evicted_unfetched;
    uint64_t get_expired; /* gets that found an expired item */
    uint64_t get_flushed; /* gets that found a flushed item */
    uint64_t limit_maxbytes;
};

/* Called by the engine, from any thread, when a command that returned EWOULDBLOCK may resume. */
struct engine_host {
    void (*notify)(const void *cookie, engine_status status);
    /* Returns the engine-private slot of a cookie; set_private stores into it. */
    void *(*get_private)(const void *cookie);
    void (*set_private)(const void *cookie, void *data);
};

struct engine;

/* A key handed to the engine (borrowed). */
struct engine_key {
    const void *key;
    size_t nkey;
};

/*
 * The ops. Keys are (key, nkey) with 1 <= nkey <= 250. The cookie identifies
 * the command; an engine that never blocks may ignore it. Items returned
 * through an out parameter carry a new reference the caller must drop with
 * item_unref(). exptime arguments are server time (base/clock.h).
 */
struct engine_ops {
    /* Frees the engine and every item it holds that nobody else references. */
    void (*destroy)(struct engine *e);

    /* Finds key; on success *out is a new reference. */
    engine_status (*get)(struct engine *e, const void *cookie, const void *key, size_t nkey,
                         struct item **out);

    /* Finds key and sets its expiry; on success *out (if out is not NULL) is a new reference. */
    engine_status (*get_and_touch)(struct engine *e, const void *cookie, const void *key,
                                   size_t nkey, rel_time_t exptime, struct item **out);

    /*
     * Allocates an unlinked item the caller fills with nbytes of value
     * (item_value()) and then passes to store. *out is a new reference.
     * ENGINE_E2BIG above the item size max, ENGINE_ENOMEM when no memory or
     * when the item could never fit the engine's memory.
     */
    engine_status (*allocate)(struct engine *e, const void *cookie, const void *key, size_t nkey,
                              size_t nbytes, uint32_t flags, rel_time_t exptime, struct item **out);

    /*
     * Links an allocated item according to op. cas non-zero makes it
     * conditional (mismatch ENGINE_KEY_EEXISTS, missing ENGINE_KEY_ENOENT).
     * On success *cas_out is the new CAS. The caller keeps its reference.
     * ADD on an existing key: EEXISTS; REPLACE on a missing key: ENOENT;
     * APPEND/PREPEND on a missing key: NOT_STORED; the result above the item
     * size max: E2BIG. An item is stored at most once (again: EINVAL);
     * cas_out may be NULL. A non-zero it->cas set by the caller after
     * allocate becomes the stored CAS (meta's explicit CAS, E).
     */
    engine_status (*store)(struct engine *e, const void *cookie, struct item *it, uint64_t cas,
                           enum engine_store_op op, uint64_t *cas_out);

    /* Removes key; cas non-zero makes it conditional. */
    engine_status (*remove)(struct engine *e, const void *cookie, const void *key, size_t nkey,
                            uint64_t cas);

    /*
     * Increments or decrements a decimal value; *result is the new value,
     * *cas_out the new CAS (either may be NULL). A created item holds
     * `initial` without the delta applied. A CAS on a missing key gives
     * ENGINE_KEY_ENOENT even with create.
     */
    engine_status (*arithmetic)(struct engine *e, const void *cookie, const void *key, size_t nkey,
                                const struct engine_arith *a, uint64_t *result, uint64_t *cas_out);

    /* Invalidates every item stored before server time when (0 = now); replaces a pending delayed
     * flush. */
    engine_status (*flush)(struct engine *e, const void *cookie, rel_time_t when);

    /* Fills *out with the engine's counters. */
    void (*get_stats)(struct engine *e, struct engine_stats *out);

    /*
     * Engine-specific counters beyond struct engine_stats (may be NULL): calls
     * emit(ctx, name, value) once per counter, as `stats` prints them.
     */
    void (*get_stats_extra)(struct engine *e,
                            void (*emit)(void *ctx, const char *name, const char *value),
                            void *ctx);

    /* Zeroes the resettable counters (evictions, reclaimed, get_expired, ...). */
    void (*reset_stats)(struct engine *e);

    /*
     * Meta get: finds key (or vivifies it, see struct engine_meta_get),
     * marks the hit and fills *m; on success *out is a new reference.
     * NULL in an engine without the meta protocol's item state.
     */
    engine_status (*meta_get)(struct engine *e, const void *cookie, const void *key, size_t nkey,
                              struct engine_meta_get *m, struct item **out);

    /*
     * Marks key stale instead of removing it (meta md with I): it stays
     * readable, flagged X, and the next meta get wins (W) once. cas non-zero:
     * only if it matches. touch: also sets the expiry to exptime. NULL when
     * not offered.
     */
    engine_status (*invalidate)(struct engine *e, const void *cookie, const void *key, size_t nkey,
                                uint64_t cas, bool touch, rel_time_t exptime);

    /*
     * The connection behind cookie is closing (called once per connection):
     * drop any work pending for it and any per-connection state. A command of
     * that cookie still blocked must still be notified (any status).
     */
    void (*disconnect)(struct engine *e, const void *cookie);

    /*
     * Test hook, may be NULL: applies a per-connection setting given as text
     * (arg, len bytes, not NUL-terminated), e.g. a wouldblock mode. Reached
     * only through the TEST_CONTROL opcode, which the server serves only with
     * -o enable_test_opcodes=1.
     */
    engine_status (*test_control)(struct engine *e, const void *cookie, const char *arg,
                                  size_t len);

    /*
     * A hint, may be NULL: gets of these n keys (each following the key rule
     * above) follow soon, a pipelined batch, so the engine may start loading
     * what their lookups touch into the CPU cache. Called on a front-end
     * worker: may take short locks, must not block. Changes no state and no
     * result.
     */
    void (*prefetch)(struct engine *e, const struct engine_key *keys, size_t n);
};

/* Every engine starts with this; the rest of its state follows. */
struct engine {
    const struct engine_ops *ops;
};

#endif
