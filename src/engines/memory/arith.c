/*
 * incr/decr for the memory engine: parse the stored decimal value, compute,
 * store the result as a new item. The new item is built outside the shard
 * lock and committed only if the stored item is still the one read; a
 * concurrent change makes the op start over. Runs on front-end workers.
 */
#include <string.h>

#include "base/hash.h"
#include "engines/memory/memory_internal.h"

/* Digits of UINT64_MAX. */
#define U64_DIGITS 20

bool memory_parse_u64(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > U64_DIGITS)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false; /* 2^64 or more */
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* Writes v in decimal without a terminator; returns the length. */
static size_t format_u64(uint64_t v, char buf[U64_DIGITS])
{
    char tmp[U64_DIGITS];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    return n;
}

/* Builds the item holding value as decimal text; *out is a new reference. */
static engine_status text_item(struct memory_engine *me, const void *key, size_t nkey,
                               uint64_t value, uint32_t flags, rel_time_t exptime,
                               struct item **out)
{
    char buf[U64_DIGITS];
    size_t n = format_u64(value, buf);
    engine_status st = memory_new_item(me, key, nkey, n, flags, exptime, out);
    if (st == ENGINE_SUCCESS)
        memcpy(item_value(*out), buf, n);
    return st;
}

/* The missing-key case: creates the item with the initial value when asked to. */
static engine_status arith_create(struct memory_engine *me, uint64_t hash, const void *key,
                                  size_t nkey, const struct engine_arith *a, uint64_t *result,
                                  uint64_t *cas_out, bool *retry)
{
    /* A CAS names an item that must exist, so it never creates one. */
    if (!a->create || a->cas != 0)
        return ENGINE_KEY_ENOENT;
    struct item *fresh;
    engine_status st = text_item(me, key, nkey, a->initial, 0, a->exptime, &fresh);
    if (st != ENGINE_SUCCESS)
        return st;
    *retry = !memory_commit(me, hash, NULL, fresh, cas_out);
    item_unref(fresh);
    if (!*retry)
        *result = a->initial;
    return ENGINE_SUCCESS;
}

/* The existing-key case: old is referenced by the caller, exptime read with it. */
static engine_status arith_update(struct memory_engine *me, uint64_t hash, struct item *old,
                                  rel_time_t exptime, const struct engine_arith *a,
                                  uint64_t *result, uint64_t *cas_out, bool *retry)
{
    if (a->cas != 0 && old->cas != a->cas)
        return ENGINE_KEY_EEXISTS;
    uint64_t v;
    if (!memory_parse_u64(item_cvalue(old), old->nbytes, &v))
        return ENGINE_DELTA_BADVAL;
    if (a->incr)
        v += a->delta; /* unsigned: wraps at 2^64 as memcached does */
    else
        v = v < a->delta ? 0 : v - a->delta;
    struct item *fresh;
    engine_status st = text_item(me, item_key(old), old->nkey, v, old->flags, exptime, &fresh);
    if (st != ENGINE_SUCCESS)
        return st;
    *retry = !memory_commit(me, hash, old, fresh, cas_out);
    item_unref(fresh);
    if (!*retry)
        *result = v;
    return ENGINE_SUCCESS;
}

engine_status memory_arithmetic(struct engine *e, const void *cookie, const void *key, size_t nkey,
                                const struct engine_arith *a, uint64_t *result, uint64_t *cas_out)
{
    struct memory_engine *me = memory_of(e);
    if (a == NULL || key == NULL || nkey < 1 || nkey > ITEM_KEY_MAX)
        return ENGINE_EINVAL;
    uint64_t hash = hash_key(key, nkey);
    uint64_t ignored_result;
    if (result == NULL)
        result = &ignored_result;
    for (;;) {
        bool retry = false;
        rel_time_t exptime;
        engine_status st;
        struct item *old = memory_find_ref(me, hash, key, nkey, &exptime);
        if (old == NULL) {
            st = arith_create(me, hash, key, nkey, a, result, cas_out, &retry);
        } else {
            st = arith_update(me, hash, old, exptime, a, result, cas_out, &retry);
            item_unref(old);
        }
        if (!retry)
            return st;
    }
}
