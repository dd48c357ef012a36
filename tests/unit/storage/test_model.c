/*
 * A randomized model test of the storage module, as the disk engine will
 * use it: batches of sets and deletes, syncs, injected write and fsync
 * failures, compactions (with injected crashes) whose liveness comes from
 * an index, clean reopens, and power losses (the newest segment cut anywhere
 * past its durable end). After every reopen: every durable write is there
 * or superseded by a later write, nothing that was never written appears,
 * no seq appears twice, and every indexed location reads back its record.
 * Deterministic (fixed seeds), bounded steps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>

#include "storage_test.h"

#define MODEL_KEYS 16
#define MODEL_STEPS 400
#define MODEL_SEQ_MAX 8192

/* One appended record, by seq. */
struct entry {
    bool present; /* appended and not cut */
    int key;
    uint8_t kind;
    uint32_t len;
    struct store_loc loc;
};

struct model {
    char dir[512]; /* first: test_teardown removes it */
    struct store_faults faults;
    struct store_config cfg;
    struct store *s;
    uint32_t rng;
    struct entry log[MODEL_SEQ_MAX];
    uint64_t newest[MODEL_KEYS];  /* newest present seq per key (0: none) */
    uint64_t durable[MODEL_KEYS]; /* newest durable seq per key */
    uint64_t acked[MODEL_KEYS];   /* newest seq per key ever reported durable */
    bool relocate; /* a compaction crashed: recovery may find records at new offsets */
    unsigned failures, compactions, crashes, cut_bytes; /* what the run exercised */
    char buf[512];
};

static uint32_t rnd(struct model *m, uint32_t n)
{
    m->rng = m->rng * 1103515245u + 12345u;
    return (m->rng >> 8) % n;
}

/* The value of the record with this seq: derived from seq, so any copy can be checked. */
static void value_of(uint64_t seq, uint32_t len, char *out)
{
    for (uint32_t i = 0; i < len; i++)
        out[i] = (char)('a' + (seq * 7 + i) % 26);
}

static void key_of(int k, char *out)
{
    sprintf(out, "model-key-%02d", k);
}

/* Recomputes newest and durable per key from the log and the store's durable seq. */
static void model_refresh(struct model *m)
{
    uint64_t dseq = store_durable_seq(m->s);
    memset(m->newest, 0, sizeof(m->newest));
    memset(m->durable, 0, sizeof(m->durable));
    for (uint64_t q = 1; q < MODEL_SEQ_MAX; q++) {
        if (!m->log[q].present)
            continue;
        m->newest[m->log[q].key] = q;
        if (q <= dseq)
            m->durable[m->log[q].key] = q;
    }
}

/* Durable writes stay: each key's newest durable seq never goes below what was acknowledged. */
static void check_acked(struct model *m)
{
    for (int k = 0; k < MODEL_KEYS; k++) {
        assert_true(m->durable[k] >= m->acked[k]);
        m->acked[k] = m->durable[k];
    }
}

/* After a failed append or sync, every record above the durable seq is gone. */
static void model_cut(struct model *m)
{
    for (uint64_t q = store_durable_seq(m->s) + 1; q < MODEL_SEQ_MAX; q++)
        m->log[q].present = false;
}

/* Appends a batch of 1..5 random sets and deletes; maybe with a write fault armed. */
static void step_append(struct model *m)
{
    size_t n = 1 + rnd(m, 5);
    struct store_record recs[5];
    char keys[5][32], vals[5][200];
    int kidx[5];
    for (size_t i = 0; i < n; i++) {
        kidx[i] = (int)rnd(m, MODEL_KEYS);
        key_of(kidx[i], keys[i]);
        bool del = rnd(m, 6) == 0;
        uint32_t len = rnd(m, 150);
        value_of(store_next_seq(m->s) + i, len, vals[i]);
        vals[i][len] = '\0';
        recs[i] = test_rec(keys[i], del ? NULL : vals[i]);
        if (!del)
            recs[i].nvalue = len;
    }
    if (rnd(m, 10) == 0)
        m->faults.write_fail_at = m->faults.writes + 1 + rnd(m, 3);
    struct store_loc locs[5];
    size_t done = 0;
    enum store_err e = store_append(m->s, recs, n, locs, &done);
    m->faults.write_fail_at = 0;
    assert_true(e == STORE_OK || e == STORE_ESYS);
    m->failures += e != STORE_OK;
    size_t kept = e == STORE_OK ? n : done;
    for (size_t i = 0; i < kept; i++)
        m->log[recs[i].seq] = (struct entry){true, kidx[i], recs[i].kind, recs[i].nvalue, locs[i]};
    if (e != STORE_OK)
        model_cut(m);
}

/* Syncs, sometimes with an fsync fault armed. */
static void step_sync(struct model *m)
{
    if (rnd(m, 5) == 0)
        m->faults.fsync_fail_at = m->faults.fsyncs + 1;
    enum store_err e = store_sync(m->s);
    m->faults.fsync_fail_at = 0;
    if (e != STORE_OK) {
        assert_int_equal(e, STORE_ESYS);
        m->failures++;
        model_cut(m);
    }
}

/* A record is live while it is its key's newest durable record (sealed ones are all durable). */
static bool model_live(void *arg, const struct store_record *rec, const struct store_loc *loc)
{
    struct model *m = arg;
    assert_true(rec->seq < MODEL_SEQ_MAX && m->log[rec->seq].present);
    return m->durable[m->log[rec->seq].key] == rec->seq;
}

/* Checks that the bytes of a record are the ones appended with its seq. */
static void assert_matches_log(struct model *m, const struct store_record *r)
{
    assert_true(r->seq < MODEL_SEQ_MAX);
    const struct entry *e = &m->log[r->seq];
    assert_true(e->present); /* appended, never cut: no value that was never written */
    char key[32], want[200];
    key_of(e->key, key);
    assert_int_equal(r->nkey, strlen(key));
    assert_memory_equal(r->key, key, r->nkey);
    assert_int_equal(r->kind, e->kind);
    assert_int_equal(r->nvalue, e->len);
    value_of(r->seq, e->len, want);
    if (e->len > 0)
        assert_memory_equal(r->value, want, e->len);
}

/* Every record the index knows reads back from its location. */
static void check_reads(struct model *m)
{
    for (uint64_t q = 1; q < MODEL_SEQ_MAX; q++) {
        if (!m->log[q].present)
            continue;
        struct store_record r;
        assert_int_equal(store_read(m->s, &m->log[q].loc, m->buf, sizeof(m->buf), &r), STORE_OK);
        assert_int_equal(r.seq, q);
        assert_matches_log(m, &r);
    }
}

/* Recovery's visitor: checks each record against the log, once per seq. */
static int model_visit(void *arg, const struct store_record *rec, const struct store_loc *loc)
{
    struct model *m = arg;
    assert_matches_log(m, rec);
    struct entry *e = &m->log[rec->seq];
    assert_int_equal(e->loc.segno, loc->segno);
    assert_int_equal(e->loc.len, loc->len);
    if (m->relocate)
        e->loc.offset = loc->offset; /* the engine rebuilds its index from the scan */
    else
        assert_int_equal(e->loc.offset, loc->offset);
    e->loc.len |= 0x80000000u; /* mark it seen: a second visit fails above */
    return 0;
}

/* Closes, cuts the newest segment past its durable end if power_loss, reopens and checks. */
static void step_reopen(struct model *m, bool power_loss)
{
    struct store_segment_info newest;
    assert_int_equal(store_segment_at(m->s, store_segment_count(m->s) - 1, &newest), 0);
    uint64_t durable_end = STORE_SEGMENT_HEADER, dseq = store_durable_seq(m->s);
    for (uint64_t q = 1; q <= dseq && q < MODEL_SEQ_MAX; q++)
        if (m->log[q].present && m->log[q].loc.segno == newest.segno)
            durable_end = m->log[q].loc.offset + m->log[q].loc.len;
    store_close(&m->s);
    if (power_loss) {
        char path[600];
        test_seg_path(path, sizeof(path), m->dir, newest.segno, newest.generation);
        uint64_t cut = durable_end + rnd(m, (uint32_t)(newest.size - durable_end + 1));
        assert_int_equal(truncate(path, (off_t)cut), 0);
    }
    memset(&m->faults, 0, sizeof(m->faults));
    uint64_t was_durable[MODEL_KEYS];
    memcpy(was_durable, m->durable, sizeof(was_durable));
    struct store_open_report rep;
    enum store_err e = store_open(&m->cfg, model_visit, m, &m->s, &rep);
    if (e != STORE_OK)
        fail_msg("reopen: %s: %s", store_err_str(e), rep.message);
    m->cut_bytes += (unsigned)rep.truncated_bytes;
    for (uint64_t q = 1; q < MODEL_SEQ_MAX; q++) {
        struct entry *en = &m->log[q];
        en->present = en->present && (en->loc.len & 0x80000000u);
        en->loc.len &= 0x7fffffffu;
    }
    model_refresh(m);
    /* Nothing durable is lost: each key's newest is the durable one or later. */
    for (int k = 0; k < MODEL_KEYS; k++)
        assert_true(m->newest[k] >= was_durable[k]);
    check_acked(m);
    check_reads(m);
}

/* Compacts a random sealed segment, sometimes with a fault or an injected crash. */
static void step_compact(struct model *m)
{
    size_t n = store_segment_count(m->s);
    if (n < 2)
        return;
    struct store_segment_info seg;
    assert_int_equal(store_segment_at(m->s, rnd(m, (uint32_t)(n - 1)), &seg), 0);
    model_refresh(m);
    uint32_t roll = rnd(m, 12);
    if (roll < 3)
        m->faults.crash_at = STORE_CRASH_COMPACT_PARTIAL + rnd(m, 6);
    else if (roll == 3)
        m->faults.write_fail_at = m->faults.writes + 1;
    struct store_compaction *c = NULL;
    enum store_err e = store_compact_begin(m->s, seg.segno, &c);
    assert_int_equal(e, STORE_OK);
    e = store_compact_run(c, model_live, m);
    if (e == STORE_OK)
        e = store_compact_install(m->s, c);
    m->faults.write_fail_at = 0;
    m->compactions += e == STORE_OK;
    m->crashes += e == STORE_ECRASHED;
    if (e == STORE_OK) {
        size_t nm;
        const struct store_move *mv = store_compact_moves(c, &nm);
        for (uint64_t q = 1; q < MODEL_SEQ_MAX; q++)
            if (m->log[q].present && m->log[q].loc.segno == seg.segno)
                m->log[q].present = false; /* dropped, unless moved below */
        for (size_t i = 0; i < nm; i++) {
            struct entry *en = &m->log[mv[i].seq];
            assert_int_equal(en->loc.offset, mv[i].old_offset);
            en->present = true;
            en->loc.offset = mv[i].new_offset;
        }
    } else if (e != STORE_ECRASHED) {
        assert_int_equal(e, STORE_ESYS);
    }
    store_compact_destroy(&c);
    if (e == STORE_ECRASHED) {
        m->relocate = true;
        step_reopen(m, false);
        m->relocate = false;
    }
    m->faults.crash_at = STORE_CRASH_NONE;
}

/* Runs MODEL_STEPS random steps from one seed. */
static void run_model(struct model *m, uint32_t seed)
{
    m->rng = seed;
    m->cfg = (struct store_config){
        .dir = m->dir, .segment_max = 2048, .record_max = 300, .faults = &m->faults};
    struct store_open_report rep;
    assert_int_equal(store_open(&m->cfg, NULL, NULL, &m->s, &rep), STORE_OK);
    for (int step = 0; step < MODEL_STEPS; step++) {
        uint32_t op = rnd(m, 100);
        if (op < 55)
            step_append(m);
        else if (op < 75)
            step_sync(m);
        else if (op < 87)
            step_compact(m);
        else if (op < 93)
            step_reopen(m, false);
        else
            step_reopen(m, true);
        model_refresh(m);
        check_acked(m);
        assert_true(store_next_seq(m->s) < MODEL_SEQ_MAX - 8);
    }
    check_reads(m);
    step_reopen(m, true);
    print_message("model %u: %u failures, %u compactions, %u crashes, %u bytes cut, %zu segments\n",
                  seed, m->failures, m->compactions, m->crashes, m->cut_bytes,
                  store_segment_count(m->s));
    assert_true(m->failures > 0 && m->compactions > 0 && m->crashes > 0 && m->cut_bytes > 0);
    store_close(&m->s);
}

static int setup(void **state)
{
    struct model *m = calloc(1, sizeof(*m));
    test_dir_make(m->dir, sizeof(m->dir));
    *state = m;
    return 0;
}

static void test_model_seed_1(void **state)
{
    run_model(*state, 1);
}

static void test_model_seed_2(void **state)
{
    run_model(*state, 0xbeef);
}

static void test_model_seed_3(void **state)
{
    run_model(*state, 424242);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_model_seed_1, setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_model_seed_2, setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_model_seed_3, setup, test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
