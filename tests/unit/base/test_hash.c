/*
 * Unit tests of key hashing (base/hash): it is xxh3-64, stable, and its bits
 * spread keys evenly, which the memory engine relies on when it takes the
 * shard from bits 32 and up and the bucket from the low bits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <xxhash.h>

#include "base/hash.h"

/* hash_key is XXH3_64bits of the key bytes, and depends on every byte and the length. */
static void test_is_xxh3(void **state)
{
    const char *keys[] = {"", "a", "key:1", "key:2", "a much longer key that spans many bytes"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        assert_true(hash_key(keys[i], strlen(keys[i])) == XXH3_64bits(keys[i], strlen(keys[i])));
    assert_true(hash_key("key:1", 5) != hash_key("key:2", 5));
    assert_true(hash_key("ab", 2) != hash_key("ab", 1));
    assert_true(hash_key("a\0b", 3) != hash_key("a\0c", 3));
}

/* Sequential keys spread evenly over 32 shards (bits 32..36) and 64 buckets (bits 0..5). */
static void test_spread(void **state)
{
    enum { KEYS = 32000 };
    unsigned shards[32] = {0}, buckets[64] = {0};
    char key[32];
    for (int i = 0; i < KEYS; i++) {
        int n = snprintf(key, sizeof(key), "user:%d", i);
        uint64_t h = hash_key(key, (size_t)n);
        shards[(h >> 32) & 31]++;
        buckets[h & 63]++;
    }
    /* Expected 1000 and 500 per slot; allow 20 %, far beyond the ~3-4 % noise. */
    for (int i = 0; i < 32; i++)
        assert_true(shards[i] > 800 && shards[i] < 1200);
    for (int i = 0; i < 64; i++)
        assert_true(buckets[i] > 400 && buckets[i] < 600);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_is_xxh3),
        cmocka_unit_test(test_spread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
