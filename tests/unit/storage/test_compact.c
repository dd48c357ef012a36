/*
 * Unit tests of compaction (src/storage/compact.c): kept records move with
 * their seqs and read back at their new places; superseded ones are gone;
 * a crash injected at each step leaves, after recovery, every live record
 * exactly once and no superseded or deleted one back; failures and misuse
 * are refused without touching the store.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>

#include "storage_test.h"

#define NKEYS 12

/* The newest write of each key, as the engine's index would hold it. */
struct model {
    uint64_t seq[NKEYS];
    bool deleted[NKEYS];
    char value[NKEYS][64];
};

struct fixture {
    char dir[512]; /* first: test_teardown removes it */
    struct store_faults faults;
    struct store_config cfg;
    struct model m;
    uint64_t first_seq_of_seg1_last; /* highest seq held by segment 1 */
};

static void key_name(int i, char *key)
{
    sprintf(key, "key-%02d", i);
}

/* Appends one write (value NULL: delete) and records it in the model. */
static void write_key(struct store *s, struct model *m, int i, const char *value)
{
    char key[16];
    key_name(i, key);
    struct store_record r = test_rec(key, value);
    assert_int_equal(store_append(s, &r, 1, NULL, NULL), STORE_OK);
    m->seq[i] = r.seq;
    m->deleted[i] = value == NULL;
    snprintf(m->value[i], sizeof(m->value[i]), "%s", value ? value : "");
}

/*
 * Segment 1 gets the first version of every key; later segments overwrite
 * half of them, delete three, and leave three untouched (still live in 1).
 */
static void build(struct fixture *f)
{
    struct store *s = NULL;
    assert_int_equal(store_open(&f->cfg, NULL, NULL, &s, NULL), STORE_OK);
    char v[64];
    for (int i = 0; i < NKEYS; i++) {
        sprintf(v, "first-%02d-padding-padding", i);
        write_key(s, &f->m, i, v);
    }
    struct store_segment_info info;
    assert_int_equal(store_segment_at(s, 0, &info), 0);
    assert_int_equal(info.segno, 1);
    for (int i = 0; i < 6; i++) {
        sprintf(v, "second-%02d", i);
        write_key(s, &f->m, i, v);
    }
    for (int i = 6; i < 9; i++)
        write_key(s, &f->m, i, NULL);
    assert_int_equal(store_sync(s), STORE_OK);
    store_close(&s);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    test_dir_make(f->dir, sizeof(f->dir));
    f->cfg = (struct store_config){
        .dir = f->dir, .segment_max = 1000, .record_max = 300, .faults = &f->faults};
    build(f);
    *state = f;
    return 0;
}

/* The engine's liveness test: a record is live when it is its key's newest write. */
static bool is_live(void *arg, const struct store_record *rec, const struct store_loc *loc)
{
    const struct model *m = arg;
    int i = atoi(rec->key + 4);
    return m->seq[i] == rec->seq;
}

static bool none_live(void *arg, const struct store_record *rec, const struct store_loc *loc)
{
    return false;
}

/* Index of key in the visits by seq: how many times seq was visited. */
static int count_seq(const struct test_visits *v, uint64_t seq)
{
    int n = 0;
    for (size_t i = 0; i < v->n; i++)
        n += v->v[i].seq == seq;
    return n;
}

/*
 * Reopens and checks what recovery hands over: each key resolves (newest
 * seq) to the model, every live record appears exactly once, no seq twice,
 * no leftovers. superseded_gone: segment 1 holds only live records.
 */
static void check_recovered(struct fixture *f, bool superseded_gone, int seg1_files)
{
    memset(&f->faults, 0, sizeof(f->faults));
    struct store *s = NULL;
    struct store_open_report rep;
    struct test_visits v = {0};
    assert_int_equal(store_open(&f->cfg, test_visit, &v, &s, &rep), STORE_OK);
    for (int i = 0; i < NKEYS; i++) {
        char key[16];
        key_name(i, key);
        const struct test_seen *n = test_newest(&v, key);
        assert_non_null(n);
        assert_int_equal(n->seq, f->m.seq[i]);
        assert_int_equal(n->kind, f->m.deleted[i] ? STORE_KIND_TOMBSTONE : STORE_KIND_VALUE);
        assert_string_equal(n->value, f->m.value[i]);
        assert_int_equal(count_seq(&v, f->m.seq[i]), 1);
    }
    for (size_t i = 0; i < v.n; i++) {
        assert_int_equal(count_seq(&v, v.v[i].seq), 1);
        int k = atoi(v.v[i].key + 4);
        if (superseded_gone && v.v[i].loc.segno == 1)
            assert_int_equal(v.v[i].seq, f->m.seq[k]);
    }
    assert_int_equal(test_dir_count(f->dir, ".tmp"), 0);
    /* At most one file for segment 1, whichever generation. */
    char g0[600], g1[600];
    test_seg_path(g0, sizeof(g0), f->dir, 1, 0);
    test_seg_path(g1, sizeof(g1), f->dir, 1, 1);
    assert_int_equal((test_file_size(g0) >= 0) + (test_file_size(g1) >= 0), seg1_files);
    store_close(&s);
    test_visits_free(&v);
}

/* Runs a whole compaction of segment 1 with live(); returns the first failure. */
static enum store_err compact1(struct fixture *f, struct store *s, store_live_fn live,
                               struct store_compaction **cp)
{
    enum store_err e = store_compact_begin(s, 1, cp);
    if (e == STORE_OK)
        e = store_compact_run(*cp, live, &f->m);
    if (e == STORE_OK)
        e = store_compact_install(s, *cp);
    return e;
}

/* A compaction keeps live records at new offsets (same bytes, same seq), drops the rest. */
static void test_compact_moves(void **state)
{
    struct fixture *f = *state;
    struct store *s = NULL;
    struct test_visits before = {0};
    assert_int_equal(store_open(&f->cfg, test_visit, &before, &s, NULL), STORE_OK);
    struct store_segment_info old;
    assert_int_equal(store_segment_at(s, 0, &old), 0);
    struct store_compaction *c = NULL;
    assert_int_equal(compact1(f, s, is_live, &c), STORE_OK);
    assert_true(store_compact_installed(c));
    size_t n = 0, in_seg1 = 0, live_in_seg1 = 0;
    for (size_t i = 0; i < before.n; i++) {
        if (before.v[i].loc.segno != 1)
            continue;
        in_seg1++;
        live_in_seg1 += f->m.seq[atoi(before.v[i].key + 4)] == before.v[i].seq;
    }
    assert_true(live_in_seg1 >= 3 && live_in_seg1 < in_seg1);
    const struct store_move *mv = store_compact_moves(c, &n);
    assert_int_equal(n, live_in_seg1);
    uint64_t dropped, dropped_bytes;
    store_compact_dropped(c, &dropped, &dropped_bytes);
    assert_int_equal(dropped, in_seg1 - live_in_seg1);
    uint64_t want_off = STORE_SEGMENT_HEADER;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(mv[i].new_offset, want_off);
        want_off += mv[i].len;
        char buf[300];
        struct store_record r;
        struct store_loc loc = {1, mv[i].new_offset, mv[i].len};
        assert_int_equal(store_read(s, &loc, buf, sizeof(buf), &r), STORE_OK);
        assert_int_equal(r.seq, mv[i].seq);
        int k = atoi(r.key + 4);
        assert_int_equal(f->m.seq[k], r.seq);
    }
    struct store_segment_info now;
    assert_int_equal(store_segment_at(s, 0, &now), 0);
    assert_int_equal(now.generation, 1);
    assert_int_equal(now.size, want_off);
    assert_true(now.size < old.size);
    store_compact_destroy(&c);
    assert_null(c);
    store_close(&s);
    test_visits_free(&before);
    check_recovered(f, true, 1);
}

/* Each crash point, then recovery: live records once, nothing superseded or deleted back. */
static void test_compact_crash_points(void **state)
{
    static const struct {
        enum store_crash at;
        bool in_run, installed;
    } points[] = {
        {STORE_CRASH_COMPACT_PARTIAL, true, false},
        {STORE_CRASH_COMPACT_WRITTEN, true, false},
        {STORE_CRASH_COMPACT_SYNCED, false, false},
        {STORE_CRASH_COMPACT_RENAMED, false, true}, /* the rename reached the disk */
        {STORE_CRASH_COMPACT_DIRSYNCED, false, true},
        {STORE_CRASH_COMPACT_UNLINKED, false, true},
    };
    struct fixture *f = *state;
    for (size_t p = 0; p < sizeof(points) / sizeof(points[0]); p++) {
        if (p > 0) { /* a fresh directory per point */
            test_dir_remove(f->dir);
            test_dir_make(f->dir, sizeof(f->dir));
            memset(&f->m, 0, sizeof(f->m));
            memset(&f->faults, 0, sizeof(f->faults));
            build(f);
        }
        struct store *s = NULL;
        assert_int_equal(store_open(&f->cfg, NULL, NULL, &s, NULL), STORE_OK);
        f->faults.crash_at = points[p].at;
        struct store_compaction *c = NULL;
        assert_int_equal(store_compact_begin(s, 1, &c), STORE_OK);
        enum store_err e = store_compact_run(c, is_live, &f->m);
        if (!points[p].in_run) {
            assert_int_equal(e, STORE_OK);
            e = store_compact_install(s, c);
        }
        assert_int_equal(e, STORE_ECRASHED);
        /* A crashed compaction stays crashed; the dead process leaves its files as they are. */
        assert_int_equal(store_compact_install(s, c), STORE_ECRASHED);
        store_compact_destroy(&c);
        store_close(&s);
        if (points[p].in_run)
            assert_int_equal(test_dir_count(f->dir, ".tmp"), 1);
        check_recovered(f, points[p].installed, 1);
        check_recovered(f, points[p].installed, 1); /* and again: recovery left it settled */
    }
}

/* With nothing live the segment is removed; a crash before or after the unlink is safe. */
static void test_compact_nothing_live(void **state)
{
    struct fixture *f = *state;
    /* Make every record of segment 1 superseded: write every key again. */
    struct store *s = NULL;
    assert_int_equal(store_open(&f->cfg, NULL, NULL, &s, NULL), STORE_OK);
    for (int i = 0; i < NKEYS; i++)
        write_key(s, &f->m, i, "third");
    assert_int_equal(store_sync(s), STORE_OK);
    size_t nsegs = store_segment_count(s);
    f->faults.crash_at = STORE_CRASH_COMPACT_DIRSYNCED;
    struct store_compaction *c = NULL;
    assert_int_equal(compact1(f, s, none_live, &c), STORE_ECRASHED);
    store_compact_destroy(&c);
    store_close(&s);
    f->faults.crash_at = STORE_CRASH_NONE;
    assert_int_equal(store_open(&f->cfg, NULL, NULL, &s, NULL), STORE_OK);
    assert_int_equal(store_segment_count(s), nsegs); /* not removed yet */
    f->faults.crash_at = STORE_CRASH_COMPACT_UNLINKED;
    assert_int_equal(compact1(f, s, none_live, &c), STORE_ECRASHED);
    store_compact_destroy(&c);
    store_close(&s);
    memset(&f->faults, 0, sizeof(f->faults));
    assert_int_equal(store_open(&f->cfg, NULL, NULL, &s, NULL), STORE_OK);
    assert_int_equal(store_segment_count(s), nsegs - 1);
    struct store_segment_info info;
    assert_int_equal(store_segment_at(s, 0, &info), 0);
    assert_int_equal(info.segno, 2);
    store_close(&s);
    check_recovered(f, true, 0);
}

/* Misuse is refused: the active segment, a missing one, a compaction not run, a stale one. */
static void test_compact_refusals(void **state)
{
    struct fixture *f = *state;
    struct store *s = NULL;
    assert_int_equal(store_open(&f->cfg, NULL, NULL, &s, NULL), STORE_OK);
    struct store_segment_info last;
    assert_int_equal(store_segment_at(s, store_segment_count(s) - 1, &last), 0);
    struct store_compaction *c = NULL, *stale = NULL;
    assert_int_equal(store_compact_begin(s, last.segno, &c), STORE_EINVAL);
    assert_int_equal(store_compact_begin(s, 99, &c), STORE_ENOTFOUND);
    assert_null(c);
    assert_int_equal(store_compact_begin(s, 1, &stale), STORE_OK);
    assert_int_equal(store_compact_install(s, stale), STORE_EINVAL); /* never ran */
    assert_int_equal(compact1(f, s, is_live, &c), STORE_OK);
    assert_int_equal(store_compact_install(s, c), STORE_EINVAL); /* twice */
    store_compact_destroy(&c);
    assert_int_equal(store_compact_install(s, stale), STORE_EINVAL); /* generation moved on */
    store_compact_destroy(&stale);
    store_close(&s);
    check_recovered(f, true, 1);
}

/* A write failure while compacting is reported; the temporary goes, the store is unchanged. */
static void test_compact_write_fault(void **state)
{
    struct fixture *f = *state;
    struct store *s = NULL;
    assert_int_equal(store_open(&f->cfg, NULL, NULL, &s, NULL), STORE_OK);
    f->faults.write_fail_at = f->faults.writes + 1;
    f->faults.write_errno = ENOSPC;
    struct store_compaction *c = NULL;
    assert_int_equal(compact1(f, s, is_live, &c), STORE_ESYS);
    assert_non_null(strstr(store_compact_error(c), "No space left"));
    assert_false(store_compact_installed(c));
    assert_int_equal(test_dir_count(f->dir, ".tmp"), 1);
    store_compact_destroy(&c);
    assert_int_equal(test_dir_count(f->dir, ".tmp"), 0);
    struct store_segment_info info;
    assert_int_equal(store_segment_at(s, 0, &info), 0);
    assert_int_equal(info.generation, 0);
    store_close(&s);
    check_recovered(f, false, 1);
}

/* The directory fsync after the rename fails: not installed, yet recovery finds one copy. */
static void test_compact_dir_fsync_fault(void **state)
{
    struct fixture *f = *state;
    struct store *s = NULL;
    assert_int_equal(store_open(&f->cfg, NULL, NULL, &s, NULL), STORE_OK);
    struct store_compaction *c = NULL;
    assert_int_equal(store_compact_begin(s, 1, &c), STORE_OK);
    assert_int_equal(store_compact_run(c, is_live, &f->m), STORE_OK);
    f->faults.fsync_fail_at = f->faults.fsyncs + 1;
    assert_int_equal(store_compact_install(s, c), STORE_ESYS);
    assert_false(store_compact_installed(c));
    store_compact_destroy(&c);
    /* The store still reads segment 1 through the old file. */
    struct store_segment_info info;
    assert_int_equal(store_segment_at(s, 0, &info), 0);
    assert_int_equal(info.generation, 0);
    char buf[300];
    struct store_record r;
    struct store_loc loc = {1, STORE_SEGMENT_HEADER, 0};
    loc.len = (uint32_t)store_record_size(6, strlen("first-00-padding-padding"));
    assert_int_equal(store_read(s, &loc, buf, sizeof(buf), &r), STORE_OK);
    store_close(&s);
    check_recovered(f, true, 1); /* the renamed generation wins */
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, test_teardown)
    const struct CMUnitTest tests[] = {
        T(test_compact_moves),    T(test_compact_crash_points), T(test_compact_nothing_live),
        T(test_compact_refusals), T(test_compact_write_fault),  T(test_compact_dir_fsync_fault),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
