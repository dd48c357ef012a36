/*
 * Inbox implementation. inbox_post runs on any thread; the wake-up and
 * re-arm callbacks run on the owning worker's event loop.
 *
 * The wake-up is an eventfd: the posting thread writes it, the worker's loop
 * has a persistent read event on it. No libevent call crosses threads, so
 * the worker's event_base needs no lock (EVENT_BASE_FLAG_NOLOCK, worker.c):
 * a lockable base would take its mutex for every event operation of every
 * connection only so that this one event could be activated from outside.
 * `signalled` stays true from the first post until a drain empties the
 * queue, so a burst of posts costs one write. When a drain stops at the
 * batch limit it adds a zero-timeout timer instead: timers are looked at
 * only after the next poll, so sockets get their turn between batches.
 */
#include "frontend/inbox.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct inbox_msg {
    struct inbox_msg *next;
    inbox_fn fn;
    void *arg;
};

struct inbox {
    pthread_mutex_t lock;
    struct inbox_msg *head;
    struct inbox_msg *tail;
    size_t count;
    bool signalled;
    int batch;
    int fd; /* the eventfd posts write and the loop reads */
    struct event *wake;
    struct event *rearm;
};

static void inbox_drain(evutil_socket_t fd, short what, void *arg);
static void inbox_wake(evutil_socket_t fd, short what, void *arg);

struct inbox *inbox_create(struct event_base *base, int batch)
{
    struct inbox *ib = calloc(1, sizeof(*ib));
    if (ib == NULL)
        return NULL;
    pthread_mutex_init(&ib->lock, NULL);
    ib->batch = batch > 0 ? batch : 1;
    ib->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (ib->fd < 0) {
        pthread_mutex_destroy(&ib->lock);
        free(ib);
        return NULL;
    }
    ib->wake = event_new(base, ib->fd, EV_READ | EV_PERSIST, inbox_wake, ib);
    ib->rearm = evtimer_new(base, inbox_drain, ib);
    if (ib->wake == NULL || ib->rearm == NULL || event_add(ib->wake, NULL) != 0) {
        inbox_destroy(&ib);
        return NULL;
    }
    return ib;
}

/* Takes up to max messages off the queue, in order; clears `signalled` when it empties. */
static struct inbox_msg *inbox_take(struct inbox *ib, int max, bool *more)
{
    pthread_mutex_lock(&ib->lock);
    struct inbox_msg *first = ib->head, *last = NULL, *m = ib->head;
    for (int n = 0; m != NULL && n < max; n++) {
        last = m;
        m = m->next;
        ib->count--;
    }
    if (last != NULL)
        last->next = NULL;
    ib->head = m;
    if (m == NULL) {
        ib->tail = NULL;
        ib->signalled = false;
    }
    *more = m != NULL;
    pthread_mutex_unlock(&ib->lock);
    return last != NULL ? first : NULL;
}

static void inbox_run(struct inbox_msg *m)
{
    while (m != NULL) {
        struct inbox_msg *next = m->next;
        m->fn(m->arg);
        free(m);
        m = next;
    }
}

static void inbox_drain(evutil_socket_t fd, short what, void *arg)
{
    struct inbox *ib = arg;
    bool more;
    struct inbox_msg *batch = inbox_take(ib, ib->batch, &more);
    if (more) {
        static const struct timeval zero = {0, 0};
        evtimer_add(ib->rearm, &zero);
    }
    inbox_run(batch);
}

/* The eventfd is readable: clear it first, so a post after the drain wakes the loop again. */
static void inbox_wake(evutil_socket_t fd, short what, void *arg)
{
    uint64_t n;
    ssize_t r = read(fd, &n, sizeof(n));
    (void)r; /* EAGAIN: nothing to clear; the queue is looked at anyway */
    inbox_drain(fd, what, arg);
}

int inbox_post(struct inbox *ib, inbox_fn fn, void *arg)
{
    struct inbox_msg *m = malloc(sizeof(*m));
    if (m == NULL)
        return -1;
    m->next = NULL;
    m->fn = fn;
    m->arg = arg;
    pthread_mutex_lock(&ib->lock);
    if (ib->tail != NULL)
        ib->tail->next = m;
    else
        ib->head = m;
    ib->tail = m;
    ib->count++;
    bool wake = !ib->signalled;
    ib->signalled = true;
    /* Written under the lock so a concurrent destroy cannot close the eventfd in between. */
    if (wake) {
        static const uint64_t one = 1;
        ssize_t w = write(ib->fd, &one, sizeof(one));
        (void)w; /* fails only when the counter is full, and then the loop is woken anyway */
    }
    pthread_mutex_unlock(&ib->lock);
    return 0;
}

size_t inbox_pending(struct inbox *ib)
{
    pthread_mutex_lock(&ib->lock);
    size_t n = ib->count;
    pthread_mutex_unlock(&ib->lock);
    return n;
}

void inbox_destroy(struct inbox **ibp)
{
    struct inbox *ib = *ibp;
    if (ib == NULL)
        return;
    bool more = true;
    while (more)
        inbox_run(inbox_take(ib, 1 << 30, &more));
    if (ib->wake != NULL)
        event_free(ib->wake);
    if (ib->rearm != NULL)
        event_free(ib->rearm);
    close(ib->fd);
    pthread_mutex_destroy(&ib->lock);
    free(ib);
    *ibp = NULL;
}
