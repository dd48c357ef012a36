/*
 * Fuzz target: the whole connection input path. A detached front-end (one
 * worker, not started: this thread runs its event loop) with the memory
 * engine gets one connection whose peer is the other end of a Unix
 * socketpair. The input's first byte is a control byte, the rest is what the
 * client sends: the protocol is picked by the connection itself from the
 * first byte it reads (0x80 binary, anything else text), so read path,
 * watermarks, validators, executors and write path run together. Every input
 * is bounded (a step budget) and ends with the client closing; the connection
 * must then be gone and the engine freed without leaks. Runs on the
 * fuzzer's thread, and the wouldblock engine's jobs on one executor thread.
 *
 * Control byte: bits 0-2 pick the write chunk (1 << n bytes, so frames are
 * split at every boundary), bit 3 a client that reads nothing until it has
 * sent everything (the send-queue limit), bit 4 a half-close (replies still
 * expected) rather than a reset-like close, bit 5 the wouldblock engine over
 * the memory engine (every engine call blocks and completes on an executor
 * thread, so the blocked/resume path and pending closes are fuzzed too; its
 * completions make this target less deterministic), bit 6 with it: every
 * call fails after blocking, with the status bit 7 picks (disconnect or
 * tmpfail). TEST_CONTROL is served, so an input can switch its connection's
 * mode (even to never). Bit 6 without bit 5: the disk engine, in a fresh
 * directory under /tmp with its own executor pools (bit 7: durability=sync),
 * removed after the input.
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "config/config.h"
#include "engines/disk/disk.h"
#include "engines/memory/memory.h"
#include "engines/wouldblock/wouldblock.h"
#include "executor/executor.h"
#include "frontend/conn.h"
#include "frontend/frontend.h"
#include "frontend/server.h"
#include "frontend/worker.h"
#include "fuzz/fuzz.h"

/* Loop turns per input: enough for every seed, small enough to stay fast. */
#define FUZZ_STEPS 4000
/* Turns without progress after which a client that does not read gives up. */
#define FUZZ_STALL 8
/* How long one turn waits for an engine completion while the connection is blocked. */
#define FUZZ_BLOCKED_WAIT_US 2000

struct session {
    struct worker *w;
    int peer;
    uint64_t got; /* reply bytes the client read */
};

static struct config fuzz_cfg;
static struct executor_pool *fuzz_pool; /* the wouldblock engine's completions */

/* Settings that reach the limits with small inputs. */
static void fuzz_setup(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    config_defaults(&fuzz_cfg);
    fuzz_cfg.threads = 1;
    fuzz_cfg.nlisten = 0;
    fuzz_cfg.memory_limit = 4u << 20;
    fuzz_cfg.item_size_max = 1024;
    fuzz_cfg.reqs_per_event = 3;
    fuzz_cfg.max_send_queue = 16 * 1024;
    fuzz_cfg.send_buffer_threshold = 256;
    fuzz_cfg.enable_test_opcodes = 1;
    /* As main.c: completions reach the worker's loop from executor threads. */
    FUZZ_CHECK(evthread_use_pthreads() == 0);
    fuzz_pool = executor_pool_create("reader", 1);
    FUZZ_CHECK(fuzz_pool != NULL);
    clock_setup();
    /* As main.c: a write to a peer that has gone must not kill the process. */
    signal(SIGPIPE, SIG_IGN);
}

/* Reads whatever replies wait; returns the bytes read. */
static size_t client_read(struct session *s)
{
    char buf[16384];
    size_t total = 0;
    for (;;) {
        ssize_t n = recv(s->peer, buf, sizeof(buf), MSG_DONTWAIT);
        if (n <= 0)
            return total;
        total += (size_t)n;
        s->got += (uint64_t)n;
    }
}

/* One loop turn: run the worker's ready events; true if anything was read or written. */
static bool turn(struct session *s, bool reading)
{
    if (s->w->conns != NULL && s->w->conns->cookie.blocked) {
        /* Waiting for a completion from the executor thread: let the loop sleep a little. */
        static const struct timeval wait = {0, FUZZ_BLOCKED_WAIT_US};
        event_base_loopexit(s->w->base, &wait);
        event_base_loop(s->w->base, EVLOOP_ONCE);
    }
    event_base_loop(s->w->base, EVLOOP_NONBLOCK);
    return reading && client_read(s) > 0;
}

/* Sends data in chunks while the worker runs; stops when a non-reading client stalls. */
static void client_send(struct session *s, const uint8_t *data, size_t size, size_t chunk,
                        bool reading)
{
    int stall = 0;
    for (int step = 0; step < FUZZ_STEPS && size > 0 && stall < FUZZ_STALL; step++) {
        size_t n = size < chunk ? size : chunk;
        ssize_t sent = send(s->peer, data, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        bool progress = sent > 0;
        if (sent > 0) {
            data += sent;
            size -= (size_t)sent;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return; /* the server closed the connection */
        }
        progress |= turn(s, reading);
        stall = progress ? 0 : stall + 1;
    }
}

/* Runs turns until the connection is gone or nothing has happened for a while. */
static void drain(struct session *s, bool reading)
{
    int stall = 0;
    for (int step = 0; step < FUZZ_STEPS && s->w->conns != NULL && stall < 4 * FUZZ_STALL; step++)
        stall = turn(s, reading) ? 0 : stall + 1;
}

/*
 * Ends the session as the control byte says, then lets the worker free the
 * connection. One still there is waiting for the engine (a FIN may be a
 * half-close, so a blocked command is let finish); it goes the way server
 * shutdown takes it (worker_shutdown): closed, the engine told, freed on its
 * completion.
 */
static void client_finish(struct session *s, bool half_close)
{
    if (half_close) {
        shutdown(s->peer, SHUT_WR);
        drain(s, true);
    } else {
        turn(s, true);
    }
    close(s->peer);
    drain(s, false);
    if (s->w->conns != NULL) {
        conn_close_all(s->w);
        drain(s, false);
    }
    FUZZ_CHECK(s->w->conns == NULL);
}

static void session_run(struct frontend *fe, const uint8_t *data, size_t size, uint8_t ctl)
{
    int sv[2];
    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    int small = 4096; /* small socket buffers: partial writes and a full send queue */
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    struct session s = {.w = fe->workers[0], .peer = sv[1]};
    atomic_fetch_add(&fe->curr_connections, 1);
    FUZZ_CHECK(conn_create(s.w, sv[0], false) != NULL);
    bool reading = !(ctl & 0x08);
    client_send(&s, data, size, (size_t)1 << (ctl & 7), reading);
    client_finish(&s, (ctl & 0x10) != 0);
    FUZZ_CHECK(atomic_load(&fe->curr_connections) == 0);
}

/* The engine of one input and what it needs besides the front-end. */
struct fuzz_engine {
    struct engine *e;
    struct executors pools; /* the disk engine's own; unused otherwise */
    bool disk;
    char dir[64];
};

/* The disk engine (control bit 6 without bit 5) in a new directory, with its own pools. */
static void disk_engine_for(struct fuzz_engine *fz, uint8_t ctl)
{
    snprintf(fz->dir, sizeof(fz->dir), "/tmp/basalt_fuzz_XXXXXX");
    FUZZ_CHECK(mkdtemp(fz->dir) != NULL);
    FUZZ_CHECK(executors_setup(&fz->pools, 1, 1, 1) == 0);
    struct disk_engine_config dc = {.data_dir = fz->dir,
                                    .limit_bytes = fuzz_cfg.memory_limit,
                                    .item_size_max = fuzz_cfg.item_size_max,
                                    .sync = (ctl & 0x80) != 0,
                                    .flush_interval_ms = 10,
                                    .compact_threshold = 0.5,
                                    .segment_max = 64 * 1024};
    struct disk_pools dp = {.reader = fz->pools.pool[EXECUTOR_READER],
                            .writer = fz->pools.pool[EXECUTOR_WRITER],
                            .aux = fz->pools.pool[EXECUTOR_AUX]};
    char err[512];
    fz->e = disk_engine_create(&dc, frontend_engine_host(), &dp, err, sizeof(err));
    if (fz->e == NULL)
        fprintf(stderr, "fuzz_conn: %s\n", err);
    FUZZ_CHECK(fz->e != NULL);
    fz->disk = true;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* Stops the engine's pools (as main.c: running jobs finish), frees it and its directory. */
static void engine_done(struct fuzz_engine *fz)
{
    if (fz->disk)
        executors_teardown(&fz->pools);
    else
        executor_drain(fuzz_pool); /* every completion was delivered: no job outlives it */
    fz->e->ops->destroy(fz->e);
    if (fz->disk)
        FUZZ_CHECK(nftw(fz->dir, remove_one, 8, FTW_DEPTH | FTW_PHYS) == 0);
}

/* The memory engine, or (control bit 5) the wouldblock engine around it, or the disk engine. */
static void engine_for(struct fuzz_engine *fz, uint8_t ctl)
{
    *fz = (struct fuzz_engine){0};
    if ((ctl & 0x60) == 0x40) {
        disk_engine_for(fz, ctl);
        return;
    }
    struct memory_engine_config mc = {.limit_bytes = fuzz_cfg.memory_limit,
                                      .item_size_max = fuzz_cfg.item_size_max};
    struct engine *engine = memory_engine_create(&mc, frontend_engine_host());
    FUZZ_CHECK(engine != NULL);
    fz->e = engine;
    if (!(ctl & 0x20))
        return;
    struct wouldblock_config wc = {.mode = {.kind = WOULDBLOCK_ALWAYS}};
    if (ctl & 0x40) {
        wc.mode.kind = WOULDBLOCK_ERROR;
        wc.mode.status = (ctl & 0x80) ? ENGINE_DISCONNECT : ENGINE_TMPFAIL;
    }
    fz->e = wouldblock_engine_create(&wc, engine, frontend_engine_host(), fuzz_pool);
    FUZZ_CHECK(fz->e != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    fuzz_setup();
    log_setup(-1); /* quiet, even after an input's verbosity command */
    struct fuzz_engine fz;
    engine_for(&fz, data[0]);
    struct event_base *base = event_base_new();
    FUZZ_CHECK(base != NULL);
    char err[256];
    struct frontend *fe = frontend_create_detached(&fuzz_cfg, fz.e, base, err, sizeof(err));
    FUZZ_CHECK(fe != NULL);
    session_run(fe, data + 1, size - 1, data[0]);
    frontend_destroy(&fe);
    engine_done(&fz);
    event_base_free(base);
    return 0;
}
