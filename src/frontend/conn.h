/*
 * A client connection on a worker: one bufferevent, the binary read path
 * (watermarks, header check, frame assembly, yielding), the send-queue limit
 * and the connection's cookie. Every function here runs on the owning
 * worker's thread.
 */
#ifndef BASALT_FRONTEND_CONN_H
#define BASALT_FRONTEND_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "base/compiler.h"
#include "frontend/cookie.h"

struct bufferevent;
struct evbuffer_cb_entry;
struct sasl_session;
struct sasl_job;
struct event;
struct worker;

enum conn_state {
    CONN_RUNNING,     /* reading frames and running commands */
    CONN_BLOCKED,     /* the cookie waits for the engine; input is buffered, nothing starts */
    CONN_SEND_WAIT,   /* too much output queued: wait for it to drain */
    CONN_CLOSE_AFTER, /* send what is queued, then close */
};

struct conn {
    struct worker *worker; /* borrowed */
    struct bufferevent *bev;
    int fd;                   /* the socket (the bufferevent owns it; conn_flush writes it) */
    struct event *resume;     /* zero-timeout timer: continue after a yield */
    struct conn *prev, *next; /* the worker's list */
    struct cookie cookie;
    enum conn_state state;
    bool protocol_chosen;  /* the first byte has been seen */
    bool text;             /* the text/meta protocol (conn_text.c) rather than binary */
    size_t text_scanned;   /* text: bytes of an unfinished line already searched for its end */
    bool peer_eof;         /* the peer will send nothing more */
    uint64_t swallow;      /* bytes of an oversized value still to discard */
    size_t read_lowat;     /* the read low watermark currently set */
    size_t read_high;      /* the most input to buffer (conn_bound_input) */
    bool read_capped;      /* the input holds half of read_high or more: reads stop at read_high */
    bool read_on;          /* plain: reading is wanted (conn_read_enable) */
    bool read_polling;     /* plain: read_ev is pending (wanted, and the input under its bound) */
    struct event *read_ev; /* plain: reads the socket into the bufferevent's input (conn_read.c) */
    bool in_maybe;       /* the input buffer may hold bytes (false: it is empty; always for TLS) */
    bool out_maybe;      /* the output buffer may hold bytes (false: empty; response.c sets it) */
    bool span_on;        /* plain: the read path runs on span, not on the input (conn_in_*) */
    const uint8_t *span; /* the unread bytes in the worker's read buffer (borrowed) */
    size_t span_len;
    bool tls;                      /* the bufferevent is an OpenSSL one (conn_tls.c) */
    bool handshaking;              /* the TLS handshake has not finished */
    bool write_armed;              /* the bufferevent writes the output itself (conn_flush) */
    struct event *handshake_timer; /* closes a slow TLS handshake, then checks writes (conn_tls.c);
                                      NULL for plain */
    bool authenticated;            /* SASL succeeded on this connection */
    int auth_failures;             /* failed SASL attempts (exec_sasl.c) */
    struct sasl_session *sasl;     /* a SCRAM exchange between AUTH and STEP, or NULL (owned) */
    struct sasl_job *sasl_job;     /* a PLAIN check on the auth thread, or NULL (owned) */
    /* Timeouts (conn_timeout.c), conn_clock_ms() times: */
    uint64_t last_active_ms;          /* input read or a command resumed */
    uint64_t partial_since_ms;        /* an incomplete command has waited since; 0 when none */
    uint64_t out_progress_ms;         /* the output last drained or started to fill */
    struct evbuffer_cb_entry *out_cb; /* updates out_progress_ms; owned by the output buffer */
};

/*
 * Creates a connection for an accepted socket on worker w, speaking TLS when
 * tls is set; NULL on failure (fd untouched).
 */
struct conn *conn_create(struct worker *w, int fd, bool tls);

/* Closes and frees a connection now (queued output is dropped). */
void conn_close(struct conn *c);

/* Closes every connection of a worker now (shutdown), queued output dropped. */
void conn_close_all(struct worker *w);

/*
 * Shutdown: every connection stops reading and closes once its queued
 * replies are written; one blocked on the engine is closed now (the engine
 * is told, the connection freed by its completion).
 */
void conn_close_all_after_write(struct worker *w);

/* Milliseconds of a monotonic clock (coarse: a few ms), for the timeouts. */
uint64_t conn_clock_ms(void);

/* Starts tracking c's timeouts (its output progress); conn_create calls it. */
void conn_timeout_track(struct conn *c);

/* Watches c's output for progress (on) or not (off: it is written before each callback ends). */
void conn_timeout_watch_output(struct conn *c, bool on);

/* Stops tracking c's output (before its bufferevent is freed). */
void conn_timeout_untrack(struct conn *c);

/* Arms the worker's timeout sweep when any timeout is set; 0 or -1 (out of memory). */
int conn_timeouts_start(struct worker *w) WARN_UNUSED;

/* Continues a connection whose cookie the engine notified; runs on the worker. */
void conn_resume_cookie(struct cookie *ck, engine_status status);

#endif
