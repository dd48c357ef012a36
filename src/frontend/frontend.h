/*
 * The front-end: listeners on the main thread, worker threads with their
 * event loops and connections, and the binary protocol path from frame to
 * engine call. main.c creates the engine, then the front-end, and runs the
 * main event loop; the front-end never exits the process.
 */
#ifndef BASALT_FRONTEND_FRONTEND_H
#define BASALT_FRONTEND_FRONTEND_H

#include "base/compiler.h"
#include "config/config.h"
#include "engine/engine.h"

struct event_base;
struct frontend;

/* The host callbacks engines are created with (notify and the cookie's private slot). */
const struct engine_host *frontend_engine_host(void);

/*
 * Creates the front-end: binds the listeners on main_base and starts the
 * worker threads. cfg and engine are borrowed and must outlive it. Returns
 * NULL with a one-line reason in err on failure (e.g. the port is taken).
 */
struct frontend *frontend_create(const struct config *cfg, struct engine *engine,
                                 struct event_base *main_base, char *err,
                                 size_t errlen) WARN_UNUSED;

/*
 * Test-only (the connection fuzz target): a front-end without listeners whose
 * workers are created but not started. The caller is then the workers'
 * thread: it creates connections on fe->workers[i] (conn_create) and runs
 * their event_base itself; frontend_destroy frees them without joining.
 */
struct frontend *frontend_create_detached(const struct config *cfg, struct engine *engine,
                                          struct event_base *main_base, char *err,
                                          size_t errlen) WARN_UNUSED;

/*
 * Rebuilds the TLS context from the certificate files (SIGHUP, refresh_certs):
 * new connections use it, existing ones keep theirs. On failure returns -1
 * with the reason in err, logs it and keeps the old certificate. Blocks on
 * file I/O; any thread.
 */
int frontend_refresh_certs(struct frontend *fe, char *err, size_t errlen) WARN_UNUSED;

/* SIGHUP: reloads what can be reloaded (certificates, users), logging each outcome. Main thread. */
void frontend_reload(struct frontend *fe);

/* The port the first listener is bound to (useful with -p 0). */
int frontend_port(const struct frontend *fe);

/* Stops accepting, closes every connection, joins the workers and frees everything; *fe = NULL. */
void frontend_destroy(struct frontend **fe);

#endif
