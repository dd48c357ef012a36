/*
 * What conn.c shares with conn_text.c (the text protocol's read path),
 * conn_read.c (where input comes from) and the executors: the step result of
 * one command, the flow-control helpers and the reads of the unread input.
 * Worker thread only.
 */
#ifndef BASALT_FRONTEND_CONN_INTERNAL_H
#define BASALT_FRONTEND_CONN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frontend/conn.h"

enum step {
    STEP_NEXT,      /* a frame finished: the next one may start */
    STEP_NEED_MORE, /* wait for more input */
    STEP_STOP,      /* the connection stopped (blocked, waiting to send, closing) */
    STEP_FREED,     /* the connection is gone */
};

/* Sets the read low watermark and the input bound (at least low); no-op when unchanged. */
void conn_set_read_watermarks(struct conn *c, size_t low, size_t high);

/* Sets the read low watermark (the input bound is at least 256 KiB and at least low). */
void conn_set_read_lowat(struct conn *c, size_t low);

/* Stops reading and closes once everything queued has been written; STEP_FREED if closed now. */
enum step conn_close_after_write(struct conn *c);

/* Runs (or re-runs) the loaded cookie and turns the result into a step. */
enum step conn_execute(struct conn *c);

/* Text protocol: advances the connection by at most one command line (conn_text.c). */
enum step conn_text_step(struct conn *c);

/* Input reached the read low watermark: runs the read path (conn.c). */
void conn_input_ready(struct conn *c);

/* The input ended or failed (BEV_EVENT_* flags): as the bufferevent's event callback (conn.c). */
void conn_input_event(struct conn *c, short what);

/* Sets up c's input source (a read event for a plain socket); 0, or -1 out of memory. */
int conn_read_init(struct conn *c) WARN_UNUSED;

/*
 * The input holds a batch of binary frames: hands the keys of the gets among
 * them to the engine's prefetch, so that the cache misses of their lookups
 * overlap instead of coming one lookup at a time (conn_read.c).
 */
void conn_prefetch_gets(struct conn *c);

/* Frees c's read event; before the bufferevent (and with it the socket) is freed. */
void conn_read_free(struct conn *c);

/* Turns reading from the peer on or off. */
void conn_read_enable(struct conn *c, bool on);

/* Applies c's read watermarks and input bound after a change to them or to the input. */
void conn_read_update(struct conn *c);

/*
 * The unread input (conn_read.c): the span of the worker's read buffer that
 * the current read callback runs on (c->span_on), else the input buffer.
 * n is at most conn_in_len throughout.
 */

/* Bytes of unread input. */
size_t conn_in_len(const struct conn *c);

/* The first n bytes: in place in the span, else copied into tmp (n bytes). */
const uint8_t *conn_in_peek(const struct conn *c, void *tmp, size_t n);

/* The first n bytes, contiguous; valid until the input changes. */
const uint8_t *conn_in_pullup(struct conn *c, size_t n);

/* Consumes the first n bytes. */
void conn_in_drain(struct conn *c, size_t n);

/* Copies the first n bytes into dst and consumes them. */
void conn_in_remove(struct conn *c, void *dst, size_t n);

/* Finds the first '\n' at or after offset from; true with its offset in *pos. */
bool conn_in_find_lf(struct conn *c, size_t from, size_t *pos);

/*
 * Ends the span: what is left of it moves into the input buffer (before the
 * worker's read buffer is read into again). 0, or -1 with errno ENOMEM (the
 * bytes are lost: the caller closes the connection).
 */
int conn_in_keep(struct conn *c) WARN_UNUSED;

#endif
