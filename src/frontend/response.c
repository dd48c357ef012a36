/*
 * Response encoding into a connection's output; worker thread. The common
 * case (header + extras + key + a small value) is assembled in one stack
 * buffer and gathered, with the other replies of the same callback, in the
 * worker's reply buffer, which joins the output in one evbuffer_add.
 */
#include "frontend/response.h"

#include <assert.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "frontend/conn.h"
#include "frontend/server.h"
#include "frontend/worker.h"

/* Responses up to this size are assembled and copied in one piece. */
#define RESP_INLINE_MAX 2048

/* Copies len bytes to dst + *n; memcpy with a NULL source is undefined even for 0 bytes. */
static void resp_put(uint8_t *dst, size_t *n, const void *src, size_t len)
{
    if (len > 0) {
        memcpy(dst + *n, src, len);
        *n += len;
    }
}

void resp_commit(struct conn *c)
{
    struct worker *w = c->worker;
    if (w->reply_conn != c)
        return;
    evbuffer_add(bufferevent_get_output(c->bev), w->reply_buf, w->reply_len);
    w->reply_len = 0;
    w->reply_conn = NULL;
}

void resp_discard(struct conn *c)
{
    struct worker *w = c->worker;
    if (w->reply_conn == c) {
        w->reply_len = 0;
        w->reply_conn = NULL;
    }
}

size_t resp_pending(const struct conn *c)
{
    return c->worker->reply_conn == c ? c->worker->reply_len : 0;
}

void resp_write(struct conn *c, int fd)
{
    struct worker *w = c->worker;
    if (w->reply_conn != c)
        return;
    ssize_t n = write(fd, w->reply_buf, w->reply_len);
    size_t done = n > 0 ? (size_t)n : 0;
    /* The rest (a full socket, or an error the write event will report) waits in the output. */
    if (done < w->reply_len)
        evbuffer_add(bufferevent_get_output(c->bev), w->reply_buf + done, w->reply_len - done);
    w->reply_len = 0;
    w->reply_conn = NULL;
}

/*
 * Room for n more bytes of c's replies in the worker's reply buffer (n at
 * most WORKER_REPLY_BUF), committing what is there when it is full; the
 * caller fills it and calls resp_used.
 */
static uint8_t *resp_room(struct conn *c, size_t n)
{
    struct worker *w = c->worker;
    if (w->reply_conn != c && w->reply_conn != NULL) {
        /* Every callback commits before it ends; one that did not is a bug, kept safe here. */
        assert(!"replies of another connection were left uncommitted");
        resp_commit(w->reply_conn);
    }
    if (w->reply_len + n > WORKER_REPLY_BUF)
        resp_commit(c);
    return w->reply_buf + w->reply_len;
}

/* n bytes were written at resp_room's pointer. */
static void resp_used(struct conn *c, size_t n)
{
    c->worker->reply_len += n;
    c->worker->reply_conn = c;
}

void resp_add(struct conn *c, const void *data, size_t n)
{
    if (n > WORKER_REPLY_BUF) {
        resp_commit(c);
        evbuffer_add(bufferevent_get_output(c->bev), data, n);
    } else if (n > 0) {
        memcpy(resp_room(c, n), data, n);
        resp_used(c, n);
    }
}

static void resp_release_item(const void *data, size_t len, void *extra)
{
    item_unref(extra);
}

/* True when a value of len bytes in item it goes out by reference rather than by copy. */
static bool resp_by_reference(const struct conn *c, const struct item *it, size_t len)
{
    return it != NULL && len > 0 && len >= c->worker->fe->cfg->send_buffer_threshold;
}

void resp_add_value(struct conn *c, struct item *it, const void *value, size_t len)
{
    if (resp_by_reference(c, it, len)) {
        /* Large value: send it from the item itself, pinned until libevent is done. */
        resp_commit(c); /* what was gathered goes first */
        item_ref(it);
        if (evbuffer_add_reference(bufferevent_get_output(c->bev), value, len, resp_release_item,
                                   it) == 0)
            return;
        item_unref(it);
    }
    resp_add(c, value, len);
}

void resp_send(struct conn *c, const struct bin_header *req, const struct resp *r)
{
    uint32_t bodylen = (uint32_t)r->extlen + r->keylen + r->vallen;
    size_t head = BIN_HEADER_LEN + (size_t)r->extlen + r->keylen;
    /* Keys are at most 250 bytes and extras a few: a head always fits. */
    assert(head <= RESP_INLINE_MAX);
    bool copy_value =
        head + r->vallen <= RESP_INLINE_MAX && !resp_by_reference(c, r->item, r->vallen);
    /* Assembled in place, in the reply buffer: the bytes are copied once before the write. */
    uint8_t *buf = resp_room(c, copy_value ? head + r->vallen : head);
    bin_response_header(buf, req->opcode, r->status, r->extlen, r->keylen, bodylen, req->opaque,
                        r->cas);
    size_t n = BIN_HEADER_LEN;
    resp_put(buf, &n, r->extras, r->extlen);
    resp_put(buf, &n, r->key, r->keylen);
    if (copy_value)
        resp_put(buf, &n, r->value, r->vallen);
    resp_used(c, n);
    if (!copy_value)
        resp_add_value(c, r->item, r->value, r->vallen);
    stats_add(&c->worker->stats, STATS_bytes_written, BIN_HEADER_LEN + bodylen);
}

void resp_error(struct conn *c, const struct bin_header *req, uint16_t status)
{
    const char *text = bin_status_str(status);
    struct resp r = {.status = status, .value = text, .vallen = (uint32_t)strlen(text)};
    resp_send(c, req, &r);
}

void resp_status(struct conn *c, const struct bin_header *req, uint16_t status, uint64_t cas)
{
    struct resp r = {.status = status, .cas = cas};
    resp_send(c, req, &r);
}
