/*
 * basalt-bench: the options, the per-thread state and the per-connection
 * state shared by the load generator's files. Options are filled by the main
 * thread before the worker threads start and are read-only afterwards; a
 * struct bench_thread and its connections belong to one worker thread, except
 * the pub_* counters that the main thread reads for the progress line.
 */
#ifndef BASALT_TOOLS_BENCH_H
#define BASALT_TOOLS_BENCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "hist.h"
#include "keys.h"

#define BENCH_MAX_SERVERS 64
#define BENCH_KEY_MAX 250
#define BENCH_PREFILL_DEPTH 32
#define BENCH_OPEN_LOOP_CAP 1024 /* open loop: most requests in flight on one connection */

enum bench_proto { PROTO_BINARY, PROTO_TEXT, PROTO_META };
enum bench_dist { DIST_UNIFORM, DIST_ZIPF };

/* One --server: its "host:port" name (the ring hashes it) and its address. */
struct bench_server {
    char name[128];
    struct sockaddr_storage addr;
    socklen_t addrlen;
};

/* The command line, validated. */
struct bench_opts {
    struct bench_server servers[BENCH_MAX_SERVERS];
    unsigned nservers;
    enum bench_proto proto;
    unsigned threads, conns, pipeline;
    unsigned ratio_set, ratio_get;
    uint64_t keys;
    enum bench_dist dist;
    double zipf_s;
    uint32_t vmin, vmax;
    double duration;   /* seconds; used when requests == 0 */
    bool duration_set; /* --duration given (it excludes --requests) */
    uint64_t requests; /* total requests (a multi-get of K counts K); 0: use duration */
    bool prefill;
    unsigned multiget; /* 0: plain GET; K: K quiet gets + NOOP per batch */
    double rate;       /* requests (batches) per second over all connections; 0: closed loop */
    double timeout;    /* seconds without a reply before a connection is failed */
    bool json, check_stats;
    uint64_t seed;
    char key_prefix[64];
    size_t key_prefix_len;
    void *tls_ctx; /* --tls: the client SSL_CTX (tls.c), else NULL */
};

/* Parses argv into *o: 0; 1 after printing --help; -1 after printing one line on a bad flag. */
int opts_parse(struct bench_opts *o, int argc, char **argv);

/* Returns "binary", "text" or "meta". */
const char *opts_proto_name(enum bench_proto p);

/* A growable byte buffer. */
struct bbuf {
    uint8_t *data;
    size_t len, cap;
};

/* Makes room for n more bytes and returns where they go; aborts when out of memory. */
uint8_t *bbuf_reserve(struct bbuf *b, size_t n);
void bbuf_append(struct bbuf *b, const void *p, size_t n);

enum req_kind { REQ_GET, REQ_SET, REQ_MGET, REQ_PREFILL };

/* One request (or multi-get batch) in flight, oldest first: replies come in order. */
struct req_slot {
    uint64_t start_ns; /* send time, or scheduled send time in open loop */
    uint32_t opaque;
    uint16_t nkeys;
    uint8_t kind;
};

/* What the reply parser has seen of the head request so far. */
struct parse_state {
    uint32_t hits;   /* hits so far in the head request */
    uint32_t errors; /* failed keys so far in the head request */
};

struct bench_thread;

/* One connection, owned by one worker thread. */
struct bench_conn {
    struct bench_thread *t;
    int fd;
    struct ssl_st *ssl; /* --tls: the connection's SSL (tls.c), else NULL */
    unsigned server;
    unsigned index_on_server; /* among this thread's connections to the same server */
    struct event *rev, *wev;
    struct bbuf in;
    size_t in_off;
    struct bbuf out;
    size_t out_off;
    struct req_slot *slots; /* ring of cap entries */
    unsigned head, count, cap;
    struct parse_state ps;
    uint64_t next_due; /* open loop: scheduled time of the next send */
    uint64_t interval; /* open loop: ns between sends */
    uint64_t last_progress;
    uint64_t pf_next; /* prefill: next key index to consider */
    uint32_t next_opaque;
    bool dead;
};

/* Totals a thread accumulates; merged by the main thread after the join. */
struct bench_counts {
    uint64_t ops;  /* keys asked (gets) plus sets, measured phase */
    uint64_t reqs; /* requests completed (a multi-get batch is one) */
    uint64_t gets, sets, hits, misses;
    uint64_t prefill_sets;
    uint64_t err_status, err_closed, err_timeout, err_protocol;
    uint64_t conns_lost;
    uint64_t first_ns, last_ns; /* measured phase: first send, last reply */
};

enum bench_phase { PHASE_PREFILL, PHASE_RUN };

/* State shared by all threads: read-only after start except the atomics. */
struct bench_shared {
    const struct bench_opts *o;
    const uint16_t *key_server; /* server of each key index; NULL with one server */
    const struct zipf *zipf;    /* NULL for uniform */
    const uint8_t *filler;      /* vmax bytes of value */
    pthread_barrier_t barrier;  /* threads + main: connected, prefilled */
    _Atomic unsigned failed;    /* threads that could not connect (before the first barrier) */
    _Atomic uint64_t start_ns;  /* open-loop schedule origin, set before the run barrier */
    unsigned total_conns;
};

/* One worker thread of the load generator. */
struct bench_thread {
    unsigned id;
    struct bench_shared *sh;
    const struct bench_opts *o;
    struct event_base *base;
    struct event *tick, *sched, *deadline;
    struct bench_conn *conns;
    unsigned nconns, live;
    uint64_t inflight; /* requests in flight over all connections */
    struct rng rng;
    enum bench_phase phase;
    bool stop;             /* issue nothing more in this phase */
    uint64_t quota;        /* --requests: keys left to issue in this thread */
    uint64_t pf_lo, pf_hi; /* prefill: this thread's keys */
    struct bench_counts c;
    struct hist h_get, h_set;
    char fatal[256]; /* non-empty when the thread could not run */
    /* Published for the progress line (relaxed atomics). */
    _Atomic uint64_t pub_ops, pub_hits, pub_gets, pub_errors;
    _Atomic bool done;
};

/* Runs one worker thread (pthread start routine; arg is a struct bench_thread). */
void *bench_thread_main(void *arg);

/* Ends the thread's current phase once nothing more can happen in it (thread.c). */
void thread_maybe_finish(struct bench_thread *t);

/* Connection I/O, run on the owning worker thread (conn.c). */
int conn_open(struct bench_conn *c, const struct bench_server *s, char *err, size_t errlen);
void conn_close(struct bench_conn *c);
/* Sends what is buffered; arms the write event when the socket is full. */
void conn_flush(struct bench_conn *c);
/* Fails a connection: counts its in-flight requests as errors and closes it. */
void conn_fail(struct bench_conn *c, bool closed_by_peer);
/* Queues one request slot; returns it. */
struct req_slot *conn_push(struct bench_conn *c, enum req_kind kind, uint16_t nkeys,
                           uint64_t start_ns);

/* Request generation and completion (load.c). */
/* Issues requests on c until its window is full or the phase says stop. */
void load_fill(struct bench_conn *c);
/* Open loop: issues the sends of c that are due by now. */
void load_due(struct bench_conn *c, uint64_t now);
/* After replies or a timer: fill (closed loop, prefill) or send what is due, then flush. */
void load_refill(struct bench_conn *c, uint64_t now);
/* Called by the parser when the head request completes. */
void load_complete(struct bench_conn *c, uint64_t now);

/* Reply parsing (proto_*.c): returns bytes consumed (0: need more), or -1 on a protocol error. */
long proto_parse(struct bench_conn *c, const uint8_t *in, size_t n, uint64_t now);

/* Request encoding into c->out (proto_*.c). */
void proto_encode_get(struct bench_conn *c, const char *key, size_t klen, uint32_t opaque);
void proto_encode_set(struct bench_conn *c, const char *key, size_t klen, uint32_t vlen,
                      uint32_t opaque);
/* A multi-get batch: one call per key, then the end (binary: GETKQ... NOOP). */
void proto_encode_mget_key(struct bench_conn *c, const char *key, size_t klen, uint32_t opaque,
                           bool first);
void proto_encode_mget_end(struct bench_conn *c, uint32_t opaque);

/* Reads cmd_get + cmd_set from a server (blocking, bounded). 0 or -1 (message in err). */
int probe_requests(const struct bench_server *s, enum bench_proto p, uint64_t *out, char *err,
                   size_t errlen);

/* What a run measured, merged over threads (main thread). */
struct bench_result {
    struct bench_counts c;
    struct hist *get, *set, *all; /* owned by the caller */
    double elapsed_s;
    bool stats_checked, stats_agree;
    uint64_t server_delta, client_total;
    char stats_note[256]; /* why the check could not run, when it could not */
};

/* Prints the result as text or (--json) as one JSON object on stdout (report.c). */
void report_print(const struct bench_opts *o, const struct bench_result *r);

/* Total errors of a result. */
uint64_t report_errors(const struct bench_counts *c);

/* Monotonic nanoseconds. */
uint64_t bench_now_ns(void);

/* --tls (tls.c). The client context: created on the main thread, shared by every connection. */
void *bench_tls_ctx_create(void);
void bench_tls_ctx_free(void *ctx);
/* Completes a blocking handshake on c->fd and sets c->ssl: 0, or -1 with err. */
int bench_tls_connect(struct bench_conn *c, void *ctx, char *err, size_t errlen);
/* send and recv through TLS, with their return and errno conventions. */
ssize_t bench_tls_send(struct bench_conn *c, const void *p, size_t n);
ssize_t bench_tls_recv(struct bench_conn *c, void *p, size_t n);
/* Frees c->ssl. */
void bench_tls_free(struct bench_conn *c);

#endif
