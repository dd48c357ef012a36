/*
 * memcached's rules that every engine with items applies the same way: what
 * set/add/replace may do given the stored item, how append/prepend join
 * values, and incr/decr on decimal text. Pure functions, any thread; shared
 * by the memory and disk engines.
 */
#include "engines/memory/rules.h"

#include <string.h>

engine_status mem_store_rule(enum engine_store_op op, uint64_t cas, const struct item *old)
{
    if (old == NULL) {
        if (cas != 0 || op == ENGINE_STORE_REPLACE)
            return ENGINE_KEY_ENOENT;
        return ENGINE_SUCCESS;
    }
    if (op == ENGINE_STORE_ADD)
        return ENGINE_KEY_EEXISTS;
    if (op == ENGINE_STORE_INVALIDATE && cas != 0 && cas < old->cas)
        return ENGINE_SUCCESS; /* stored, and marked stale by the caller */
    if (cas != 0 && old->cas != cas)
        return ENGINE_KEY_EEXISTS;
    return ENGINE_SUCCESS;
}

void mem_concat_value(struct item *fresh, const struct item *old, const struct item *it,
                      enum engine_store_op op)
{
    const struct item *first = op == ENGINE_STORE_APPEND ? old : it;
    const struct item *second = op == ENGINE_STORE_APPEND ? it : old;
    memcpy(item_value(fresh), item_cvalue(first), first->nbytes);
    memcpy(item_value(fresh) + first->nbytes, item_cvalue(second), second->nbytes);
}

bool mem_parse_u64(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > MEM_U64_DIGITS)
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

size_t mem_format_u64(uint64_t v, char buf[MEM_U64_DIGITS])
{
    char tmp[MEM_U64_DIGITS];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    return n;
}

bool mem_arith_apply(const char *value, size_t n, const struct engine_arith *a, uint64_t *out)
{
    uint64_t v;
    if (!mem_parse_u64(value, n, &v))
        return false;
    if (a->incr)
        v += a->delta; /* unsigned: wraps at 2^64 as memcached does */
    else
        v = v < a->delta ? 0 : v - a->delta;
    *out = v;
    return true;
}
