/*
 * memcached's item rules shared by the engines that hold items (memory,
 * disk): store conditions, append/prepend, incr/decr text. Pure.
 */
#ifndef BASALT_ENGINES_MEMORY_RULES_H
#define BASALT_ENGINES_MEMORY_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/compiler.h"
#include "engine/engine.h"

/* Digits of UINT64_MAX. */
#define MEM_U64_DIGITS 20

/* The store rule for set/add/replace given the live item (or NULL): SUCCESS, ENOENT or EEXISTS. */
engine_status mem_store_rule(enum engine_store_op op, uint64_t cas, const struct item *old);

/* Fills fresh's value with old's value and it's, in op's order (append: old first). */
void mem_concat_value(struct item *fresh, const struct item *old, const struct item *it,
                      enum engine_store_op op);

/* Parses a stored value as a decimal number below 2^64: 1 to 20 digits, nothing else. */
bool mem_parse_u64(const char *s, size_t n, uint64_t *out) WARN_UNUSED;

/* Writes v in decimal without a terminator; returns the length. */
size_t mem_format_u64(uint64_t v, char buf[MEM_U64_DIGITS]);

/* incr/decr of a stored decimal value into *out; false when it is not a number. */
bool mem_arith_apply(const char *value, size_t n, const struct engine_arith *a,
                     uint64_t *out) WARN_UNUSED;

#endif
