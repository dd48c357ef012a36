/*
 * The TLS side of a connection: the OpenSSL bufferevent in accepting state,
 * the handshake timer and what happens when the handshake ends. Once the
 * handshake is done a TLS connection runs exactly the plain read and write
 * paths of conn.c. Owning worker's thread only.
 */
#ifndef BASALT_FRONTEND_CONN_TLS_H
#define BASALT_FRONTEND_CONN_TLS_H

#include <stdbool.h>

struct bufferevent;
struct conn;

/*
 * Creates an OpenSSL bufferevent that owns fd (closes it when freed) and arms
 * the handshake timer. NULL on failure, fd then untouched.
 */
struct bufferevent *conn_tls_bev(struct conn *c, int fd);

/*
 * Ends every callback of an open TLS connection (conn_flush): has the
 * queued replies written, and the records OpenSSL holds already read, on
 * this loop turn, once the callback has returned. No-op during the
 * handshake.
 */
void conn_tls_flush(struct conn *c);

/*
 * Handles a bufferevent event while the handshake runs. Returns true when it
 * consumed the event: the handshake finished (the connection runs on) or
 * failed (the connection is closed and freed).
 */
bool conn_tls_event(struct conn *c, short what);

#endif
