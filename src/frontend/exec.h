/*
 * Executors: one function per opcode family, chosen through one table. An
 * executor runs a loaded cookie against the engine and queues the reply. It
 * may be called again for the same cookie after ENGINE_EWOULDBLOCK, so any
 * state it builds (an allocated item) lives in the cookie, not on its stack.
 * Runs on the connection's worker thread.
 */
#ifndef BASALT_FRONTEND_EXEC_H
#define BASALT_FRONTEND_EXEC_H

#include "engine/engine.h"
#include "frontend/cookie.h"

enum exec_result {
    EXEC_DONE,       /* reply queued (or suppressed); the frame is finished */
    EXEC_WOULDBLOCK, /* the engine took the work; wait for notify, then run again */
    EXEC_CLOSE,      /* finished; close the connection once the output is sent */
    EXEC_PAUSE,      /* not finished, output full: run again once it drains (text only) */
};

/* Before authentication, frames above this close the connection (-S). */
#define EXEC_SASL_PREAUTH_FRAME_MAX (16 * 1024)

/* What the pre-authentication gate does with a frame, decided from its header. */
enum exec_gate {
    EXEC_GATE_PASS, /* run it as usual */
    EXEC_GATE_DENY, /* answer AUTH_ERROR, then close */
    EXEC_GATE_DROP, /* too big before authentication: close without a reply */
};

struct conn;

/* The gate of a server started with -S: only SASL, VERSION and NOOP (and the Couchbase
 * hello opcodes) pass until the connection has authenticated. */
enum exec_gate exec_sasl_gate(const struct conn *c, const struct bin_header *h);

struct sasl_job;

/* Frees a connection's finished PLAIN check (NULL is fine); *job = NULL. */
void exec_sasl_job_free(struct sasl_job **job);

/* Runs the cookie's command through the executor table. */
enum exec_result exec_run(struct cookie *ck);

/* Maps an engine status to the binary status that reports it. */
uint16_t exec_engine_to_bin(engine_status s);

#endif
