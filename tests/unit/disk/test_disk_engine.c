/*
 * Unit tests of the disk engine: the fault setting parser, the test hook,
 * a sync waiter whose connection closes before (and after) its fsync
 * completes (notified once, nothing leaked), stats names, a reopen of
 * the same directory, and async fsyncs at most once per interval. Runs the engine on real executor
 * pools; each test has its own data directory under $TMPDIR, removed afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "engines/disk/disk.h"
#include "executor/executor.h"

/* A cookie: counts notifies, holds the engine-private slot. */
struct cookie {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int notified;
    void *priv;
};

static void notify(const void *c, engine_status st)
{
    struct cookie *k = (struct cookie *)c;
    pthread_mutex_lock(&k->lock);
    k->notified++;
    pthread_cond_signal(&k->cond);
    pthread_mutex_unlock(&k->lock);
}

static void *get_private(const void *c)
{
    return ((const struct cookie *)c)->priv;
}

static void set_private(const void *c, void *p)
{
    ((struct cookie *)c)->priv = p;
}

static const struct engine_host host = {notify, get_private, set_private};

/* Waits (bounded) until k was notified n times. */
static void wait_notified(struct cookie *k, int n)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 10;
    pthread_mutex_lock(&k->lock);
    while (k->notified < n && pthread_cond_timedwait(&k->cond, &k->lock, &dl) != ETIMEDOUT) {
    }
    int got = k->notified;
    pthread_mutex_unlock(&k->lock);
    assert_int_equal(got, n);
}

struct fixture {
    struct executors x;
    char dir[256];
    struct engine *e;
};

static struct engine *open_engine_every(struct fixture *f, bool sync, unsigned interval_ms)
{
    struct disk_engine_config cfg = {.data_dir = f->dir,
                                     .limit_bytes = 1u << 20,
                                     .item_size_max = 1u << 16,
                                     .sync = sync,
                                     .flush_interval_ms = interval_ms,
                                     .compact_threshold = 0.5};
    struct disk_pools pools = {f->x.pool[EXECUTOR_READER], f->x.pool[EXECUTOR_WRITER],
                               f->x.pool[EXECUTOR_AUX]};
    char err[256];
    struct engine *e = disk_engine_create(&cfg, &host, &pools, err, sizeof(err));
    assert_non_null(e);
    return e;
}

static struct engine *open_engine(struct fixture *f, bool sync)
{
    return open_engine_every(f, sync, 2);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof(f->dir), "%s/basalt-unit-disk-XXXXXX", tmp ? tmp : "/tmp");
    if (f == NULL || mkdtemp(f->dir) == NULL || executors_setup(&f->x, 2, 1, 1) != 0)
        return -1;
    *state = f;
    return 0;
}

static void close_engine(struct fixture *f)
{
    executor_drain(f->x.pool[EXECUTOR_READER]);
    executor_drain(f->x.pool[EXECUTOR_WRITER]);
    executor_drain(f->x.pool[EXECUTOR_AUX]);
    f->e->ops->destroy(f->e);
    f->e = NULL;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->e != NULL)
        close_engine(f);
    executors_teardown(&f->x);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

static void test_faults_parse(void **state)
{
    struct store_faults f;
    char err[128];
    assert_int_equal(disk_faults_parse("", &f, err, sizeof(err)), 0);
    assert_int_equal(f.write_fail_at + f.fsync_fail_at, 0);
    assert_int_equal(disk_faults_parse("write:3:2:ENOSPC+fsync:5", &f, err, sizeof(err)), 0);
    assert_int_equal(f.write_fail_at, 3);
    assert_int_equal(f.write_fail_n, 2);
    assert_int_equal(f.write_errno, ENOSPC);
    assert_int_equal(f.fsync_fail_at, 5);
    assert_int_equal(f.fsync_fail_n, 1);
    assert_int_equal(f.fsync_errno, EIO);
    assert_int_equal(disk_faults_parse("crash:4", &f, err, sizeof(err)), 0);
    assert_int_equal(f.crash_at, STORE_CRASH_COMPACT_SYNCED);
    const char *bad[] = {"write",          "write:0", "write:x", "write:1:0",
                         "write:1:1:EFOO", "read:1",  "crash:9", "fsync:1:2:3:4"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(disk_faults_parse(bad[i], &f, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "write:N"));
}

/* Stores key=value as a sync write; returns the status of the first call. */
static engine_status store(struct engine *e, struct cookie *k, const char *key, const char *v,
                           struct item **kept)
{
    struct item *it;
    assert_int_equal(e->ops->allocate(e, k, key, strlen(key), strlen(v), 0, 0, &it),
                     ENGINE_SUCCESS);
    memcpy(item_value(it), v, strlen(v));
    engine_status st = e->ops->store(e, k, it, 0, ENGINE_STORE_SET, NULL);
    *kept = it;
    return st;
}

static void test_waiter_disconnect(void **state)
{
    struct fixture *f = *state;
    f->e = open_engine(f, true);
    struct engine *e = f->e;
    struct cookie a = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, NULL};
    struct cookie b = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, NULL};
    struct item *ia, *ib;
    /* a: the connection closes while the write waits; b: after it was notified. */
    assert_int_equal(store(e, &a, "a", "1", &ia), ENGINE_EWOULDBLOCK);
    e->ops->disconnect(e, &a);
    assert_int_equal(store(e, &b, "b", "2", &ib), ENGINE_EWOULDBLOCK);
    wait_notified(&a, 1);
    wait_notified(&b, 1);
    e->ops->disconnect(e, &b);
    item_unref(ia);
    item_unref(ib);
    /* A third command completes normally: its second call collects the reply. */
    struct cookie c = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, NULL};
    struct item *ic;
    assert_int_equal(store(e, &c, "c", "3", &ic), ENGINE_EWOULDBLOCK);
    wait_notified(&c, 1);
    uint64_t cas = 0;
    assert_int_equal(e->ops->store(e, &c, ic, 0, ENGINE_STORE_SET, &cas), ENGINE_SUCCESS);
    assert_true(cas != 0);
    assert_null(c.priv);
    item_unref(ic);
    close_engine(f);
    /* Every write was durable: a reopen finds them. */
    f->e = open_engine(f, false);
    struct item *got;
    for (const char *k = "abc"; *k; k++) {
        assert_int_equal(f->e->ops->get(f->e, &c, k, 1, &got), ENGINE_SUCCESS);
        item_unref(got);
    }
}

static void emit(void *ctx, const char *name, const char *value)
{
    if (strcmp(name, "disk_durability") == 0)
        snprintf(ctx, 16, "%s", value);
}

static void test_stats_and_control(void **state)
{
    struct fixture *f = *state;
    f->e = open_engine(f, false);
    struct engine *e = f->e;
    char durability[16] = "";
    e->ops->get_stats_extra(e, emit, durability);
    assert_string_equal(durability, "async");
    struct cookie k = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, NULL};
    const char *good[] = {"fault:fsync:1", "fault:write:2:3:ENOSPC", "fault:clear"};
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(e->ops->test_control(e, &k, good[i], strlen(good[i])), ENGINE_SUCCESS);
    const char *bad[] = {"fsync:1", "fault:", "fault:nope:1"};
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(e->ops->test_control(e, &k, bad[i], strlen(bad[i])), ENGINE_EINVAL);
}

/* One disk_* stat as a number. */
struct stat_probe {
    const char *name;
    unsigned long long value;
};

static void probe(void *ctx, const char *name, const char *value)
{
    struct stat_probe *p = ctx;
    if (strcmp(name, p->name) == 0)
        p->value = strtoull(value, NULL, 10);
}

static unsigned long long stat_of(struct engine *e, const char *name)
{
    struct stat_probe p = {name, 0};
    e->ops->get_stats_extra(e, probe, &p);
    return p.value;
}

/* async: writes trickling in, one batch each, share the fsync of their interval. */
static void test_async_fsync_interval(void **state)
{
    struct fixture *f = *state;
    f->e = open_engine_every(f, false, 400);
    struct engine *e = f->e;
    struct cookie k = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, NULL};
    enum { N = 40 };
    for (int i = 0; i < N; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", i);
        struct item *it;
        assert_int_equal(store(e, &k, key, "v", &it), ENGINE_SUCCESS);
        item_unref(it);
        nanosleep(&(struct timespec){0, 2000000}, NULL); /* the flusher appends each alone */
    }
    for (int i = 0; i < 500 && stat_of(e, "disk_flushed_records") < N; i++)
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    assert_int_equal(stat_of(e, "disk_flushed_records"), N);
    /* 80 ms of writes at a 400 ms interval: one or two fsyncs, not one per batch. */
    assert_true(stat_of(e, "disk_fsyncs") <= 3);
}

int main(void)
{
    clock_setup();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_faults_parse),
        cmocka_unit_test_setup_teardown(test_waiter_disconnect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_and_control, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_fsync_interval, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
