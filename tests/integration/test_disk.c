/*
 * The disk engine end to end: restart after SIGTERM keeps value, flags, CAS
 * and remaining TTL (deleted and expired keys stay gone); injected write and
 * fsync failures are answered with errors, reads keep working and writes
 * resume; a torn tail of the newest segment is cut at any offset; a flipped
 * byte in an older segment refuses the start naming file and offset, and
 * --repair starts; a dataset four times the memory quota reads back through
 * background fetches while NOOP on another connection stays responsive.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "integration/disk_util.h"

#define NKEYS 40

/* Sets key with flags and TTL through ms; asserts HD. */
static void ms(int fd, const char *key, const char *value, unsigned flags, unsigned ttl)
{
    char cmd[512], line[128];
    snprintf(cmd, sizeof(cmd), "ms %s %zu F%u T%u\r\n%s\r\n", key, strlen(value), flags, ttl,
             value);
    disk_cmd(fd, cmd, line, sizeof(line));
    assert_string_equal(line, "HD");
}

static void test_restart_sigterm(void **state)
{
    struct disk_srv d;
    disk_init(&d);
    disk_start(&d, "");
    int fd = disk_connect(&d);
    char key[32], value[64], line[128];
    for (int i = 0; i < NKEYS; i++) {
        snprintf(key, sizeof(key), "key%d", i);
        snprintf(value, sizeof(value), "value-%d", i);
        ms(fd, key, value, (unsigned)i * 7, i % 3 == 0 ? 1000 : 0);
    }
    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof(key), "md key%d\r\n", i);
        disk_cmd(fd, key, line, sizeof(line));
        assert_string_equal(line, "HD");
    }
    ms(fd, "num", "10", 0, 0);
    disk_cmd(fd, "incr num 5\r\n", line, sizeof(line));
    assert_string_equal(line, "15");
    ms(fd, "short", "x", 0, 1);
    struct disk_item before[NKEYS];
    for (int i = 0; i < NKEYS; i++) {
        snprintf(key, sizeof(key), "key%d", i);
        disk_mg(fd, key, &before[i]);
    }
    close(fd);
    sleep_ms(2100); /* "short" expires */
    assert_int_equal(server_stop(&d.s), 0);
    disk_start(&d, "");
    fd = disk_connect(&d);
    struct disk_item it;
    unsigned long long max_cas = 0;
    for (int i = 0; i < NKEYS; i++) {
        snprintf(key, sizeof(key), "key%d", i);
        disk_mg(fd, key, &it);
        assert_int_equal(it.found, before[i].found);
        if (!it.found)
            continue;
        assert_string_equal(it.value, before[i].value);
        assert_int_equal(it.flags, before[i].flags);
        assert_int_equal(it.cas, before[i].cas);
        if (before[i].ttl == -1)
            assert_int_equal(it.ttl, -1);
        else
            assert_true(it.ttl > 0 && it.ttl <= before[i].ttl);
        max_cas = it.cas > max_cas ? it.cas : max_cas;
    }
    disk_mg(fd, "num", &it);
    assert_string_equal(it.value, "15");
    disk_mg(fd, "short", &it);
    assert_false(it.found);
    /* CAS keeps growing past every CAS recovered. */
    ms(fd, "fresh", "y", 0, 0);
    disk_mg(fd, "fresh", &it);
    assert_true(it.cas > max_cas);
    close(fd);
    disk_cleanup(&d);
}

/* flush_all survives a restart: what it removed stays gone, what came after stays. */
static void test_flush_persists(void **state)
{
    struct disk_srv d;
    disk_init(&d);
    disk_start(&d, "");
    int fd = disk_connect(&d);
    char line[64];
    ms(fd, "before1", "a", 0, 0);
    ms(fd, "before2", "b", 0, 0);
    disk_cmd(fd, "flush_all\r\n", line, sizeof(line));
    assert_string_equal(line, "OK");
    ms(fd, "after", "c", 0, 0);
    close(fd);
    assert_int_equal(server_stop(&d.s), 0);
    disk_start(&d, "");
    fd = disk_connect(&d);
    struct disk_item it;
    disk_mg(fd, "before1", &it);
    assert_false(it.found);
    disk_mg(fd, "before2", &it);
    assert_false(it.found);
    disk_mg(fd, "after", &it);
    assert_true(it.found);
    assert_string_equal(it.value, "c");
    close(fd);
    disk_cleanup(&d);
}

/* Sends TEST_CONTROL with text on a binary connection; asserts success. */
static void control(const struct disk_srv *d, const char *text)
{
    int fd = disk_connect(d);
    struct frame_req r = {
        .opcode = BIN_CMD_TEST_CONTROL, .value = text, .vallen = (uint32_t)strlen(text)};
    struct frame_resp m;
    assert_int_equal(frame_call(fd, &r, &m), BIN_STATUS_SUCCESS);
    frame_free(&m);
    close(fd);
}

/* set key; returns true on STORED, false on SERVER_ERROR (anything else fails). */
static bool try_set(int fd, const char *key, const char *value)
{
    char cmd[256], line[256];
    snprintf(cmd, sizeof(cmd), "set %s 0 0 %zu\r\n", key, strlen(value));
    text_send(fd, cmd);
    text_send(fd, value);
    disk_cmd(fd, "\r\n", line, sizeof(line));
    if (strcmp(line, "STORED") == 0)
        return true;
    assert_true(strncmp(line, "SERVER_ERROR", 12) == 0);
    return false;
}

/* Retries a set until the disk accepts it again (bounded). */
static void set_until_stored(int fd, const char *key, const char *value)
{
    for (int i = 0; i < 500; i++) {
        if (try_set(fd, key, value))
            return;
        sleep_ms(10);
    }
    fail_msg("writes did not resume");
}

static void check_value(int fd, const char *key, const char *value)
{
    struct disk_item it;
    disk_mg(fd, key, &it);
    assert_true(it.found);
    assert_string_equal(it.value, value);
}

/* durability=sync: a write whose fsync (or write) fails is answered with an error. */
static void run_sync_fault(const char *fault)
{
    struct disk_srv d;
    disk_init(&d);
    disk_start(&d, "durability=sync");
    int fd = disk_connect(&d);
    assert_true(try_set(fd, "k1", "one"));
    control(&d, fault);
    assert_false(try_set(fd, "k2", "two")); /* never acknowledged */
    check_value(fd, "k1", "one");           /* reads keep working */
    set_until_stored(fd, "k3", "three");
    check_value(fd, "k3", "three");
    close(fd);
    assert_int_equal(server_stop(&d.s), 0);
    disk_start(&d, "durability=sync");
    fd = disk_connect(&d);
    check_value(fd, "k1", "one");
    check_value(fd, "k3", "three");
    close(fd);
    disk_cleanup(&d);
}

static void test_fsync_failure_sync(void **state)
{
    run_sync_fault("fault:fsync:1:3");
}

static void test_write_failure_sync(void **state)
{
    run_sync_fault("fault:write:1:2:ENOSPC");
}

/* durability=async: every STORED write survives a fault and a restart. */
static void test_fsync_failure_async(void **state)
{
    struct disk_srv d;
    disk_init(&d);
    disk_start(&d, "");
    int fd = disk_connect(&d);
    control(&d, "fault:fsync:1:4");
    bool stored[100];
    char key[32], value[32];
    int refused = 0;
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "a%d", i);
        snprintf(value, sizeof(value), "v%d", i);
        stored[i] = try_set(fd, key, value);
        refused += !stored[i];
        sleep_ms(1);
    }
    assert_true(refused > 0);
    set_until_stored(fd, "last", "x");
    close(fd);
    assert_int_equal(server_stop(&d.s), 0);
    disk_start(&d, "");
    fd = disk_connect(&d);
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "a%d", i);
        snprintf(value, sizeof(value), "v%d", i);
        if (stored[i])
            check_value(fd, key, value);
    }
    close(fd);
    disk_cleanup(&d);
}

/* The path of the segment with the highest (newest: 1) or lowest (0) number. */
static void segment_path(const struct disk_srv *d, bool newest, char *out, size_t cap)
{
    DIR *dir = opendir(d->dir);
    assert_non_null(dir);
    struct dirent *e;
    char best[256] = "";
    while ((e = readdir(dir)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 4 || strcmp(e->d_name + n - 4, ".seg") != 0)
            continue;
        if (best[0] == '\0' || (strcmp(e->d_name, best) > 0) == newest)
            snprintf(best, sizeof(best), "%s", e->d_name);
    }
    closedir(dir);
    assert_true(best[0] != '\0');
    snprintf(out, cap, "%s/%s", d->dir, best);
}

/* Cutting the newest segment anywhere inside its last record keeps everything before it. */
static void test_torn_tail(void **state)
{
    struct disk_srv d;
    disk_init(&d);
    disk_start(&d, "durability=sync");
    int fd = disk_connect(&d);
    assert_true(try_set(fd, "t0", "v0"));
    assert_true(try_set(fd, "t1", "v1"));
    assert_true(try_set(fd, "t2", "v2")); /* the last record: 40 + 2 + 2 bytes */
    close(fd);
    assert_int_equal(server_stop(&d.s), 0);
    char seg[600];
    segment_path(&d, true, seg, sizeof(seg));
    struct stat st;
    assert_int_equal(stat(seg, &st), 0);
    off_t start = st.st_size - 44;
    for (off_t cut = start + 1; cut < st.st_size; cut++) {
        assert_int_equal(truncate(seg, cut), 0);
        disk_start(&d, "");
        fd = disk_connect(&d);
        check_value(fd, "t0", "v0");
        check_value(fd, "t1", "v1");
        struct disk_item it;
        disk_mg(fd, "t2", &it);
        assert_false(it.found);
        /* Restore the cut record for the next round: write it again at the same place. */
        assert_true(try_set(fd, "t2", "v2"));
        close(fd);
        assert_int_equal(server_stop(&d.s), 0);
        assert_int_equal(stat(seg, &st), 0);
        assert_int_equal(st.st_size, start + 44);
    }
    disk_cleanup(&d);
}

/* Flips one byte at offset of path. */
static void flip_byte(const char *path, off_t offset)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    unsigned char b;
    assert_int_equal(pread(fd, &b, 1, offset), 1);
    b ^= 0x40;
    assert_int_equal(pwrite(fd, &b, 1, offset), 1);
    close(fd);
}

static void test_corruption_and_repair(void **state)
{
    struct disk_srv d;
    disk_init(&d);
    const char *const small[] = {"-I", "4k", NULL};
    assert_int_equal(disk_start_args(&d, "segment_size=64k", small), 0);
    int fd = disk_connect(&d);
    char key[32], value[1100];
    memset(value, 'v', 1000);
    value[1000] = '\0';
    for (int i = 0; i < 200; i++) { /* about three segments */
        snprintf(key, sizeof(key), "c%d", i);
        assert_true(try_set(fd, key, value));
    }
    close(fd);
    assert_int_equal(server_stop(&d.s), 0);
    char seg[600];
    segment_path(&d, false, seg, sizeof(seg));
    flip_byte(seg, 32 + 40 + 1000); /* in the value of a record in the oldest segment */
    char opts[512];
    snprintf(opts, sizeof(opts), "engine=disk,data_dir=%s", d.dir);
    char *argv[] = {(char *)server_path(), "-p", "0", "-I", "4k", "-o", opts, NULL};
    struct proc_result r;
    assert_int_equal(proc_run(argv, 20000, &r), 0);
    assert_false(r.timed_out);
    assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) != 0);
    const char *base = strrchr(seg, '/') + 1;
    assert_non_null(strstr(r.err, base));
    assert_non_null(strstr(r.err, "offset"));
    assert_non_null(strstr(r.err, "--repair"));
    const char *const repair[] = {"--repair", "-I", "4k", NULL};
    assert_int_equal(disk_start_args(&d, "", repair), 0);
    fd = disk_connect(&d);
    struct disk_item it;
    disk_mg(fd, "c199", &it);
    assert_true(it.found);
    close(fd);
    assert_int_equal(server_stop(&d.s), 0);
    /* The start said what it dropped. */
    FILE *log = fopen(d.log, "r");
    assert_non_null(log);
    char text[8192];
    size_t n = fread(text, 1, sizeof(text) - 1, log);
    fclose(log);
    text[n] = '\0';
    assert_non_null(strstr(text, "repair: 1 bad ranges"));
    disk_cleanup(&d);
}

/* The value of key qI in test_dataset_above_quota: 4096 bytes starting with its number. */
static void quota_value(int i, char *value)
{
    memset(value, 'a' + i % 26, 4096);
    int n = snprintf(value, 16, "%d-", i);
    value[n] = 'x';
    value[4096] = '\0';
}

/* Reads a 4096-byte data block and its CRLF in one go (text_read_line reads bytewise). */
static void read_value_block(int fd, char *got)
{
    assert_int_equal(sock_read_exact(fd, got, 4098, IO_TIMEOUT_MS), 0);
    assert_memory_equal(got + 4096, "\r\n", 2);
    got[4096] = '\0';
}

/* Reads qI with mg and checks its value. */
static void check_quota_key(int fd, int i)
{
    char cmd[64], line[64], got[4200], want[4200];
    snprintf(cmd, sizeof(cmd), "mg q%d v\r\n", i);
    disk_cmd(fd, cmd, line, sizeof(line));
    assert_string_equal(line, "VA 4096");
    read_value_block(fd, got);
    quota_value(i, want);
    assert_string_equal(got, want);
}

/* Four times the quota: every key reads back, fetches count, NOOP stays responsive. */
static void test_dataset_above_quota(void **state)
{
    struct disk_srv d;
    disk_init(&d);
    const char *const more[] = {"-m", "2", "-I", "64k", NULL};
    assert_int_equal(disk_start_args(&d, "", more), 0);
    int fd = disk_connect(&d);
    char key[32], value[4200];
    for (int i = 0; i < 2048; i++) { /* 8 MiB of values */
        snprintf(key, sizeof(key), "q%d", i);
        quota_value(i, value);
        assert_true(try_set(fd, key, value));
    }
    assert_true(disk_stat(fd, "disk_nonresident_items") > 0);
    long long fetches0 = disk_stat(fd, "disk_fetches");
    for (int i = 0; i < 2048; i++)
        check_quota_key(fd, i);
    assert_true(disk_stat(fd, "disk_fetches") > fetches0);
    close(fd);
    assert_int_equal(server_stop(&d.s), 0);
    /* Fetches slowed to 300 ms: a NOOP on another connection answers while one waits. */
    assert_int_equal(disk_start_args(&d, "disk_fetch_delay_us=300000", more), 0);
    fd = disk_connect(&d);
    int other = disk_connect(&d);
    for (int i = 0; i < 5; i++) {
        char cmd[64];
        int k = 2047 - i * 100; /* written last: not loaded by the warm-up, so fetched */
        snprintf(cmd, sizeof(cmd), "mg q%d v\r\n", k);
        text_send(fd, cmd);
        sleep_ms(20); /* the read is waiting for its fetch now */
        int64_t t0 = now_ms();
        text_xchg(other, "mn\r\n", "MN\r\n");
        assert_true(now_ms() - t0 < 250);
        assert_true(sock_expect_silent(fd, 0)); /* the fetch is still running */
        char line[64], got[4200];
        text_read_line(fd, line, sizeof(line));
        assert_string_equal(line, "VA 4096");
        read_value_block(fd, got);
        quota_value(k, value);
        assert_string_equal(got, value);
    }
    close(other);
    close(fd);
    disk_cleanup(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restart_sigterm),       cmocka_unit_test(test_flush_persists),
        cmocka_unit_test(test_fsync_failure_sync),    cmocka_unit_test(test_write_failure_sync),
        cmocka_unit_test(test_fsync_failure_async),   cmocka_unit_test(test_torn_tail),
        cmocka_unit_test(test_corruption_and_repair), cmocka_unit_test(test_dataset_above_quota),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
