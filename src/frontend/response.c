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
#include <sys/uio.h>
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

static void resp_release_item(const void *data, size_t len, void *extra)
{
    item_unref(extra);
}

/* Adds len bytes at value of item it to c's output by reference, handing over one reference. */
static void resp_add_reference(struct conn *c, struct item *it, const void *value, size_t len)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    c->out_maybe = true;
    if (evbuffer_add_reference(out, value, len, resp_release_item, it) != 0) {
        evbuffer_add(out, value, len);
        item_unref(it);
    }
}

/* Forgets what the worker gathered (the bytes and the reference are dealt with). */
static void resp_reset(struct worker *w)
{
    w->reply_len = 0;
    w->reply_item = NULL;
    w->reply_conn = NULL;
}

/* Moves what was gathered, from byte skip on (the reference after the bytes), to c's output. */
static void resp_move_rest(struct conn *c, size_t skip)
{
    struct worker *w = c->worker;
    if (skip < w->reply_len) {
        c->out_maybe = true;
        evbuffer_add(bufferevent_get_output(c->bev), w->reply_buf + skip, w->reply_len - skip);
    }
    if (w->reply_item != NULL) {
        size_t off = skip > w->reply_len ? skip - w->reply_len : 0;
        if (off < w->reply_vlen)
            resp_add_reference(c, w->reply_item, (const uint8_t *)w->reply_value + off,
                               w->reply_vlen - off);
        else
            item_unref(w->reply_item);
    }
    resp_reset(w);
}

void resp_commit(struct conn *c)
{
    if (c->worker->reply_conn == c)
        resp_move_rest(c, 0);
}

void resp_discard(struct conn *c)
{
    struct worker *w = c->worker;
    if (w->reply_conn != c)
        return;
    if (w->reply_item != NULL)
        item_unref(w->reply_item);
    resp_reset(w);
}

size_t resp_output_len(const struct conn *c)
{
    return c->out_maybe ? evbuffer_get_length(bufferevent_get_output(c->bev)) : 0;
}

size_t resp_queued(const struct conn *c)
{
    const struct worker *w = c->worker;
    size_t out = resp_output_len(c);
    if (w->reply_conn != c)
        return out;
    return out + w->reply_len + (w->reply_item != NULL ? w->reply_vlen : 0);
}

void resp_write(struct conn *c, int fd)
{
    struct worker *w = c->worker;
    if (w->reply_conn != c)
        return;
    struct iovec v[2] = {{w->reply_buf, w->reply_len}, {(void *)w->reply_value, w->reply_vlen}};
    ssize_t n = w->reply_item != NULL ? writev(fd, v, 2) : write(fd, w->reply_buf, w->reply_len);
    /* The rest (a full socket, or an error the write event will report) waits in the output. */
    resp_move_rest(c, n > 0 ? (size_t)n : 0);
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
    /* Bytes after a gathered reference would go out before it: commit both first. */
    if (w->reply_len + n > WORKER_REPLY_BUF || w->reply_item != NULL)
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
        c->out_maybe = true;
        evbuffer_add(bufferevent_get_output(c->bev), data, n);
    } else if (n > 0) {
        memcpy(resp_room(c, n), data, n);
        resp_used(c, n);
    }
}

/* True when a value of len bytes in item it goes out by reference rather than by copy. */
static bool resp_by_reference(const struct conn *c, const struct item *it, size_t len)
{
    return it != NULL && len > 0 && len >= c->worker->fe->cfg->send_buffer_threshold;
}

void resp_add_value(struct conn *c, struct item *it, const void *value, size_t len)
{
    if (!resp_by_reference(c, it, len)) {
        resp_add(c, value, len);
        return;
    }
    /* Large value: sent from the item itself, pinned until it is written. */
    struct worker *w = c->worker;
    item_ref(it);
    if (!c->tls && !c->write_armed && w->reply_item == NULL &&
        (w->reply_conn == c || w->reply_conn == NULL) && resp_output_len(c) == 0) {
        /* Behind the gathered bytes: resp_write sends both with one writev. */
        w->reply_item = it;
        w->reply_value = value;
        w->reply_vlen = len;
        w->reply_conn = c;
        return;
    }
    resp_commit(c); /* what was gathered goes first */
    resp_add_reference(c, it, value, len);
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
