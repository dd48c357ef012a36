/*
 * Executor pools. Submit, drain and stop run on any thread (stop not on the
 * pool's own threads); executor_thread runs on each pool thread and takes
 * jobs off the queue in FIFO order. One mutex guards the queue and the
 * counters; `work` wakes the threads, `idle` wakes drain.
 */
#include "executor/executor.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXECUTOR_NAME_LEN 16 /* Linux thread names: 15 characters and the NUL */

struct executor_job {
    struct executor_job *next;
    executor_fn fn;
    void *arg;
};

struct executor_pool {
    char name[EXECUTOR_NAME_LEN];
    pthread_mutex_t lock;
    pthread_cond_t work; /* a job was queued, or the pool is stopping */
    pthread_cond_t idle; /* the queue emptied and no job runs */
    struct executor_job *head, *tail;
    size_t queued;
    int running;  /* jobs being run right now */
    bool stopped; /* no more submits; threads leave once the queue is taken */
    bool joined;
    int nthreads;
    int started;
    pthread_t *threads;
};

/* Takes the next job, or NULL when the pool stops. Called with the lock held. */
static struct executor_job *executor_take(struct executor_pool *p)
{
    while (p->head == NULL && !p->stopped)
        pthread_cond_wait(&p->work, &p->lock);
    if (p->stopped)
        return NULL; /* queued jobs are cancelled by executor_stop */
    struct executor_job *j = p->head;
    p->head = j->next;
    if (p->head == NULL)
        p->tail = NULL;
    p->queued--;
    p->running++;
    return j;
}

static void *executor_thread(void *arg)
{
    struct executor_pool *p = arg;
    pthread_mutex_lock(&p->lock);
    struct executor_job *j;
    while ((j = executor_take(p)) != NULL) {
        pthread_mutex_unlock(&p->lock);
        j->fn(j->arg, false);
        free(j);
        pthread_mutex_lock(&p->lock);
        p->running--;
        if (p->running == 0 && p->head == NULL)
            pthread_cond_broadcast(&p->idle);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

struct executor_pool *executor_pool_create(const char *name, int nthreads)
{
    if (nthreads < 1)
        return NULL;
    struct executor_pool *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->threads = calloc((size_t)nthreads, sizeof(*p->threads));
    if (p->threads == NULL) {
        free(p);
        return NULL;
    }
    snprintf(p->name, sizeof(p->name), "%s", name);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->idle, NULL);
    p->nthreads = nthreads;
    for (int i = 0; i < nthreads; i++) {
        if (pthread_create(&p->threads[i], NULL, executor_thread, p) != 0) {
            executor_pool_destroy(&p);
            return NULL;
        }
        p->started++;
        char tname[32];
        snprintf(tname, sizeof(tname), "%.10s-%d", p->name, i % 1000);
        tname[EXECUTOR_NAME_LEN - 1] = '\0';
        pthread_setname_np(p->threads[i], tname);
    }
    return p;
}

const char *executor_pool_name(const struct executor_pool *p)
{
    return p->name;
}

int executor_pool_threads(const struct executor_pool *p)
{
    return p->nthreads;
}

int executor_submit(struct executor_pool *p, executor_fn fn, void *arg)
{
    struct executor_job *j = malloc(sizeof(*j));
    if (j == NULL)
        return -1;
    j->next = NULL;
    j->fn = fn;
    j->arg = arg;
    pthread_mutex_lock(&p->lock);
    if (p->stopped) {
        pthread_mutex_unlock(&p->lock);
        free(j);
        return -1;
    }
    if (p->tail != NULL)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    p->queued++;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->lock);
    return 0;
}

void executor_drain(struct executor_pool *p)
{
    pthread_mutex_lock(&p->lock);
    /* A stopped pool runs nothing more: its queue is cancelled, not drained. */
    while ((p->head != NULL && !p->stopped) || p->running > 0)
        pthread_cond_wait(&p->idle, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

void executor_stop(struct executor_pool *p)
{
    pthread_mutex_lock(&p->lock);
    p->stopped = true;
    pthread_cond_broadcast(&p->work);
    pthread_cond_broadcast(&p->idle);
    bool join = !p->joined;
    p->joined = true;
    pthread_mutex_unlock(&p->lock);
    if (join) {
        /* Joining waits for the jobs that are running. */
        for (int i = 0; i < p->started; i++)
            pthread_join(p->threads[i], NULL);
    }
    pthread_mutex_lock(&p->lock);
    struct executor_job *j = p->head;
    p->head = p->tail = NULL;
    p->queued = 0;
    pthread_mutex_unlock(&p->lock);
    while (j != NULL) {
        struct executor_job *next = j->next;
        j->fn(j->arg, true);
        free(j);
        j = next;
    }
}

void executor_pool_destroy(struct executor_pool **pp)
{
    struct executor_pool *p = *pp;
    if (p == NULL)
        return;
    executor_stop(p);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->idle);
    pthread_mutex_destroy(&p->lock);
    free(p->threads);
    free(p);
    *pp = NULL;
}

int executors_setup(struct executors *x, int readers, int writers, int aux)
{
    static const char *const names[EXECUTOR_KINDS] = {"reader", "writer", "aux"};
    const int counts[EXECUTOR_KINDS] = {readers, writers, aux};
    memset(x, 0, sizeof(*x));
    for (int k = 0; k < EXECUTOR_KINDS; k++) {
        x->pool[k] = executor_pool_create(names[k], counts[k]);
        if (x->pool[k] == NULL) {
            executors_teardown(x);
            return -1;
        }
    }
    return 0;
}

void executors_teardown(struct executors *x)
{
    for (int k = 0; k < EXECUTOR_KINDS; k++)
        executor_pool_destroy(&x->pool[k]);
}
