/*
 * TLS connections: the handshake runs on the owning worker inside libevent's
 * OpenSSL bufferevent (accepting state); this file arms a timer that closes
 * a handshake not finished within ssl_handshake_timeout, counts handshake
 * failures and new sessions, and logs why a handshake failed. After the
 * handshake the connection is an ordinary one. Worker thread only.
 */
#include "frontend/conn_tls.h"

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "auth/tls.h"
#include "base/log.h"
#include "frontend/conn.h"
#include "frontend/server.h"
#include "frontend/worker.h"

static void conn_tls_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    atomic_fetch_add(&c->worker->fe->ssl_handshake_errors, 1);
    log_info("tls: handshake not finished within %d s; closing",
             c->worker->fe->cfg->ssl_handshake_timeout);
    conn_close(c);
}

struct bufferevent *conn_tls_bev(struct conn *c, int fd)
{
    struct worker *w = c->worker;
    SSL *ssl = tls_server_new_ssl(w->fe->tls);
    if (ssl == NULL)
        return NULL;
    c->handshake_timer = evtimer_new(w->base, conn_tls_timeout_cb, c);
    struct bufferevent *bev =
        c->handshake_timer == NULL
            ? NULL
            : bufferevent_openssl_socket_new(w->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                             BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        /* libevent leaves the SSL alone when it fails: the caller still owns fd. */
        SSL_free(ssl);
        return NULL;
    }
    /* A peer that closes TCP without close_notify has ended, not failed. */
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    struct timeval tv = {w->fe->cfg->ssl_handshake_timeout, 0};
    evtimer_add(c->handshake_timer, &tv);
    c->tls = true;
    c->handshaking = true;
    return bev;
}

/* Logs the OpenSSL reason of a failed handshake, draining this bufferevent's errors. */
static void conn_tls_log_failure(struct conn *c)
{
    unsigned long e = bufferevent_get_openssl_error(c->bev);
    char why[256] = "connection closed";
    if (e != 0)
        ERR_error_string_n(e, why, sizeof(why));
    while (bufferevent_get_openssl_error(c->bev) != 0) {
    }
    log_info("tls: handshake failed: %s", why);
}

bool conn_tls_event(struct conn *c, short what)
{
    struct frontend *fe = c->worker->fe;
    if (what & BEV_EVENT_CONNECTED) {
        c->handshaking = false;
        event_del(c->handshake_timer);
        SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
        if (ssl != NULL && !SSL_session_reused(ssl))
            atomic_fetch_add(&fe->ssl_new_sessions, 1);
        log_debug("tls: handshake done (%s)", ssl ? SSL_get_version(ssl) : "?");
        return true;
    }
    if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) {
        /* A peer that connects and leaves without a byte is not a failed handshake. */
        if (what & BEV_EVENT_ERROR) {
            atomic_fetch_add(&fe->ssl_handshake_errors, 1);
            conn_tls_log_failure(c);
        }
        conn_close(c);
        return true;
    }
    return false;
}
