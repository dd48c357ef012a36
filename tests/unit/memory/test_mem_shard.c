/*
 * Unit tests of one shard: eviction keeps the bytes within the budget under
 * a stream of links, the LRU with second chance picks victims, dead items are
 * reclaimed rather than evicted, lazy reclaim on lookup and the reclaimer's
 * bucket scan, with their counters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "engines/memory/shard.h"
#include "test_items.h"

static const struct mem_view live_view = {.now = 100, .flushed_upto = 0};

/* Links a new item and drops the test's reference: the shard then owns it. */
static struct item *link_new(struct mem_shard *s, const char *key, size_t nbytes,
                             rel_time_t exptime, uint64_t cas, const struct mem_view *v)
{
    struct item *it = test_item(key, nbytes, exptime, cas);
    struct mem_grave g = {NULL};
    mem_shard_link(s, test_hash(it), it, v, &g);
    mem_grave_release(&g);
    item_unref(it);
    return it;
}

static struct item *find(struct mem_shard *s, const char *key, const struct mem_view *v,
                         enum mem_state *dead)
{
    struct mem_grave g = {NULL};
    struct item *it = mem_shard_find(s, hash_key(key, strlen(key)), key, strlen(key), v, &g, dead);
    mem_grave_release(&g);
    return it;
}

/* The bytes counter equals the sizes of the items on the LRU list. */
static void assert_accounting(const struct mem_shard *s)
{
    size_t bytes = 0, n = 0;
    for (const struct item *it = s->lru.head; it != NULL; it = it->engine_lnext) {
        bytes += item_total_size(it->nkey, it->nbytes);
        n++;
    }
    assert_int_equal(bytes, s->bytes);
    assert_int_equal(n, s->ht.count);
    assert_int_equal(n, s->lru.count);
}

/* A stream of links of mixed sizes never takes the shard over its budget. */
static void test_eviction_keeps_limit(void **state)
{
    struct mem_shard s;
    assert_int_equal(mem_shard_init(&s, 20000), 0);
    uint32_t rng = 12345;
    char key[32];
    size_t linked = 0;
    for (int i = 0; i < 5000; i++) {
        rng = rng * 1103515245u + 12345u;
        size_t nbytes = 10 + (rng >> 8) % 1500;
        snprintf(key, sizeof(key), "key%d", i % 700); /* some keys repeat */
        struct mem_grave g = {NULL};
        struct item *old =
            mem_shard_find(&s, hash_key(key, strlen(key)), key, strlen(key), &live_view, &g, NULL);
        if (old != NULL)
            mem_shard_unlink(&s, test_hash(old), old, &g);
        mem_grave_release(&g);
        link_new(&s, key, nbytes, 0, (uint64_t)i + 1, &live_view);
        linked++;
        assert_true(s.bytes <= s.limit);
        assert_non_null(find(&s, key, &live_view, NULL)); /* the newest is never the victim */
    }
    assert_accounting(&s);
    assert_true(s.c.evictions > 0);
    assert_true(s.c.evictions <= linked);
    /* Nothing was ever fetched, so every eviction was of an unfetched item. */
    assert_int_equal(s.c.evicted_unfetched, s.c.evictions);
    assert_int_equal(s.c.reclaimed, 0);
    mem_shard_deinit(&s);
}

/* Room is made from the LRU tail, and a hit item gets a second chance. */
static void test_lru_victims(void **state)
{
    struct mem_shard s;
    size_t one = item_total_size(2, 100);
    assert_int_equal(mem_shard_init(&s, 4 * one), 0);
    struct item *a = link_new(&s, "k1", 100, 0, 1, &live_view);
    link_new(&s, "k2", 100, 0, 2, &live_view);
    link_new(&s, "k3", 100, 0, 3, &live_view);
    link_new(&s, "k4", 100, 0, 4, &live_view);
    assert_int_equal(s.bytes, 4 * one);
    a->engine_bits |= MEM_BIT_ACTIVE | MEM_BIT_FETCHED; /* what a get does */
    link_new(&s, "k5", 100, 0, 5, &live_view);
    assert_non_null(find(&s, "k1", &live_view, NULL));
    assert_null(find(&s, "k2", &live_view, NULL));
    assert_int_equal(s.c.evictions, 1);
    assert_int_equal(s.c.evicted_unfetched, 1);
    /* k1's chance is spent: it is now the oldest after k3 and k4. */
    link_new(&s, "k6", 100, 0, 6, &live_view);
    link_new(&s, "k7", 100, 0, 7, &live_view);
    link_new(&s, "k8", 100, 0, 8, &live_view);
    assert_null(find(&s, "k1", &live_view, NULL));
    assert_int_equal(s.c.evictions, 4);
    assert_int_equal(s.c.evicted_unfetched, 3); /* k1 had been fetched */
    assert_accounting(&s);
    mem_shard_deinit(&s);
}

/* An evicted item still referenced elsewhere stays valid until its last reference goes. */
static void test_evicted_item_survives_reference(void **state)
{
    struct mem_shard s;
    size_t one = item_total_size(2, 50);
    assert_int_equal(mem_shard_init(&s, one), 0);
    struct item *held = test_item("k1", 50, 0, 1);
    struct mem_grave g = {NULL};
    mem_shard_link(&s, test_hash(held), held, &live_view, &g);
    assert_int_equal(atomic_load(&held->refcount), 2);
    link_new(&s, "k2", 50, 0, 2, &live_view); /* evicts k1 */
    assert_int_equal(atomic_load(&held->refcount), 1);
    assert_false(held->engine_bits & MEM_BIT_LINKED);
    assert_int_equal(item_cvalue(held)[49], 'v');
    item_unref(held);
    mem_shard_deinit(&s);
}

/* Dead items met at the tail are counted as reclaimed, not evicted. */
static void test_dead_tail_is_reclaimed(void **state)
{
    struct mem_shard s;
    size_t one = item_total_size(2, 100);
    assert_int_equal(mem_shard_init(&s, 2 * one), 0);
    link_new(&s, "k1", 100, 50, 1, &live_view); /* expired at now = 100 */
    link_new(&s, "k2", 100, 0, 2, &live_view);
    link_new(&s, "k3", 100, 0, 3, &live_view);
    assert_int_equal(s.c.evictions, 0);
    assert_int_equal(s.c.reclaimed, 1);
    assert_int_equal(s.c.expired_unfetched, 1);
    /* Flushed items too (CAS at or below the watermark). */
    struct mem_view flushed = {.now = 100, .flushed_upto = 2};
    link_new(&s, "k4", 100, 0, 4, &flushed);
    assert_int_equal(s.c.evictions, 0);
    assert_int_equal(s.c.reclaimed, 2);
    assert_int_equal(s.c.expired_unfetched, 1); /* flushed is not expired */
    assert_non_null(find(&s, "k3", &flushed, NULL));
    mem_shard_deinit(&s);
}

/* A lookup that finds a dead item unlinks it and says why. */
static void test_find_reclaims_dead(void **state)
{
    struct mem_shard s;
    assert_int_equal(mem_shard_init(&s, 100000), 0);
    /* Only "flushed" has a CAS at or below the watermark used below. */
    link_new(&s, "flushed", 10, 0, 3, &live_view);
    link_new(&s, "exp", 10, 150, 10, &live_view);
    struct item *f = link_new(&s, "fetched", 10, 150, 11, &live_view);
    f->engine_bits |= MEM_BIT_FETCHED;
    link_new(&s, "live", 10, 0, 12, &live_view);
    enum mem_state dead = MEM_FLUSHED;
    assert_non_null(find(&s, "exp", &live_view, &dead)); /* expires at 150: live at 100 */
    assert_int_equal(dead, MEM_LIVE);
    struct mem_view later = {.now = 150, .flushed_upto = 3};
    assert_null(find(&s, "exp", &later, &dead));
    assert_int_equal(dead, MEM_EXPIRED);
    assert_null(find(&s, "fetched", &later, &dead));
    assert_int_equal(dead, MEM_EXPIRED);
    assert_null(find(&s, "flushed", &later, &dead));
    assert_int_equal(dead, MEM_FLUSHED);
    assert_null(find(&s, "never", &later, &dead));
    assert_int_equal(dead, MEM_LIVE);
    assert_non_null(find(&s, "live", &later, NULL));
    assert_int_equal(s.c.reclaimed, 3);
    assert_int_equal(s.c.expired_unfetched, 1);
    assert_int_equal(s.ht.count, 1);
    assert_accounting(&s);
    mem_shard_deinit(&s);
}

/* The bucket scan removes dead items only, a bounded number of buckets at a time. */
static void test_reclaim_scan(void **state)
{
    struct mem_shard s;
    assert_int_equal(mem_shard_init(&s, 1u << 20), 0);
    char key[32];
    for (int i = 0; i < 600; i++) {
        snprintf(key, sizeof(key), "key%d", i);
        /* Every third expires at 150, every third is flushed (CAS <= 200), the rest live. */
        uint64_t cas = i % 3 == 1 ? 100 + (uint64_t)i / 3 : 1000 + (uint64_t)i;
        link_new(&s, key, 20, i % 3 == 0 ? 150 : 0, cas, &live_view);
    }
    struct mem_view v = {.now = 200, .flushed_upto = 300};
    struct mem_grave g = {NULL};
    size_t got = mem_shard_reclaim(&s, &v, 1, &g);
    mem_grave_release(&g);
    assert_true(got <= 20); /* one bucket: a short chain */
    size_t total = got;
    for (int pass = 0; pass < 10000 && s.ht.count > 200; pass++) {
        got = mem_shard_reclaim(&s, &v, 8, &g);
        mem_grave_release(&g);
        total += got;
    }
    assert_int_equal(total, 400);
    assert_int_equal(s.ht.count, 200);
    assert_int_equal(s.c.reclaimed, 400);
    assert_int_equal(s.c.expired_unfetched, 200);
    assert_accounting(&s);
    for (int i = 0; i < 600; i++) {
        snprintf(key, sizeof(key), "key%d", i);
        struct item *it = mem_ht_find(&s.ht, hash_key(key, strlen(key)), key, strlen(key));
        if (i % 3 == 2)
            assert_non_null(it);
        else
            assert_null(it);
    }
    mem_shard_deinit(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eviction_keeps_limit),
        cmocka_unit_test(test_lru_victims),
        cmocka_unit_test(test_evicted_item_survives_reference),
        cmocka_unit_test(test_dead_tail_is_reclaimed),
        cmocka_unit_test(test_find_reclaims_dead),
        cmocka_unit_test(test_reclaim_scan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
