/*
 * Tests of what is particular to the memory engine (the shared behaviour is
 * in tests/engine): configuration, sharding, the byte limit and eviction
 * through the ops, the background reclaimer, decimal parsing, and
 * concurrent growth and eviction.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <pthread.h>

#include "base/hash.h"
#include "engines/memory/memory.h"
#include "engines/memory/memory_internal.h"
#include "engines/memory/rules.h"

#define KIB 1024u
#define MIB (1024u * 1024u)

static struct engine *create(size_t limit, size_t item_max, unsigned shards, int reclaim)
{
    struct memory_engine_config cfg = {
        .limit_bytes = limit,
        .item_size_max = item_max,
        .reclaim_thread = reclaim,
        .shards = shards,
    };
    struct engine *e = memory_engine_create(&cfg, NULL);
    assert_non_null(e);
    return e;
}

static engine_status set(struct engine *e, const char *key, size_t nbytes, rel_time_t exptime)
{
    struct item *it = NULL;
    engine_status st = e->ops->allocate(e, NULL, key, strlen(key), nbytes, 0, exptime, &it);
    if (st != ENGINE_SUCCESS)
        return st;
    memset(item_value(it), 'x', nbytes);
    uint64_t cas = 0;
    st = e->ops->store(e, NULL, it, 0, ENGINE_STORE_SET, &cas);
    item_unref(it);
    return st;
}

static bool exists(struct engine *e, const char *key)
{
    struct item *it = NULL;
    if (e->ops->get(e, NULL, key, strlen(key), &it) != ENGINE_SUCCESS)
        return false;
    item_unref(it);
    return true;
}

static struct engine_stats stats(struct engine *e)
{
    struct engine_stats st;
    e->ops->get_stats(e, &st);
    return st;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Bad configurations are refused. */
static void test_config_validation(void **state)
{
    struct memory_engine_config cfg = {.limit_bytes = MIB, .item_size_max = KIB};
    cfg.limit_bytes = 0;
    assert_null(memory_engine_create(&cfg, NULL));
    cfg.limit_bytes = MIB;
    cfg.item_size_max = 0;
    assert_null(memory_engine_create(&cfg, NULL));
    cfg.item_size_max = KIB;
    cfg.shards = 3;
    assert_null(memory_engine_create(&cfg, NULL));
    cfg.shards = MEMORY_SHARDS_MAX * 2;
    assert_null(memory_engine_create(&cfg, NULL));
    cfg.shards = MEMORY_SHARDS_MAX;
    struct engine *e = memory_engine_create(&cfg, NULL);
    assert_non_null(e);
    assert_int_equal(memory_of(e)->nshards, MEMORY_SHARDS_MAX);
    e->ops->destroy(e);
}

/* The automatic shard count leaves each shard twice the largest value. */
static void test_shard_count(void **state)
{
    struct engine *e = create(64 * MIB, MIB, 0, 0);
    assert_int_equal(memory_of(e)->nshards, 32);
    assert_int_equal(memory_of(e)->shards[0].limit, 2 * MIB);
    e->ops->destroy(e);
    e = create(8 * MIB, MIB, 0, 0);
    assert_int_equal(memory_of(e)->nshards, 4);
    e->ops->destroy(e);
    e = create(MIB, MIB, 0, 0);
    assert_int_equal(memory_of(e)->nshards, 1);
    e->ops->destroy(e);
}

/* An item larger than a shard's share is ENOMEM (E2BIG stays for item_size_max). */
static void test_enomem(void **state)
{
    struct engine *e = create(2000, 1500, 2, 0); /* 1000 bytes per shard */
    struct item *it = NULL;
    assert_int_equal(e->ops->allocate(e, NULL, "k", 1, 1000, 0, 0, &it), ENGINE_ENOMEM);
    assert_int_equal(e->ops->allocate(e, NULL, "k", 1, 1501, 0, 0, &it), ENGINE_E2BIG);
    assert_int_equal(set(e, "k", 900, 0), ENGINE_SUCCESS);
    /* An append whose result cannot fit a shard is ENOMEM too; the value stays. */
    assert_int_equal(e->ops->allocate(e, NULL, "k", 1, 200, 0, 0, &it), ENGINE_SUCCESS);
    assert_int_equal(e->ops->store(e, NULL, it, 0, ENGINE_STORE_APPEND, NULL), ENGINE_ENOMEM);
    item_unref(it);
    assert_true(exists(e, "k"));
    /* An invalid key is refused everywhere. */
    assert_int_equal(e->ops->allocate(e, NULL, "k", 0, 1, 0, 0, &it), ENGINE_EINVAL);
    char longkey[ITEM_KEY_MAX + 1];
    memset(longkey, 'k', sizeof(longkey));
    assert_int_equal(e->ops->allocate(e, NULL, longkey, sizeof(longkey), 1, 0, 0, &it),
                     ENGINE_EINVAL);
    assert_int_equal(e->ops->get(e, NULL, longkey, sizeof(longkey), &it), ENGINE_EINVAL);
    assert_int_equal(e->ops->remove(e, NULL, "", 0, 0), ENGINE_EINVAL);
    e->ops->destroy(e);
}

/* An item is stored once: storing it again (it is shared read-only by then) is refused. */
static void test_store_twice(void **state)
{
    struct engine *e = create(MIB, KIB, 1, 0);
    struct item *it = NULL;
    assert_int_equal(e->ops->allocate(e, NULL, "k", 1, 1, 0, 0, &it), ENGINE_SUCCESS);
    item_value(it)[0] = '1';
    assert_int_equal(e->ops->store(e, NULL, it, 0, ENGINE_STORE_SET, NULL), ENGINE_SUCCESS);
    uint64_t cas = it->cas;
    assert_int_equal(e->ops->store(e, NULL, it, 0, ENGINE_STORE_SET, NULL), ENGINE_EINVAL);
    assert_true(it->cas == cas);
    item_unref(it);
    assert_int_equal(stats(e).curr_items, 1);
    e->ops->destroy(e);
}

/* Returns a new unlinked item for key "k" holding the one byte c. */
static struct item *one_byte(struct memory_engine *me, char c)
{
    struct item *it = NULL;
    assert_int_equal(memory_new_item(me, "k", 1, 1, 0, 0, &it), ENGINE_SUCCESS);
    item_value(it)[0] = c;
    return it;
}

static void assert_k_is(struct engine *e, char c)
{
    struct item *it = NULL;
    assert_int_equal(e->ops->get(e, NULL, "k", 1, &it), ENGINE_SUCCESS);
    assert_int_equal(it->nbytes, 1);
    assert_int_equal(item_cvalue(it)[0], c);
    item_unref(it);
}

/*
 * The read-copy-commit step of append and incr: a commit fails when the
 * stored item changed since it was read, and carries over a touch made
 * in between.
 */
static void test_commit_detects_change(void **state)
{
    struct engine *e = create(MIB, KIB, 1, 0);
    struct memory_engine *me = memory_of(e);
    uint64_t hash = hash_key("k", 1);
    assert_int_equal(set(e, "k", 1, 0), ENGINE_SUCCESS);
    rel_time_t exp = 99;
    struct item *old = memory_find_ref(me, hash, "k", 1, &exp);
    assert_non_null(old);
    assert_int_equal(exp, 0);
    rel_time_t later = clock_now() + 1000;
    assert_int_equal(e->ops->get_and_touch(e, NULL, "k", 1, later, NULL), ENGINE_SUCCESS);
    struct item *fresh = one_byte(me, '1');
    uint64_t cas = 0;
    assert_true(memory_commit(me, hash, old, fresh, &cas));
    assert_true(cas == fresh->cas && cas > old->cas);
    assert_int_equal(fresh->exptime, later);
    item_unref(fresh);
    /* old is no longer the stored item, and the key is not missing: both commits fail. */
    fresh = one_byte(me, '2');
    assert_false(memory_commit(me, hash, old, fresh, &cas));
    assert_false(memory_commit(me, hash, NULL, fresh, &cas));
    item_unref(fresh);
    item_unref(old);
    assert_k_is(e, '1');
    assert_int_equal(stats(e).curr_items, 1);
    /* Once the key is gone, a commit that expects it missing links the item. */
    assert_int_equal(e->ops->remove(e, NULL, "k", 1, 0), ENGINE_SUCCESS);
    fresh = one_byte(me, '3');
    assert_true(memory_commit(me, hash, NULL, fresh, &cas));
    item_unref(fresh);
    assert_k_is(e, '3');
    e->ops->destroy(e);
}

/* Through the ops, a stream of sets keeps bytes within the limit and the newest keys. */
static void test_eviction_through_ops(void **state)
{
    struct engine *e = create(64 * KIB, 4 * KIB, 1, 0);
    char key[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(key, sizeof(key), "key%d", i);
        assert_int_equal(set(e, key, 100 + (size_t)(i % 7) * 30, 0), ENGINE_SUCCESS);
        assert_true(stats(e).bytes <= 64 * KIB);
    }
    struct engine_stats st = stats(e);
    assert_true(st.evictions > 0);
    assert_int_equal(st.evicted_unfetched, st.evictions);
    assert_int_equal(st.total_items, 3000);
    assert_int_equal(st.curr_items + st.evictions, 3000);
    /* The limit is used, not just respected. */
    assert_true(st.bytes > 64 * KIB - 4 * KIB);
    assert_true(exists(e, "key2999"));
    assert_false(exists(e, "key0"));
    e->ops->destroy(e);
}

/* Across shards each shard stays within its share, so the total stays within the limit. */
static void test_eviction_sharded(void **state)
{
    struct engine *e = create(MIB, 16 * KIB, 0, 0);
    struct memory_engine *me = memory_of(e);
    assert_int_equal(me->nshards, 32);
    char key[32];
    uint32_t rng = 7;
    for (int i = 0; i < 6000; i++) {
        rng = rng * 1103515245u + 12345u;
        snprintf(key, sizeof(key), "key%u", (rng >> 8) % 4000);
        assert_int_equal(set(e, key, 50 + (rng >> 4) % 2000, 0), ENGINE_SUCCESS);
    }
    assert_true(stats(e).bytes <= MIB);
    assert_true(stats(e).evictions > 0);
    for (size_t i = 0; i < me->nshards; i++)
        assert_true(me->shards[i].bytes <= me->shards[i].limit);
    e->ops->destroy(e);
}

/* A key read since it was stored survives the next eviction (second chance). */
static void test_second_chance_through_ops(void **state)
{
    size_t one = item_total_size(2, 100);
    struct engine *e = create(5 * one, 1000, 1, 0);
    char key[8];
    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(set(e, key, 100, 0), ENGINE_SUCCESS);
    }
    assert_true(exists(e, "k0"));
    assert_int_equal(set(e, "k5", 100, 0), ENGINE_SUCCESS);
    assert_true(exists(e, "k0"));
    assert_false(exists(e, "k1"));
    struct engine_stats st = stats(e);
    assert_int_equal(st.evictions, 1);
    assert_int_equal(st.evicted_unfetched, 1);
    e->ops->destroy(e);
}

/* Polls the stats for up to ~1 s until curr_items drops to want. */
static bool wait_curr_items(struct engine *e, uint64_t want)
{
    /* Up to 3 s: the reclaimer waits up to 800 ms between passes when it finds nothing. */
    struct timespec tick = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
    for (int i = 0; i < 300; i++) {
        if (stats(e).curr_items == want)
            return true;
        nanosleep(&tick, NULL);
    }
    return stats(e).curr_items == want;
}

/* The reclaimer thread frees expired items nobody asks for. */
static void test_reclaimer_expired(void **state)
{
    struct engine *e = create(8 * MIB, KIB, 0, 1);
    char key[32];
    rel_time_t exp = clock_now() + 100;
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof(key), "key%d", i);
        assert_int_equal(set(e, key, 10, i % 2 ? exp : 0), ENGINE_SUCCESS);
    }
    assert_true(exists(e, "key1")); /* fetched: not counted as expired_unfetched */
    clock_advance(200);
    assert_true(wait_curr_items(e, 100));
    struct engine_stats st = stats(e);
    assert_int_equal(st.reclaimed, 100);
    assert_int_equal(st.expired_unfetched, 99);
    assert_int_equal(st.get_expired, 0); /* nobody asked */
    assert_true(exists(e, "key0"));
    e->ops->destroy(e);
}

/* The reclaimer applies a delayed flush when its time comes, without any op. */
static void test_reclaimer_delayed_flush(void **state)
{
    struct engine *e = create(8 * MIB, KIB, 0, 1);
    char key[32];
    for (int i = 0; i < 50; i++) {
        snprintf(key, sizeof(key), "key%d", i);
        assert_int_equal(set(e, key, 10, 0), ENGINE_SUCCESS);
    }
    assert_int_equal(e->ops->flush(e, NULL, clock_now() + 100), ENGINE_SUCCESS);
    clock_advance(200);
    assert_true(wait_curr_items(e, 0));
    struct engine_stats st = stats(e);
    assert_int_equal(st.reclaimed, 50);
    assert_int_equal(st.expired_unfetched, 0);
    assert_int_equal(st.bytes, 0);
    e->ops->destroy(e);
}

/*
 * destroy stops the reclaimer at once instead of waiting out its 100 ms
 * interval: five engines, each destroyed while its thread sleeps, take far
 * less than the ~500 ms that waiting would cost.
 */
static void test_destroy_is_prompt(void **state)
{
    struct timespec tick = {.tv_sec = 0, .tv_nsec = 5 * 1000 * 1000};
    double spent = 0;
    for (int i = 0; i < 5; i++) {
        struct engine *e = create(MIB, KIB, 0, 1);
        nanosleep(&tick, NULL); /* let the thread reach its wait */
        double t0 = now_s();
        e->ops->destroy(e);
        spent += now_s() - t0;
    }
    assert_true(spent < 0.25);
}

/* The decimal parser accepts 1 to 20 digits below 2^64 and nothing else. */
static void test_parse_u64(void **state)
{
    uint64_t v = 0;
    assert_true(mem_parse_u64("0", 1, &v) && v == 0);
    assert_true(mem_parse_u64("42", 2, &v) && v == 42);
    assert_true(mem_parse_u64("18446744073709551615", 20, &v) && v == UINT64_MAX);
    assert_true(mem_parse_u64("00000000000000000009", 20, &v) && v == 9);
    assert_true(mem_parse_u64("123abc", 3, &v) && v == 123); /* only n bytes count */
    assert_false(mem_parse_u64("18446744073709551616", 20, &v));
    assert_false(mem_parse_u64("99999999999999999999", 20, &v));
    assert_false(mem_parse_u64("000000000000000000001", 21, &v));
    assert_false(mem_parse_u64("", 0, &v));
    assert_false(mem_parse_u64("1 ", 2, &v));
    assert_false(mem_parse_u64("-1", 2, &v));
    assert_false(mem_parse_u64("1/", 2, &v));
    assert_false(mem_parse_u64("1:", 2, &v));
}

#define GROW_THREADS 4
#define GROW_KEYS 4000

struct grow_arg {
    struct engine *e;
    int id;
    int failures;
};

static void *grow_main(void *p)
{
    struct grow_arg *a = p;
    char key[32];
    for (int i = 0; i < GROW_KEYS; i++) {
        snprintf(key, sizeof(key), "t%d:%d", a->id, i);
        if (set(a->e, key, 8, 0) != ENGINE_SUCCESS)
            a->failures++;
        /* Read back an earlier key while the table may be migrating. */
        snprintf(key, sizeof(key), "t%d:%d", a->id, i / 2);
        if (!exists(a->e, key))
            a->failures++;
    }
    return NULL;
}

/* Threads filling one shard make its table grow several times; no key is lost meanwhile. */
static void test_concurrent_growth(void **state)
{
    struct engine *e = create(64 * MIB, KIB, 1, 1);
    pthread_t th[GROW_THREADS];
    struct grow_arg args[GROW_THREADS];
    for (int t = 0; t < GROW_THREADS; t++) {
        args[t] = (struct grow_arg){.e = e, .id = t};
        assert_int_equal(pthread_create(&th[t], NULL, grow_main, &args[t]), 0);
    }
    for (int t = 0; t < GROW_THREADS; t++)
        pthread_join(th[t], NULL);
    for (int t = 0; t < GROW_THREADS; t++)
        assert_int_equal(args[t].failures, 0);
    assert_int_equal(stats(e).curr_items, GROW_THREADS * GROW_KEYS);
    assert_true(memory_of(e)->shards[0].ht.size >= GROW_THREADS * GROW_KEYS / 2);
    char key[32];
    for (int t = 0; t < GROW_THREADS; t++) {
        for (int i = 0; i < GROW_KEYS; i++) {
            snprintf(key, sizeof(key), "t%d:%d", t, i);
            assert_true(exists(e, key));
        }
    }
    e->ops->destroy(e);
}

/* What a prefetch must leave as it was: an item's engine fields and reference count. */
struct item_seen {
    struct item *it;
    uint8_t bits;
    rel_time_t atime;
    uint32_t refs;
    struct item *next, *lnext;
};

static struct item_seen item_seen(struct item *it)
{
    return (struct item_seen){it,
                              it->engine_bits,
                              it->engine_atime,
                              atomic_load(&it->refcount),
                              it->engine_next,
                              it->engine_lnext};
}

/* Fails when the item's engine fields or references moved since seen. */
static void assert_same_item(const struct item_seen *seen)
{
    struct item_seen now = item_seen(seen->it);
    assert_int_equal(now.bits, seen->bits);
    assert_int_equal(now.atime, seen->atime);
    assert_int_equal(now.refs, seen->refs);
    assert_ptr_equal(now.next, seen->next);
    assert_ptr_equal(now.lnext, seen->lnext);
}

/* Stores key and returns the stored item, still referenced by the caller. */
static struct item *set_held(struct engine *e, const char *key, rel_time_t exptime)
{
    struct item *it = NULL;
    assert_int_equal(e->ops->allocate(e, NULL, key, strlen(key), 8, 0, exptime, &it),
                     ENGINE_SUCCESS);
    memset(item_value(it), 'x', 8);
    assert_int_equal(e->ops->store(e, NULL, it, 0, ENGINE_STORE_SET, NULL), ENGINE_SUCCESS);
    return it;
}

/*
 * A prefetch, also in the middle of a table's growth and of expired items,
 * changes no state: the table, the LRU list, the items' engine fields and
 * references, the counters, and what lookups find.
 */
static void test_prefetch_changes_nothing(void **state)
{
    enum { KEYS = 5000, BATCH = 70, HELD = 64 }; /* BATCH: more than one prefetch round */
    struct engine *e = create(64 * MIB, KIB, 1, 0);
    struct mem_shard *sh = &memory_of(e)->shards[0];
    static char names[BATCH][32];
    struct engine_key batch[BATCH];
    struct item *held[HELD];
    bool saw_migration = false;
    for (int i = 0; i < KEYS; i++) {
        snprintf(names[0], sizeof(names[0]), "p:%d", i);
        /* Every 50th key expired already (exptime 1 is long past): a lookup would reap it. */
        rel_time_t exp = i % 50 == 0 ? 1 : 0;
        if (i < HELD)
            held[i] = set_held(e, names[0], exp);
        else
            assert_int_equal(set(e, names[0], 8, exp), ENGINE_SUCCESS);
        /* The key just stored, older ones (expired ones among them) and missing ones. */
        for (int j = 1; j < BATCH; j++)
            snprintf(names[j], sizeof(names[j]), j % 2 ? "p:%d" : "missing:%d", (i * 7 + j) % KEYS);
        for (int j = 0; j < BATCH; j++)
            batch[j] = (struct engine_key){names[j], strlen(names[j])};
        struct mem_ht ht = sh->ht;
        struct mem_lru lru = sh->lru;
        struct engine_stats st = stats(e);
        struct item_seen seen[HELD];
        for (int h = 0; h < HELD && h <= i; h++)
            seen[h] = item_seen(held[h]);
        e->ops->prefetch(e, batch, i % 3 ? 1 + (size_t)i % BATCH : BATCH);
        e->ops->prefetch(e, batch, 0);
        saw_migration |= sh->ht.old != NULL;
        assert_memory_equal(&sh->ht, &ht, sizeof(ht));
        assert_memory_equal(&sh->lru, &lru, sizeof(lru));
        for (int h = 0; h < HELD && h <= i; h++)
            assert_same_item(&seen[h]);
        struct engine_stats after = stats(e);
        assert_memory_equal(&after, &st, sizeof(st));
    }
    assert_true(saw_migration);
    char key[32];
    for (int i = 0; i < KEYS; i++) {
        snprintf(key, sizeof(key), "p:%d", i);
        assert_int_equal(exists(e, key), i % 50 != 0);
        snprintf(key, sizeof(key), "missing:%d", i);
        assert_false(exists(e, key));
    }
    for (int h = 0; h < HELD; h++)
        item_unref(held[h]);
    e->ops->destroy(e);
}

struct churn_arg {
    struct engine *e;
    int id;
    struct item *held[16]; /* references kept across evictions */
};

static void *churn_main(void *p)
{
    struct churn_arg *a = p;
    char key[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(key, sizeof(key), "k%d", (i * 7 + a->id) % 500);
        (void)set(a->e, key, 100 + (size_t)(i % 13) * 40, 0);
        struct item *it = NULL;
        if (a->e->ops->get(a->e, NULL, key, strlen(key), &it) == ENGINE_SUCCESS) {
            struct item **slot = &a->held[i % 16];
            if (*slot != NULL)
                item_unref(*slot);
            *slot = it;
        }
    }
    return NULL;
}

/* Threads churning a small cache: the limit holds and held items stay intact. */
static void test_concurrent_eviction(void **state)
{
    struct engine *e = create(64 * KIB, 4 * KIB, 4, 0);
    pthread_t th[4];
    struct churn_arg args[4];
    memset(args, 0, sizeof(args));
    for (int t = 0; t < 4; t++) {
        args[t].e = e;
        args[t].id = t;
        assert_int_equal(pthread_create(&th[t], NULL, churn_main, &args[t]), 0);
    }
    for (int t = 0; t < 4; t++)
        pthread_join(th[t], NULL);
    struct engine_stats st = stats(e);
    assert_true(st.bytes <= 64 * KIB);
    assert_true(st.evictions > 0);
    e->ops->destroy(e);
    /* Items held by readers outlive eviction and the engine. */
    for (int t = 0; t < 4; t++) {
        for (int i = 0; i < 16; i++) {
            struct item *it = args[t].held[i];
            if (it == NULL)
                continue;
            assert_int_equal(item_cvalue(it)[it->nbytes - 1], 'x');
            item_unref(it);
        }
    }
}

int main(void)
{
    clock_setup();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_validation),
        cmocka_unit_test(test_shard_count),
        cmocka_unit_test(test_enomem),
        cmocka_unit_test(test_store_twice),
        cmocka_unit_test(test_commit_detects_change),
        cmocka_unit_test(test_eviction_through_ops),
        cmocka_unit_test(test_eviction_sharded),
        cmocka_unit_test(test_second_chance_through_ops),
        cmocka_unit_test(test_reclaimer_expired),
        cmocka_unit_test(test_reclaimer_delayed_flush),
        cmocka_unit_test(test_destroy_is_prompt),
        cmocka_unit_test(test_parse_u64),
        cmocka_unit_test(test_concurrent_growth),
        cmocka_unit_test(test_concurrent_eviction),
        cmocka_unit_test(test_prefetch_changes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
