/*
 * Where a connection's input comes from. Worker thread only.
 *
 * A TLS connection's OpenSSL bufferevent reads, decrypts and fills its input
 * buffer itself. A plain connection's socket bufferevent would do the same,
 * but libevent 2.1 asks the kernel how much is readable (ioctl FIONREAD)
 * before every read and never reads more than 4 KiB at once: one system
 * call per request more than needed, and four reads for a 16 KiB SET. So
 * for a plain socket the bufferevent's own read event stays off and an
 * event of the connection's reads the socket straight into the same input
 * buffer (evbuffer_reserve_space + readv), then calls the same read path,
 * with the same low watermark and input bound, as the bufferevent would.
 * Everything after the bytes arrive is one code path for plain and TLS.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <sys/uio.h>

#include "frontend/conn_internal.h"
#include "frontend/worker.h"

/* The most one read asks for, unless the frame being assembled needs more. */
#define CONN_READ_CHUNK (16 * 1024)

/* Reading is wanted and the input is under its bound: the read event should be pending. */
static bool conn_read_should_poll(const struct conn *c)
{
    if (!c->read_on)
        return false;
    return !c->read_capped || evbuffer_get_length(bufferevent_get_input(c->bev)) < c->read_high;
}

void conn_read_update(struct conn *c)
{
    if (c->tls) {
        bufferevent_setwatermark(c->bev, EV_READ, c->read_lowat, c->read_capped ? c->read_high : 0);
        return;
    }
    bool poll = conn_read_should_poll(c);
    if (poll == c->read_polling)
        return;
    c->read_polling = poll;
    if (poll)
        event_add(c->read_ev, NULL);
    else
        event_del(c->read_ev);
}

void conn_read_enable(struct conn *c, bool on)
{
    if (c->tls) {
        if (on)
            bufferevent_enable(c->bev, EV_READ);
        else
            bufferevent_disable(c->bev, EV_READ);
        return;
    }
    c->read_on = on;
    conn_read_update(c);
}

/* How many bytes the next read asks for: a chunk, the rest of the frame, at most to the bound. */
static size_t conn_read_want(const struct conn *c, size_t len)
{
    size_t want = CONN_READ_CHUNK;
    if (c->read_lowat > len && c->read_lowat - len > want)
        want = c->read_lowat - len;
    if (c->read_capped && c->read_high > len && want > c->read_high - len)
        want = c->read_high - len;
    return want;
}

/* The plain socket is readable: fill the input, then run the read path as the bufferevent would. */
static void conn_read_socket_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    size_t len = evbuffer_get_length(in);
    struct evbuffer_iovec v[2];
    int nv = evbuffer_reserve_space(in, (ev_ssize_t)conn_read_want(c, len), v, 2);
    ssize_t n = nv > 0 ? readv(fd, (const struct iovec *)v, nv) : -1;
    if (n < 0 && nv > 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return; /* level-triggered: called again when there is something */
    if (n <= 0) {
        /* As the bufferevent does: stop reading, then report the end or the error. */
        conn_read_enable(c, false);
        conn_input_event(c, BEV_EVENT_READING | (n == 0 ? BEV_EVENT_EOF : BEV_EVENT_ERROR));
        return;
    }
    size_t left = (size_t)n;
    for (int i = 0; i < nv; i++) {
        if (v[i].iov_len > left)
            v[i].iov_len = left;
        left -= v[i].iov_len;
    }
    evbuffer_commit_space(in, v, nv);
    if (evbuffer_get_length(in) >= c->read_lowat)
        conn_input_ready(c);
    else
        conn_read_update(c);
}

int conn_read_init(struct conn *c)
{
    if (c->tls)
        return 0;
    /*
     * Read watermarks live in the connection; the bufferevent never reads
     * this socket. It freezes its input's end so that only it appends: we
     * are the one that appends here.
     */
    evbuffer_unfreeze(bufferevent_get_input(c->bev), 0);
    c->read_ev = event_new(c->worker->base, c->fd, EV_READ | EV_PERSIST, conn_read_socket_cb, c);
    return c->read_ev == NULL ? -1 : 0;
}

void conn_read_free(struct conn *c)
{
    /* Before the bufferevent closes the socket: epoll must not keep a closed descriptor. */
    if (c->read_ev != NULL)
        event_free(c->read_ev);
    c->read_ev = NULL;
    c->read_polling = false;
}
