/*
 * The users file (write, read back, refuse malformed lines, reload keeps the
 * old table on failure) and SASL sessions on it: PLAIN with good and bad
 * passwords, an unknown user, a body of a single NUL byte, PLAIN when not
 * offered, an unknown mechanism and a step without a start.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth/sasl.h"
#include "auth/users.h"

static char path[64];

/* Writes a users file with alice/secret (every hash) and bob/hunter2 (SHA-1 only). */
static int write_users(void **state)
{
    snprintf(path, sizeof(path), "/tmp/basalt-users-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    close(fd);
    struct auth_user_table t = {0};
    struct auth_user *a = auth_table_add(&t, "alice");
    for (int h = 0; h < SCRAM_NHASH; h++) {
        a->has[h] = true;
        if (scram_derive((enum scram_hash)h, "secret", 6, (const uint8_t *)"salt-of-alice", 13,
                         1000, &a->cred[h]) != 0)
            return -1;
    }
    struct auth_user *b = auth_table_add(&t, "bob");
    b->has[SCRAM_SHA1] = true;
    if (scram_derive(SCRAM_SHA1, "hunter2", 7, (const uint8_t *)"pepper", 6, 2000,
                     &b->cred[SCRAM_SHA1]) != 0)
        return -1;
    FILE *f = fopen(path, "w");
    int rc = f && auth_table_write(&t, f) == 0 ? 0 : -1;
    if (f)
        fclose(f);
    auth_table_free(&t);
    return rc;
}

static int remove_users(void **state)
{
    unlink(path);
    return 0;
}

static void test_roundtrip(void **state)
{
    struct auth_user_table t;
    char err[256] = "";
    assert_int_equal(auth_table_read(&t, path, err, sizeof(err)), 0);
    assert_int_equal(t.n, 2);
    struct auth_user *a = auth_table_find(&t, "alice");
    assert_non_null(a);
    assert_true(a->has[SCRAM_SHA512] && a->has[SCRAM_SHA256] && a->has[SCRAM_SHA1]);
    assert_int_equal(a->cred[SCRAM_SHA256].iterations, 1000);
    assert_true(scram_check_password(SCRAM_SHA256, &a->cred[SCRAM_SHA256], "secret", 6));
    struct auth_user *b = auth_table_find(&t, "bob");
    assert_non_null(b);
    assert_false(b->has[SCRAM_SHA512]);
    assert_true(auth_table_remove(&t, "bob"));
    assert_null(auth_table_find(&t, "bob"));
    auth_table_free(&t);
    /* The file holds no password. */
    FILE *f = fopen(path, "r");
    char buf[4096];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    assert_null(strstr(buf, "secret"));
    assert_null(strstr(buf, "hunter2"));
}

static void test_bad_files(void **state)
{
    static const char *const lines[] = {
        "alice SCRAM-SHA1 4096 c2FsdA==\n", "alice SCRAM-MD5 4096 c2FsdA== AAAA AAAA\n",
        "alice SCRAM-SHA1 0 c2FsdA== AAAA AAAA\n",
        "alice SCRAM-SHA1 4096 c2FsdA== AAAA AAAA\n", /* keys too short */
    };
    char bad[64], err[256];
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        snprintf(bad, sizeof(bad), "/tmp/basalt-badusers-XXXXXX");
        int fd = mkstemp(bad);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, lines[i], strlen(lines[i])), (ssize_t)strlen(lines[i]));
        close(fd);
        struct auth_user_table t;
        assert_int_equal(auth_table_read(&t, bad, err, sizeof(err)), -1);
        assert_non_null(strstr(err, ":1: "));
        unlink(bad);
    }
    struct auth_user_table t;
    assert_int_equal(auth_table_read(&t, "/nonexistent/users", err, sizeof(err)), -1);
}

static enum sasl_result plain(struct auth_users *u, bool offered, const char *body, size_t len)
{
    struct sasl_session *s = NULL;
    struct sasl_reply r;
    enum sasl_result res = sasl_start(u, offered, "PLAIN", 5, (const uint8_t *)body, len, &s, &r);
    assert_null(s);
    return res;
}

static void test_plain(void **state)
{
    char err[256] = "";
    struct auth_users *u = auth_users_create(path, err, sizeof(err));
    assert_non_null(u);
    assert_int_equal(auth_users_count(u), 2);
    assert_int_equal(plain(u, true, "\0alice\0secret", 13), SASL_DONE);
    assert_int_equal(plain(u, true, "alice\0alice\0secret", 18), SASL_DONE);
    assert_int_equal(plain(u, true, "\0bob\0hunter2", 12), SASL_DONE);
    assert_int_equal(plain(u, true, "\0alice\0secreT", 13), SASL_FAILED);
    assert_int_equal(plain(u, true, "bob\0alice\0secret", 16), SASL_FAILED);
    assert_int_equal(plain(u, true, "\0carol\0secret", 13), SASL_FAILED);
    assert_int_equal(plain(u, true, "", 1), SASL_REFUSED); /* a single NUL byte */
    assert_int_equal(plain(u, true, "", 0), SASL_REFUSED);
    assert_int_equal(plain(u, true, "\0\0secret", 8), SASL_REFUSED);
    assert_int_equal(plain(u, false, "\0alice\0secret", 13), SASL_REFUSED);

    struct sasl_session *s = NULL;
    struct sasl_reply r;
    assert_int_equal(sasl_start(u, true, "CRAM-MD5", 8, (const uint8_t *)"x", 1, &s, &r),
                     SASL_REFUSED);
    assert_int_equal(sasl_step(NULL, (const uint8_t *)"c=biws", 6, &r), SASL_REFUSED);
    const char *first = "n,,n=alice,r=abcdef";
    assert_int_equal(
        sasl_start(u, false, "SCRAM-SHA256", 12, (const uint8_t *)first, strlen(first), &s, &r),
        SASL_CONTINUE);
    assert_non_null(s);
    assert_string_equal(r.user, "alice");
    assert_true(r.outlen > 0 && memcmp(r.out, "r=abcdef", 8) == 0);
    sasl_session_destroy(&s);
    assert_null(s);
    assert_string_equal(sasl_mechanisms(true), "SCRAM-SHA512 SCRAM-SHA256 SCRAM-SHA1 PLAIN");
    auth_users_destroy(&u);
}

/* A reload of a broken file fails and keeps the users that were loaded. */
static void test_reload(void **state)
{
    char err[256] = "";
    struct auth_users *u = auth_users_create(path, err, sizeof(err));
    assert_non_null(u);
    FILE *f = fopen(path, "a");
    fputs("garbage line\n", f);
    fclose(f);
    assert_int_equal(auth_users_reload(u, err, sizeof(err)), -1);
    assert_int_equal(plain(u, true, "\0alice\0secret", 13), SASL_DONE);
    assert_int_equal(write_users(NULL), 0);
    auth_users_destroy(&u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_reload),
    };
    return cmocka_run_group_tests(tests, write_users, remove_users);
}
