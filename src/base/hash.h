/* Key hashing (xxh3, 64 bit), the one hash every module uses for keys. */
#ifndef BASALT_BASE_HASH_H
#define BASALT_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>

/* Returns the 64-bit xxh3 hash of the n bytes at key. */
uint64_t hash_key(const void *key, size_t n);

#endif
