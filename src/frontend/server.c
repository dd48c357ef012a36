/*
 * The front-end object: listeners on the main thread, the workers, the
 * engine host callbacks and the stats that span threads. frontend_create and
 * frontend_destroy run on the main thread; the accept callback runs on the
 * main thread's loop; the stats functions run on whichever worker answers a
 * STAT; the host callbacks run on any thread.
 */
#include "frontend/frontend.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth/tls.h"
#include "auth/users.h"
#include "base/log.h"
#include "executor/executor.h"
#include "frontend/conn.h"
#include "frontend/server.h"
#include "frontend/worker.h"

/* How long accepts pause after running out of descriptors or memory. */
#define SERVER_ACCEPT_BACKOFF_MS 50

struct notify_msg {
    struct cookie *cookie;
    engine_status status;
};

/* Inbox closure: the engine's completion arrives on the cookie's worker. */
static void host_notify_run(void *arg)
{
    struct notify_msg *m = arg;
    struct cookie *ck = m->cookie;
    engine_status status = m->status;
    free(m);
    conn_resume_cookie(ck, status);
}

/* Never runs the command inline, even on the worker itself: order is kept by the inbox. */
static void host_notify(const void *cookie, engine_status status)
{
    struct cookie *ck = (struct cookie *)cookie;
    struct notify_msg *m = malloc(sizeof(*m));
    if (m == NULL) {
        log_warn("notify: out of memory; a blocked command is lost");
        return;
    }
    m->cookie = ck;
    m->status = status;
    if (inbox_post(ck->conn->worker->inbox, host_notify_run, m) != 0) {
        log_warn("notify: out of memory; a blocked command is lost");
        free(m);
    }
}

static void *host_get_private(const void *cookie)
{
    return ((const struct cookie *)cookie)->engine_private;
}

static void host_set_private(const void *cookie, void *data)
{
    ((struct cookie *)cookie)->engine_private = data;
}

static const struct engine_host frontend_host = {
    .notify = host_notify,
    .get_private = host_get_private,
    .set_private = host_set_private,
};

const struct engine_host *frontend_engine_host(void)
{
    return &frontend_host;
}

static void server_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *addr,
                          int len, void *arg)
{
    struct frontend *fe = arg;
    atomic_fetch_add(&fe->total_connections, 1);
    if (fe->accept_backing_off) {
        fe->accept_backing_off = false;
        log_warn("accept: accepting connections again");
    }
    if (atomic_load(&fe->curr_connections) >= (uint64_t)fe->cfg->maxconns) {
        /* As memcached: text clients read why; binary clients just see the close. */
        static const char msg[] = "ERROR Too many open connections\r\n";
        atomic_fetch_add(&fe->rejected_connections, 1);
        ssize_t n = send(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
        (void)n; /* best effort: the socket is closed either way */
        close(fd);
        return;
    }
    atomic_fetch_add(&fe->curr_connections, 1);
    int one = 1;
    /* Replies are small and latency-bound: never wait to coalesce them. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    bool tls = false;
    for (int i = 0; i < fe->nlisteners; i++) {
        if (fe->listeners[i] == l)
            tls = fe->listener_tls[i];
    }
    struct worker *w = fe->workers[fe->next_worker++ % (unsigned)fe->nworkers];
    worker_hand_over(w, fd, tls);
}

/* Listening again after an accept() failure that a retry cannot fix at once. */
static void server_accept_resume(evutil_socket_t fd, short what, void *arg)
{
    struct frontend *fe = arg;
    for (int i = 0; i < fe->nlisteners; i++)
        evconnlistener_enable(fe->listeners[i]);
}

static void server_accept_error(struct evconnlistener *l, void *arg)
{
    struct frontend *fe = arg;
    int err = EVUTIL_SOCKET_ERROR();
    if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM) {
        log_warn("accept: %s", evutil_socket_error_to_string(err));
        return;
    }
    /*
     * Out of descriptors or memory: the pending connection stays in the
     * backlog and the listener would fire again at once. Stop listening for a
     * while instead of spinning; connections closing meanwhile free room.
     */
    if (!fe->accept_backing_off)
        log_warn("accept: %s; pausing accepts for %d ms at a time until it succeeds",
                 evutil_socket_error_to_string(err), SERVER_ACCEPT_BACKOFF_MS);
    fe->accept_backing_off = true;
    for (int i = 0; i < fe->nlisteners; i++)
        evconnlistener_disable(fe->listeners[i]);
    static const struct timeval backoff = {0, SERVER_ACCEPT_BACKOFF_MS * 1000};
    evtimer_add(fe->accept_resume, &backoff);
}

static int server_listen_one(struct frontend *fe, int i, char *err, size_t errlen)
{
    char host[CONFIG_ADDR_LEN], portstr[8];
    const char *spec = fe->cfg->listen[i];
    int port;
    if (config_listen_addr(fe->cfg, i, host, sizeof(host), &port) != 0) {
        snprintf(err, errlen, "-l %s: not an address", spec);
        return -1;
    }
    snprintf(portstr, sizeof(portstr), "%d", port);
    struct evutil_addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = EVUTIL_AI_PASSIVE};
    struct evutil_addrinfo *ai = NULL;
    if (evutil_getaddrinfo(host, portstr, &hints, &ai) != 0 || ai == NULL) {
        snprintf(err, errlen, "-l %s: cannot resolve", spec);
        return -1;
    }
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC;
    struct evconnlistener *l = evconnlistener_new_bind(fe->main_base, server_accept, fe, flags,
                                                       1024, ai->ai_addr, (int)ai->ai_addrlen);
    int saved = errno;
    evutil_freeaddrinfo(ai);
    if (l == NULL) {
        snprintf(err, errlen, "cannot listen on %s port %d: %s", host, port, strerror(saved));
        return -1;
    }
    evconnlistener_set_error_cb(l, server_accept_error);
    fe->listener_tls[fe->nlisteners] = config_listen_tls(fe->cfg, i);
    fe->listeners[fe->nlisteners++] = l;
    if (fe->nlisteners == 1) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&ss, &sl);
        fe->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                            : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    return 0;
}

static int server_start_workers(struct frontend *fe, bool start, char *err, size_t errlen)
{
    fe->workers = calloc((size_t)fe->cfg->threads, sizeof(*fe->workers));
    if (fe->workers == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < fe->cfg->threads; i++) {
        struct worker *w = worker_create(fe, i);
        if (w == NULL || (start && worker_start(w) != 0)) {
            worker_destroy(&w);
            snprintf(err, errlen, "cannot start worker thread %d", i);
            return -1;
        }
        fe->workers[fe->nworkers++] = w;
    }
    return 0;
}

/* frontend_create without listeners and, unless start, without worker threads. */
static struct frontend *server_create(const struct config *cfg, struct engine *engine,
                                      struct event_base *main_base, bool start, char *err,
                                      size_t errlen)
{
    struct frontend *fe = calloc(1, sizeof(*fe));
    if (fe == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    fe->cfg = cfg;
    fe->engine = engine;
    fe->main_base = main_base;
    fe->detached = !start;
    fe->frame_limit = (uint32_t)config_frame_limit(cfg);
    pthread_mutex_init(&fe->reset_lock, NULL);
    fe->accept_resume = evtimer_new(main_base, server_accept_resume, fe);
    if (fe->accept_resume == NULL) {
        snprintf(err, errlen, "out of memory");
        frontend_destroy(&fe);
        return NULL;
    }
    if (config_tls_used(cfg) && (fe->tls = tls_server_create(cfg, err, errlen)) == NULL) {
        frontend_destroy(&fe);
        return NULL;
    }
    if (cfg->sasl_users[0] != '\0' &&
        (fe->users = auth_users_create(cfg->sasl_users, err, errlen)) == NULL) {
        frontend_destroy(&fe);
        return NULL;
    }
    /* Password checks cost a PBKDF2 each: one thread of their own keeps them off the workers. */
    if (fe->users != NULL && (fe->auth_pool = executor_pool_create("auth", 1)) == NULL) {
        snprintf(err, errlen, "cannot start the auth thread");
        frontend_destroy(&fe);
        return NULL;
    }
    if (server_start_workers(fe, start, err, errlen) != 0) {
        frontend_destroy(&fe);
        return NULL;
    }
    return fe;
}

struct frontend *frontend_create(const struct config *cfg, struct engine *engine,
                                 struct event_base *main_base, char *err, size_t errlen)
{
    struct frontend *fe = server_create(cfg, engine, main_base, true, err, errlen);
    if (fe == NULL)
        return NULL;
    for (int i = 0; i < cfg->nlisten; i++) {
        if (server_listen_one(fe, i, err, errlen) != 0) {
            frontend_destroy(&fe);
            return NULL;
        }
    }
    return fe;
}

int frontend_refresh_certs(struct frontend *fe, char *err, size_t errlen)
{
    if (fe->tls == NULL) {
        snprintf(err, errlen, "TLS is not enabled");
        return -1;
    }
    if (tls_server_reload(fe->tls, err, errlen) != 0) {
        log_warn("tls: certificate reload failed, the previous certificate stays in use: %s", err);
        return -1;
    }
    log_info("tls: certificates reloaded");
    return 0;
}

void frontend_reload(struct frontend *fe)
{
    char err[512];
    /* Each reload logs its outcome; a failed one keeps what was loaded before. */
    int rc = fe->tls != NULL ? frontend_refresh_certs(fe, err, sizeof(err)) : 0;
    (void)rc;
    if (fe->users == NULL)
        return;
    if (auth_users_reload(fe->users, err, sizeof(err)) != 0)
        log_warn("sasl: users reload failed, the previous users stay: %s", err);
    else
        log_info("sasl: users reloaded (%zu users)", auth_users_count(fe->users));
}

struct frontend *frontend_create_detached(const struct config *cfg, struct engine *engine,
                                          struct event_base *main_base, char *err, size_t errlen)
{
    return server_create(cfg, engine, main_base, false, err, errlen);
}

int frontend_port(const struct frontend *fe)
{
    return fe->port;
}

void frontend_destroy(struct frontend **fep)
{
    struct frontend *fe = *fep;
    if (fe == NULL)
        return;
    for (int i = 0; i < fe->nlisteners; i++)
        evconnlistener_free(fe->listeners[i]);
    if (fe->accept_resume != NULL)
        event_free(fe->accept_resume);
    for (int i = 0; i < fe->nworkers && !fe->detached; i++)
        worker_stop(fe->workers[i]);
    for (int i = 0; i < fe->nworkers; i++)
        worker_destroy(&fe->workers[i]);
    free(fe->workers);
    /* After the workers: they waited for every blocked cookie, so no check is left queued. */
    executor_pool_destroy(&fe->auth_pool);
    tls_server_destroy(&fe->tls);
    auth_users_destroy(&fe->users);
    pthread_mutex_destroy(&fe->reset_lock);
    free(fe);
    *fep = NULL;
}
