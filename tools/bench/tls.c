/*
 * TLS for the load generator (--tls): one client SSL_CTX for the process (no
 * certificate verification: the bench measures, it does not authenticate),
 * a blocking handshake when a connection opens, then non-blocking SSL_read
 * and SSL_write behind the same errno conventions as recv and send, so the
 * event-driven connection code is the same for both. The context is built on
 * the main thread; each connection's SSL is used only by its worker thread.
 */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>

#include "bench.h"

void *bench_tls_ctx_create(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx != NULL)
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    return ctx;
}

void bench_tls_ctx_free(void *ctx)
{
    SSL_CTX_free(ctx);
}

int bench_tls_connect(struct bench_conn *c, void *ctx, char *err, size_t errlen)
{
    SSL *ssl = SSL_new(ctx);
    if (ssl == NULL || SSL_set_fd(ssl, c->fd) != 1 || SSL_connect(ssl) != 1) {
        unsigned long e = ERR_get_error();
        char why[160] = "no reason";
        if (e != 0)
            ERR_error_string_n(e, why, sizeof(why));
        ERR_clear_error();
        snprintf(err, errlen, "TLS handshake: %s", why);
        SSL_free(ssl);
        return -1;
    }
    c->ssl = ssl;
    return 0;
}

/* Maps a failed SSL call to recv/send's conventions: EAGAIN to wait, 0 for a clean close. */
static ssize_t bench_tls_result(SSL *ssl, int r)
{
    switch (SSL_get_error(ssl, r)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    default:
        ERR_clear_error();
        errno = EIO;
        return -1;
    }
}

ssize_t bench_tls_send(struct bench_conn *c, const void *p, size_t n)
{
    int r = SSL_write(c->ssl, p, n > (1u << 30) ? 1 << 30 : (int)n);
    return r > 0 ? r : bench_tls_result(c->ssl, r);
}

ssize_t bench_tls_recv(struct bench_conn *c, void *p, size_t n)
{
    /* SSL_read returns one record at a time: take what is already decrypted too. */
    size_t got = 0;
    do {
        int r = SSL_read(c->ssl, (char *)p + got, n - got > (1u << 30) ? 1 << 30 : (int)(n - got));
        if (r <= 0)
            return got > 0 ? (ssize_t)got : bench_tls_result(c->ssl, r);
        got += (size_t)r;
    } while (got < n && SSL_pending(c->ssl) > 0);
    return (ssize_t)got;
}

void bench_tls_free(struct bench_conn *c)
{
    SSL_free(c->ssl);
    c->ssl = NULL;
}
