/*
 * Response encoding into a connection's output; worker thread. The common
 * case (header + extras + key + a small value) is assembled in one stack
 * buffer and added with a single copy.
 */
#include "frontend/response.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <stdbool.h>
#include <string.h>

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

/* True when a value of len bytes in item it goes out by reference rather than by copy. */
static bool resp_by_reference(const struct conn *c, const struct item *it, size_t len)
{
    return it != NULL && len > 0 && len >= c->worker->fe->cfg->send_buffer_threshold;
}

void resp_add_value(struct conn *c, struct item *it, const void *value, size_t len)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (resp_by_reference(c, it, len)) {
        /* Large value: send it from the item itself, pinned until libevent is done. */
        item_ref(it);
        if (evbuffer_add_reference(out, value, len, resp_release_item, it) == 0)
            return;
        item_unref(it);
    }
    if (len > 0)
        evbuffer_add(out, value, len);
}

void resp_send(struct conn *c, const struct bin_header *req, const struct resp *r)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    uint32_t bodylen = (uint32_t)r->extlen + r->keylen + r->vallen;
    uint8_t buf[RESP_INLINE_MAX];
    bin_response_header(buf, req->opcode, r->status, r->extlen, r->keylen, bodylen, req->opaque,
                        r->cas);
    size_t n = BIN_HEADER_LEN;
    resp_put(buf, &n, r->extras, r->extlen);
    resp_put(buf, &n, r->key, r->keylen);
    if (resp_by_reference(c, r->item, r->vallen)) {
        evbuffer_add(out, buf, n);
        resp_add_value(c, r->item, r->value, r->vallen);
    } else if (n + r->vallen <= sizeof(buf)) {
        resp_put(buf, &n, r->value, r->vallen);
        evbuffer_add(out, buf, n);
    } else {
        evbuffer_add(out, buf, n);
        evbuffer_add(out, r->value, r->vallen);
    }
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
