/*
 * What conn.c shares with conn_text.c, the text protocol's read path: the
 * step result of one command and the flow-control helpers. Worker thread only.
 */
#ifndef BASALT_FRONTEND_CONN_INTERNAL_H
#define BASALT_FRONTEND_CONN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

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

/* Frees c's read event; before the bufferevent (and with it the socket) is freed. */
void conn_read_free(struct conn *c);

/* Turns reading from the peer on or off. */
void conn_read_enable(struct conn *c, bool on);

/* Applies c's read watermarks and input bound after a change to them or to the input. */
void conn_read_update(struct conn *c);

#endif
