/*
 * Connection timeouts: a per-worker sweep timer that closes connections
 * which are idle (-o idle_timeout), hold an incomplete command whose rest
 * never arrives (-o read_timeout), or have replies queued that the peer
 * does not read (-o stuck_send_timeout). A connection whose command is
 * blocked on the engine is none of these and is never closed here; neither
 * is a TLS handshake in progress (it has its own timer). The sweep runs on
 * the worker's loop, every quarter of the shortest timeout (10 ms .. 1 s),
 * so a timeout fires between its value and 1.25 times it plus one period.
 * Worker thread only.
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <time.h>

#include "base/log.h"
#include "frontend/conn.h"
#include "frontend/server.h"
#include "frontend/worker.h"

#define SWEEP_MIN_MS 10
#define SWEEP_MAX_MS 1000

uint64_t conn_clock_ms(void)
{
    struct timespec ts;
    /* Coarse is enough for timeouts and costs no system call. */
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Output buffer callback: bytes written to the peer, or a queue that starts, are progress. */
static void conn_output_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct conn *c = arg;
    if (info->n_deleted > 0 || (info->orig_size == 0 && info->n_added > 0))
        c->out_progress_ms = conn_clock_ms();
}

void conn_timeout_track(struct conn *c)
{
    c->last_active_ms = conn_clock_ms();
    c->out_progress_ms = c->last_active_ms;
    /*
     * A plain connection's replies are written before its callback returns:
     * conn_flush turns this off and watches the output only while some wait
     * for the write event, not on every reply.
     */
    c->out_cb = evbuffer_add_cb(bufferevent_get_output(c->bev), conn_output_cb, c);
}

void conn_timeout_watch_output(struct conn *c, bool on)
{
    if (c->out_cb == NULL)
        return;
    if (on) {
        c->out_progress_ms = conn_clock_ms(); /* the queue starts now */
        evbuffer_cb_set_flags(bufferevent_get_output(c->bev), c->out_cb, EVBUFFER_CB_ENABLED);
    } else {
        evbuffer_cb_clear_flags(bufferevent_get_output(c->bev), c->out_cb, EVBUFFER_CB_ENABLED);
    }
}

void conn_timeout_untrack(struct conn *c)
{
    /* libevent may free the buffer after the connection: it must not call back into it. */
    evbuffer_remove_cb(bufferevent_get_output(c->bev), conn_output_cb, c);
    c->out_cb = NULL;
}

/* Which timeout, if any, c has run into at now; NULL when none. */
static const char *conn_expired(const struct conn *c, const struct config *cfg, uint64_t now,
                                enum stats_counter *counter)
{
    if (c->bev == NULL || c->handshaking || c->cookie.blocked || c->state == CONN_BLOCKED)
        return NULL;
    size_t out = evbuffer_get_length(bufferevent_get_output(c->bev));
    uint64_t stuck = (uint64_t)cfg->stuck_send_timeout_ms;
    if (stuck > 0 && out > 0 && now - c->out_progress_ms >= stuck) {
        *counter = STATS_stuck_send_kicks;
        return "replies unread for stuck_send_timeout";
    }
    if (c->state != CONN_RUNNING)
        return NULL;
    uint64_t rd = (uint64_t)cfg->read_timeout_ms;
    if (rd > 0 && c->partial_since_ms != 0 && now - c->partial_since_ms >= rd) {
        *counter = STATS_read_timeout_kicks;
        return "a command incomplete for read_timeout";
    }
    uint64_t idle = (uint64_t)cfg->idle_timeout_ms;
    size_t in = evbuffer_get_length(bufferevent_get_input(c->bev));
    if (idle > 0 && out == 0 && in == 0 && c->swallow == 0 && now - c->last_active_ms >= idle) {
        *counter = STATS_idle_kicks;
        return "idle for idle_timeout";
    }
    return NULL;
}

static void conn_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    const struct config *cfg = w->fe->cfg;
    uint64_t now = conn_clock_ms();
    struct conn *c = w->conns;
    while (c != NULL) {
        struct conn *next = c->next;
        enum stats_counter counter;
        const char *why = conn_expired(c, cfg, now, &counter);
        if (why != NULL) {
            log_info("conn: closing: %s", why);
            stats_add(&w->stats, counter, 1);
            conn_close(c);
        }
        c = next;
    }
}

/* The sweep period: a quarter of the shortest timeout in use, within bounds; 0 if none. */
static int conn_sweep_period_ms(const struct config *cfg)
{
    int t[] = {cfg->idle_timeout_ms, cfg->read_timeout_ms, cfg->stuck_send_timeout_ms};
    int shortest = 0;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (t[i] > 0 && (shortest == 0 || t[i] < shortest))
            shortest = t[i];
    }
    if (shortest == 0)
        return 0;
    int period = shortest / 4;
    return period < SWEEP_MIN_MS ? SWEEP_MIN_MS : period > SWEEP_MAX_MS ? SWEEP_MAX_MS : period;
}

int conn_timeouts_start(struct worker *w)
{
    int period = conn_sweep_period_ms(w->fe->cfg);
    if (period == 0)
        return 0;
    w->sweep = event_new(w->base, -1, EV_PERSIST, conn_sweep_cb, w);
    if (w->sweep == NULL)
        return -1;
    struct timeval tv = {period / 1000, (period % 1000) * 1000};
    return event_add(w->sweep, &tv);
}
