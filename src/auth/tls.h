/*
 * TLS server contexts: one OpenSSL SSL_CTX built from the -o ssl_* settings,
 * replaced whole by a reload (SIGHUP, refresh_certs). New connections take an
 * SSL from the current context; an SSL keeps its own reference to the context
 * it came from, so connections made before a reload are untouched by it.
 * Every function is thread-safe: a mutex guards the current context.
 */
#ifndef BASALT_AUTH_TLS_H
#define BASALT_AUTH_TLS_H

#include <stddef.h>
#include <time.h>

#include "base/compiler.h"
#include "config/config.h"

struct ssl_st;
struct tls_server;

/*
 * Builds the first context from cfg's ssl_* settings (cfg is borrowed and
 * must outlive the result). NULL with a one-line reason in err when a file is
 * missing or unusable.
 */
struct tls_server *tls_server_create(const struct config *cfg, char *err,
                                     size_t errlen) WARN_UNUSED;

/*
 * Reads the certificate, key and CA files again into a new context and makes
 * it current. On failure returns -1 with the reason in err and keeps the old
 * context in use. Blocks on file I/O; any thread.
 */
int tls_server_reload(struct tls_server *t, char *err, size_t errlen) WARN_UNUSED;

/* A new server-side SSL from the current context (the caller owns it), or NULL. */
struct ssl_st *tls_server_new_ssl(struct tls_server *t) WARN_UNUSED;

/* Wall-clock time of the last successful build of the context (create or reload). */
time_t tls_server_refreshed_at(struct tls_server *t);

/* Frees the server; connections still holding an SSL keep the context alive. *t = NULL. */
void tls_server_destroy(struct tls_server **t);

/* Writes the oldest queued OpenSSL error of this thread (or "unknown") into buf and clears the
 * queue; returns buf. */
const char *tls_error_string(char *buf, size_t n);

#endif
