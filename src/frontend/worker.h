/*
 * A front-end worker: one thread running one libevent event_base, the
 * connections handed to it, its inbox and its counters.
 */
#ifndef BASALT_FRONTEND_WORKER_H
#define BASALT_FRONTEND_WORKER_H

#include <pthread.h>
#include <stdbool.h>

#include "base/compiler.h"
#include "frontend/inbox.h"
#include "stats/stats.h"

/* The most one read of a plain socket takes, unless a larger frame is being assembled. */
#define WORKER_READ_BUF (16 * 1024)

/* Room for the small replies of one callback, gathered before they join the output. */
#define WORKER_REPLY_BUF (16 * 1024)

struct frontend;
struct conn;
struct event_base;

struct worker {
    int id;
    struct frontend *fe; /* borrowed */
    pthread_t thread;
    struct event_base *base;
    struct inbox *inbox;
    struct stats_thread stats;
    struct conn *conns;  /* every live connection of this worker (conn.c's list) */
    struct event *sweep; /* the timeout sweep (conn_timeout.c), or NULL when no timeout is set */
    struct event *shutdown_timer; /* bounds the flush of replies at shutdown, or NULL */
    bool stopping;
    /* Plain sockets are read into this first (conn_read.c); WORKER_READ_BUF bytes, owned. */
    unsigned char *read_buf;
    /* Replies gathered for one connection before they join its output (response.c). */
    unsigned char *reply_buf; /* WORKER_REPLY_BUF bytes, owned */
    size_t reply_len;         /* bytes gathered */
    struct conn *reply_conn;  /* whose they are; NULL when none (borrowed) */
    /* A value sent by reference after the gathered bytes (one reference held), or NULL. */
    struct item *reply_item;
    const void *reply_value;
    size_t reply_vlen;
};

/* Creates a worker (not started); NULL on failure. */
struct worker *worker_create(struct frontend *fe, int id) WARN_UNUSED;

/* Starts the worker's thread. */
int worker_start(struct worker *w) WARN_UNUSED;

/*
 * Hands an accepted socket (TLS when tls is set) to the worker through its
 * inbox; on failure closes fd. Main thread.
 */
void worker_hand_over(struct worker *w, int fd, bool tls);

/* Asks the worker to close its connections and leave its loop, then joins it. Main thread. */
void worker_stop(struct worker *w);

/* Frees a stopped (or never started) worker; *w = NULL. */
void worker_destroy(struct worker **w);

#endif
