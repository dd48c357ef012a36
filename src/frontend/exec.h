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

/* Runs the cookie's command through the executor table. */
enum exec_result exec_run(struct cookie *ck);

/* Maps an engine status to the binary status that reports it. */
uint16_t exec_engine_to_bin(engine_status s);

#endif
