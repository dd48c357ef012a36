/*
 * The integration tests' TLS client: a blocking OpenSSL connection whose
 * socket has send and receive timeouts, carrying frames encoded with the
 * harness's codec. Runs on the test's thread.
 */
#include "integration/tls_client.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void tls_print_errors(const char *what)
{
    unsigned long e;
    while ((e = ERR_get_error()) != 0) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof(buf));
        fprintf(stderr, "tls_client: %s: %s\n", what, buf);
    }
}

static SSL_CTX *tls_client_ctx(const struct tls_client_opts *o)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL)
        return NULL;
    if (o->max_version != 0) {
        /* Old versions need security level 0 on the client, or OpenSSL refuses to offer them. */
        SSL_CTX_set_security_level(ctx, 0);
        SSL_CTX_set_min_proto_version(ctx, 0);
        SSL_CTX_set_max_proto_version(ctx, o->max_version);
        SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0");
    }
    if (o->ca_file != NULL) {
        SSL_CTX_load_verify_locations(ctx, o->ca_file, NULL);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    if (o->cert_file != NULL &&
        (SSL_CTX_use_certificate_chain_file(ctx, o->cert_file) != 1 ||
         SSL_CTX_use_PrivateKey_file(ctx, o->key_file, SSL_FILETYPE_PEM) != 1)) {
        tls_print_errors("client certificate");
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

int tls_open(struct tls_conn *t, uint16_t port, const struct tls_client_opts *o)
{
    static const struct tls_client_opts none = {0};
    memset(t, 0, sizeof(*t));
    t->fd = sock_connect(port);
    if (t->fd < 0)
        return -1;
    struct timeval tv = {IO_TIMEOUT_MS / 1000, 0};
    setsockopt(t->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(t->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    t->ctx = tls_client_ctx(o ? o : &none);
    t->ssl = t->ctx ? SSL_new(t->ctx) : NULL;
    if (t->ssl == NULL || SSL_set_fd(t->ssl, t->fd) != 1) {
        tls_close(t);
        return -1;
    }
    if (SSL_connect(t->ssl) != 1) {
        tls_print_errors("handshake");
        tls_close(t);
        return -1;
    }
    return 0;
}

int tls_write_all(struct tls_conn *t, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n > 0) {
        int chunk = n > (1u << 30) ? 1 << 30 : (int)n;
        int w = SSL_write(t->ssl, p, chunk);
        if (w <= 0) {
            tls_print_errors("write");
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int tls_read_exact(struct tls_conn *t, void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n > 0) {
        int chunk = n > (1u << 30) ? 1 << 30 : (int)n;
        int r = SSL_read(t->ssl, p, chunk);
        if (r <= 0) {
            tls_print_errors("read");
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

int tls_frame_call(struct tls_conn *t, const struct frame_req *r, struct frame_resp *m)
{
    memset(m, 0, sizeof(*m));
    size_t n = frame_size(r);
    uint8_t *buf = malloc(n);
    if (buf == NULL)
        return -1;
    frame_encode(r, buf);
    int rc = tls_write_all(t, buf, n);
    free(buf);
    uint8_t raw[BIN_HEADER_LEN];
    if (rc != 0 || tls_read_exact(t, raw, sizeof(raw)) != 0)
        return -1;
    bin_header_decode(raw, &m->h);
    if (m->h.bodylen > 0) {
        m->body = malloc(m->h.bodylen);
        if (m->body == NULL || tls_read_exact(t, m->body, m->h.bodylen) != 0) {
            frame_free(m);
            return -1;
        }
    }
    return resp_status(m);
}

bool tls_expect_closed(struct tls_conn *t)
{
    uint8_t b;
    int r = SSL_read(t->ssl, &b, 1);
    ERR_clear_error();
    if (r > 0)
        fprintf(stderr, "tls_client: expected a close, got a byte 0x%02x\n", b);
    return r <= 0;
}

char *tls_peer_cert_pem(struct tls_conn *t)
{
    X509 *x = SSL_get1_peer_certificate(t->ssl);
    if (x == NULL)
        return NULL;
    BIO *bio = BIO_new(BIO_s_mem());
    char *out = NULL;
    if (bio != NULL && PEM_write_bio_X509(bio, x) == 1) {
        char *data;
        long len = BIO_get_mem_data(bio, &data);
        out = strndup(data, (size_t)len);
    }
    BIO_free(bio);
    X509_free(x);
    return out;
}

void tls_close(struct tls_conn *t)
{
    if (t->ssl != NULL)
        SSL_free(t->ssl);
    if (t->ctx != NULL)
        SSL_CTX_free(t->ctx);
    if (t->fd >= 0)
        close(t->fd);
    t->ssl = NULL;
    t->ctx = NULL;
    t->fd = -1;
}
