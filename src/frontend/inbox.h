/*
 * The inbox: how other threads get work onto a worker thread. A
 * mutex-protected FIFO of closures plus one event that wakes the worker's
 * event loop. A wake-up runs at most `batch` closures, then re-arms itself
 * for the next loop iteration if more wait, so a flood of messages cannot
 * starve socket I/O. Messages run in the order they were posted.
 */
#ifndef BASALT_FRONTEND_INBOX_H
#define BASALT_FRONTEND_INBOX_H

#include <stddef.h>

#include "base/compiler.h"

struct event_base;
struct inbox;

/* A closure: runs on the inbox's thread with the arg given to inbox_post. */
typedef void (*inbox_fn)(void *arg);

/* Creates an inbox whose closures run on base's loop, at most batch per wake-up. */
struct inbox *inbox_create(struct event_base *base, int batch) WARN_UNUSED;

/*
 * Frees the inbox; closures still queued are run first (with the loop
 * stopped) so their arguments are released. Sets *ib to NULL.
 */
void inbox_destroy(struct inbox **ib);

/* Queues fn(arg) to run on the inbox's thread; any thread. Returns -1 only on allocation failure.
 */
int inbox_post(struct inbox *ib, inbox_fn fn, void *arg) WARN_UNUSED;

/* Number of closures waiting; any thread (a snapshot). */
size_t inbox_pending(struct inbox *ib);

#endif
