/*
 * Unit tests of the shard hash table: insert/find/remove, incremental growth
 * with lookups, inserts and removes while buckets migrate, and the
 * reclaimer's scan covering every item during a resize.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "engines/memory/hashtable.h"
#include "test_items.h"

#define N 2000

static struct item *items[N];

static void make_items(size_t n)
{
    char key[32];
    for (size_t i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "key:%zu", i);
        items[i] = test_item(key, 1, 0, i + 1);
    }
}

static void free_items(size_t n)
{
    for (size_t i = 0; i < n; i++)
        item_unref(items[i]);
}

static struct item *find(struct mem_ht *ht, const struct item *it)
{
    return mem_ht_find(ht, test_hash(it), item_key(it), it->nkey);
}

static void insert(struct mem_ht *ht, struct item *it)
{
    mem_ht_insert(ht, test_hash(it), it);
}

/* Inserted keys are found, others are not, removed ones are gone. */
static void test_insert_find_remove(void **state)
{
    struct mem_ht ht;
    assert_int_equal(mem_ht_init(&ht, 64), 0);
    make_items(100);
    for (size_t i = 0; i < 50; i++)
        insert(&ht, items[i]);
    assert_int_equal(ht.count, 50);
    for (size_t i = 0; i < 100; i++) {
        if (i < 50)
            assert_ptr_equal(find(&ht, items[i]), items[i]);
        else
            assert_null(find(&ht, items[i]));
    }
    /* Same length, one byte different. */
    assert_null(mem_ht_find(&ht, hash_key("key:0x", 6), "key:0x", 6));
    for (size_t i = 0; i < 50; i += 2)
        assert_true(mem_ht_remove(&ht, test_hash(items[i]), items[i]));
    assert_false(mem_ht_remove(&ht, test_hash(items[0]), items[0]));
    assert_false(mem_ht_remove(&ht, test_hash(items[60]), items[60]));
    assert_int_equal(ht.count, 25);
    for (size_t i = 0; i < 50; i++)
        assert_ptr_equal(find(&ht, items[i]), i % 2 ? items[i] : NULL);
    mem_ht_deinit(&ht);
    free_items(100);
}

/* The table grows past load 1.5, in steps; every key stays findable during each migration. */
static void test_incremental_growth(void **state)
{
    struct mem_ht ht;
    assert_int_equal(mem_ht_init(&ht, 4), 0);
    make_items(N);
    size_t migrations_seen = 0;
    size_t checks_during_migration = 0;
    bool was_migrating = false;
    for (size_t i = 0; i < N; i++) {
        insert(&ht, items[i]);
        assert_int_equal(ht.count, i + 1);
        if (mem_ht_migrating(&ht)) {
            if (!was_migrating)
                migrations_seen++;
            /* Both tables hold items now: some buckets moved, some not yet. */
            for (size_t j = 0; j <= i; j++)
                assert_ptr_equal(find(&ht, items[j]), items[j]);
            checks_during_migration++;
        }
        was_migrating = mem_ht_migrating(&ht);
        /* The load factor never runs away: at most 1.5 plus what one resize absorbs. */
        assert_true(ht.count <= 3 * ht.size);
    }
    assert_true(migrations_seen >= 8); /* 4 -> 2048 buckets at least */
    assert_true(checks_during_migration > 0);
    /* Lookups alone finish a running migration. */
    for (size_t k = 0; mem_ht_migrating(&ht) && k < ht.size; k++)
        find(&ht, items[0]);
    assert_false(mem_ht_migrating(&ht));
    assert_true(ht.size >= N / 2 && ht.count <= ht.size + ht.size / 2);
    for (size_t j = 0; j < N; j++)
        assert_ptr_equal(find(&ht, items[j]), items[j]);
    mem_ht_deinit(&ht);
    free_items(N);
}

/* Removes work on items still in the old table and on items already moved. */
static void test_remove_during_migration(void **state)
{
    struct mem_ht ht;
    assert_int_equal(mem_ht_init(&ht, 256), 0);
    make_items(N);
    size_t n = 0;
    while (!mem_ht_migrating(&ht))
        insert(&ht, items[n++]);
    /* Right after the resize starts, most items are still in the old table. */
    assert_true(ht.migrate_pos < ht.old_size);
    for (size_t i = 0; i < n; i += 3)
        assert_true(mem_ht_remove(&ht, test_hash(items[i]), items[i]));
    size_t removed = (n + 2) / 3;
    assert_int_equal(ht.count, n - removed);
    for (size_t i = 0; i < n; i++)
        assert_ptr_equal(find(&ht, items[i]), i % 3 ? items[i] : NULL);
    mem_ht_deinit(&ht);
    free_items(N);
}

static bool count_visit(struct item *it, void *arg)
{
    (void)arg;
    it->engine_bits++;
    return false;
}

/* Claims items whose CAS is even. */
static bool claim_even(struct item *it, void *arg)
{
    size_t *claimed = arg;
    if (it->cas % 2 != 0)
        return false;
    (*claimed)++;
    return true;
}

/* One round of the cursor visits every item at least once, even while a resize runs. */
static void test_scan_covers_all_during_migration(void **state)
{
    struct mem_ht ht;
    assert_int_equal(mem_ht_init(&ht, 128), 0);
    make_items(N);
    size_t n = 0;
    while (!mem_ht_migrating(&ht))
        insert(&ht, items[n++]);
    size_t cursor = 0;
    size_t steps = 0;
    do {
        mem_ht_scan(&ht, &cursor, 7, count_visit, NULL);
        steps++;
    } while (cursor != 0);
    /* Exactly one round: the new table's buckets, 7 at a time; the resize ran meanwhile. */
    assert_int_equal(steps, (ht.size + 6) / 7);
    /* An old-table item may be seen, then moved ahead of the cursor and seen again. */
    for (size_t i = 0; i < n; i++)
        assert_true(items[i]->engine_bits == 1 || items[i]->engine_bits == 2);
    /* A claiming scan over a full round unlinks exactly the claimed items. */
    size_t claimed = 0;
    cursor = 0;
    do {
        mem_ht_scan(&ht, &cursor, 5, claim_even, &claimed);
    } while (cursor != 0);
    assert_int_equal(claimed, n / 2);
    assert_int_equal(ht.count, n - n / 2);
    for (size_t i = 0; i < n; i++)
        assert_ptr_equal(find(&ht, items[i]), items[i]->cas % 2 ? items[i] : NULL);
    mem_ht_deinit(&ht);
    free_items(N);
}

/* A scan visits at most the buckets asked for and stops at the end of the table. */
static void test_scan_bounded(void **state)
{
    struct mem_ht ht;
    assert_int_equal(mem_ht_init(&ht, 64), 0);
    make_items(64);
    for (size_t i = 0; i < 64; i++)
        insert(&ht, items[i]);
    size_t cursor = 60;
    mem_ht_scan(&ht, &cursor, 3, count_visit, NULL);
    assert_int_equal(cursor, 63);
    mem_ht_scan(&ht, &cursor, 10, count_visit, NULL); /* only bucket 63 is left */
    assert_int_equal(cursor, 0);
    size_t tail = 0;
    for (size_t i = 0; i < 64; i++)
        tail += items[i]->engine_bits;
    size_t seen = mem_ht_scan(&ht, &cursor, 1000, count_visit, NULL);
    assert_int_equal(seen, 64);
    assert_int_equal(cursor, 0);
    for (size_t i = 0; i < 64; i++)
        assert_true(items[i]->engine_bits >= 1 && items[i]->engine_bits <= 2);
    /* Buckets 60..63 were visited before the full round, so their items twice. */
    size_t twice = 0;
    for (size_t i = 0; i < 64; i++)
        twice += items[i]->engine_bits == 2;
    assert_int_equal(twice, tail);
    mem_ht_deinit(&ht);
    free_items(64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_insert_find_remove),
        cmocka_unit_test(test_incremental_growth),
        cmocka_unit_test(test_remove_during_migration),
        cmocka_unit_test(test_scan_covers_all_during_migration),
        cmocka_unit_test(test_scan_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
