/*
 * Unit tests of the appender and reader (src/storage/store.c): batches,
 * segment rolls, one-record reads, reopening after a clean close, the
 * directory lock, argument checks, and the injected write/fsync failures
 * and roll crash: errors come back, and nothing not durable is reported so.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>

#include "storage/store_internal.h"
#include "storage_test.h"

struct fixture {
    char dir[512]; /* first: test_teardown removes it */
    struct store_faults faults;
    struct store_config cfg;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    test_dir_make(f->dir, sizeof(f->dir));
    f->cfg = (struct store_config){
        .dir = f->dir, .segment_max = 512, .record_max = 200, .faults = &f->faults};
    *state = f;
    return 0;
}

static struct store *open_ok(struct fixture *f, struct test_visits *v)
{
    struct store *s = NULL;
    struct store_open_report rep;
    enum store_err e = store_open(&f->cfg, v ? test_visit : NULL, v, &s, &rep);
    if (e != STORE_OK)
        fail_msg("open: %s: %s", store_err_str(e), rep.message);
    return s;
}

/* Key i and its value, in caller storage. */
static struct store_record rec_i(int i, char *key, char *val)
{
    sprintf(key, "key-%03d", i);
    sprintf(val, "value-%d-%.*s", i, i % 40, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    return test_rec(key, val);
}

/* Reads loc back and checks it is key i. */
static void assert_reads(struct store *s, const struct store_loc *loc, int i)
{
    char key[32], val[96], buf[256];
    struct store_record want = rec_i(i, key, val), got;
    assert_int_equal(store_read(s, loc, buf, sizeof(buf), &got), STORE_OK);
    assert_int_equal(got.nkey, want.nkey);
    assert_memory_equal(got.key, want.key, want.nkey);
    assert_int_equal(got.nvalue, want.nvalue);
    assert_memory_equal(got.value, want.value, want.nvalue);
    assert_int_equal(got.flags, want.flags);
    assert_int_equal(got.exptime, want.exptime);
}

/* Appends keys [from, to) one call each; fills locs[i]. */
static void append_range(struct store *s, int from, int to, struct store_loc *locs)
{
    for (int i = from; i < to; i++) {
        char key[32], val[96];
        struct store_record r = rec_i(i, key, val);
        size_t done = 0;
        assert_int_equal(store_append(s, &r, 1, &locs[i], &done), STORE_OK);
        assert_int_equal(done, 1);
    }
}

/* Records written one at a time across many segments read back from their locations. */
static void test_append_read_rolls(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f, NULL);
    assert_int_equal(store_segment_count(s), 1);
    struct store_loc locs[60];
    append_range(s, 0, 60, locs);
    assert_true(store_segment_count(s) > 5);
    for (int i = 0; i < 60; i++) {
        assert_reads(s, &locs[i], i);
        if (i > 0 && locs[i].segno == locs[i - 1].segno)
            assert_int_equal(locs[i].offset, locs[i - 1].offset + locs[i - 1].len);
        else
            assert_int_equal(locs[i].offset, STORE_SEGMENT_HEADER);
    }
    /* Every segment respects the maximum; only the last is active. */
    for (size_t i = 0; i < store_segment_count(s); i++) {
        struct store_segment_info info;
        assert_int_equal(store_segment_at(s, i, &info), 0);
        assert_true(info.size <= 512);
        assert_int_equal(info.active, i + 1 == store_segment_count(s));
    }
    assert_int_equal(store_segment_at(s, store_segment_count(s), &(struct store_segment_info){0}),
                     -1);
    assert_int_equal(store_next_seq(s), 61);
    store_close(&s);
    assert_null(s);
}

/* One batch spanning segments: one write per segment touched, seqs in order. */
static void test_batch_one_write_per_segment(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f, NULL);
    char keys[20][32], vals[20][96];
    struct store_record recs[20];
    struct store_loc locs[20];
    for (int i = 0; i < 20; i++)
        recs[i] = rec_i(i, keys[i], vals[i]);
    uint64_t writes = f->faults.writes;
    size_t done = 0;
    assert_int_equal(store_append(s, recs, 20, locs, &done), STORE_OK);
    assert_int_equal(done, 20);
    uint64_t segments = locs[19].segno - locs[0].segno + 1;
    /* A roll writes one header per new segment, the batch one write per segment. */
    assert_int_equal(f->faults.writes - writes, segments + (segments - 1));
    for (int i = 0; i < 20; i++) {
        assert_int_equal(recs[i].seq, (uint64_t)i + 1);
        assert_reads(s, &locs[i], i);
    }
    store_close(&s);
}

/* A clean close and reopen visits every record in order, at the same places. */
static void test_reopen_after_close(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f, NULL);
    struct store_loc locs[41];
    append_range(s, 0, 40, locs);
    assert_int_equal(store_sync(s), STORE_OK);
    assert_int_equal(store_durable_seq(s), 40);
    store_close(&s);
    struct test_visits v = {0};
    s = open_ok(f, &v);
    assert_int_equal(v.n, 40);
    for (int i = 0; i < 40; i++) {
        char key[32], val[96];
        rec_i(i, key, val);
        assert_string_equal(v.v[i].key, key);
        assert_string_equal(v.v[i].value, val);
        assert_int_equal(v.v[i].seq, (uint64_t)i + 1);
        assert_int_equal(v.v[i].loc.segno, locs[i].segno);
        assert_int_equal(v.v[i].loc.offset, locs[i].offset);
        assert_int_equal(v.v[i].loc.len, locs[i].len);
    }
    /* Appends continue after the newest seq. */
    assert_int_equal(store_next_seq(s), 41);
    assert_int_equal(store_durable_seq(s), 40);
    append_range(s, 40, 41, locs);
    store_close(&s);
    test_visits_free(&v);
}

/* A second open of the same directory is refused while the first holds it. */
static void test_lock(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f, NULL), *t = NULL;
    struct store_open_report rep;
    assert_int_equal(store_open(&f->cfg, NULL, NULL, &t, &rep), STORE_ELOCKED);
    assert_null(t);
    assert_non_null(strstr(rep.message, "LOCK"));
    store_close(&s);
    t = open_ok(f, NULL);
    store_close(&t);
}

/* A missing data directory is created (its parent must exist). */
static void test_creates_directory(void **state)
{
    struct fixture *f = *state;
    char sub[600];
    snprintf(sub, sizeof(sub), "%s/data", f->dir);
    struct store_config cfg = f->cfg;
    cfg.dir = sub;
    struct store *s = NULL;
    struct store_open_report rep;
    assert_int_equal(store_open(&cfg, NULL, NULL, &s, &rep), STORE_OK);
    assert_int_equal(test_dir_count(sub, ".seg"), 1);
    assert_int_equal(test_dir_count(sub, "LOCK"), 1);
    store_close(&s);
    test_dir_remove(sub);
    snprintf(sub, sizeof(sub), "%s/no/such", f->dir);
    assert_int_equal(store_open(&cfg, NULL, NULL, &s, &rep), STORE_ESYS);
    assert_non_null(strstr(rep.message, "mkdir"));
}

/* Bad configurations and bad records are refused before anything is written. */
static void test_argument_checks(void **state)
{
    struct fixture *f = *state;
    struct store *s = NULL;
    struct store_open_report rep;
    struct store_config bad = f->cfg;
    bad.segment_max = 100;
    assert_int_equal(store_open(&bad, NULL, NULL, &s, &rep), STORE_EINVAL);
    assert_non_null(strstr(rep.message, "segment_max"));
    s = open_ok(f, NULL);
    char big[300];
    memset(big, 'b', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    struct store_record r[2] = {test_rec("ok", "v"), test_rec("big", big)};
    size_t done = 9;
    uint64_t writes = f->faults.writes;
    assert_int_equal(store_append(s, r, 2, NULL, &done), STORE_ETOOBIG);
    assert_int_equal(done, 0);
    r[1] = test_rec("", "v");
    assert_int_equal(store_append(s, r, 2, NULL, &done), STORE_EINVAL);
    assert_int_equal(f->faults.writes, writes);
    char buf[256];
    struct store_record out;
    struct store_loc loc = {99, STORE_SEGMENT_HEADER, 50};
    assert_int_equal(store_read(s, &loc, buf, sizeof(buf), &out), STORE_ENOTFOUND);
    loc.segno = 1;
    assert_int_equal(store_read(s, &loc, buf, sizeof(buf), &out), STORE_EINVAL);
    store_close(&s);
}

/* A record damaged on disk after it was written is refused by the reader. */
static void test_read_checks_crc(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f, NULL);
    struct store_loc locs[2];
    append_range(s, 0, 2, locs);
    char path[600], buf[256];
    test_seg_path(path, sizeof(path), f->dir, 1, 0);
    test_file_flip(path, (long)(locs[1].offset + locs[1].len - 1));
    struct store_record out;
    assert_reads(s, &locs[0], 0);
    assert_int_equal(store_read(s, &locs[1], buf, sizeof(buf), &out), STORE_EBADREC);
    /* A location that is not a record's start is refused too. */
    struct store_loc off = {1, locs[0].offset + 1, locs[0].len};
    assert_int_equal(store_read(s, &off, buf, sizeof(buf), &out), STORE_EBADREC);
    store_close(&s);
}

/* True when the visits hold key i with its value. */
static bool visited(const struct test_visits *v, int i)
{
    char key[32], val[96];
    rec_i(i, key, val);
    const struct test_seen *s = test_newest(v, key);
    return s != NULL && strcmp(s->value, val) == 0;
}

/* Reopens and returns what recovery visited; the open must be clean (nothing cut). */
static void reopen_clean(struct fixture *f, struct test_visits *v)
{
    struct store *s = NULL;
    struct store_open_report rep;
    memset(&f->faults, 0, sizeof(f->faults));
    assert_int_equal(store_open(&f->cfg, test_visit, v, &s, &rep), STORE_OK);
    assert_int_equal(rep.truncated_bytes, 0);
    store_close(&s);
}

/* A failed write (half written, ENOSPC) is reported; the unsynced tail is cut; writes resume. */
static void test_write_failure(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f, NULL);
    struct store_loc locs[10];
    append_range(s, 0, 6, locs);
    assert_int_equal(store_sync(s), STORE_OK);
    append_range(s, 6, 7, locs);
    f->faults.write_fail_at = f->faults.writes + 1;
    f->faults.write_errno = ENOSPC;
    char key[32], val[96];
    struct store_record r = rec_i(7, key, val);
    size_t done = 9;
    assert_int_equal(store_append(s, &r, 1, NULL, &done), STORE_ESYS);
    assert_int_equal(done, 0);
    assert_int_equal(store_errno(s), ENOSPC);
    assert_non_null(strstr(store_last_error(s), f->dir));
    assert_int_equal(store_durable_seq(s), 6);
    /* The fault is over: later appends and syncs work. */
    append_range(s, 8, 9, locs);
    assert_int_equal(store_sync(s), STORE_OK);
    assert_reads(s, &locs[8], 8);
    store_close(&s);
    struct test_visits v = {0};
    reopen_clean(f, &v);
    for (int i = 0; i < 6; i++)
        assert_true(visited(&v, i));
    assert_false(visited(&v, 6)); /* appended after the durable point: cut with the failure */
    assert_false(visited(&v, 7));
    assert_true(visited(&v, 8));
    assert_int_equal(v.n, 7);
    test_visits_free(&v);
}

/* A failed fsync is reported, nothing after the durable point survives, and writes resume. */
static void test_fsync_failure(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f, NULL);
    struct store_loc locs[8];
    append_range(s, 0, 4, locs);
    assert_int_equal(store_sync(s), STORE_OK);
    append_range(s, 4, 6, locs);
    f->faults.fsync_fail_at = f->faults.fsyncs + 1;
    assert_int_equal(store_sync(s), STORE_ESYS);
    assert_int_equal(store_errno(s), EIO);
    assert_non_null(strstr(store_last_error(s), "fsync"));
    assert_int_equal(store_durable_seq(s), 4);
    append_range(s, 6, 7, locs);
    assert_int_equal(store_sync(s), STORE_OK);
    assert_int_equal(store_durable_seq(s), 7);
    store_close(&s);
    struct test_visits v = {0};
    reopen_clean(f, &v);
    assert_int_equal(v.n, 5);
    for (int i = 0; i < 4; i++)
        assert_true(visited(&v, i));
    assert_false(visited(&v, 4));
    assert_false(visited(&v, 5));
    assert_true(visited(&v, 6));
    test_visits_free(&v);
}

/* Fills the active segment with synced records; returns how many keys were used. */
static int fill_first_segment(struct store *s, struct store_loc *locs)
{
    int i = 0;
    do {
        append_range(s, i, i + 1, locs);
        i++;
    } while (locs[i - 1].segno == 1 && i < 30);
    return i;
}

/* A batch whose roll cannot seal the old segment fails whole; only synced records stay. */
static void test_fsync_failure_on_seal(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f, NULL);
    struct store_loc locs[30];
    append_range(s, 0, 2, locs);
    assert_int_equal(store_sync(s), STORE_OK);
    char keys[10][32], vals[10][96];
    struct store_record recs[10];
    for (int i = 0; i < 10; i++)
        recs[i] = rec_i(10 + i, keys[i], vals[i]);
    f->faults.fsync_fail_at = f->faults.fsyncs + 1; /* the seal of segment 1 */
    size_t done = 9;
    assert_int_equal(store_append(s, recs, 10, NULL, &done), STORE_ESYS);
    assert_int_equal(done, 0);
    assert_int_equal(store_durable_seq(s), 2);
    assert_int_equal(store_segment_count(s), 1);
    store_close(&s);
    struct test_visits v = {0};
    reopen_clean(f, &v);
    assert_int_equal(v.n, 2);
    test_visits_free(&v);
}

/*
 * Appends 12 records in one batch (they need a roll) with a fault armed by
 * arm(); checks the batch fails after the roll sealed part of it, that
 * exactly that part is reported durable, and that it is what survives.
 */
static void batch_fails_after_seal(struct fixture *f, void (*arm)(struct store_faults *))
{
    struct store *s = open_ok(f, NULL);
    char keys[12][32], vals[12][96];
    struct store_record recs[12];
    for (int i = 0; i < 12; i++)
        recs[i] = rec_i(i, keys[i], vals[i]);
    arm(&f->faults);
    size_t done = 0;
    assert_int_equal(store_append(s, recs, 12, NULL, &done), STORE_ESYS);
    assert_true(done > 0 && done < 12);
    assert_int_equal(store_durable_seq(s), recs[done - 1].seq);
    store_close(&s);
    struct test_visits v = {0};
    reopen_clean(f, &v);
    assert_int_equal(v.n, done);
    for (size_t i = 0; i < done; i++)
        assert_true(visited(&v, (int)i));
    test_visits_free(&v);
}

/* fsync 1 seals segment 1, 2 is the new segment's file, 3 the directory. */
static void arm_dir_fsync(struct store_faults *faults)
{
    faults->fsync_fail_at = faults->fsyncs + 3;
}

/* A roll whose directory fsync fails: the half-made segment is removed. */
static void test_dir_fsync_failure_on_roll(void **state)
{
    struct fixture *f = *state;
    batch_fails_after_seal(f, arm_dir_fsync);
    assert_int_equal(test_dir_count(f->dir, ".seg"), 1);
}

/* A crash while a new segment gets its header: the half-made file is removed at open. */
static void test_roll_crash(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f, NULL);
    struct store_loc locs[30];
    int n = fill_first_segment(s, locs) - 1; /* the last one went to segment 2 */
    store_close(&s);
    test_dir_remove(f->dir);
    s = open_ok(f, NULL);
    append_range(s, 0, n, locs);
    f->faults.crash_at = STORE_CRASH_ROLL_HEADER;
    char key[32], val[96];
    struct store_record r = rec_i(n, key, val);
    assert_int_equal(store_append(s, &r, 1, NULL, NULL), STORE_ECRASHED);
    store_close(&s);
    assert_int_equal(test_dir_count(f->dir, ".seg"), 2);
    struct store_open_report rep;
    struct test_visits v = {0};
    f->faults.crash_at = STORE_CRASH_NONE;
    assert_int_equal(store_open(&f->cfg, test_visit, &v, &s, &rep), STORE_OK);
    assert_int_equal(rep.removed_files, 1);
    assert_int_equal(v.n, n); /* sealed before the crash */
    assert_int_equal(store_segment_count(s), 1);
    append_range(s, n, n + 1, locs);
    assert_int_equal(locs[n].segno, 2);
    store_close(&s);
    test_visits_free(&v);
}

/* Write 1 is the part for segment 1, 2 segment 2's header, 3 the rest of the batch. */
static void arm_third_write(struct store_faults *faults)
{
    faults->write_fail_at = faults->writes + 3;
}

/* A batch that rolled and then failed to write its second part. */
static void test_write_failure_after_roll(void **state)
{
    batch_fails_after_seal(*state, arm_third_write);
}

/* A fault that lasts several writes fails each of them; the first write after it succeeds. */
static void test_lasting_fault_clears(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f, NULL);
    struct store_loc locs[8];
    f->faults.write_fail_at = f->faults.writes + 1;
    f->faults.write_fail_n = 3;
    for (int i = 0; i < 3; i++) {
        char key[32], val[96];
        struct store_record r = rec_i(i, key, val);
        assert_int_equal(store_append(s, &r, 1, NULL, NULL), STORE_ESYS);
        assert_int_equal(store_errno(s), EIO);
    }
    append_range(s, 3, 4, locs);
    assert_int_equal(store_sync(s), STORE_OK);
    assert_reads(s, &locs[3], 3);
    /* The same for fsyncs: two fail, the third passes. */
    f->faults.fsync_fail_at = f->faults.fsyncs + 1;
    f->faults.fsync_fail_n = 2;
    append_range(s, 4, 5, locs);
    assert_int_equal(store_sync(s), STORE_ESYS);
    append_range(s, 5, 6, locs);
    assert_int_equal(store_sync(s), STORE_ESYS);
    append_range(s, 6, 7, locs);
    assert_int_equal(store_sync(s), STORE_OK);
    store_close(&s);
    struct test_visits v = {0};
    reopen_clean(f, &v);
    assert_int_equal(v.n, 2);
    assert_true(visited(&v, 3));
    assert_true(visited(&v, 6));
    test_visits_free(&v);
}

/* Segment names: what snprintf("%016" PRIx64 "-%08" PRIx32 ".seg%s") wrote, and parse back. */
static void test_segment_names(void **state)
{
    (void)state;
    char name[STORE_NAME_MAX];
    store_seg_name(name, 0x0123456789abcdefu, 0xfedcba98u, false);
    assert_string_equal(name, "0123456789abcdef-fedcba98.seg");
    store_seg_name(name, 1, 0, true);
    assert_string_equal(name, "0000000000000001-00000000.seg.tmp");
    uint64_t segno;
    uint32_t gen;
    bool tmp;
    assert_int_equal(store_seg_parse(name, &segno, &gen, &tmp), 0);
    assert_true(segno == 1 && gen == 0 && tmp);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, test_teardown)
    const struct CMUnitTest tests[] = {
        T(test_append_read_rolls),
        T(test_batch_one_write_per_segment),
        T(test_reopen_after_close),
        T(test_creates_directory),
        T(test_lock),
        T(test_argument_checks),
        T(test_read_checks_crc),
        T(test_write_failure),
        T(test_fsync_failure),
        T(test_fsync_failure_on_seal),
        T(test_dir_fsync_failure_on_roll),
        T(test_roll_crash),
        T(test_write_failure_after_roll),
        T(test_lasting_fault_clears),
        cmocka_unit_test(test_segment_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
