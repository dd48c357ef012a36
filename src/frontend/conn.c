/*
 * Connections: the binary read path and the flow control around it. Runs on
 * the owning worker's thread only.
 *
 * Read path: the read low watermark is the binary header (24 bytes). When a
 * header is buffered it is checked; if the whole frame is not there yet, the
 * low watermark is raised to the frame size so libevent calls back only once
 * it is complete (libevent keeps reading from the kernel meanwhile). A
 * complete frame is validated, loaded into the cookie and executed. At most
 * 1 + reqs_per_event frames run per callback; then the connection yields through
 * a zero-timeout timer, which fires only after the loop has polled the
 * sockets again, so one busy client cannot starve the others. The first
 * byte of a connection picks its protocol; text connections read lines
 * instead of frames (conn_text.c) and share everything else here.
 *
 * Write path: replies are gathered in the worker's reply buffer
 * (response.c). Every callback that may have queued replies ends in
 * conn_settle, which writes them at once on a plain socket (conn_flush),
 * through the bufferevent's output only when bytes already wait there, and
 * arms the bufferevent's write event only when the kernel takes less than
 * everything. When more
 * than max_send_queue bytes wait, the connection stops reading and starting
 * commands until the output has drained to half of that.
 */
#include "frontend/conn.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sasl.h"
#include "base/log.h"
#include "frontend/conn_internal.h"
#include "frontend/conn_tls.h"
#include "frontend/exec.h"
#include "frontend/exec_text.h"
#include "frontend/response.h"
#include "frontend/server.h"
#include "frontend/worker.h"

/* The first byte of a TLS ClientHello: the handshake record type. */
#define CONN_TLS_HANDSHAKE_RECORD 0x16

/* Input kept buffered beyond the frame being assembled (read high watermark floor). */
#define CONN_READ_HIGH_MIN (256 * 1024)

/* The most the bufferevent writes per write event (its default, 16 KiB, splits a large reply). */
#define CONN_WRITE_MAX (256 * 1024)

static void conn_read_cb(struct bufferevent *bev, void *arg);
static void conn_write_cb(struct bufferevent *bev, void *arg);
static void conn_event_cb(struct bufferevent *bev, short what, void *arg);
static void conn_resume_cb(evutil_socket_t fd, short what, void *arg);
static bool conn_process(struct conn *c);
static void conn_settle(struct conn *c);
static void conn_flush(struct conn *c);

static const struct config *conn_cfg(const struct conn *c)
{
    return c->worker->fe->cfg;
}

void conn_set_read_watermarks(struct conn *c, size_t low, size_t high)
{
    if (high < low)
        high = low;
    if (c->read_lowat == low && c->read_high == high)
        return;
    c->read_lowat = low;
    c->read_high = high;
    conn_read_update(c);
}

void conn_set_read_lowat(struct conn *c, size_t low)
{
    conn_set_read_watermarks(c, low, low > CONN_READ_HIGH_MIN ? low : CONN_READ_HIGH_MIN);
}

/*
 * Bounds the input at read_high only while it holds half the bound or more
 * (read_capped): a standing TLS read high watermark makes libevent re-add
 * the read event on every change to the input. Called after every read
 * callback. A TLS read adds at most 16 KiB beyond the bound; a plain read
 * never asks for more than the bound leaves (conn_read.c).
 */
static void conn_bound_input(struct conn *c)
{
    size_t len = conn_in_len(c);
    bool cap = len >= c->read_high / 2;
    bool changed = cap != c->read_capped;
    c->read_capped = cap;
    /* TLS's watermark follows the flag alone; a plain read event also the length while capped. */
    if (changed || (cap && !c->tls))
        conn_read_update(c);
}

struct conn *conn_create(struct worker *w, int fd, bool tls)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->worker = w;
    c->fd = fd;
    c->in_maybe = tls; /* a TLS bufferevent fills its input itself */
    c->cookie.conn = c;
    /* TLS differs only in the bufferevent: every path below is the same. */
    c->bev = tls ? conn_tls_bev(c, fd) : bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
    c->resume = evtimer_new(w->base, conn_resume_cb, c);
    if (c->bev == NULL || c->resume == NULL || conn_read_init(c) != 0) {
        conn_read_free(c);
        if (c->bev != NULL) {
            /* Not ours to close yet: the caller closes fd on failure. */
            bufferevent_setfd(c->bev, -1);
            bufferevent_free(c->bev);
        }
        if (c->resume != NULL)
            event_free(c->resume);
        if (c->handshake_timer != NULL)
            event_free(c->handshake_timer);
        free(c);
        return NULL;
    }
    bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
    bufferevent_set_max_single_write(c->bev, CONN_WRITE_MAX);
    conn_timeout_track(c);
    /* One byte picks the protocol; a text command may be shorter than a binary header. */
    conn_set_read_lowat(c, 1);
    bufferevent_enable(c->bev, EV_WRITE);
    conn_read_enable(c, true);
    c->write_armed = true; /* a plain connection's first conn_flush disarms it */
    c->next = w->conns;
    if (w->conns != NULL)
        w->conns->prev = c;
    w->conns = c;
    return c;
}

static void conn_free(struct conn *c)
{
    struct worker *w = c->worker;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    cookie_deinit(&c->cookie);
    event_free(c->resume);
    if (c->handshake_timer != NULL)
        event_free(c->handshake_timer);
    sasl_session_destroy(&c->sasl);
    exec_sasl_job_free(&c->sasl_job);
    free(c);
    atomic_fetch_sub(&w->fe->curr_connections, 1);
    /* A stopping worker waits for its last connection, pending ones included. */
    if (w->stopping && w->conns == NULL)
        event_base_loopbreak(w->base);
}

void conn_close(struct conn *c)
{
    if (c->bev != NULL) {
        resp_discard(c);
        conn_timeout_untrack(c);
        conn_read_free(c);
        bufferevent_free(c->bev);
        c->bev = NULL;
    }
    event_del(c->resume);
    if (c->handshake_timer != NULL)
        event_del(c->handshake_timer);
    struct engine *e = c->worker->fe->engine;
    e->ops->disconnect(e, &c->cookie);
    if (c->cookie.blocked) {
        /* Pending close: the engine still owes a notify; free the connection when it arrives. */
        return;
    }
    conn_free(c);
}

void conn_close_all(struct worker *w)
{
    struct conn *c = w->conns;
    while (c != NULL) {
        struct conn *next = c->next;
        if (c->bev != NULL)
            conn_close(c);
        c = next;
    }
}

void conn_close_all_after_write(struct worker *w)
{
    struct conn *c = w->conns;
    while (c != NULL) {
        struct conn *next = c->next;
        if (c->bev != NULL && c->cookie.blocked)
            conn_close(c);
        else if (c->bev != NULL && c->state != CONN_CLOSE_AFTER)
            conn_close_after_write(c);
        c = next;
    }
}

enum step conn_close_after_write(struct conn *c)
{
    c->state = CONN_CLOSE_AFTER;
    conn_read_enable(c, false);
    /* Started here too for callers outside a callback that ends in conn_settle (shutdown). */
    conn_flush(c);
    if (resp_output_len(c) == 0) {
        conn_close(c);
        return STEP_FREED;
    }
    bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
    return STEP_STOP;
}

/* Discards what is left of the current frame's value and forgets the command. */
static void conn_finish_frame(struct conn *c)
{
    struct cookie *ck = &c->cookie;
    if (ck->value_left > 0) {
        conn_in_drain(c, ck->value_left);
        stats_add(&c->worker->stats, STATS_bytes_read, ck->value_left);
        ck->value_left = 0;
    }
    cookie_reset(ck);
}

enum step conn_execute(struct conn *c)
{
    struct cookie *ck = &c->cookie;
    enum exec_result r;
    if (ck->text != NULL && !ck->oversized && ck->ready && ck->notified != ENGINE_SUCCESS) {
        /*
         * Binary executors take the notify's status themselves
         * (exec_resumed_error); for a text command an error is the reply.
         */
        ck->ready = false;
        if (ck->notified == ENGINE_DISCONNECT) {
            conn_close(c);
            return STEP_FREED;
        }
        exec_text_engine_error(ck, ck->notified);
        r = EXEC_DONE;
    } else {
        r = exec_run(ck);
    }
    switch (r) {
    case EXEC_WOULDBLOCK:
        ck->blocked = true;
        ck->ready = false;
        /*
         * No frame starts until the notify (conn_input_ready checks the state).
         * The bufferevent keeps reading, up to its high watermark (where
         * conn_input_ready stops it), so that a peer that goes away meanwhile is
         * noticed (pending close).
         */
        c->state = CONN_BLOCKED;
        return STEP_STOP;
    case EXEC_PAUSE:
        /* Output is full: the command continues once it drains (conn_text_step). */
        return STEP_NEXT;
    case EXEC_CLOSE:
        conn_finish_frame(c);
        return conn_close_after_write(c);
    case EXEC_DONE:
    default:
        conn_finish_frame(c);
        return STEP_NEXT;
    }
}

/*
 * Answers an oversized value with E2BIG (exec_store_oversized, which may
 * block on the engine) and arranges to discard the value as it arrives.
 */
static enum step conn_value_too_big(struct conn *c, const struct bin_header *h)
{
    size_t head = BIN_HEADER_LEN + (size_t)h->extlen + h->keylen;
    if (conn_in_len(c) < head) {
        conn_set_read_lowat(c, head);
        return STEP_NEED_MORE;
    }
    const uint8_t *p = conn_in_pullup(c, head);
    cookie_load_oversized(&c->cookie, h, p + BIN_HEADER_LEN + h->extlen);
    conn_in_drain(c, head);
    stats_add(&c->worker->stats, STATS_bytes_read, head);
    c->swallow = (uint64_t)h->bodylen - h->extlen - h->keylen;
    return conn_execute(c);
}

/* Discards swallowed bytes; STEP_NEED_MORE while some are still to come. */
static enum step conn_swallow(struct conn *c)
{
    size_t len = conn_in_len(c);
    size_t n = len < c->swallow ? len : (size_t)c->swallow;
    conn_in_drain(c, n);
    stats_add(&c->worker->stats, STATS_bytes_read, n);
    c->swallow -= n;
    if (c->swallow > 0) {
        conn_set_read_lowat(c, 1);
        return STEP_NEED_MORE;
    }
    return STEP_NEXT;
}

/* Validates a complete frame, loads it into the cookie and runs it. */
static enum step conn_run_frame(struct conn *c, const struct bin_header *h)
{
    size_t head = BIN_HEADER_LEN + (size_t)h->extlen + h->keylen;
    const uint8_t *p = conn_in_pullup(c, head);
    struct bin_request r;
    bin_request_init(&r, h, p + BIN_HEADER_LEN);
    /* Test opcodes look unknown unless the server was started to serve them. */
    bool refused = (bin_opcode_flags(h->opcode) & BIN_OP_TEST) && !conn_cfg(c)->enable_test_opcodes;
    enum bin_status st = refused ? BIN_STATUS_UNKNOWN_COMMAND : bin_validate(&r);
    if (st == BIN_STATUS_UNKNOWN_COMMAND) {
        /* Unknown opcodes are answered and skipped; the connection stays usable. */
        resp_error(c, h, st);
        conn_in_drain(c, BIN_HEADER_LEN + (size_t)h->bodylen);
        stats_add(&c->worker->stats, STATS_bytes_read, BIN_HEADER_LEN + (size_t)h->bodylen);
        return STEP_NEXT;
    }
    if (st != BIN_STATUS_SUCCESS) {
        /* A malformed request: say so, then close, as the shape cannot be trusted. */
        log_debug("conn: %s: invalid request shape", bin_opcode_name(h->opcode));
        resp_error(c, h, st);
        return conn_close_after_write(c);
    }
    cookie_load(&c->cookie, &r);
    conn_in_drain(c, head);
    stats_add(&c->worker->stats, STATS_bytes_read, head);
    return conn_execute(c);
}

/* -S and not authenticated yet: a command outside the gate gets AUTH_ERROR, a big frame
 * nothing; both close the connection. */
static enum step conn_refuse_unauthenticated(struct conn *c, const struct bin_header *h,
                                             enum exec_gate gate)
{
    if (gate == EXEC_GATE_DROP) {
        log_debug("conn: closing: a %u-byte frame before authentication",
                  (unsigned)(BIN_HEADER_LEN + h->bodylen));
        conn_close(c);
        return STEP_FREED;
    }
    log_debug("conn: closing: %s before authentication", bin_opcode_name(h->opcode));
    resp_error(c, h, BIN_STATUS_AUTH_ERROR);
    return conn_close_after_write(c);
}

/* Advances the connection by at most one frame. */
static enum step conn_step(struct conn *c)
{
    if (c->swallow > 0)
        return conn_swallow(c);
    if (c->text)
        return conn_text_step(c);
    size_t len = conn_in_len(c);
    if (len < BIN_HEADER_LEN) {
        conn_set_read_lowat(c, BIN_HEADER_LEN);
        return STEP_NEED_MORE;
    }
    uint8_t raw[BIN_HEADER_LEN];
    struct bin_header h;
    bin_header_decode(conn_in_peek(c, raw, sizeof(raw)), &h);
    const struct config *cfg = conn_cfg(c);
    enum bin_header_verdict v =
        bin_header_check(&h, c->worker->fe->frame_limit, (uint32_t)cfg->item_size_max);
    if (v != BIN_HDR_OK && v != BIN_HDR_VALUE_TOO_BIG) {
        /* No reply to it, but the replies to the frames before it are still sent. */
        log_debug("conn: closing: bad header (%s)", bin_header_verdict_str(v));
        return conn_close_after_write(c);
    }
    enum exec_gate gate = exec_sasl_gate(c, &h);
    if (gate != EXEC_GATE_PASS)
        return conn_refuse_unauthenticated(c, &h, gate);
    if (v == BIN_HDR_VALUE_TOO_BIG)
        return conn_value_too_big(c, &h);
    size_t frame = BIN_HEADER_LEN + (size_t)h.bodylen;
    if (len < frame) {
        conn_set_read_lowat(c, frame);
        return STEP_NEED_MORE;
    }
    conn_set_read_lowat(c, BIN_HEADER_LEN);
    return conn_run_frame(c, &h);
}

/* True when the output queue is over the limit; then the connection waits for it to drain. */
static bool conn_send_full(struct conn *c)
{
    size_t limit = conn_cfg(c)->max_send_queue;
    if (resp_queued(c) <= limit)
        return false;
    c->state = CONN_SEND_WAIT;
    conn_read_enable(c, false);
    bufferevent_setwatermark(c->bev, EV_WRITE, limit / 2, 0);
    return true;
}

/* The output has drained to half the limit: reading and commands start again. */
static void conn_send_drained(struct conn *c)
{
    c->state = CONN_RUNNING;
    bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
    if (!c->peer_eof)
        conn_read_enable(c, true);
}

/* Waiting for the rest of a command: from when it started (read_timeout); else not waiting. */
static void conn_note_partial(struct conn *c, bool waiting)
{
    if (!waiting)
        c->partial_since_ms = 0;
    else if (c->partial_since_ms == 0)
        c->partial_since_ms = conn_clock_ms();
}

/*
 * Runs the first frame and up to reqs_per_event more, then yields if input
 * remains; false if c was freed. The count is memcached's (-R): a multi-get
 * of 20 keys and its NOOP, 21 frames, runs in one callback and one write.
 */
static bool conn_run_frames(struct conn *c)
{
    int budget = conn_cfg(c)->reqs_per_event;
    for (int n = 0; n <= budget; n++) {
        if (c->state != CONN_RUNNING || conn_send_full(c)) {
            conn_note_partial(c, false);
            return true;
        }
        switch (conn_step(c)) {
        case STEP_NEXT:
            conn_note_partial(c, false);
            continue;
        case STEP_NEED_MORE:
            conn_note_partial(c, c->swallow > 0 || conn_in_len(c) > 0);
            /* The peer sent everything it will: answer what came, then close. */
            if (c->peer_eof)
                return conn_close_after_write(c) != STEP_FREED;
            return true;
        case STEP_STOP:
            conn_note_partial(c, false);
            return true;
        case STEP_FREED:
            return false;
        }
    }
    if (!c->peer_eof && c->swallow == 0 && conn_in_len(c) == 0)
        return true; /* nothing left: the next read calls back */
    /* Budget spent: let the loop poll other sockets before continuing. */
    stats_add(&c->worker->stats, STATS_conn_yields, 1);
    static const struct timeval zero = {0, 0};
    evtimer_add(c->resume, &zero);
    return true;
}

/* Runs frames (conn_run_frames), then keeps what the read buffer still holds; false if c was freed.
 */
static bool conn_process(struct conn *c)
{
    if (!conn_run_frames(c))
        return false;
    if (conn_in_keep(c) != 0) {
        log_warn("conn: closing: out of memory buffering input");
        conn_close(c);
        return false;
    }
    return true;
}

/*
 * Why plain sockets are written here rather than by the bufferevent: a
 * socket bufferevent adds its write event whenever bytes are appended to
 * its output and writes them on the next loop turn, then removes the event
 * again; that is two epoll_ctl and a loop turn for every reply. Instead the
 * output is written at the end of each callback, and the write event is
 * enabled only while bytes are left over (the kernel's buffer is full) or
 * the write failed (the bufferevent's own write then reports the error
 * through conn_event_cb). While it is enabled the bufferevent writes and
 * conn_write_cb disarms it once the output is empty. Replies gathered in
 * the worker's reply buffer are written from there when nothing else waits
 * (resp_write), else they join the output first. A TLS bufferevent must
 * encrypt what it sends: conn_tls_flush has it write now, the same way.
 */
static void conn_flush(struct conn *c)
{
    if (c->tls) {
        resp_commit(c);
        conn_tls_flush(c);
        return;
    }
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (!c->write_armed && resp_output_len(c) == 0) {
        /* The common case: only gathered replies, written from the reply buffer. */
        resp_write(c, c->fd);
    } else {
        resp_commit(c);
        if (!c->write_armed) {
            /* The bufferevent freezes the output's front so that only it drains it. */
            evbuffer_unfreeze(out, 1);
            int n = evbuffer_write(out, c->fd);
            evbuffer_freeze(out, 1);
            (void)n; /* whatever is left, error or not, goes to the write event */
        }
    }
    bool left = resp_output_len(c) > 0;
    c->out_maybe = left;
    if (left == c->write_armed)
        return;
    c->write_armed = left;
    conn_timeout_watch_output(c, left);
    if (left)
        bufferevent_enable(c->bev, EV_WRITE);
    else
        bufferevent_disable(c->bev, EV_WRITE);
}

/*
 * Ends every callback that may have queued replies: writes them, then acts
 * on what the write freed (a close after the last reply, room in a full
 * send queue) as conn_write_cb would have.
 */
static void conn_settle(struct conn *c)
{
    conn_bound_input(c);
    conn_flush(c);
    size_t left = resp_output_len(c);
    if (c->state == CONN_CLOSE_AFTER && left == 0) {
        conn_close(c);
    } else if (c->state == CONN_SEND_WAIT && left <= conn_cfg(c)->max_send_queue / 2) {
        conn_send_drained(c);
        /* Continue on a later loop turn, as after a yield, so others get their turn. */
        static const struct timeval zero = {0, 0};
        evtimer_add(c->resume, &zero);
    }
}

/*
 * Picks the protocol from the first byte (0x80 or 0x08: binary, else text),
 * or as -B forces. A TLS ClientHello (0x16) on a plain listener is closed;
 * with -S a text client is told it must authenticate, then closed.
 */
static bool conn_choose_protocol(struct conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    uint8_t first;
    if (evbuffer_copyout(in, &first, 1) != 1)
        return true;
    c->protocol_chosen = true;
    if (!c->tls && first == CONN_TLS_HANDSHAKE_RECORD) {
        log_debug("conn: closing: a TLS handshake on a plain listener");
        conn_close(c);
        return false;
    }
    const char *forced = conn_cfg(c)->protocol;
    bool binary = first == BIN_MAGIC_REQUEST || first == 0x08;
    if (strcmp(forced, "ascii") == 0 || (strcmp(forced, "auto") == 0 && !binary)) {
        if (conn_cfg(c)->sasl_required) {
            /* Text has no SASL: tell the client why before closing, as memcached does. */
            static const char msg[] = "CLIENT_ERROR authentication required\r\n";
            resp_add(c, msg, sizeof(msg) - 1);
            if (conn_close_after_write(c) != STEP_FREED)
                conn_settle(c);
            return false;
        }
        c->text = true;
        conn_set_read_lowat(c, 1);
        return true;
    }
    if (first == BIN_MAGIC_REQUEST)
        return true;
    log_debug("conn: closing: first byte 0x%02x is not a binary request", first);
    conn_close(c);
    return false;
}

void conn_input_ready(struct conn *c)
{
    c->last_active_ms = conn_clock_ms();
    if (c->state == CONN_BLOCKED) {
        conn_bound_input(c); /* the input waits for the blocked command */
        /*
         * Once the input reaches the bound libevent reads no more, but while
         * EV_READ stays enabled it calls back again and again through a
         * deferred callback, which holds a reference on the bufferevent: a
         * busy loop, and a bufferevent freed meanwhile (pending close) is
         * finalized only if that callback still runs before the loop ends.
         * Nothing more can be read anyway: stop until the command resumes
         * (conn_resume_cookie).
         */
        if (conn_in_len(c) >= c->read_high)
            conn_read_enable(c, false);
        return;
    }
    if (!c->protocol_chosen && !conn_choose_protocol(c))
        return;
    conn_prefetch_gets(c);
    if (conn_process(c))
        conn_settle(c);
}

static void conn_resume_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    if (conn_process(c))
        conn_settle(c);
}

/*
 * The bufferevent wrote, and its output is at or below the write low
 * watermark: empty while running or closing, half the limit while waiting
 * for room (conn_send_full).
 */
static void conn_write_cb(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    if (c->state == CONN_CLOSE_AFTER) {
        conn_close(c);
        return;
    }
    if (c->state == CONN_SEND_WAIT) {
        conn_send_drained(c);
        if (!conn_process(c))
            return;
    }
    conn_settle(c);
}

/* The bufferevent (a TLS one) has input at the low watermark. */
static void conn_read_cb(struct bufferevent *bev, void *arg)
{
    conn_input_ready(arg);
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
    conn_input_event(arg, what);
}

void conn_input_event(struct conn *c, short what)
{
    if (c->handshaking && conn_tls_event(c, what))
        return;
    if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) && c->state != CONN_CLOSE_AFTER) {
        /* A half-closed peer still gets the replies to what it sent. */
        log_debug("conn: end of input from peer");
        c->peer_eof = true;
        conn_read_enable(c, false);
        if (c->state == CONN_RUNNING && conn_process(c))
            conn_settle(c);
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        log_debug("conn: closed (%s)", (what & BEV_EVENT_ERROR) ? "error" : "eof");
        conn_close(c);
    }
}

void conn_resume_cookie(struct cookie *ck, engine_status status)
{
    struct conn *c = ck->conn;
    ck->blocked = false;

    if (c->bev == NULL) {
        /* Closed while blocked: the completion is discarded with the connection. */
        conn_free(c);
        return;
    }
    ck->notified = status;
    ck->ready = true;
    c->state = CONN_RUNNING;
    c->last_active_ms = conn_clock_ms();
    if (!c->peer_eof)
        conn_read_enable(c, true);
    enum step s = conn_execute(c);
    if (s == STEP_FREED || (s == STEP_NEXT && !conn_process(c)))
        return;
    conn_settle(c);
}
