/* Key hashing through Debian's libxxhash; pure, any thread. */
#include "base/hash.h"

#include <xxhash.h>

uint64_t hash_key(const void *key, size_t n)
{
    return XXH3_64bits(key, n);
}
