/*
 * Worker threads. worker_create/start/stop/destroy and worker_hand_over run
 * on the main thread; everything reached from worker_main runs on the worker
 * itself, including the closures its inbox delivers.
 */
#include "frontend/worker.h"

#include <event2/event.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/log.h"
#include "frontend/conn.h"
#include "frontend/server.h"

/*
 * A worker's event_base is used by its own thread only: other threads reach
 * the worker through the inbox's eventfd (inbox.c), never through libevent.
 * So it is created without a lock, which a lockable base would take for
 * every event added, deleted or activated.
 */
static struct event_base *worker_base_new(void)
{
    struct event_config *cfg = event_config_new();
    if (cfg == NULL)
        return NULL;
    struct event_base *base = NULL;
    if (event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK) == 0)
        base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    return base;
}

struct worker *worker_create(struct frontend *fe, int id)
{
    struct worker *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->fe = fe;
    w->id = id;
    w->base = worker_base_new();
    if (w->base == NULL) {
        worker_destroy(&w);
        return NULL;
    }
    w->inbox = inbox_create(w->base, fe->cfg->inbox_batch);
    w->read_buf = malloc(WORKER_READ_BUF);
    if (w->inbox == NULL || w->read_buf == NULL || conn_timeouts_start(w) != 0) {
        worker_destroy(&w);
        return NULL;
    }
    return w;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    log_debug("worker %d: running", w->id);
    /* The loop must survive having no connections: the inbox wakes it. */
    event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
    log_debug("worker %d: stopped", w->id);
    return NULL;
}

int worker_start(struct worker *w)
{
    return pthread_create(&w->thread, NULL, worker_main, w) == 0 ? 0 : -1;
}

struct hand_over {
    struct worker *w;
    int fd;
    bool tls;
};

/* Inbox closure: the socket arrives on the worker and becomes a connection. */
static void worker_new_conn(void *arg)
{
    struct hand_over *h = arg;
    struct worker *w = h->w;
    int fd = h->fd;
    bool tls = h->tls;
    free(h);
    if (w->stopping || conn_create(w, fd, tls) == NULL) {
        close(fd);
        atomic_fetch_sub(&w->fe->curr_connections, 1);
    }
}

void worker_hand_over(struct worker *w, int fd, bool tls)
{
    struct hand_over *h = malloc(sizeof(*h));
    if (h != NULL) {
        h->w = w;
        h->fd = fd;
        h->tls = tls;
        if (inbox_post(w->inbox, worker_new_conn, h) == 0)
            return;
        free(h);
    }
    log_warn("worker %d: cannot hand over a connection: out of memory", w->id);
    close(fd);
    atomic_fetch_sub(&w->fe->curr_connections, 1);
}

/* shutdown_timeout has passed: replies still unsent are dropped with their connections. */
static void worker_shutdown_expired(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    log_info("worker %d: shutdown_timeout passed; closing the connections left", w->id);
    conn_close_all(w);
    if (w->conns == NULL)
        event_base_loopbreak(w->base);
}

/*
 * Inbox closure: stop reading everywhere, let queued replies go out for at
 * most shutdown_timeout, then close what is left and leave the loop.
 * Connections whose cookie is blocked stay until the engine's notify frees
 * them (the engine is told of the disconnect); the last connection to go
 * breaks the loop (conn.c).
 */
static void worker_shutdown(void *arg)
{
    struct worker *w = arg;
    w->stopping = true;
    int ms = w->fe->cfg->shutdown_timeout_ms;
    if (ms > 0)
        w->shutdown_timer = evtimer_new(w->base, worker_shutdown_expired, w);
    if (w->shutdown_timer != NULL) {
        conn_close_all_after_write(w);
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
        evtimer_add(w->shutdown_timer, &tv);
    } else {
        conn_close_all(w);
    }
    if (w->conns == NULL)
        event_base_loopbreak(w->base);
}

void worker_stop(struct worker *w)
{
    /* The worker's base has no lock: only the inbox may reach it from here. */
    while (inbox_post(w->inbox, worker_shutdown, w) != 0) {
        log_warn("worker %d: out of memory asking it to stop; retrying", w->id);
        sleep(1);
    }
    pthread_join(w->thread, NULL);
}

void worker_destroy(struct worker **wp)
{
    struct worker *w = *wp;
    if (w == NULL)
        return;
    w->stopping = true;
    /*
     * Connections first: closing one whose command is blocked tells the
     * engine, whose completion comes through the inbox; destroying the inbox
     * then runs it, which frees that connection.
     */
    conn_close_all(w);
    if (w->inbox != NULL)
        inbox_destroy(&w->inbox);
    if (w->sweep != NULL)
        event_free(w->sweep);
    if (w->shutdown_timer != NULL)
        event_free(w->shutdown_timer);
    if (w->base != NULL)
        event_base_free(w->base);
    free(w->read_buf);
    free(w);
    *wp = NULL;
}
