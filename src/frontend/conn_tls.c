/*
 * TLS connections: the handshake runs on the owning worker inside libevent's
 * OpenSSL bufferevent (accepting state); this file arms a timer that closes
 * a handshake not finished within ssl_handshake_timeout, counts handshake
 * failures and new sessions, and logs why a handshake failed. After the
 * handshake the connection is an ordinary one, except for how its replies
 * are written and its records read: the OpenSSL bufferevent writes the
 * replies on the loop turn that queued them, without adding its write event
 * to epoll unless the socket is full, and reads ahead, with records left in
 * OpenSSL's buffer read on the same loop turn (conn_tls_flush, called at the
 * end of every callback by conn_flush, and two evbuffer callbacks). Worker
 * thread only.
 */
#include "frontend/conn_tls.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/bufferevent_struct.h>
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
    /*
     * Without read-ahead OpenSSL reads each record with two read() calls,
     * header then body; with it, one read() takes all the kernel holds.
     * Whole records may then wait in OpenSSL's buffer where epoll cannot
     * see them: conn_tls_read_buffered wakes the bufferevent for them.
     */
    SSL_set_read_ahead(ssl, 1);
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

/*
 * Records OpenSSL read ahead of what libevent asked for (read-ahead) are in
 * no socket buffer, so epoll will not report them: have the bufferevent read
 * them on this loop turn, as if the socket were readable. (libevent reads on
 * only while SSL_pending counts decrypted bytes; whole records still to be
 * decrypted do not count.)
 */
static void conn_tls_read_buffered(struct bufferevent *bev)
{
    SSL *ssl = bufferevent_openssl_get_ssl(bev);
    if (ssl != NULL && SSL_has_pending(ssl) && (bufferevent_get_enabled(bev) & EV_READ))
        event_active(&bev->ev_read, EV_READ, 1);
}

/*
 * The bufferevent read: more may wait in OpenSSL. Needed beside the check in
 * conn_tls_flush because a frame larger than one read calls no read callback
 * (the low watermark is the frame) until it is complete.
 */
static void conn_tls_input_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    if (info->n_added > 0)
        conn_tls_read_buffered(arg);
}

/*
 * The output went from empty to holding a reply. The OpenSSL bufferevent
 * would now add its write event to epoll (its own output callback, which
 * runs after this one), wait for the socket to poll writable on the next
 * loop turn, write, and delete the event again: two epoll_ctl and a loop
 * turn per reply. An event that is active is not added to epoll, so making
 * it active first leaves only the write, later on this loop turn, once the
 * callback that queued the reply has returned.
 */
static void conn_tls_output_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct bufferevent *bev = arg;
    if (info->n_added > 0 && info->orig_size == 0)
        event_active(&bev->ev_write, EV_WRITE, 1);
}

/* The stuck-send timeout watches the output only while replies wait for the write event. */
static void conn_tls_watch_output(struct conn *c, bool left)
{
    if (left == c->write_armed)
        return;
    c->write_armed = left;
    conn_timeout_watch_output(c, left);
}

/*
 * Runs after the write event made active by conn_tls_output_cb (later in the
 * same queue of active events). A write event that ran as an active event
 * and could not write everything (the socket is full) is in no epoll set:
 * add it, so that the rest goes out once the socket polls writable.
 */
static void conn_tls_written_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    struct bufferevent *bev = c->bev;
    bool left = evbuffer_get_length(bufferevent_get_output(bev)) > 0;
    if (left) {
        event_del(&bev->ev_write);
        event_add(&bev->ev_write, NULL);
    }
    conn_tls_watch_output(c, left);
}

void conn_tls_flush(struct conn *c)
{
    if (c->handshaking)
        return;
    struct bufferevent *bev = c->bev;
    /*
     * Not a direct call of the write event: a failed write reports to
     * conn_event_cb, which may free c, and the caller goes on using c.
     */
    if (evbuffer_get_length(bufferevent_get_output(bev)) > 0)
        event_active(c->handshake_timer, EV_TIMEOUT, 1);
    else
        conn_tls_watch_output(c, false);
    conn_tls_read_buffered(bev);
}

bool conn_tls_event(struct conn *c, short what)
{
    struct frontend *fe = c->worker->fe;
    if (what & BEV_EVENT_CONNECTED) {
        c->handshaking = false;
        /* From now on the handshake's timer is the check after each write (conn_tls_flush). */
        event_del(c->handshake_timer);
        event_assign(c->handshake_timer, c->worker->base, -1, 0, conn_tls_written_cb, c);
        SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
        if (ssl != NULL && !SSL_session_reused(ssl))
            atomic_fetch_add(&fe->ssl_new_sessions, 1);
        log_debug("tls: handshake done (%s)", ssl ? SSL_get_version(ssl) : "?");
        /* Registered now: during the handshake the events are the handshake's. */
        evbuffer_add_cb(bufferevent_get_output(c->bev), conn_tls_output_cb, c->bev);
        evbuffer_add_cb(bufferevent_get_input(c->bev), conn_tls_input_cb, c->bev);
        /* The first request may have come in the handshake's last read. */
        conn_tls_read_buffered(c->bev);
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
