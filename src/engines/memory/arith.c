/*
 * incr/decr for the memory engine: parse the stored decimal value, compute,
 * store the result as a new item. The new item is built outside the shard
 * lock and committed only if the stored item is still the one read; a
 * concurrent change makes the op start over. Runs on front-end workers.
 */
#include <string.h>

#include "base/hash.h"
#include "engines/memory/memory_internal.h"
#include "engines/memory/rules.h"

/* Builds the item holding value as decimal text; *out is a new reference. */
static engine_status text_item(struct memory_engine *me, const void *key, size_t nkey,
                               uint64_t value, uint32_t flags, rel_time_t exptime,
                               struct item **out)
{
    char buf[MEM_U64_DIGITS];
    size_t n = mem_format_u64(value, buf);
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
    if (!mem_arith_apply(item_cvalue(old), old->nbytes, a, &v))
        return ENGINE_DELTA_BADVAL;
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
