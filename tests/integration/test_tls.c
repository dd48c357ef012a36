/*
 * TLS: binary clients over TLS beside a plain listener (-Z with notls:),
 * plain bytes to a TLS port and a ClientHello to a plain port, TLS 1.1
 * refused, the handshake timeout, certificate reload (good and broken),
 * mutual TLS (good, missing, foreign and expired client certificates), a
 * 1 MiB value sent by reference through TLS, many records arriving in one
 * read (read-ahead), resets while replies are written, and the idle, read
 * and stuck-send timeouts on TLS connections.
 * Certificates are generated per run.
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
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include "integration/harness.h"
#include "integration/tls_client.h"
#include "integration/tls_fixture.h"

static struct cert_dir certs;

/* A server with TLS on its main port (-Z) and a plain notls: port beside it. */
struct tls_env {
    struct server s;
    uint16_t plain_port;
    char log[192];
    char path[8][192];
};

static const char *P(struct tls_env *e, int slot, const char *name)
{
    return cert_path(&certs, name, e->path[slot], sizeof(e->path[slot]));
}

/* Starts the server with -Z, a notls: listener and -o opts (plus extra args, NULL-ended). */
static void env_start(struct tls_env *e, const char *opts, const char *const *extra)
{
    char notls[64], o[1024];
    assert_int_equal(pick_free_port(&e->plain_port), 0);
    snprintf(notls, sizeof(notls), "notls:127.0.0.1:%u", (unsigned)e->plain_port);
    snprintf(o, sizeof(o), "ssl_chain_cert=%s,ssl_key=%s%s%s", P(e, 0, "live.pem"),
             P(e, 1, "live.key"), opts ? "," : "", opts ? opts : "");
    /* A log of this server alone: waits for a line must not find an earlier server's. */
    static int nservers;
    char name[32];
    snprintf(name, sizeof(name), "server-%d.log", ++nservers);
    cert_path(&certs, name, e->log, sizeof(e->log));
    const char *args[16] = {"-Z", "-v", "-l", notls, "-o", o};
    int n = 6;
    for (; extra && *extra && n < 15; extra++)
        args[n++] = *extra;
    args[n] = NULL;
    struct server_opts so = {.basalt_args = args, .stderr_path = e->log};
    assert_int_equal(server_start(&e->s, &so), 0);
}

static void env_stop(struct tls_env *e)
{
    assert_int_equal(server_stop(&e->s), 0);
}

/* VERSION over TLS answers. */
static void assert_tls_works(uint16_t port, const struct tls_client_opts *o)
{
    struct tls_conn t;
    assert_int_equal(tls_open(&t, port, o), 0);
    struct frame_resp m;
    assert_int_equal(tls_frame_call(&t, &(struct frame_req){.opcode = BIN_CMD_VERSION}, &m), 0);
    frame_free(&m);
    tls_close(&t);
}

/* SET key to n bytes of v over TLS; returns the status or -1. */
static int tls_set(struct tls_conn *t, const char *key, const void *v, uint32_t n)
{
    uint8_t ext[8] = {0};
    struct frame_req set = {.opcode = BIN_CMD_SET,
                            .extras = ext,
                            .extlen = 8,
                            .key = key,
                            .keylen = (uint16_t)strlen(key),
                            .value = v,
                            .vallen = n};
    struct frame_resp m;
    int st = tls_frame_call(t, &set, &m);
    frame_free(&m);
    return st;
}

static long long plain_stat(uint16_t port, const char *name)
{
    int fd = sock_connect(port);
    assert_true(fd >= 0);
    long long v = stat_value(fd, name);
    close(fd);
    return v;
}

static int group_setup(void **state)
{
    if (cert_dir_create(&certs) != 0)
        return -1;
    char a[192], b[192];
    /* Each test server reads live.pem/live.key; reload tests rewrite them. */
    if (copy_file(cert_path(&certs, "server.pem", a, sizeof(a)),
                  cert_path(&certs, "live.pem", b, sizeof(b))) != 0 ||
        copy_file(cert_path(&certs, "server.key", a, sizeof(a)),
                  cert_path(&certs, "live.key", b, sizeof(b))) != 0)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    cert_dir_remove(&certs);
    return 0;
}

/* Storage and retrieval over TLS; the plain listener of the same server answers too. */
static void test_binary_over_tls(void **state)
{
    struct tls_env e;
    env_start(&e, NULL, NULL);
    struct tls_client_opts o = {.ca_file = P(&e, 2, "ca.pem")};
    struct tls_conn t;
    assert_int_equal(tls_open(&t, e.s.port, &o), 0);
    assert_int_equal(tls_set(&t, "k", "tls value", 9), BIN_STATUS_SUCCESS);
    struct frame_resp m;
    struct frame_req get = {.opcode = BIN_CMD_GET, .key = "k", .keylen = 1, .opaque = 42};
    assert_int_equal(tls_frame_call(&t, &get, &m), BIN_STATUS_SUCCESS);
    assert_int_equal(m.h.opaque, 42);
    assert_int_equal(resp_vallen(&m), 9);
    assert_memory_equal(resp_value(&m), "tls value", 9);
    frame_free(&m);
    tls_close(&t);

    int fd = sock_connect(e.plain_port);
    char buf[16];
    size_t len = 0;
    assert_int_equal(kv_get(fd, "k", buf, sizeof(buf), &len), BIN_STATUS_SUCCESS);
    assert_int_equal(len, 9);
    assert_true(stat_value(fd, "ssl_new_sessions") >= 1);
    assert_int_equal(stat_value(fd, "ssl_handshake_errors"), 0);
    assert_true(stat_value(fd, "time_since_server_cert_refresh") >= 0);
    close(fd);
    env_stop(&e);
}

/* Runs `openssl s_client` on port with text commands (ending with quit) as input; returns
 * what the server answered, malloc'd. */
static char *s_client_text(uint16_t port, const char *commands)
{
    char cmd[1024];
    snprintf(
        cmd, sizeof(cmd),
        "printf '%s' | openssl s_client -connect 127.0.0.1:%u -quiet -verify_quiet 2>/dev/null",
        commands, (unsigned)port);
    char *argv[] = {"sh", "-c", cmd, NULL};
    struct proc_result *r = malloc(sizeof(*r));
    assert_non_null(r);
    assert_int_equal(proc_run(argv, 20000, r), 0);
    assert_false(r->timed_out);
    char *out = strdup(r->out);
    free(r);
    return out;
}

/* A text client over TLS (openssl s_client): storage, retrieval, refresh_certs. */
static void test_text_over_tls(void **state)
{
    struct tls_env e;
    env_start(&e, NULL, NULL);
    char *out = s_client_text(e.s.port, "set tk 0 0 5\\r\\nhello\\r\\nget tk\\r\\n"
                                        "refresh_certs\\r\\nquit\\r\\n");
    assert_string_equal(out, "STORED\r\nVALUE tk 0 5\r\nhello\r\nEND\r\nOK\r\n");
    free(out);
    int fd = sock_connect(e.plain_port);
    char buf[8];
    size_t len = 0;
    assert_int_equal(kv_get(fd, "tk", buf, sizeof(buf), &len), BIN_STATUS_SUCCESS);
    assert_int_equal(len, 5);
    close(fd);
    env_stop(&e);
}

/* Plain binary bytes to the TLS port: that connection closes, the server serves on. */
static void test_plain_bytes_to_tls_port(void **state)
{
    struct tls_env e;
    env_start(&e, NULL, NULL);
    int fd = sock_connect(e.s.port);
    assert_int_equal(frame_send(fd, &(struct frame_req){.opcode = BIN_CMD_VERSION}), 0);
    assert_true(sock_expect_closed(fd, IO_TIMEOUT_MS));
    close(fd);
    assert_tls_works(e.s.port, NULL);
    assert_int_equal(plain_stat(e.plain_port, "ssl_handshake_errors"), 1);
    env_stop(&e);
}

/* A TLS ClientHello to the plain port fails the handshake; plain clients still work. */
static void test_client_hello_to_plain_port(void **state)
{
    struct tls_env e;
    env_start(&e, NULL, NULL);
    struct tls_conn t;
    assert_int_equal(tls_open(&t, e.plain_port, NULL), -1);
    int fd = sock_connect(e.plain_port);
    assert_int_equal(kv_set(fd, BIN_CMD_SET, "a", "1", 1, 0, 0), BIN_STATUS_SUCCESS);
    close(fd);
    assert_tls_works(e.s.port, NULL);
    env_stop(&e);
}

/* A client offering at most TLS 1.1 is refused; a modern one is served. */
static void test_tls11_refused(void **state)
{
    struct tls_env e;
    env_start(&e, NULL, NULL);
    struct tls_conn t;
    struct tls_client_opts old = {.max_version = TLS1_1_VERSION};
    assert_int_equal(tls_open(&t, e.s.port, &old), -1);
    assert_tls_works(e.s.port, NULL);
    assert_int_equal(plain_stat(e.plain_port, "ssl_handshake_errors"), 1);
    env_stop(&e);
}

/* ssl_min_version=tlsv1.3 refuses a TLS 1.2 client. */
static void test_min_version_13(void **state)
{
    struct tls_env e;
    env_start(&e, "ssl_min_version=tlsv1.3", NULL);
    struct tls_conn t;
    struct tls_client_opts v12 = {.max_version = TLS1_2_VERSION};
    assert_int_equal(tls_open(&t, e.s.port, &v12), -1);
    assert_tls_works(e.s.port, NULL);
    env_stop(&e);
}

/* A connection that never starts its handshake is closed after ssl_handshake_timeout. */
static void test_handshake_timeout(void **state)
{
    struct tls_env e;
    env_start(&e, "ssl_handshake_timeout=1", NULL);
    int fd = sock_connect(e.s.port);
    assert_true(sock_expect_closed(fd, 10000));
    close(fd);
    assert_int_equal(plain_stat(e.plain_port, "ssl_handshake_errors"), 1);
    env_stop(&e);
}

/* True when a new TLS connection presents the certificate in file pem. */
static bool serves_cert(uint16_t port, const char *pem_file)
{
    FILE *f = fopen(pem_file, "r");
    assert_non_null(f);
    char want[8192];
    size_t n = fread(want, 1, sizeof(want) - 1, f);
    fclose(f);
    want[n] = '\0';
    struct tls_conn t;
    assert_int_equal(tls_open(&t, port, NULL), 0);
    char *got = tls_peer_cert_pem(&t);
    tls_close(&t);
    bool same = got != NULL && strcmp(got, want) == 0;
    free(got);
    return same;
}

/* SIGHUP with new files: new connections get the new certificate, open ones keep working;
 * SIGHUP with a broken certificate: the reload fails, logged, and the old one stays. */
static void test_reload(void **state)
{
    struct tls_env e;
    env_start(&e, NULL, NULL);
    char a[192], b[192];
    assert_true(serves_cert(e.s.port, P(&e, 2, "server.pem")));
    struct tls_conn old;
    assert_int_equal(tls_open(&old, e.s.port, NULL), 0);

    assert_int_equal(
        copy_file(cert_path(&certs, "server2.pem", a, sizeof(a)), P(&e, 3, "live.pem")), 0);
    assert_int_equal(
        copy_file(cert_path(&certs, "server2.key", a, sizeof(a)), P(&e, 3, "live.key")), 0);
    assert_int_equal(kill(e.s.pid, SIGHUP), 0);
    assert_true(file_wait_for(e.log, "tls: certificates reloaded", 10000));
    assert_true(serves_cert(e.s.port, P(&e, 2, "server2.pem")));
    struct frame_resp m;
    assert_int_equal(tls_frame_call(&old, &(struct frame_req){.opcode = BIN_CMD_NOOP}, &m), 0);
    frame_free(&m);

    FILE *f = fopen(cert_path(&certs, "live.pem", b, sizeof(b)), "w");
    assert_non_null(f);
    fputs("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n", f);
    fclose(f);
    assert_int_equal(kill(e.s.pid, SIGHUP), 0);
    assert_true(file_wait_for(e.log, "certificate reload failed", 10000));
    /* refresh_certs reports the same failure to the client that asked. */
    char *out = s_client_text(e.s.port, "refresh_certs\\r\\nquit\\r\\n");
    assert_true(strncmp(out, "ERROR ssl_chain_cert ", 21) == 0);
    assert_non_null(strstr(out, "\r\n"));
    free(out);
    assert_true(serves_cert(e.s.port, P(&e, 2, "server2.pem")));
    assert_int_equal(tls_frame_call(&old, &(struct frame_req){.opcode = BIN_CMD_NOOP}, &m), 0);
    frame_free(&m);
    tls_close(&old);

    /* Put the group's files back for the tests that follow. */
    assert_int_equal(copy_file(cert_path(&certs, "server.pem", a, sizeof(a)), b), 0);
    assert_int_equal(copy_file(cert_path(&certs, "server.key", a, sizeof(a)), P(&e, 3, "live.key")),
                     0);
    env_stop(&e);
}

/* A request that must fail: the handshake, or the first reply (TLS 1.3 checks later). */
static bool refused(uint16_t port, const struct tls_client_opts *o)
{
    struct tls_conn t;
    if (tls_open(&t, port, o) != 0)
        return true;
    struct frame_resp m;
    int st = tls_frame_call(&t, &(struct frame_req){.opcode = BIN_CMD_VERSION}, &m);
    frame_free(&m);
    tls_close(&t);
    return st < 0;
}

/* ssl_verify_mode=2: a client certificate from our CA passes; none, a foreign one or an
 * expired one fails. */
static void test_mutual_tls(void **state)
{
    struct tls_env e;
    char opts[512];
    snprintf(opts, sizeof(opts), "ssl_verify_mode=2,ssl_ca_cert=%s", P(&e, 2, "ca.pem"));
    env_start(&e, opts, NULL);
    struct tls_client_opts good = {.ca_file = P(&e, 2, "ca.pem"),
                                   .cert_file = P(&e, 3, "client.pem"),
                                   .key_file = P(&e, 4, "client.key")};
    assert_tls_works(e.s.port, &good);
    assert_true(refused(e.s.port, &(struct tls_client_opts){.ca_file = good.ca_file}));
    struct tls_client_opts foreign = {.ca_file = good.ca_file,
                                      .cert_file = P(&e, 5, "foreign.pem"),
                                      .key_file = P(&e, 6, "foreign.key")};
    assert_true(refused(e.s.port, &foreign));
    struct tls_client_opts expired = {.ca_file = good.ca_file,
                                      .cert_file = P(&e, 5, "expired.pem"),
                                      .key_file = P(&e, 6, "expired.key")};
    assert_true(refused(e.s.port, &expired));
    assert_tls_works(e.s.port, &good);
    assert_int_equal(plain_stat(e.plain_port, "ssl_handshake_errors"), 3);
    env_stop(&e);
}

/* A 1 MiB value, above the send-buffer threshold, arrives intact through TLS. */
static void test_large_value(void **state)
{
    struct tls_env e;
    static const char *const extra[] = {"-I", "2m", NULL};
    env_start(&e, NULL, extra);
    size_t n = 1u << 20;
    uint8_t *v = malloc(n);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++)
        v[i] = (uint8_t)(i * 131 + (i >> 12));
    struct tls_conn t;
    assert_int_equal(tls_open(&t, e.s.port, NULL), 0);
    assert_int_equal(tls_set(&t, "big", v, (uint32_t)n), BIN_STATUS_SUCCESS);
    struct frame_resp m;
    for (int round = 0; round < 3; round++) {
        struct frame_req get = {.opcode = BIN_CMD_GET, .key = "big", .keylen = 3};
        assert_int_equal(tls_frame_call(&t, &get, &m), BIN_STATUS_SUCCESS);
        assert_int_equal(resp_vallen(&m), n);
        assert_memory_equal(resp_value(&m), v, n);
        frame_free(&m);
    }
    tls_close(&t);
    free(v);
    env_stop(&e);
}

/*
 * Values of several hundred KiB, each many records that OpenSSL may read
 * ahead while the frame is still incomplete (no read callback runs until
 * it is whole): every one is stored and answered.
 */
static void test_large_frames_read_ahead(void **state)
{
    struct tls_env e;
    env_start(&e, NULL, NULL);
    size_t n = 600 * 1024;
    uint8_t *v = malloc(n);
    assert_non_null(v);
    memset(v, 'v', n);
    struct tls_conn t;
    assert_int_equal(tls_open(&t, e.s.port, NULL), 0);
    for (int i = 0; i < 12; i++)
        assert_int_equal(tls_set(&t, "large", v, (uint32_t)(n - (size_t)i * 4099)),
                         BIN_STATUS_SUCCESS);
    tls_close(&t);
    free(v);
    env_stop(&e);
}

/*
 * Requests sent as one TLS record each but arriving together: the server
 * reads them all ahead into OpenSSL's buffer in one read, where epoll cannot
 * see them, and must still answer every one (a set and gets, mixed with
 * values above the send-buffer threshold). The client corks its socket so
 * that the records leave in one burst.
 */
static void test_records_in_one_read(void **state)
{
    struct tls_env e;
    env_start(&e, NULL, NULL);
    struct tls_conn t;
    assert_int_equal(tls_open(&t, e.s.port, NULL), 0);
    static uint8_t big[8192];
    memset(big, 'b', sizeof(big));
    assert_int_equal(tls_set(&t, "big", big, sizeof(big)), BIN_STATUS_SUCCESS);
    enum { N = 64 };
    int on = 1, off = 0;
    assert_int_equal(setsockopt(t.fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on)), 0);
    for (uint32_t i = 0; i < N; i++) {
        const char *key = i % 8 == 7 ? "big" : "nokey";
        struct frame_req get = {
            .opcode = BIN_CMD_GETK, .key = key, .keylen = (uint16_t)strlen(key), .opaque = i};
        uint8_t buf[64];
        frame_encode(&get, buf);
        assert_int_equal(tls_write_all(&t, buf, frame_size(&get)), 0);
    }
    assert_int_equal(setsockopt(t.fd, IPPROTO_TCP, TCP_CORK, &off, sizeof(off)), 0);
    for (uint32_t i = 0; i < N; i++) {
        uint8_t raw[BIN_HEADER_LEN];
        assert_int_equal(tls_read_exact(&t, raw, sizeof(raw)), 0);
        struct bin_header h;
        bin_header_decode(raw, &h);
        assert_int_equal(h.opaque, i);
        uint8_t *body = malloc(h.bodylen + 1);
        assert_non_null(body);
        assert_int_equal(tls_read_exact(&t, body, h.bodylen), 0);
        /* The status travels in the vbucket field of a response. */
        if (i % 8 == 7) {
            assert_int_equal(h.vbucket, BIN_STATUS_SUCCESS);
            assert_int_equal(h.bodylen, 4 + 3 + sizeof(big));
            assert_memory_equal(body + 7, big, sizeof(big));
        } else {
            assert_int_equal(h.vbucket, BIN_STATUS_KEY_ENOENT);
        }
        free(body);
    }
    tls_close(&t);
    env_stop(&e);
}

/* The connection timeouts apply to TLS connections once their handshake is done. */
static void test_timeouts_over_tls(void **state)
{
    struct tls_env e;
    env_start(&e, "idle_timeout=1,read_timeout=0.5", NULL);
    struct tls_conn idle, partial;
    assert_tls_works(e.s.port, NULL);
    assert_int_equal(tls_open(&idle, e.s.port, NULL), 0);
    assert_int_equal(tls_open(&partial, e.s.port, NULL), 0);
    /* Half a header: the rest never comes. */
    uint8_t half[10] = {BIN_MAGIC_REQUEST, BIN_CMD_GET};
    assert_int_equal(tls_write_all(&partial, half, sizeof(half)), 0);
    assert_true(tls_expect_closed(&partial));
    assert_true(tls_expect_closed(&idle));
    assert_int_equal(plain_stat(e.plain_port, "read_timeout_kicks"), 1);
    assert_int_equal(plain_stat(e.plain_port, "idle_kicks"), 1);
    tls_close(&partial);
    tls_close(&idle);
    env_stop(&e);
}

/*
 * A TLS client that never reads its replies is closed after
 * stuck_send_timeout: the replies the socket did not take stay with the
 * bufferevent's write event, which the timeout watches.
 */
static void test_stuck_send_over_tls(void **state)
{
    struct tls_env e;
    env_start(&e, "stuck_send_timeout=1,max_send_queue=65536", NULL);
    struct tls_conn t;
    assert_int_equal(tls_open(&t, e.s.port, NULL), 0);
    size_t n = 512 * 1024;
    uint8_t *v = calloc(1, n);
    assert_non_null(v);
    assert_int_equal(tls_set(&t, "big", v, (uint32_t)n), BIN_STATUS_SUCCESS);
    free(v);
    struct frame_req get = {.opcode = BIN_CMD_GET, .key = "big", .keylen = 3};
    uint8_t req[64];
    frame_encode(&get, req);
    /* 10 MiB of replies: far more than the socket buffers hold. */
    for (int i = 0; i < 20; i++)
        assert_int_equal(tls_write_all(&t, req, frame_size(&get)), 0);
    int64_t start = now_ms();
    while (plain_stat(e.plain_port, "stuck_send_kicks") == 0 && now_ms() - start < 10000)
        sleep_ms(100);
    assert_int_equal(plain_stat(e.plain_port, "stuck_send_kicks"), 1);
    assert_true(now_ms() - start >= 900);
    tls_close(&t);
    env_stop(&e);
}

/*
 * Clients that reset their connection while large replies are being
 * written: the failed write closes the connection from within the write,
 * and the server goes on serving others.
 */
static void test_reset_while_writing(void **state)
{
    struct tls_env e;
    env_start(&e, NULL, NULL);
    size_t n = 512 * 1024;
    uint8_t *v = calloc(1, n);
    assert_non_null(v);
    struct tls_conn t;
    assert_int_equal(tls_open(&t, e.s.port, NULL), 0);
    assert_int_equal(tls_set(&t, "big", v, (uint32_t)n), BIN_STATUS_SUCCESS);
    tls_close(&t);
    free(v);
    struct frame_req get = {.opcode = BIN_CMD_GET, .key = "big", .keylen = 3};
    uint8_t req[64];
    frame_encode(&get, req);
    for (int round = 0; round < 10; round++) {
        assert_int_equal(tls_open(&t, e.s.port, NULL), 0);
        for (int i = 0; i < 8; i++)
            assert_int_equal(tls_write_all(&t, req, frame_size(&get)), 0);
        uint8_t some[256];
        if (round % 2 == 1)
            assert_int_equal(tls_read_exact(&t, some, sizeof(some)), 0);
        /* Unread data and no linger: close() sends a reset. */
        struct linger l = {1, 0};
        setsockopt(t.fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
        tls_close(&t);
    }
    assert_tls_works(e.s.port, NULL);
    env_stop(&e);
}

#ifdef BENCH_BIN
/* basalt-bench --tls (the load generator of bench/compare's TLS rows) runs clean. */
static void test_bench_over_tls(void **state)
{
    struct tls_env e;
    env_start(&e, NULL, NULL);
    char server[32];
    snprintf(server, sizeof(server), "127.0.0.1:%u", (unsigned)e.s.port);
    char *argv[] = {BENCH_BIN,    "--server", server,      "--tls",  "--json",
                    "--requests", "500",      "--prefill", "--keys", "50",
                    "--threads",  "2",        "--conns",   "2",      NULL};
    struct proc_result *r = malloc(sizeof(*r));
    assert_non_null(r);
    assert_int_equal(proc_run(argv, 60000, r), 0);
    if (!WIFEXITED(r->status) || WEXITSTATUS(r->status) != 0)
        fprintf(stderr, "basalt-bench: %s\n%s\n", r->out, r->err);
    assert_true(WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0);
    assert_non_null(strstr(r->out, "\"ops\":500,"));
    assert_non_null(strstr(r->out, "\"misses\":0,"));
    free(r);
    int fd = sock_connect(e.plain_port);
    assert_true(stat_value(fd, "cmd_get") + stat_value(fd, "cmd_set") >= 550);
    close(fd);
    env_stop(&e);
}
#endif

int main(void)
{
    if (server_is_memcached()) {
        /* The reference server's TLS needs its own options; these tests are basalt's. */
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binary_over_tls),
        cmocka_unit_test(test_text_over_tls),
        cmocka_unit_test(test_plain_bytes_to_tls_port),
        cmocka_unit_test(test_client_hello_to_plain_port),
        cmocka_unit_test(test_tls11_refused),
        cmocka_unit_test(test_min_version_13),
        cmocka_unit_test(test_handshake_timeout),
        cmocka_unit_test(test_reload),
        cmocka_unit_test(test_mutual_tls),
        cmocka_unit_test(test_large_value),
        cmocka_unit_test(test_records_in_one_read),
        cmocka_unit_test(test_large_frames_read_ahead),
#ifdef BENCH_BIN
        cmocka_unit_test(test_bench_over_tls),
#endif
        cmocka_unit_test(test_timeouts_over_tls),
        cmocka_unit_test(test_stuck_send_over_tls),
        cmocka_unit_test(test_reset_while_writing),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
