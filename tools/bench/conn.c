/*
 * One load-generator connection: blocking connect, then non-blocking reads and
 * writes driven by the owning worker thread's event loop; the ring of requests
 * in flight; failure accounting. Runs on the worker thread that owns it.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

#define READ_CHUNK 65536

uint8_t *bbuf_reserve(struct bbuf *b, size_t n)
{
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len < n)
            cap *= 2;
        uint8_t *p = realloc(b->data, cap);
        if (!p) {
            fputs("basalt-bench: out of memory\n", stderr);
            abort();
        }
        b->data = p;
        b->cap = cap;
    }
    return b->data + b->len;
}

void bbuf_append(struct bbuf *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    memcpy(bbuf_reserve(b, n), p, n);
    b->len += n;
}

static void conn_on_read(evutil_socket_t fd, short what, void *arg);
static void conn_on_write(evutil_socket_t fd, short what, void *arg);

int conn_open(struct bench_conn *c, const struct bench_server *s, char *err, size_t errlen)
{
    c->fd = socket(s->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || connect(c->fd, (const struct sockaddr *)&s->addr, s->addrlen) != 0) {
        snprintf(err, errlen, "connect %s: %s", s->name, strerror(errno));
        if (c->fd >= 0)
            close(c->fd);
        c->fd = -1;
        return -1;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /* The handshake is blocking, like the connect; then the socket turns non-blocking. */
    if (c->t->o->tls_ctx != NULL && bench_tls_connect(c, c->t->o->tls_ctx, err, errlen) != 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    c->rev = event_new(c->t->base, c->fd, EV_READ | EV_PERSIST, conn_on_read, c);
    c->wev = event_new(c->t->base, c->fd, EV_WRITE, conn_on_write, c);
    c->cap = 16;
    c->slots = calloc(c->cap, sizeof(*c->slots));
    if (!c->rev || !c->wev || !c->slots || event_add(c->rev, NULL) != 0) {
        snprintf(err, errlen, "out of memory setting up a connection");
        return -1;
    }
    c->t->live++;
    return 0;
}

void conn_close(struct bench_conn *c)
{
    if (c->rev)
        event_free(c->rev);
    if (c->wev)
        event_free(c->wev);
    c->rev = c->wev = NULL;
    if (c->ssl != NULL)
        bench_tls_free(c);
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->in.data);
    free(c->out.data);
    free(c->slots);
    memset(&c->in, 0, sizeof(c->in));
    memset(&c->out, 0, sizeof(c->out));
    c->slots = NULL;
}

void conn_fail(struct bench_conn *c, bool closed_by_peer)
{
    if (c->dead)
        return;
    struct bench_thread *t = c->t;
    if (closed_by_peer)
        t->c.err_closed += c->count;
    t->c.conns_lost++;
    t->inflight -= c->count;
    c->count = 0;
    c->dead = true;
    event_del(c->rev);
    event_del(c->wev);
    close(c->fd);
    c->fd = -1;
    t->live--;
    thread_maybe_finish(t);
}

struct req_slot *conn_push(struct bench_conn *c, enum req_kind kind, uint16_t nkeys,
                           uint64_t start_ns)
{
    if (c->count == c->cap) {
        /* Grow the ring and unwrap it so head is 0. */
        struct req_slot *n = malloc(2 * c->cap * sizeof(*n));
        if (!n) {
            fputs("basalt-bench: out of memory\n", stderr);
            abort();
        }
        for (unsigned i = 0; i < c->count; i++)
            n[i] = c->slots[(c->head + i) % c->cap];
        free(c->slots);
        c->slots = n;
        c->head = 0;
        c->cap *= 2;
    }
    if (c->count == 0)
        c->last_progress = start_ns; /* the reply timeout counts from here */
    struct req_slot *s = &c->slots[(c->head + c->count) % c->cap];
    s->start_ns = start_ns;
    s->opaque = c->next_opaque++;
    s->nkeys = nkeys;
    s->kind = (uint8_t)kind;
    c->count++;
    c->t->inflight++;
    return s;
}

void conn_flush(struct bench_conn *c)
{
    while (!c->dead && c->out_off < c->out.len) {
        const uint8_t *p = c->out.data + c->out_off;
        size_t n = c->out.len - c->out_off;
        ssize_t w = c->ssl ? bench_tls_send(c, p, n) : send(c->fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            c->out_off += (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            event_add(c->wev, NULL);
            return;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else {
            conn_fail(c, true);
            return;
        }
    }
    c->out_off = c->out.len = 0;
}

static void conn_on_write(evutil_socket_t fd, short what, void *arg)
{
    conn_flush(arg);
}

/* Parses every complete reply in the input; false when the connection failed. */
static bool conn_parse(struct bench_conn *c, uint64_t now)
{
    for (;;) {
        long used = proto_parse(c, c->in.data + c->in_off, c->in.len - c->in_off, now);
        if (used < 0) {
            c->t->c.err_protocol += c->count;
            conn_fail(c, false);
            return false;
        }
        if (used == 0)
            break;
        c->in_off += (size_t)used;
    }
    if (c->in_off == c->in.len) {
        c->in_off = c->in.len = 0;
    } else if (c->in_off > c->in.cap / 2) {
        memmove(c->in.data, c->in.data + c->in_off, c->in.len - c->in_off);
        c->in.len -= c->in_off;
        c->in_off = 0;
    }
    return true;
}

static void conn_on_read(evutil_socket_t fd, short what, void *arg)
{
    struct bench_conn *c = arg;
    bbuf_reserve(&c->in, READ_CHUNK);
    uint8_t *p = c->in.data + c->in.len;
    size_t n = c->in.cap - c->in.len;
    ssize_t r = c->ssl ? bench_tls_recv(c, p, n) : recv(c->fd, p, n, 0);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        conn_fail(c, true);
        return;
    }
    if (r < 0)
        return;
    c->in.len += (size_t)r;
    uint64_t now = bench_now_ns();
    if (!conn_parse(c, now))
        return;
    load_refill(c, now);
    thread_maybe_finish(c->t);
}
