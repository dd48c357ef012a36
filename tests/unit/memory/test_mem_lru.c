/*
 * Unit tests of the shard LRU list: order, unlinking anywhere, and the
 * second-chance victim choice with its bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "engines/memory/lru.h"
#include "test_items.h"

/* Walks head to tail into out; returns the count and checks the back links. */
static size_t walk(const struct mem_lru *l, struct item **out, size_t max)
{
    size_t n = 0;
    struct item *prev = NULL;
    for (struct item *it = l->head; it != NULL && n < max; it = it->engine_lnext) {
        assert_ptr_equal(it->engine_prev, prev);
        out[n++] = it;
        prev = it;
    }
    assert_ptr_equal(l->tail, prev);
    assert_int_equal(l->count, n);
    return n;
}

static void make(struct item **it, size_t n)
{
    const char *keys[] = {"a", "b", "c", "d", "e", "f"};
    for (size_t i = 0; i < n; i++)
        it[i] = test_item(keys[i], 1, 0, 1);
}

static void release(struct item **it, size_t n)
{
    for (size_t i = 0; i < n; i++)
        item_unref(it[i]);
}

/* The head is the newest, the tail the oldest; removal works at both ends and inside. */
static void test_order_and_remove(void **state)
{
    struct mem_lru l;
    mem_lru_init(&l);
    assert_null(mem_lru_victim(&l, 10));
    struct item *it[5], *got[5];
    make(it, 5);
    for (size_t i = 0; i < 5; i++)
        mem_lru_push_head(&l, it[i]);
    assert_int_equal(walk(&l, got, 5), 5);
    for (size_t i = 0; i < 5; i++)
        assert_ptr_equal(got[i], it[4 - i]);
    mem_lru_remove(&l, it[2]); /* middle */
    mem_lru_remove(&l, it[4]); /* head */
    mem_lru_remove(&l, it[0]); /* tail */
    assert_int_equal(walk(&l, got, 5), 2);
    assert_ptr_equal(got[0], it[3]);
    assert_ptr_equal(got[1], it[1]);
    mem_lru_remove(&l, it[3]);
    mem_lru_remove(&l, it[1]);
    assert_int_equal(walk(&l, got, 5), 0);
    assert_null(l.head);
    release(it, 5);
}

/* Without hits the victim is the tail, and nothing moves. */
static void test_victim_is_tail(void **state)
{
    struct mem_lru l;
    mem_lru_init(&l);
    struct item *it[3], *got[3];
    make(it, 3);
    for (size_t i = 0; i < 3; i++)
        mem_lru_push_head(&l, it[i]);
    assert_ptr_equal(mem_lru_victim(&l, 10), it[0]);
    walk(&l, got, 3);
    assert_ptr_equal(got[2], it[0]);
    release(it, 3);
}

/* An item hit since it entered gets a second chance: to the head, bit cleared. */
static void test_second_chance(void **state)
{
    struct mem_lru l;
    mem_lru_init(&l);
    struct item *it[4], *got[4];
    make(it, 4);
    for (size_t i = 0; i < 4; i++)
        mem_lru_push_head(&l, it[i]);
    it[0]->engine_bits |= MEM_BIT_ACTIVE | MEM_BIT_FETCHED;
    it[1]->engine_bits |= MEM_BIT_ACTIVE;
    assert_ptr_equal(mem_lru_victim(&l, 10), it[2]);
    walk(&l, got, 4);
    /* a then b moved to the head in that order. */
    assert_ptr_equal(got[0], it[1]);
    assert_ptr_equal(got[1], it[0]);
    assert_ptr_equal(got[3], it[2]);
    assert_false(it[0]->engine_bits & MEM_BIT_ACTIVE);
    assert_true(it[0]->engine_bits & MEM_BIT_FETCHED); /* only ACTIVE is spent */
    assert_false(it[1]->engine_bits & MEM_BIT_ACTIVE);
    /* Once spent, the chance is gone: after c and d, a is next. */
    mem_lru_remove(&l, it[2]);
    mem_lru_remove(&l, it[3]);
    assert_ptr_equal(mem_lru_victim(&l, 10), it[0]);
    release(it, 4);
}

/* With every item hit, one call moves at most max_moves and then gives the tail anyway. */
static void test_moves_bounded(void **state)
{
    struct mem_lru l;
    mem_lru_init(&l);
    struct item *it[5];
    make(it, 5);
    for (size_t i = 0; i < 5; i++) {
        it[i]->engine_bits |= MEM_BIT_ACTIVE;
        mem_lru_push_head(&l, it[i]);
    }
    struct item *v = mem_lru_victim(&l, 3);
    assert_ptr_equal(v, it[3]);
    assert_true(v->engine_bits & MEM_BIT_ACTIVE);
    assert_false(it[0]->engine_bits & MEM_BIT_ACTIVE);
    assert_false(it[2]->engine_bits & MEM_BIT_ACTIVE);
    /* A single item is its own victim whatever its bit. */
    struct mem_lru one;
    mem_lru_init(&one);
    struct item *solo = test_item("solo", 1, 0, 1);
    solo->engine_bits |= MEM_BIT_ACTIVE;
    mem_lru_push_head(&one, solo);
    assert_ptr_equal(mem_lru_victim(&one, 10), solo);
    item_unref(solo);
    release(it, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_remove),
        cmocka_unit_test(test_victim_is_tail),
        cmocka_unit_test(test_second_chance),
        cmocka_unit_test(test_moves_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
