/*
 * Inbox implementation. inbox_post runs on any thread; the wake-up and
 * re-arm callbacks run on the owning worker's event loop.
 *
 * The wake-up is a libevent event without a file descriptor, made active
 * from the posting thread (libevent is set up for pthreads, so event_active
 * is thread-safe). `signalled` stays true from the first post until a drain
 * empties the queue, so a burst of posts costs one wake-up. When a drain
 * stops at the batch limit it adds a zero-timeout timer instead of making
 * the event active again: timers are looked at only after the next poll, so
 * sockets get their turn between batches.
 */
#include "frontend/inbox.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

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
    struct event *wake;
    struct event *rearm;
};

static void inbox_drain(evutil_socket_t fd, short what, void *arg);

struct inbox *inbox_create(struct event_base *base, int batch)
{
    struct inbox *ib = calloc(1, sizeof(*ib));
    if (ib == NULL)
        return NULL;
    pthread_mutex_init(&ib->lock, NULL);
    ib->batch = batch > 0 ? batch : 1;
    ib->wake = event_new(base, -1, 0, inbox_drain, ib);
    ib->rearm = evtimer_new(base, inbox_drain, ib);
    if (ib->wake == NULL || ib->rearm == NULL) {
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
    /* Activate under the lock so a concurrent destroy cannot free the event in between. */
    if (wake)
        event_active(ib->wake, 0, 0);
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
    pthread_mutex_destroy(&ib->lock);
    free(ib);
    *ibp = NULL;
}
