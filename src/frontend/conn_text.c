/*
 * The text protocol's read path: command lines instead of binary headers.
 * Runs on the owning worker's thread, called from conn_step.
 *
 * A line ends at "\n" (an "\r" before it is dropped). The search resumes
 * where the previous one stopped, so a long line is scanned once. A line of
 * more than 2048 bytes is refused with "CLIENT_ERROR line too long" and the
 * connection closes, except for retrievals, which may carry many keys up to
 * TEXT_RETRIEVAL_LINE_MAX; so one connection never buffers more than that.
 * A storage command runs once its data block is buffered whole (the read low
 * watermark is raised to it, as for a binary frame); a block above the item
 * size max is answered at once and discarded as it arrives. The command line
 * is copied into the cookie, so a command that would block keeps its
 * arguments; the data block stays at the head of the input until the
 * executor moves it into the item.
 */
#include <string.h>

#include "base/log.h"
#include "frontend/conn_internal.h"
#include "frontend/exec_text.h"
#include "frontend/response.h"
#include "frontend/server.h"
#include "frontend/worker.h"
#include "protocol/meta.h"
#include "protocol/text.h"

/* Input kept buffered while a line or a data block is incomplete. */
#define CONN_TEXT_READ_HIGH (256 * 1024)

/* Sets both read watermarks; the high one lets a long retrieval line keep arriving. */
static void conn_text_watermark(struct conn *c, size_t low, size_t high)
{
    conn_set_read_watermarks(c, low, high);
}

static void conn_text_reply(struct conn *c, const char *s)
{
    resp_add(c, s, strlen(s));
    stats_add(&c->worker->stats, STATS_bytes_written, strlen(s));
}

/* Refuses an over-long line and closes once the reply is out. */
static enum step conn_text_too_long(struct conn *c)
{
    log_debug("conn: closing: command line too long");
    conn_text_reply(c, "CLIENT_ERROR line too long\r\n");
    return conn_close_after_write(c);
}

/* No end of line yet: wait for more, unless the line is already too long. */
static enum step conn_text_partial(struct conn *c, size_t len)
{
    c->text_scanned = len;
    if (len > TEXT_LINE_MAX) {
        char tmp[8];
        const char *head = (const char *)conn_in_peek(c, tmp, sizeof(tmp));
        if (!text_is_retrieval(head, sizeof(tmp)) || len > TEXT_RETRIEVAL_LINE_MAX)
            return conn_text_too_long(c);
    }
    conn_text_watermark(c, 1, len + CONN_TEXT_READ_HIGH);
    return STEP_NEED_MORE;
}

/* Drains a consumed command line (and counts it). */
static void conn_text_drain(struct conn *c, size_t n)
{
    conn_in_drain(c, n);
    stats_add(&c->worker->stats, STATS_bytes_read, n);
}

/*
 * A data block above the item size max: the command runs as an oversized
 * store (exec_store_oversized: a set removes the old value, which may block)
 * and answers SERVER_ERROR; the block is discarded as it arrives.
 */
static enum step conn_text_too_big(struct conn *c, struct cookie_text *t, size_t consumed)
{
    uint64_t swallow = (uint64_t)t->req.vallen + 2;
    exec_text_start(&c->cookie, t);
    conn_text_drain(c, consumed);
    c->cookie.oversized = true;
    c->cookie.value_left = 0; /* the block is swallowed, not drained with the command */
    c->swallow = swallow;
    return conn_execute(c);
}

/*
 * A refused line: an HTTP request closes; anything else gets its reply, and
 * a refused ms's data block is skipped, as memcached does. Gives back t
 * (NULL or the line's copy, which r may point into).
 */
static enum step conn_text_refused(struct conn *c, struct cookie_text *t, const struct text_req *r,
                                   enum text_verdict v, size_t consumed)
{
    if (v == TEXT_ERR_HTTP) {
        exec_text_release(&c->cookie, t);
        log_debug("conn: closing: HTTP request on the memcached port");
        conn_close(c);
        return STEP_FREED;
    }
    conn_text_reply(c, text_verdict_reply(v));
    conn_text_drain(c, consumed);
    if (r->has_data)
        c->swallow = (uint64_t)r->vallen + 2;
    exec_text_release(&c->cookie, t);
    return STEP_NEXT;
}

/*
 * No memory for the line's copy: the line is parsed where it lies, so a
 * refused line is answered as ever; one that would run cannot, and closes.
 */
static enum step conn_text_nomem(struct conn *c, const char *line, size_t n, size_t consumed)
{
    struct text_req r;
    enum text_verdict v = text_parse(line, n, &r);
    if (v != TEXT_OK)
        return conn_text_refused(c, NULL, &r, v, consumed);
    conn_text_reply(c, "SERVER_ERROR out of memory\r\n");
    return conn_close_after_write(c);
}

/*
 * A complete line of n bytes (consumed with its newline): parse, wait for
 * data, run. The line is parsed in its copy in the cookie, which the
 * command keeps while it waits, so the parse is never copied.
 */
static enum step conn_text_line(struct conn *c, const char *line, size_t n, size_t consumed)
{
    struct cookie_text *t = exec_text_copy_line(&c->cookie, line, n);
    if (t == NULL)
        return conn_text_nomem(c, line, n, consumed);
    const struct text_req *r = &t->req;
    enum text_verdict v = text_parse(t->line, n, &t->req);
    if (v != TEXT_OK)
        return conn_text_refused(c, t, r, v, consumed);
    if (text_is_storage(r->cmd) || r->cmd == TEXT_CMD_MS) {
        if (r->vallen > c->worker->fe->cfg->item_size_max)
            return conn_text_too_big(c, t, consumed);
        size_t need = consumed + (size_t)r->vallen + 2;
        if (conn_in_len(c) < need) {
            exec_text_release(&c->cookie, t); /* parsed again when the block is in */
            conn_text_watermark(c, need, CONN_TEXT_READ_HIGH);
            return STEP_NEED_MORE;
        }
    }
    conn_text_watermark(c, 1, CONN_TEXT_READ_HIGH);
    exec_text_start(&c->cookie, t);
    conn_text_drain(c, consumed);
    return conn_execute(c);
}

enum step conn_text_step(struct conn *c)
{
    if (c->cookie.text != NULL)
        return conn_execute(c); /* a retrieval paused for output room continues */
    size_t len = conn_in_len(c);
    if (len == 0) {
        c->text_scanned = 0;
        return STEP_NEED_MORE;
    }
    size_t scanned = c->text_scanned < len ? c->text_scanned : 0;
    size_t n;
    if (!conn_in_find_lf(c, scanned, &n))
        return conn_text_partial(c, len);
    c->text_scanned = 0;
    size_t consumed = n + 1;
    if (n > TEXT_RETRIEVAL_LINE_MAX)
        return conn_text_too_long(c);
    const char *line = (const char *)conn_in_pullup(c, consumed);
    if (n > TEXT_LINE_MAX && !text_is_retrieval(line, n))
        return conn_text_too_long(c);
    if (n > 0 && line[n - 1] == '\r')
        n--;
    return conn_text_line(c, line, n, consumed);
}
