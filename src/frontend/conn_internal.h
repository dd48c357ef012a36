/*
 * What conn.c shares with conn_text.c, the text protocol's read path: the
 * step result of one command and the flow-control helpers. Worker thread only.
 */
#ifndef BASALT_FRONTEND_CONN_INTERNAL_H
#define BASALT_FRONTEND_CONN_INTERNAL_H

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

#endif
