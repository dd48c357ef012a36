/*
 * TLS server contexts on OpenSSL. tls_server_create runs on the main thread
 * at start-up; tls_server_reload on the main thread (SIGHUP) or a worker
 * (refresh_certs); tls_server_new_ssl on the worker accepting a connection.
 * The current context is swapped under a mutex; an SSL made from the old one
 * holds its own reference, so freeing ours never pulls it from under a live
 * connection.
 */
#include "auth/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Identifies our sessions in the cache; required once client certificates are verified. */
static const unsigned char tls_session_context[] = "basalt";

struct tls_server {
    const struct config *cfg; /* borrowed */
    pthread_mutex_t lock;     /* guards ctx and refreshed_at */
    SSL_CTX *ctx;
    time_t refreshed_at;
};

const char *tls_error_string(char *buf, size_t n)
{
    unsigned long e = ERR_get_error();
    if (e == 0)
        snprintf(buf, n, "unknown error");
    else
        ERR_error_string_n(e, buf, n);
    ERR_clear_error();
    return buf;
}

/* Writes "what FILE: openssl reason" into err and returns -1. */
static int tls_fail(char *err, size_t errlen, const char *what, const char *file)
{
    char why[256];
    tls_error_string(why, sizeof(why));
    snprintf(err, errlen, "%s%s%s: %s", what, file ? " " : "", file ? file : "", why);
    return -1;
}

static int tls_verify_flags(int mode)
{
    switch (mode) {
    case 1:
        return SSL_VERIFY_PEER;
    case 2:
        return SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    case 3:
        return SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT | SSL_VERIFY_CLIENT_ONCE;
    default:
        return SSL_VERIFY_NONE;
    }
}

/* Client certificates: trust anchors, the CA names sent to clients and the verify mode. */
static int tls_setup_verify(SSL_CTX *ctx, const struct config *cfg, char *err, size_t errlen)
{
    if (cfg->ssl_ca_cert[0] != '\0') {
        if (SSL_CTX_load_verify_locations(ctx, cfg->ssl_ca_cert, NULL) != 1)
            return tls_fail(err, errlen, "ssl_ca_cert", cfg->ssl_ca_cert);
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->ssl_ca_cert);
        if (names == NULL)
            return tls_fail(err, errlen, "ssl_ca_cert", cfg->ssl_ca_cert);
        SSL_CTX_set_client_CA_list(ctx, names);
    }
    SSL_CTX_set_verify(ctx, tls_verify_flags(cfg->ssl_verify_mode), NULL);
    return 0;
}

/*
 * Protocol versions and options: TLS 1.2 or newer, no renegotiation, no
 * compression; a peer that closes TCP without close_notify has simply left.
 */
static int tls_setup_protocol(SSL_CTX *ctx, const struct config *cfg, char *err, size_t errlen)
{
    int min = strcmp(cfg->ssl_min_version, "tlsv1.3") == 0 ? TLS1_3_VERSION : TLS1_2_VERSION;
    if (SSL_CTX_set_min_proto_version(ctx, min) != 1)
        return tls_fail(err, errlen, "ssl_min_version", cfg->ssl_min_version);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (cfg->ssl_ciphers[0] != '\0' && SSL_CTX_set_cipher_list(ctx, cfg->ssl_ciphers) != 1)
        return tls_fail(err, errlen, "ssl_ciphers", cfg->ssl_ciphers);
    if (SSL_CTX_set_session_id_context(ctx, tls_session_context, sizeof(tls_session_context) - 1) !=
        1)
        return tls_fail(err, errlen, "session id context", NULL);
    return 0;
}

/* A complete context from the files named in cfg, or NULL with err set. */
static SSL_CTX *tls_build(const struct config *cfg, char *err, size_t errlen)
{
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        tls_fail(err, errlen, "cannot create a TLS context", NULL);
        return NULL;
    }
    int rc = tls_setup_protocol(ctx, cfg, err, errlen);
    if (rc == 0 && SSL_CTX_use_certificate_chain_file(ctx, cfg->ssl_chain_cert) != 1)
        rc = tls_fail(err, errlen, "ssl_chain_cert", cfg->ssl_chain_cert);
    if (rc == 0 && SSL_CTX_use_PrivateKey_file(ctx, cfg->ssl_key, SSL_FILETYPE_PEM) != 1)
        rc = tls_fail(err, errlen, "ssl_key", cfg->ssl_key);
    if (rc == 0 && SSL_CTX_check_private_key(ctx) != 1)
        rc = tls_fail(err, errlen, "ssl_key does not match ssl_chain_cert", cfg->ssl_key);
    if (rc == 0)
        rc = tls_setup_verify(ctx, cfg, err, errlen);
    if (rc != 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

struct tls_server *tls_server_create(const struct config *cfg, char *err, size_t errlen)
{
    SSL_CTX *ctx = tls_build(cfg, err, errlen);
    if (ctx == NULL)
        return NULL;
    struct tls_server *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        SSL_CTX_free(ctx);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->cfg = cfg;
    t->ctx = ctx;
    t->refreshed_at = time(NULL);
    pthread_mutex_init(&t->lock, NULL);
    return t;
}

int tls_server_reload(struct tls_server *t, char *err, size_t errlen)
{
    SSL_CTX *fresh = tls_build(t->cfg, err, errlen);
    if (fresh == NULL)
        return -1;
    pthread_mutex_lock(&t->lock);
    SSL_CTX *old = t->ctx;
    t->ctx = fresh;
    t->refreshed_at = time(NULL);
    pthread_mutex_unlock(&t->lock);
    SSL_CTX_free(old);
    return 0;
}

struct ssl_st *tls_server_new_ssl(struct tls_server *t)
{
    pthread_mutex_lock(&t->lock);
    SSL *ssl = SSL_new(t->ctx);
    pthread_mutex_unlock(&t->lock);
    return ssl;
}

time_t tls_server_refreshed_at(struct tls_server *t)
{
    pthread_mutex_lock(&t->lock);
    time_t at = t->refreshed_at;
    pthread_mutex_unlock(&t->lock);
    return at;
}

void tls_server_destroy(struct tls_server **tp)
{
    struct tls_server *t = *tp;
    if (t == NULL)
        return;
    SSL_CTX_free(t->ctx);
    pthread_mutex_destroy(&t->lock);
    free(t);
    *tp = NULL;
}
