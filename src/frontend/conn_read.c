/*
 * Where a connection's input comes from. Worker thread only.
 *
 * A TLS connection's OpenSSL bufferevent reads, decrypts and fills its input
 * buffer itself. A plain connection's socket bufferevent would do the same,
 * but libevent 2.1 asks the kernel how much is readable (ioctl FIONREAD)
 * before every read and never reads more than 4 KiB at once: one system
 * call per request more than needed, and four reads for a 16 KiB SET. So
 * for a plain socket the bufferevent's own read event stays off and an
 * event of the connection's reads the socket (one read of up to 16 KiB, or
 * of the rest of a larger frame) into the same input buffer, then calls the
 * same read path, with the same low watermark and input bound, as the
 * bufferevent would.
 * When the input buffer is empty, the read path runs on the bytes just read
 * where they lie, in the worker's read buffer (the span), and only what it
 * leaves unread is kept in the input buffer (conn_in_keep): most requests
 * never touch the input buffer. The conn_in_* functions read whichever
 * holds the input, so everything after the bytes arrive is one code path
 * for plain and TLS.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "frontend/conn_internal.h"
#include "frontend/server.h"
#include "frontend/worker.h"
#include "protocol/binary.h"

/* Reading is wanted and the input is under its bound: the read event should be pending. */
static bool conn_read_should_poll(const struct conn *c)
{
    if (!c->read_on)
        return false;
    return !c->read_capped || conn_in_len(c) < c->read_high;
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

/*
 * How many bytes the next read asks for: the worker's read buffer, or the
 * rest of the frame being assembled when that is larger, at most to the
 * bound.
 */
static size_t conn_read_want(const struct conn *c, size_t len)
{
    size_t want = WORKER_READ_BUF;
    if (c->read_lowat > len && c->read_lowat - len > want)
        want = c->read_lowat - len;
    if (c->read_capped && c->read_high > len && want > c->read_high - len)
        want = c->read_high - len;
    return want;
}

/* Reads up to this much are copied into the input; a larger one hands the buffer over. */
#define CONN_READ_COPY_MAX 2048

/* Frees a worker read buffer (arg) once the input has drained it (worker thread). */
static void conn_read_buf_release(const void *data, size_t len, void *arg)
{
    free(arg);
}

/*
 * Moves n bytes at p, inside the worker's read buffer, into the input. A
 * few are copied, into a small evbuffer chain that malloc serves from its
 * per-thread cache (reading straight into the input would allocate and free
 * a 16 KiB chain per request). Many are not copied: the buffer itself joins
 * the input by reference, and the worker takes a new one. 0, or -1 with
 * errno ENOMEM.
 */
static int conn_read_take(struct conn *c, struct evbuffer *in, const unsigned char *p, size_t n)
{
    struct worker *w = c->worker;
    c->in_maybe = true;
    unsigned char *next = n > CONN_READ_COPY_MAX ? malloc(WORKER_READ_BUF) : NULL;
    int rc = next == NULL ? evbuffer_add(in, p, n)
                          : evbuffer_add_reference(in, p, n, conn_read_buf_release, w->read_buf);
    if (rc != 0) {
        free(next);
        errno = ENOMEM;
        return -1;
    }
    if (next != NULL)
        w->read_buf = next;
    return 0;
}

size_t conn_in_len(const struct conn *c)
{
    if (c->span_on)
        return c->span_len;
    return c->in_maybe ? evbuffer_get_length(bufferevent_get_input(c->bev)) : 0;
}

const uint8_t *conn_in_peek(const struct conn *c, void *tmp, size_t n)
{
    if (c->span_on)
        return c->span;
    evbuffer_copyout(bufferevent_get_input(c->bev), tmp, n);
    return tmp;
}

const uint8_t *conn_in_pullup(struct conn *c, size_t n)
{
    if (c->span_on)
        return c->span;
    return evbuffer_pullup(bufferevent_get_input(c->bev), (ev_ssize_t)n);
}

void conn_in_drain(struct conn *c, size_t n)
{
    if (!c->span_on) {
        evbuffer_drain(bufferevent_get_input(c->bev), n);
        return;
    }
    if (n > c->span_len)
        n = c->span_len;
    c->span += n;
    c->span_len -= n;
}

void conn_in_remove(struct conn *c, void *dst, size_t n)
{
    if (!c->span_on) {
        evbuffer_remove(bufferevent_get_input(c->bev), dst, n);
        return;
    }
    memcpy(dst, c->span, n);
    conn_in_drain(c, n);
}

bool conn_in_find_lf(struct conn *c, size_t from, size_t *pos)
{
    if (c->span_on) {
        const uint8_t *lf =
            from < c->span_len ? memchr(c->span + from, '\n', c->span_len - from) : NULL;
        if (lf != NULL)
            *pos = (size_t)(lf - c->span);
        return lf != NULL;
    }
    struct evbuffer *in = bufferevent_get_input(c->bev);
    struct evbuffer_ptr start;
    if (evbuffer_ptr_set(in, &start, from, EVBUFFER_PTR_SET) != 0)
        return false;
    struct evbuffer_ptr lf = evbuffer_search(in, "\n", 1, &start);
    if (lf.pos >= 0)
        *pos = (size_t)lf.pos;
    return lf.pos >= 0;
}

int conn_in_keep(struct conn *c)
{
    if (!c->span_on)
        return 0;
    c->span_on = false;
    if (c->span_len == 0)
        return 0;
    int rc = conn_read_take(c, bufferevent_get_input(c->bev), c->span, c->span_len);
    c->span_len = 0;
    return rc;
}

/*
 * Reads the socket into the input; the bytes read, 0 at the end of input,
 * -1 with errno on error. Up to the worker's read buffer, through that
 * buffer (conn_read_take); the rest of a larger frame straight into the
 * input.
 */
static ssize_t conn_read_some(struct conn *c, struct evbuffer *in, size_t want)
{
    if (want <= WORKER_READ_BUF) {
        ssize_t n = read(c->fd, c->worker->read_buf, want);
        if (n > 0 && conn_read_take(c, in, c->worker->read_buf, (size_t)n) != 0)
            return -1;
        return n;
    }
    struct evbuffer_iovec v[2];
    int nv = evbuffer_reserve_space(in, (ev_ssize_t)want, v, 2);
    if (nv <= 0) {
        errno = ENOMEM;
        return -1;
    }
    c->in_maybe = true;
    ssize_t n = readv(c->fd, (const struct iovec *)v, nv);
    if (n <= 0)
        return n;
    size_t left = (size_t)n;
    for (int i = 0; i < nv; i++) {
        if (v[i].iov_len > left)
            v[i].iov_len = left;
        left -= v[i].iov_len;
    }
    evbuffer_commit_space(in, v, nv);
    return n;
}

/*
 * A read returned n <= 0. Nothing to read yet (EAGAIN): false. The end of
 * input or an error: reported as the bufferevent would (c may be gone),
 * true.
 */
static bool conn_read_failed(struct conn *c, ssize_t n)
{
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return false; /* level-triggered: called again when there is something */
    /* As the bufferevent does: stop reading, then report the end or the error. */
    conn_read_enable(c, false);
    conn_input_event(c, BEV_EVENT_READING | (n == 0 ? BEV_EVENT_EOF : BEV_EVENT_ERROR));
    return true;
}

/* Runs the read path once the input reaches the low watermark, else waits for more. */
static void conn_read_done(struct conn *c)
{
    if (conn_in_len(c) >= c->read_lowat)
        conn_input_ready(c);
    else
        conn_read_update(c);
}

/*
 * A read filled the whole read buffer, so the socket may hold more: the
 * rest of a frame above 16 KiB (a large SET) would otherwise wait a loop
 * turn, behind every other ready connection. The bytes join the input and
 * one more read follows at once; if that one fills too, the next turn reads
 * on.
 */
static void conn_read_on(struct conn *c, struct evbuffer *in, size_t n)
{
    if (conn_read_take(c, in, c->worker->read_buf, n) != 0) {
        conn_read_failed(c, -1);
        return;
    }
    ssize_t more = conn_read_some(c, in, conn_read_want(c, n));
    /* The end of input still answers what came (peer_eof). */
    if (more <= 0 && conn_read_failed(c, more))
        return;
    conn_read_done(c);
}

/*
 * The most frames whose keys one prefetch takes: a multi-get of 20 and its
 * NOOP fit. Frames past the -R budget run a loop turn later, their lines
 * still likely in the cache; a resumed connection does not prefetch again.
 */
#define CONN_PREFETCH_FRAMES 32

void conn_prefetch_gets(struct conn *c)
{
    /*
     * Not while a refused value is being discarded (the input starts with
     * value bytes, not a frame), not behind a blocked command, and not for
     * a client that must authenticate first: the engine hears only keys a
     * command could ask for now.
     */
    if (c->text || c->swallow > 0 || c->state != CONN_RUNNING ||
        (!c->authenticated && c->worker->fe->cfg->sasl_required))
        return;
    const uint8_t *p = c->span;
    size_t len = c->span_len;
    if (!c->span_on) {
        /* The input buffer's first piece: a TLS record's frames, or what a read appended. */
        struct evbuffer_iovec v;
        if (!c->in_maybe || evbuffer_peek(bufferevent_get_input(c->bev), -1, NULL, &v, 1) < 1)
            return;
        p = v.iov_base;
        len = v.iov_len;
    }
    /* Two frames take at least two headers: at depth 1 a get returns here. */
    if (len < 2 * BIN_HEADER_LEN)
        return;
    struct engine *e = c->worker->fe->engine;
    if (e->ops->prefetch == NULL)
        return;
    struct bin_key keys[CONN_PREFETCH_FRAMES];
    struct engine_key ek[CONN_PREFETCH_FRAMES];
    size_t n = bin_batch_get_keys(p, len, keys, CONN_PREFETCH_FRAMES);
    for (size_t i = 0; i < n; i++)
        ek[i] = (struct engine_key){keys[i].key, keys[i].len};
    if (n > 0)
        e->ops->prefetch(e, ek, n);
}

/*
 * Reads the socket into the worker's read buffer and runs the read path on
 * the bytes there (the span); whatever it leaves unread, conn_process keeps
 * in the input (conn_in_keep) before the buffer is used again.
 */
static void conn_read_in_place(struct conn *c, struct evbuffer *in)
{
    ssize_t n = read(c->fd, c->worker->read_buf, WORKER_READ_BUF);
    if (n <= 0) {
        conn_read_failed(c, n);
        return;
    }
    if ((size_t)n == WORKER_READ_BUF) {
        conn_read_on(c, in, (size_t)n);
        return;
    }
    c->span = c->worker->read_buf;
    c->span_len = (size_t)n;
    c->span_on = true;
    /* Too few to start on: they wait in the input, as any partial frame. */
    if ((size_t)n < c->read_lowat && conn_in_keep(c) != 0) {
        conn_read_failed(c, -1);
        return;
    }
    conn_read_done(c);
}

/* The plain socket is readable: fill the input, then run the read path as the bufferevent would. */
static void conn_read_socket_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    size_t len = conn_in_len(c);
    c->in_maybe = len > 0; /* a plain input is filled only here (conn_read_take, readv) */
    size_t want = conn_read_want(c, len);
    /* Nothing buffered and frames may start: no need to go through the input buffer. */
    if (len == 0 && want == WORKER_READ_BUF && c->protocol_chosen && c->state == CONN_RUNNING) {
        conn_read_in_place(c, in);
        return;
    }
    ssize_t n = conn_read_some(c, in, want);
    if (n <= 0) {
        conn_read_failed(c, n);
        return;
    }
    conn_read_done(c);
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
