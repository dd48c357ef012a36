/*
 * SASL over the binary protocol: SASL_LIST_MECHS, SASL_AUTH and SASL_STEP,
 * and the gate that keeps a connection of a server started with -S to those
 * (plus VERSION, NOOP, HELLO and GET_ERROR_MAP) until it has authenticated.
 * Failures are counted (auth_errors), logged once per connection, and the
 * third closes the connection. Worker thread, except the PLAIN check, which
 * runs on the front-end's auth thread (a PBKDF2 per attempt must not hold
 * up the worker's other connections) and comes back through the would-block
 * path: notify, inbox, the executor runs again and answers.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth/sasl.h"
#include "base/log.h"
#include "executor/executor.h"
#include "frontend/conn_internal.h"
#include "frontend/exec_internal.h"
#include "frontend/frontend.h"
#include "frontend/response.h"
#include "frontend/server.h"
#include "frontend/worker.h"

/* Failed attempts after which a connection is closed. */
#define SASL_MAX_FAILURES 3
/* Opcodes Couchbase clients send before authenticating; answered as unknown until they exist. */
#define SASL_OP_HELLO 0x1f
#define SASL_OP_GET_ERROR_MAP 0xfe

enum exec_gate exec_sasl_gate(const struct conn *c, const struct bin_header *h)
{
    const struct frontend *fe = c->worker->fe;
    if (c->authenticated || !fe->cfg->sasl_required)
        return EXEC_GATE_PASS;
    if ((size_t)BIN_HEADER_LEN + h->bodylen > EXEC_SASL_PREAUTH_FRAME_MAX)
        return EXEC_GATE_DROP;
    switch (h->opcode) {
    case BIN_CMD_SASL_LIST_MECHS:
    case BIN_CMD_SASL_AUTH:
    case BIN_CMD_SASL_STEP:
    case BIN_CMD_VERSION:
    case BIN_CMD_NOOP:
    case SASL_OP_HELLO:
    case SASL_OP_GET_ERROR_MAP:
        return EXEC_GATE_PASS;
    default:
        return EXEC_GATE_DENY;
    }
}

/* PLAIN sends the password as it is: only over TLS unless the operator allows it. */
static bool exec_sasl_plain_ok(const struct conn *c)
{
    return c->tls || c->worker->fe->cfg->sasl_plain_over_plaintext;
}

/* Without a users file SASL is not available. */
static bool exec_sasl_unavailable(struct cookie *ck)
{
    if (ck->conn->worker->fe->users != NULL)
        return false;
    resp_error(ck->conn, &ck->req.h, BIN_STATUS_NOT_SUPPORTED);
    return true;
}

enum exec_result exec_sasl_list(struct cookie *ck)
{
    if (exec_sasl_unavailable(ck))
        return EXEC_DONE;
    const char *mechs = sasl_mechanisms(exec_sasl_plain_ok(ck->conn));
    struct resp r = {.status = BIN_STATUS_SUCCESS, .value = mechs, .vallen = strlen(mechs)};
    resp_send(ck->conn, &ck->req.h, &r);
    return EXEC_DONE;
}

/* The client's message: the value, whole in the input buffer since the frame is complete. */
static const uint8_t *exec_sasl_value(struct cookie *ck)
{
    if (ck->req.vallen == 0)
        return (const uint8_t *)"";
    return conn_in_pullup(ck->conn, ck->req.vallen);
}

/* Answers one step: success, a challenge, or a counted failure (closing after the third). */
static enum exec_result exec_sasl_answer(struct cookie *ck, enum sasl_result res,
                                         const struct sasl_reply *r)
{
    struct conn *c = ck->conn;
    struct frontend *fe = c->worker->fe;
    if (res == SASL_DONE || res == SASL_CONTINUE) {
        if (res == SASL_DONE) {
            c->authenticated = true;
            log_debug("sasl: user '%s' authenticated", r->user);
        }
        struct resp out = {.status =
                               res == SASL_DONE ? BIN_STATUS_SUCCESS : BIN_STATUS_AUTH_CONTINUE,
                           .value = r->out,
                           .vallen = (uint32_t)r->outlen};
        resp_send(c, &ck->req.h, &out);
        return EXEC_DONE;
    }
    atomic_fetch_add(&fe->auth_errors, 1);
    c->auth_failures++;
    if (c->auth_failures == 1)
        log_info("sasl: %s failed for user '%s' (%s); further failures on this connection are "
                 "not logged",
                 bin_opcode_name(ck->req.h.opcode), r->user, sasl_result_str(res));
    resp_error(c, &ck->req.h, BIN_STATUS_AUTH_ERROR);
    if (c->auth_failures >= SASL_MAX_FAILURES) {
        log_info("sasl: closing a connection after %d failed attempts", SASL_MAX_FAILURES);
        return EXEC_CLOSE;
    }
    return EXEC_DONE;
}

/* A PLAIN check handed to the auth thread; the connection owns it until it is answered. */
struct sasl_job {
    struct cookie *ck;        /* notified when the check is done */
    struct auth_users *users; /* borrowed; lookups are thread-safe */
    enum sasl_result res;
    struct sasl_reply reply;
    size_t len;
    uint8_t body[]; /* the client's message, copied: the input buffer is the worker's */
};

void exec_sasl_job_free(struct sasl_job **job)
{
    if (*job == NULL)
        return;
    OPENSSL_cleanse(*job, sizeof(**job) + (*job)->len);
    free(*job);
    *job = NULL;
}

/* Auth thread: checks the password, then resumes the cookie on its worker. */
static void exec_sasl_job_run(void *arg, bool cancelled)
{
    struct sasl_job *job = arg;
    if (cancelled)
        return; /* only at shutdown, after every worker has stopped; the connection frees it */
    struct sasl_session *none = NULL;
    job->res = sasl_start(job->users, true, "PLAIN", 5, job->body, job->len, &none, &job->reply);
    frontend_engine_host()->notify(job->ck, ENGINE_SUCCESS);
}

/* Queues PLAIN on the auth thread; false when it cannot (then it runs inline). */
static bool exec_sasl_plain_async(struct cookie *ck)
{
    struct conn *c = ck->conn;
    struct sasl_job *job = malloc(sizeof(*job) + ck->req.vallen);
    if (job == NULL)
        return false;
    *job = (struct sasl_job){.ck = ck, .users = c->worker->fe->users, .len = ck->req.vallen};
    memcpy(job->body, exec_sasl_value(ck), ck->req.vallen);
    c->sasl_job = job;
    if (executor_submit(c->worker->fe->auth_pool, exec_sasl_job_run, job) != 0) {
        exec_sasl_job_free(&c->sasl_job);
        return false;
    }
    return true;
}

enum exec_result exec_sasl_auth(struct cookie *ck)
{
    if (exec_sasl_unavailable(ck))
        return EXEC_DONE;
    struct conn *c = ck->conn;
    struct frontend *fe = c->worker->fe;
    struct sasl_reply r;
    if (c->sasl_job != NULL) {
        /* Resumed: the auth thread has checked the password. */
        engine_status s;
        (void)exec_resumed_error(ck, &s);
        enum sasl_result res = c->sasl_job->res;
        r = c->sasl_job->reply;
        exec_sasl_job_free(&c->sasl_job);
        return exec_sasl_answer(ck, res, &r);
    }
    atomic_fetch_add(&fe->auth_cmds, 1);
    sasl_session_destroy(&c->sasl);
    bool plain = ck->req.h.keylen == 5 && memcmp(ck->req.key, "PLAIN", 5) == 0;
    if (plain && exec_sasl_plain_ok(c) && exec_sasl_plain_async(ck))
        return EXEC_WOULDBLOCK;
    enum sasl_result res =
        sasl_start(fe->users, exec_sasl_plain_ok(c), (const char *)ck->req.key, ck->req.h.keylen,
                   exec_sasl_value(ck), ck->req.vallen, &c->sasl, &r);
    return exec_sasl_answer(ck, res, &r);
}

enum exec_result exec_sasl_step(struct cookie *ck)
{
    if (exec_sasl_unavailable(ck))
        return EXEC_DONE;
    struct conn *c = ck->conn;
    atomic_fetch_add(&c->worker->fe->auth_cmds, 1);
    struct sasl_reply r;
    enum sasl_result res = sasl_step(c->sasl, exec_sasl_value(ck), ck->req.vallen, &r);
    sasl_session_destroy(&c->sasl);
    return exec_sasl_answer(ck, res, &r);
}
