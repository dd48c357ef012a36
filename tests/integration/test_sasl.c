/*
 * SASL on the binary protocol with -S: a C client runs SCRAM-SHA512/256/1
 * and PLAIN with good and bad passwords, a wrong proof, an unknown user, a
 * step without a start and a PLAIN body of one NUL byte; commands, big
 * frames and text before authentication; closing after three failures;
 * PLAIN only on TLS unless allowed; users added and removed with
 * basalt-passwd and reloaded on SIGHUP.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "integration/harness.h"
#include "integration/sasl_client.h"
#include "integration/tls_client.h"
#include "integration/tls_fixture.h"

static struct cert_dir dir;
static char users[192], slog[192];

/* Runs basalt-passwd with the password on stdin (NULL password: -d). */
static int passwd(const char *user, const char *password)
{
    char cmd[1024];
    if (password != NULL)
        snprintf(cmd, sizeof(cmd), "printf '%%s\\n' '%s' | '%s' '%s' '%s'", password, BASALT_PASSWD,
                 users, user);
    else
        snprintf(cmd, sizeof(cmd), "'%s' -d '%s' '%s'", BASALT_PASSWD, users, user);
    char *argv[] = {"sh", "-c", cmd, NULL};
    struct proc_result *r = malloc(sizeof(*r));
    int ok =
        r && proc_run(argv, 30000, r) == 0 && WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0;
    if (!ok && r)
        fprintf(stderr, "basalt-passwd failed: %s\n", r->err);
    free(r);
    return ok ? 0 : -1;
}

static int group_setup(void **state)
{
    if (cert_dir_create(&dir) != 0)
        return -1;
    cert_path(&dir, "users", users, sizeof(users));
    return passwd("alice", "wonderland") == 0 && passwd("bob", "builder") == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    cert_dir_remove(&dir);
    return 0;
}

/* A server with -S on its plain main port and a TLS port at *tls_port. */
struct sasl_env {
    struct server s;
    uint16_t tls_port;
};

static void env_start(struct sasl_env *e, bool plain_over_plaintext)
{
    char tls[64], o[1024], a[192], b[192];
    assert_int_equal(pick_free_port(&e->tls_port), 0);
    snprintf(tls, sizeof(tls), "tls:127.0.0.1:%u", (unsigned)e->tls_port);
    snprintf(o, sizeof(o), "sasl_users=%s,ssl_chain_cert=%s,ssl_key=%s%s", users,
             cert_path(&dir, "server.pem", a, sizeof(a)),
             cert_path(&dir, "server.key", b, sizeof(b)),
             plain_over_plaintext ? ",sasl_plain_over_plaintext=1" : "");
    /* A log of this server alone: waits for a line must not find an earlier server's. */
    static int nservers;
    char name[32];
    snprintf(name, sizeof(name), "server-%d.log", ++nservers);
    cert_path(&dir, name, slog, sizeof(slog));
    const char *args[] = {"-S", "-v", "-l", tls, "-o", o, NULL};
    struct server_opts so = {.basalt_args = args, .stderr_path = slog};
    assert_int_equal(server_start(&e->s, &so), 0);
}

static void env_stop(struct sasl_env *e)
{
    assert_int_equal(server_stop(&e->s), 0);
}

/* A GET on an authenticated connection reaches the engine (a miss). */
static void assert_served(struct io *io)
{
    struct frame_resp m;
    struct frame_req get = {.opcode = BIN_CMD_GET, .key = "nokey", .keylen = 5};
    assert_int_equal(io_call(io, &get, &m), BIN_STATUS_KEY_ENOENT);
    frame_free(&m);
}

static void test_scram_mechanisms(void **state)
{
    static const char *const mechs[] = {"SCRAM-SHA512", "SCRAM-SHA256", "SCRAM-SHA1"};
    struct sasl_env e;
    env_start(&e, false);
    for (size_t i = 0; i < 3; i++) {
        struct io io = {.fd = sock_connect(e.s.port)};
        assert_int_equal(scram_auth(&io, mechs[i], "alice", "wonderland", SCRAM_HONEST), 0);
        assert_served(&io);
        close(io.fd);
    }
    env_stop(&e);
}

/* Wrong password, wrong proof, unknown user, step without start: AUTH_ERROR each, then a
 * good attempt on a fresh connection still works. */
static void test_scram_failures(void **state)
{
    struct sasl_env e;
    env_start(&e, false);
    struct io io = {.fd = sock_connect(e.s.port)};
    assert_int_equal(scram_auth(&io, "SCRAM-SHA256", "alice", "wrong", SCRAM_HONEST),
                     BIN_STATUS_AUTH_ERROR);
    assert_int_equal(scram_auth(&io, "SCRAM-SHA512", "alice", "wonderland", SCRAM_BAD_PROOF),
                     BIN_STATUS_AUTH_ERROR);
    /* Two failures: the connection is still open and may still succeed. */
    assert_int_equal(scram_auth(&io, "SCRAM-SHA1", "alice", "wonderland", SCRAM_HONEST), 0);
    assert_served(&io);
    close(io.fd);

    io.fd = sock_connect(e.s.port);
    /* An unknown user gets a challenge like anyone else, and fails at the proof. */
    assert_int_equal(scram_auth(&io, "SCRAM-SHA256", "mallory", "x", SCRAM_HONEST),
                     BIN_STATUS_AUTH_ERROR);
    struct frame_resp m;
    assert_int_equal(sasl_call(&io, BIN_CMD_SASL_STEP, "SCRAM-SHA256", "c=biws,r=x,p=AAAA", 17, &m),
                     BIN_STATUS_AUTH_ERROR);
    frame_free(&m);
    close(io.fd);

    io.fd = sock_connect(e.s.port);
    assert_int_equal(sasl_call(&io, BIN_CMD_SASL_AUTH, "CRAM-MD5", "x", 1, &m),
                     BIN_STATUS_AUTH_ERROR);
    frame_free(&m);
    close(io.fd);
    env_stop(&e);
}

/* Three failures close the connection after the third reply; auth_errors counts them. */
static void test_three_failures_close(void **state)
{
    struct sasl_env e;
    env_start(&e, false);
    struct io io = {.fd = sock_connect(e.s.port)};
    for (int i = 0; i < 3; i++)
        assert_int_equal(scram_auth(&io, "SCRAM-SHA1", "bob", "nope", SCRAM_HONEST),
                         BIN_STATUS_AUTH_ERROR);
    assert_true(sock_expect_closed(io.fd, IO_TIMEOUT_MS));
    close(io.fd);
    io.fd = sock_connect(e.s.port);
    assert_int_equal(scram_auth(&io, "SCRAM-SHA1", "bob", "builder", SCRAM_HONEST), 0);
    assert_int_equal(stat_value(io.fd, "auth_errors"), 3);
    assert_true(stat_value(io.fd, "auth_cmds") >= 7);
    close(io.fd);
    env_stop(&e);
}

/* PLAIN: offered and accepted on the TLS port; a single NUL byte refused; on the plain port
 * neither listed nor accepted. */
static void test_plain(void **state)
{
    struct sasl_env e;
    env_start(&e, false);
    struct tls_conn t;
    assert_int_equal(tls_open(&t, e.tls_port, NULL), 0);
    struct io io = {.tls = &t};
    struct frame_resp m;
    assert_int_equal(io_call(&io, &(struct frame_req){.opcode = BIN_CMD_SASL_LIST_MECHS}, &m), 0);
    assert_non_null(strstr((const char *)resp_value(&m), "PLAIN"));
    frame_free(&m);
    assert_int_equal(sasl_call(&io, BIN_CMD_SASL_AUTH, "PLAIN", "", 1, &m), BIN_STATUS_AUTH_ERROR);
    frame_free(&m);
    assert_int_equal(plain_auth(&io, "alice", "wrong"), BIN_STATUS_AUTH_ERROR);
    assert_int_equal(plain_auth(&io, "alice", "wonderland"), 0);
    assert_served(&io);
    tls_close(&t);

    io = (struct io){.fd = sock_connect(e.s.port)};
    assert_int_equal(io_call(&io, &(struct frame_req){.opcode = BIN_CMD_SASL_LIST_MECHS}, &m), 0);
    assert_int_equal(resp_vallen(&m), strlen("SCRAM-SHA512 SCRAM-SHA256 SCRAM-SHA1"));
    assert_memory_equal(resp_value(&m), "SCRAM-SHA512 SCRAM-SHA256 SCRAM-SHA1", resp_vallen(&m));
    frame_free(&m);
    assert_int_equal(plain_auth(&io, "alice", "wonderland"), BIN_STATUS_AUTH_ERROR);
    close(io.fd);
    env_stop(&e);
}

/* -o sasl_plain_over_plaintext=1 offers PLAIN on the plain port too. */
static void test_plain_over_plaintext(void **state)
{
    struct sasl_env e;
    env_start(&e, true);
    struct io io = {.fd = sock_connect(e.s.port)};
    assert_int_equal(plain_auth(&io, "bob", "builder"), 0);
    assert_served(&io);
    close(io.fd);
    env_stop(&e);
}

/* Before authentication: VERSION, NOOP and LIST_MECHS answer; GET gets AUTH_ERROR and the
 * connection closes; a frame over 16 KiB closes it without a reply; text is told why. */
static void test_before_auth(void **state)
{
    struct sasl_env e;
    env_start(&e, false);
    struct io io = {.fd = sock_connect(e.s.port)};
    struct frame_resp m;
    assert_int_equal(io_call(&io, &(struct frame_req){.opcode = BIN_CMD_VERSION}, &m), 0);
    frame_free(&m);
    assert_int_equal(io_call(&io, &(struct frame_req){.opcode = BIN_CMD_NOOP}, &m), 0);
    frame_free(&m);
    struct frame_req get = {.opcode = BIN_CMD_GET, .key = "k", .keylen = 1, .opaque = 5};
    assert_int_equal(io_call(&io, &get, &m), BIN_STATUS_AUTH_ERROR);
    assert_int_equal(m.h.opaque, 5);
    frame_free(&m);
    assert_true(sock_expect_closed(io.fd, IO_TIMEOUT_MS));
    close(io.fd);

    io.fd = sock_connect(e.s.port);
    static char big[17 * 1024];
    struct frame_req huge = {.opcode = BIN_CMD_SASL_AUTH,
                             .key = "PLAIN",
                             .keylen = 5,
                             .value = big,
                             .vallen = sizeof(big)};
    assert_int_equal(frame_send(io.fd, &huge), 0);
    assert_true(sock_expect_closed(io.fd, IO_TIMEOUT_MS));
    close(io.fd);

    int fd = sock_connect(e.s.port);
    const char *text = "get foo\r\n";
    assert_int_equal(sock_write_all(fd, text, strlen(text)), 0);
    const char *want = "CLIENT_ERROR authentication required\r\n";
    char got[64] = "";
    assert_int_equal(sock_read_exact(fd, got, strlen(want), IO_TIMEOUT_MS), 0);
    assert_string_equal(got, want);
    assert_true(sock_expect_closed(fd, IO_TIMEOUT_MS));
    close(fd);
    env_stop(&e);
}

/* basalt-passwd adds and removes users; SIGHUP reloads the file. */
static void test_users_reload(void **state)
{
    struct sasl_env e;
    env_start(&e, false);
    struct io io = {.fd = sock_connect(e.s.port)};
    assert_int_equal(scram_auth(&io, "SCRAM-SHA256", "carol", "c4rol", SCRAM_HONEST),
                     BIN_STATUS_AUTH_ERROR);
    close(io.fd);
    assert_int_equal(passwd("carol", "c4rol"), 0);
    assert_int_equal(passwd("bob", NULL), 0);
    assert_int_equal(kill(e.s.pid, SIGHUP), 0);
    assert_true(file_wait_for(slog, "sasl: users reloaded (2 users)", 10000));
    io.fd = sock_connect(e.s.port);
    assert_int_equal(scram_auth(&io, "SCRAM-SHA256", "carol", "c4rol", SCRAM_HONEST), 0);
    close(io.fd);
    io.fd = sock_connect(e.s.port);
    assert_int_equal(scram_auth(&io, "SCRAM-SHA256", "bob", "builder", SCRAM_HONEST),
                     BIN_STATUS_AUTH_ERROR);
    close(io.fd);
    assert_int_equal(passwd("bob", "builder"), 0);
    env_stop(&e);
}

int main(void)
{
    if (server_is_memcached())
        return 0; /* memcached's SASL is configured differently; these tests are basalt's */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scram_mechanisms),     cmocka_unit_test(test_scram_failures),
        cmocka_unit_test(test_three_failures_close), cmocka_unit_test(test_plain),
        cmocka_unit_test(test_plain_over_plaintext), cmocka_unit_test(test_before_auth),
        cmocka_unit_test(test_users_reload),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
