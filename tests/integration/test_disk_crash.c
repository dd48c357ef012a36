/*
 * kill -9 loops against the disk engine. durability=sync: a pipelined mix
 * of set, delete, incr and append on a few keys, killed after a random
 * number of replies; after each restart every key holds the state its last
 * acknowledged write left, or the state of a later write that was sent, and
 * never anything else. durability=async: the recovered state is a prefix of
 * the write order (k1, marker=1, k2, marker=2, ...: if marker=N survived,
 * k1..kN did). Rounds are bounded by count.
 */
#include <signal.h>
#include <unistd.h>

#include "integration/disk_util.h"

#define SYNC_ROUNDS 20
#define ASYNC_ROUNDS 6
#define NK 6    /* keys of the sync workload */
#define NOPS 30 /* ops per round */
#define VLEN 48 /* room for a value in the model */

/* One key's possible states: index 0 is the acknowledged one, later ones were sent after it. */
struct key_model {
    char states[NOPS + 1][VLEN]; /* "" means missing */
    int n;
};

static unsigned next_rand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 16) & 0x7fff;
}

/* memcached's incr on the model: a decimal value below 2^64 of at most 20 digits. */
static bool model_incr(const char *v, char *out)
{
    size_t n = strlen(v);
    if (n == 0 || n > 20 || strspn(v, "0123456789") != n)
        return false;
    unsigned long long x = strtoull(v, NULL, 10);
    if (n == 20 && strcmp(v, "18446744073709551615") > 0)
        return false;
    snprintf(out, VLEN, "%llu", x + 1);
    return true;
}

/* One op: its text, and its effect on the model key (next state, and the reply it gets). */
struct op {
    char text[128];
    int key;
    char next[VLEN];
    char reply[VLEN];
};

static void make_op(struct op *o, unsigned *seed, int round, int i, int key, const char *cur)
{
    o->key = key;
    unsigned kind = next_rand(seed) % 4;
    char val[24];
    snprintf(val, sizeof(val), "%d%02d", round + 1, i); /* digits: incr keeps working */
    snprintf(o->next, VLEN, "%s", cur);
    if (kind == 0) {
        snprintf(o->text, sizeof(o->text), "set k%d 0 0 %zu\r\n%s\r\n", o->key, strlen(val), val);
        snprintf(o->next, VLEN, "%s", val);
        snprintf(o->reply, sizeof(o->reply), "STORED");
    } else if (kind == 1) {
        snprintf(o->text, sizeof(o->text), "delete k%d\r\n", o->key);
        snprintf(o->reply, sizeof(o->reply), "%s", cur[0] ? "DELETED" : "NOT_FOUND");
        o->next[0] = '\0';
    } else if (kind == 2) {
        snprintf(o->text, sizeof(o->text), "incr k%d 1\r\n", o->key);
        if (!cur[0])
            snprintf(o->reply, sizeof(o->reply), "NOT_FOUND");
        else if (model_incr(cur, o->next))
            snprintf(o->reply, sizeof(o->reply), "%s", o->next);
        else
            snprintf(o->reply, sizeof(o->reply), "CLIENT_ERROR");
    } else {
        snprintf(o->text, sizeof(o->text), "append k%d 0 0 1\r\n%d\r\n", o->key, i % 10);
        if (cur[0] && strlen(cur) + 1 < VLEN)
            snprintf(o->next, VLEN, "%s%d", cur, i % 10);
        snprintf(o->reply, sizeof(o->reply), "%s", cur[0] ? "STORED" : "NOT_STORED");
    }
}

/* After a restart: each key is in one of its allowed states; that state becomes the model. */
static void check_and_reset(int fd, struct key_model *m)
{
    for (int k = 0; k < NK; k++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", k);
        struct disk_item it;
        disk_mg(fd, key, &it);
        const char *got = it.found ? it.value : "";
        bool allowed = false;
        for (int s = 0; s < m[k].n && !allowed; s++)
            allowed = strcmp(m[k].states[s], got) == 0;
        if (!allowed)
            fail_msg("k%d holds '%s', which no acknowledged or later write left", k, got);
        snprintf(m[k].states[0], VLEN, "%.*s", VLEN - 1, got); /* allowed states fit */
        m[k].n = 1;
    }
}

/* Sends ops pipelined, reads `acked` replies (checking them), and records the allowed states. */
static void run_round(int fd, struct key_model *m, struct op *ops, int acked)
{
    char all[NOPS * 128] = "";
    for (int i = 0; i < NOPS; i++)
        strcat(all, ops[i].text);
    text_send(fd, all);
    for (int i = 0; i < acked; i++) {
        char line[128];
        text_read_line(fd, line, sizeof(line));
        if (strncmp(ops[i].reply, "CLIENT_ERROR", 12) == 0)
            assert_true(strncmp(line, "CLIENT_ERROR", 12) == 0);
        else
            assert_string_equal(line, ops[i].reply);
        struct key_model *km = &m[ops[i].key];
        /* Acknowledged: the key's state is now this op's result. */
        memcpy(km->states[0], ops[i].next, VLEN);
        km->n = 1;
    }
    for (int i = acked; i < NOPS; i++) {
        struct key_model *km = &m[ops[i].key];
        memcpy(km->states[km->n++], ops[i].next, VLEN);
    }
}

static void test_kill9_sync(void **state)
{
    struct disk_srv d;
    disk_init(&d);
    struct key_model m[NK];
    for (int k = 0; k < NK; k++) {
        m[k].states[0][0] = '\0';
        m[k].n = 1;
    }
    unsigned seed = 12345;
    for (int round = 0; round < SYNC_ROUNDS; round++) {
        disk_start(&d, "durability=sync");
        int fd = disk_connect(&d);
        check_and_reset(fd, m);
        /* The model's op list, built from the states in force before the round. */
        struct op ops[NOPS];
        char cur[NK][VLEN];
        for (int k = 0; k < NK; k++)
            memcpy(cur[k], m[k].states[0], VLEN);
        for (int i = 0; i < NOPS; i++) {
            int key = (int)(next_rand(&seed) % NK);
            make_op(&ops[i], &seed, round, i, key, cur[key]);
            memcpy(cur[ops[i].key], ops[i].next, VLEN);
        }
        int acked = (int)(next_rand(&seed) % NOPS);
        run_round(fd, m, ops, acked);
        disk_kill9(&d);
        close(fd);
    }
    disk_start(&d, "durability=sync");
    int fd = disk_connect(&d);
    check_and_reset(fd, m);
    close(fd);
    disk_cleanup(&d);
}

static void test_kill9_async_prefix(void **state)
{
    struct disk_srv d;
    disk_init(&d);
    unsigned seed = 777;
    for (int round = 0; round < ASYNC_ROUNDS; round++) {
        disk_start(&d, "");
        int fd = disk_connect(&d);
        enum { N = 200 };
        static char all[N * 2 * 64];
        all[0] = '\0';
        for (int i = 1; i <= N; i++) {
            char cmd[128];
            snprintf(cmd, sizeof(cmd), "set r%d_k%d 0 0 1\r\nx\r\nset r%d_m 0 0 %d\r\n%d\r\n",
                     round, i, round, snprintf(NULL, 0, "%d", i), i);
            strcat(all, cmd);
        }
        text_send(fd, all);
        int acked = (int)(next_rand(&seed) % (2 * N));
        for (int i = 0; i < acked; i++) {
            char line[64];
            text_read_line(fd, line, sizeof(line));
            assert_string_equal(line, "STORED");
        }
        disk_kill9(&d);
        close(fd);
        disk_start(&d, "");
        fd = disk_connect(&d);
        char key[32];
        snprintf(key, sizeof(key), "r%d_m", round);
        struct disk_item it;
        disk_mg(fd, key, &it);
        int marker = it.found ? atoi(it.value) : 0;
        for (int i = 1; i <= marker; i++) {
            snprintf(key, sizeof(key), "r%d_k%d", round, i);
            disk_mg(fd, key, &it);
            if (!it.found)
                fail_msg("round %d: marker %d survived but k%d did not", round, marker, i);
        }
        close(fd);
        assert_int_equal(server_stop(&d.s), 0);
    }
    disk_cleanup(&d);
}

/* 200 values of 1000 bytes (three 64 KiB segments), then most overwritten or deleted. */
static void fill_and_churn(int fd)
{
    char cmd[1200], line[64], value[1001];
    memset(value, 'v', 1000);
    value[1000] = '\0';
    for (int i = 0; i < 200; i++) {
        snprintf(cmd, sizeof(cmd), "set c%d 0 0 1000\r\n%s\r\n", i, value);
        disk_cmd(fd, cmd, line, sizeof(line));
        assert_string_equal(line, "STORED");
    }
    for (int i = 0; i < 180; i++) {
        if (i < 150)
            snprintf(cmd, sizeof(cmd), "set c%d 0 0 %d\r\nnew-%03d\r\n", i, 7, i);
        else
            snprintf(cmd, sizeof(cmd), "delete c%d\r\n", i);
        disk_cmd(fd, cmd, line, sizeof(line));
        assert_string_equal(line, i < 150 ? "STORED" : "DELETED");
    }
}

/* Every live key once with its newest value; no deleted key back. */
static void verify_churned(int fd)
{
    char key[16], want[16];
    struct disk_item it;
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof(key), "c%d", i);
        disk_mg(fd, key, &it);
        if (i >= 150 && i < 180) {
            assert_false(it.found);
            continue;
        }
        assert_true(it.found);
        if (i < 150) {
            snprintf(want, sizeof(want), "new-%03d", i);
            assert_string_equal(it.value, want);
        } else {
            assert_int_equal(strlen(it.value), 1000);
        }
    }
}

/* Opens a store holding fill_and_churn's data, written with compaction off. */
static void prepare_churned(struct disk_srv *d, const char *const *small)
{
    assert_int_equal(disk_start_args(d, "segment_size=64k,compact_threshold=0", small), 0);
    int fd = disk_connect(d);
    fill_and_churn(fd);
    close(fd);
    assert_int_equal(server_stop(&d->s), 0);
}

static void test_compaction(void **state)
{
    struct disk_srv d;
    disk_init(&d);
    const char *const small[] = {"-I", "4k", NULL};
    prepare_churned(&d, small);
    assert_int_equal(disk_start_args(&d, "segment_size=64k,compact_threshold=0.9", small), 0);
    int fd = disk_connect(&d);
    long long before = disk_stat(fd, "disk_bytes");
    char line[64];
    disk_cmd(fd, "set trigger 0 0 1\r\nx\r\n", line, sizeof(line)); /* the flusher runs */
    int64_t deadline = now_ms() + 10000;
    while (disk_stat(fd, "disk_compactions") < 1 && now_ms() < deadline)
        sleep_ms(20);
    assert_true(disk_stat(fd, "disk_compactions") >= 1);
    assert_true(disk_stat(fd, "disk_bytes") < before);
    verify_churned(fd);
    close(fd);
    assert_int_equal(server_stop(&d.s), 0);
    assert_int_equal(disk_start_args(&d, "segment_size=64k", small), 0);
    fd = disk_connect(&d);
    verify_churned(fd);
    close(fd);
    disk_cleanup(&d);
}

/* A crash at each compaction step: the restart finds every live key once, no deleted one. */
static void test_crash_during_compaction(void **state)
{
    const char *const small[] = {"-I", "4k", NULL};
    for (int point = 2; point <= 7; point++) { /* STORE_CRASH_COMPACT_PARTIAL .. _UNLINKED */
        struct disk_srv d;
        disk_init(&d);
        prepare_churned(&d, small);
        char opts[128];
        snprintf(opts, sizeof(opts),
                 "segment_size=64k,compact_threshold=0.9,durability=sync,disk_faults=crash:%d",
                 point);
        assert_int_equal(disk_start_args(&d, opts, small), 0);
        int fd = disk_connect(&d);
        /* The flusher runs, then the compaction, which dies: the reply may never come. */
        text_send(fd, "set trigger 0 0 1\r\nx\r\n");
        int64_t deadline = now_ms() + 10000;
        while (server_alive(&d.s) && now_ms() < deadline)
            sleep_ms(20);
        assert_false(server_alive(&d.s)); /* died at the injected point */
        (void)server_stop(&d.s);
        close(fd);
        assert_int_equal(disk_start_args(&d, "segment_size=64k,compact_threshold=0", small), 0);
        fd = disk_connect(&d);
        verify_churned(fd);
        close(fd);
        disk_cleanup(&d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill9_sync),
        cmocka_unit_test(test_kill9_async_prefix),
        cmocka_unit_test(test_compaction),
        cmocka_unit_test(test_crash_during_compaction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
