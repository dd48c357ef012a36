/*
 * Unit tests of the recovery scan (src/storage/recover.c): a torn newest
 * segment cut at every offset of its last record keeps everything before;
 * a flipped byte in an older segment is refused with file and offset; repair
 * mode drops the bad part, says so, and leaves a clean directory; leftovers
 * of interrupted compactions are removed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "storage_test.h"

#define NKEYS 26

struct fixture {
    char dir[512]; /* first: test_teardown removes it */
    struct store_config cfg;
    struct store_loc locs[NKEYS];
    uint64_t newest; /* segment number of the active segment */
};

static void key_of(int i, char *key, char *val)
{
    sprintf(key, "key-%02d", i);
    sprintf(val, "value-%02d-%.*s", i, i * 3,
            "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz"
            "abcdefghijklmnopqrstuvwxyz");
}

/* A directory with NKEYS records over several segments, closed cleanly. */
static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    test_dir_make(f->dir, sizeof(f->dir));
    f->cfg = (struct store_config){.dir = f->dir, .segment_max = 600, .record_max = 300};
    struct store *s = NULL;
    if (store_open(&f->cfg, NULL, NULL, &s, NULL) != STORE_OK)
        abort();
    for (int i = 0; i < NKEYS; i++) {
        char key[32], val[128];
        key_of(i, key, val);
        struct store_record r = test_rec(key, val);
        if (store_append(s, &r, 1, &f->locs[i], NULL) != STORE_OK)
            abort();
    }
    if (store_sync(s) != STORE_OK)
        abort();
    f->newest = f->locs[NKEYS - 1].segno;
    store_close(&s);
    *state = f;
    return 0;
}

/* Asserts the visits are exactly keys [0, n) except skip (-1: none), in order. */
static void assert_keys(const struct test_visits *v, int n, int skip)
{
    size_t j = 0;
    for (int i = 0; i < n; i++) {
        if (i == skip)
            continue;
        char key[32], val[128];
        key_of(i, key, val);
        assert_true(j < v->n);
        assert_string_equal(v->v[j].key, key);
        assert_string_equal(v->v[j].value, val);
        j++;
    }
    assert_int_equal(v->n, j);
}

/* Opens f's directory, which must succeed, collecting visits and the report. */
static struct store *open_ok(struct fixture *f, struct test_visits *v,
                             struct store_open_report *rep)
{
    struct store *s = NULL;
    enum store_err e = store_open(&f->cfg, test_visit, v, &s, rep);
    if (e != STORE_OK)
        fail_msg("open: %s: %s", store_err_str(e), rep->message);
    return s;
}

/* Cutting the newest segment anywhere inside its last record keeps all before it. */
static void test_torn_tail_every_offset(void **state)
{
    struct fixture *f = *state;
    char path[600];
    test_seg_path(path, sizeof(path), f->dir, f->newest, 0);
    size_t n;
    unsigned char *whole = test_file_read(path, &n);
    const struct store_loc *last = &f->locs[NKEYS - 1];
    assert_int_equal(n, last->offset + last->len);
    assert_int_equal(f->locs[NKEYS - 2].segno, f->newest); /* records before it in the same file */
    for (uint64_t cut = last->offset; cut < last->offset + last->len; cut++) {
        test_file_replace(path, whole, (size_t)cut);
        struct test_visits v = {0};
        struct store_open_report rep;
        struct store *s = open_ok(f, &v, &rep);
        assert_keys(&v, NKEYS - 1, -1);
        assert_int_equal(rep.truncated_bytes, cut - last->offset);
        assert_int_equal(test_file_size(path), last->offset);
        assert_int_equal(store_next_seq(s), NKEYS); /* the lost record's seq is free again */
        store_close(&s);
        test_visits_free(&v);
    }
    free(whole);
}

/* Garbage after the last record of the newest segment (a torn batch) is cut as well. */
static void test_torn_tail_garbage(void **state)
{
    struct fixture *f = *state;
    char path[600];
    test_seg_path(path, sizeof(path), f->dir, f->newest, 0);
    long size = test_file_size(path);
    unsigned char junk[100];
    memset(junk, 0, sizeof(junk)); /* what a file extended but never written reads as */
    test_file_write(path, size, junk, sizeof(junk));
    struct test_visits v = {0};
    struct store_open_report rep;
    struct store *s = open_ok(f, &v, &rep);
    assert_keys(&v, NKEYS, -1);
    assert_int_equal(rep.truncated_bytes, sizeof(junk));
    /* Appends continue where the valid data ends, and the next open is clean. */
    struct store_record r = test_rec("after", "tail");
    struct store_loc loc;
    assert_int_equal(store_append(s, &r, 1, &loc, NULL), STORE_OK);
    assert_int_equal(loc.offset, (uint64_t)size);
    assert_int_equal(store_sync(s), STORE_OK);
    store_close(&s);
    test_visits_free(&v);
    s = open_ok(f, &v, &rep);
    assert_int_equal(rep.truncated_bytes, 0);
    assert_int_equal(v.n, NKEYS + 1);
    store_close(&s);
    test_visits_free(&v);
}

/* A flipped byte anywhere in a record of an older segment is refused, naming file and offset. */
static void test_flip_older_refused(void **state)
{
    struct fixture *f = *state;
    const struct store_loc *victim = &f->locs[2];
    assert_true(victim->segno < f->newest);
    char path[600], want[700];
    test_seg_path(path, sizeof(path), f->dir, victim->segno, 0);
    snprintf(want, sizeof(want), "%s at offset %llu", path, (unsigned long long)victim->offset);
    for (uint32_t at = 0; at < victim->len; at += 5) {
        test_file_flip(path, (long)(victim->offset + at));
        struct store *s = NULL;
        struct store_open_report rep;
        struct test_visits v = {0};
        assert_int_equal(store_open(&f->cfg, test_visit, &v, &s, &rep), STORE_ECORRUPT);
        assert_null(s);
        assert_string_equal(rep.path, path);
        assert_int_equal(rep.offset, victim->offset);
        assert_non_null(strstr(rep.message, want));
        test_file_flip(path, (long)(victim->offset + at)); /* undo */
        test_visits_free(&v);
    }
    /* Undone, the directory opens again. */
    struct store *s = NULL;
    assert_int_equal(store_open(&f->cfg, NULL, NULL, &s, NULL), STORE_OK);
    store_close(&s);
}

/* A damaged header of an older segment is refused at offset 0. */
static void test_bad_segment_header_refused(void **state)
{
    struct fixture *f = *state;
    char path[600];
    test_seg_path(path, sizeof(path), f->dir, 1, 0);
    test_file_flip(path, 3);
    long size = test_file_size(path);
    struct store *s = NULL;
    struct store_open_report rep;
    assert_int_equal(store_open(&f->cfg, NULL, NULL, &s, &rep), STORE_ECORRUPT);
    assert_string_equal(rep.path, path);
    assert_int_equal(rep.offset, 0);
    assert_non_null(strstr(rep.message, "segment header"));
    /* Repair mode drops the whole file and says how much. */
    f->cfg.repair = true;
    struct test_visits v = {0};
    s = open_ok(f, &v, &rep);
    assert_int_equal(rep.dropped_ranges, 1);
    assert_int_equal(rep.dropped_bytes, size);
    assert_int_equal(test_file_size(path), -1);
    assert_true(v.n < NKEYS && v.n > 0);
    store_close(&s);
    test_visits_free(&v);
}

/* Repair mode skips a bad record, resyncs on the next one, reports it and rewrites the segment. */
static void test_repair_resyncs(void **state)
{
    struct fixture *f = *state;
    const struct store_loc *victim = &f->locs[2];
    assert_int_equal(victim->segno, f->locs[3].segno); /* the next record is in the same segment */
    char path[600];
    test_seg_path(path, sizeof(path), f->dir, victim->segno, 0);
    test_file_flip(path, (long)(victim->offset + STORE_RECORD_HEADER + 1));
    f->cfg.repair = true;
    struct store_open_report rep;
    struct test_visits v = {0};
    struct store *s = open_ok(f, &v, &rep);
    assert_int_equal(rep.dropped_ranges, 1);
    assert_int_equal(rep.dropped_bytes, victim->len);
    assert_int_equal(rep.repaired_segments, 1);
    assert_non_null(strstr(rep.message, "repair dropped"));
    assert_keys(&v, NKEYS, 2);
    store_close(&s);
    test_visits_free(&v);
    /* The damaged file was replaced: a normal open is clean now. */
    f->cfg.repair = false;
    s = open_ok(f, &v, &rep);
    assert_int_equal(rep.dropped_ranges, 0);
    assert_keys(&v, NKEYS, 2);
    assert_int_equal(test_file_size(path), -1); /* generation 0 is gone */
    store_close(&s);
    test_visits_free(&v);
}

/* With nothing valid after the damage, repair drops the rest of that segment only. */
static void test_repair_drops_rest(void **state)
{
    struct fixture *f = *state;
    const struct store_loc *victim = &f->locs[1];
    char path[600];
    test_seg_path(path, sizeof(path), f->dir, victim->segno, 0);
    long size = test_file_size(path);
    unsigned char junk[600];
    memset(junk, 0xaa, sizeof(junk));
    test_file_write(path, (long)victim->offset, junk, (size_t)(size - (long)victim->offset));
    int lost = 0;
    for (int i = 1; i < NKEYS && f->locs[i].segno == victim->segno; i++)
        lost++;
    f->cfg.repair = true;
    struct store_open_report rep;
    struct test_visits v = {0};
    struct store *s = open_ok(f, &v, &rep);
    assert_int_equal(rep.dropped_ranges, 1);
    assert_int_equal(rep.dropped_bytes, (uint64_t)size - victim->offset);
    assert_int_equal(v.n, NKEYS - lost);
    assert_string_equal(v.v[0].key, "key-00");
    store_close(&s);
    test_visits_free(&v);
}

/* A compaction temporary and a superseded generation are removed at open. */
static void test_leftovers_removed(void **state)
{
    struct fixture *f = *state;
    char tmp[700], path[600];
    snprintf(tmp, sizeof(tmp), "%s/%016x-%08x.seg.tmp", f->dir, 1, 1);
    int fd = open(tmp, O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "half", 4), 4);
    close(fd);
    /* A foreign file is left alone. */
    char other[700];
    snprintf(other, sizeof(other), "%s/README", f->dir);
    fd = open(other, O_CREAT | O_WRONLY, 0644);
    close(fd);
    struct store_open_report rep;
    struct test_visits v = {0};
    struct store *s = open_ok(f, &v, &rep);
    assert_int_equal(rep.removed_files, 1);
    assert_int_equal(test_file_size(tmp), -1);
    assert_int_equal(test_file_size(other), 0);
    assert_keys(&v, NKEYS, -1);
    test_seg_path(path, sizeof(path), f->dir, 1, 0);
    assert_true(test_file_size(path) > 0);
    store_close(&s);
    test_visits_free(&v);
}

/* A callback that stops the scan makes the open fail without a store. */
static int stop_at_3(void *arg, const struct store_record *rec, const struct store_loc *loc)
{
    return rec->seq == 3;
}

static void test_callback_stops(void **state)
{
    struct fixture *f = *state;
    struct store *s = NULL;
    assert_int_equal(store_open(&f->cfg, stop_at_3, NULL, &s, NULL), STORE_ECALLBACK);
    assert_null(s);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, test_teardown)
    const struct CMUnitTest tests[] = {
        T(test_torn_tail_every_offset),     T(test_torn_tail_garbage), T(test_flip_older_refused),
        T(test_bad_segment_header_refused), T(test_repair_resyncs),    T(test_repair_drops_rest),
        T(test_leftovers_removed),          T(test_callback_stops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
