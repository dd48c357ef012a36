/*
 * A connection whose command is blocked on the engine while its client keeps
 * pipelining: once the input reaches the read high watermark the worker must
 * go idle (no callback left queued), and closing the connection at shutdown
 * must free its bufferevent. A detached front-end (one worker, not started:
 * this thread runs its loop) with the wouldblock engine in never mode, so the
 * command stays blocked until the connection goes away; the client is the
 * other end of a Unix socketpair.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/clock.h"
#include "config/config.h"
#include "engines/memory/memory.h"
#include "engines/wouldblock/wouldblock.h"
#include "frontend/conn.h"
#include "frontend/frontend.h"
#include "frontend/server.h"
#include "frontend/worker.h"
#include "protocol/binary.h"

#define PIPELINE_BYTES (1024 * 1024) /* well above the 256 KiB read high watermark */
#define MAX_TURNS 2000               /* bound on the loop turns spent filling the input */

struct fixture {
    struct config cfg;
    struct engine *engine;
    struct event_base *main_base;
    struct frontend *fe;
    struct worker *w;
    int peer;
};

/* A binary GET of key "k", written at p; returns its size. */
static size_t get_frame(uint8_t *p)
{
    memset(p, 0, BIN_HEADER_LEN + 1);
    p[0] = BIN_MAGIC_REQUEST;
    p[1] = BIN_CMD_GET;
    p[3] = 1;  /* key length */
    p[11] = 1; /* body length */
    p[BIN_HEADER_LEN] = 'k';
    return BIN_HEADER_LEN + 1;
}

static int fixture_setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    config_defaults(&f->cfg);
    f->cfg.threads = 1;
    f->cfg.nlisten = 0;
    assert_int_equal(evthread_use_pthreads(), 0);
    clock_setup();
    signal(SIGPIPE, SIG_IGN);
    struct memory_engine_config mc = {.limit_bytes = 4u << 20, .item_size_max = 1024 * 1024};
    struct engine *inner = memory_engine_create(&mc, frontend_engine_host());
    assert_non_null(inner);
    /* never: every engine call is parked until the connection goes away; no pool is used. */
    struct wouldblock_config wc = {.mode = {.kind = WOULDBLOCK_NEVER}};
    f->engine = wouldblock_engine_create(&wc, inner, frontend_engine_host(), NULL);
    assert_non_null(f->engine);
    f->main_base = event_base_new();
    assert_non_null(f->main_base);
    char err[256];
    f->fe = frontend_create_detached(&f->cfg, f->engine, f->main_base, err, sizeof(err));
    assert_non_null(f->fe);
    f->w = f->fe->workers[0];
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    f->peer = sv[1];
    atomic_fetch_add(&f->fe->curr_connections, 1);
    assert_non_null(conn_create(f->w, sv[0], false));
    *state = f;
    return 0;
}

static int fixture_teardown(void **state)
{
    struct fixture *f = *state;
    frontend_destroy(&f->fe);
    f->engine->ops->destroy(f->engine);
    event_base_free(f->main_base);
    close(f->peer);
    free(f);
    return 0;
}

/* Runs the worker's loop for about a millisecond (a bound, not a measure: a busy loop ends too). */
static void turn(struct fixture *f)
{
    static const struct timeval ms = {0, 1000};
    event_base_loopexit(f->w->base, &ms);
    event_base_loop(f->w->base, 0);
}

/* Sends GETs until the socket is full, running the worker's loop in between. */
static void fill_input(struct fixture *f)
{
    uint8_t *buf = malloc(PIPELINE_BYTES + 64);
    assert_non_null(buf);
    size_t len = 0;
    while (len < PIPELINE_BYTES)
        len += get_frame(buf + len);
    size_t sent = 0;
    int idle = 0;
    for (int t = 0; t < MAX_TURNS && sent < len && idle < 8; t++) {
        ssize_t n = send(f->peer, buf + sent, len - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0)
            sent += (size_t)n;
        else
            assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
        idle = n > 0 ? 0 : idle + 1;
        turn(f);
    }
    free(buf);
    /* More than the server may buffer was offered: its input is at the high watermark. */
    assert_true(sent > 256 * 1024);
}

static void test_blocked_full_input_is_idle(void **state)
{
    struct fixture *f = *state;
    fill_input(f);
    struct conn *c = f->w->conns;
    assert_non_null(c);
    assert_true(c->cookie.blocked);
    for (int i = 0; i < 4; i++)
        turn(f);
    /*
     * Nothing can happen until the engine completes: no callback may stay
     * queued (one that re-queues itself is a busy loop, and it holds a
     * reference on the bufferevent).
     */
    assert_int_equal(event_base_get_num_events(f->w->base, EVENT_BASE_COUNT_ACTIVE), 0);
}

/*
 * Shutdown as worker_shutdown does it: the blocked connection is closed (a
 * pending close: the engine's disconnect posts its completion), and the
 * completion frees it before the loop runs again. Its bufferevent must still
 * be freed with the worker (LeakSanitizer checks at exit).
 */
static void test_blocked_full_input_closed_at_shutdown(void **state)
{
    struct fixture *f = *state;
    fill_input(f);
    assert_non_null(f->w->conns);
    assert_true(f->w->conns->cookie.blocked);
    f->w->stopping = true;
    conn_close_all(f->w);
    assert_non_null(f->w->conns); /* pending: freed by the completion in the inbox */
    /* frontend_destroy (teardown) runs the inbox's completion, then frees the loop. */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_blocked_full_input_is_idle, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_blocked_full_input_closed_at_shutdown, fixture_setup,
                                        fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
