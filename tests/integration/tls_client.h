/*
 * A small blocking TLS client for the integration tests: OpenSSL for the
 * connection, the harness's binary codec for frames. Every read and write is
 * bounded by socket timeouts (IO_TIMEOUT_MS). Single-threaded.
 */
#ifndef BASALT_TESTS_INTEGRATION_TLS_CLIENT_H
#define BASALT_TESTS_INTEGRATION_TLS_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "integration/harness.h"

struct ssl_st;
struct ssl_ctx_st;

/* How to connect; NULL files mean none. */
struct tls_client_opts {
    const char *ca_file;   /* verify the server against this CA (NULL: no verification) */
    const char *cert_file; /* client certificate */
    const char *key_file;  /* its key */
    int max_version;       /* 0, or e.g. TLS1_1_VERSION to offer only old versions */
};

struct tls_conn {
    int fd;
    struct ssl_ctx_st *ctx;
    struct ssl_st *ssl;
};

/* Connects to 127.0.0.1:port and completes a handshake. 0, or -1 (*t is then closed). */
int tls_open(struct tls_conn *t, uint16_t port, const struct tls_client_opts *o);

/* Writes all n bytes. 0 or -1. */
int tls_write_all(struct tls_conn *t, const void *buf, size_t n);

/* Reads exactly n bytes. 0, or -1 on close, error or timeout. */
int tls_read_exact(struct tls_conn *t, void *buf, size_t n);

/* Sends r and reads one response; returns its status, or -1 on I/O failure. */
int tls_frame_call(struct tls_conn *t, const struct frame_req *r, struct frame_resp *m);

/* True when the server closes the connection (or fails it) before any reply byte. */
bool tls_expect_closed(struct tls_conn *t);

/* The server's certificate in PEM, malloc'd (NULL if none). */
char *tls_peer_cert_pem(struct tls_conn *t);

/* Closes the connection and frees everything; safe on a closed one. */
void tls_close(struct tls_conn *t);

#endif
