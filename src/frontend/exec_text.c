/*
 * Text protocol executors: retrievals (get, gets, gat, gats), storage (set,
 * add, replace, append, prepend, cas), delete, incr/decr, touch and the
 * commands without a key. Each is resumable: what it has done so far lives
 * in the cookie (the allocated item, the keys still to answer), so a call
 * that returned ENGINE_EWOULDBLOCK is made again after the engine's notify.
 * Worker thread.
 */
#include "frontend/exec_text.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "frontend/conn_internal.h"
#include "frontend/exec_internal.h"
#include "frontend/frontend.h"
#include "frontend/response.h"
#include "frontend/server.h"
#include "frontend/worker.h"

/* Line room of a cookie_text: every ordinary command line fits, so one allocation serves a
 * connection; a longer line (a retrieval of many keys) gets its own, freed after it. */
#define EXEC_TEXT_LINE_KEEP 512

struct cookie_text *exec_text_copy_line(struct cookie *ck, const char *line, size_t len)
{
    struct cookie_text *t = ck->spare;
    ck->spare = NULL;
    if (t == NULL || t->cap < len) {
        free(t);
        size_t cap = len > EXEC_TEXT_LINE_KEEP ? len : EXEC_TEXT_LINE_KEEP;
        t = malloc(sizeof(*t) + cap + 1);
        if (t == NULL)
            return NULL;
        t->cap = cap;
    }
    memcpy(t->line, line, len);
    t->line[len] = '\0';
    t->len = len;
    return t;
}

void exec_text_release(struct cookie *ck, struct cookie_text *t)
{
    if (t == NULL)
        return;
    if (ck->spare == NULL && t->cap <= EXEC_TEXT_LINE_KEEP)
        ck->spare = t;
    else
        free(t);
}

void exec_text_start(struct cookie *ck, struct cookie_text *t)
{
    t->phase = 0;
    t->next = t->req.keys;
    t->keys_left = t->req.nkeys;
    t->nkey = t->req.key.len <= TEXT_KEY_MAX ? t->req.key.len : 0;
    if (t->nkey > 0)
        memcpy(t->key, t->req.key.s, t->nkey);
    ck->text = t;
    ck->value_left =
        text_is_storage(t->req.cmd) || t->req.cmd == TEXT_CMD_MS ? t->req.vallen + 2 : 0;
    ck->blocked = false;
    ck->ready = false;
    ck->notified = ENGINE_SUCCESS;
}

void exec_text_unload(struct cookie *ck)
{
    struct cookie_text *t = ck->text;
    ck->text = NULL;
    exec_text_release(ck, t);
}

void exec_text_out(struct cookie *ck, const char *s, size_t n)
{
    struct conn *c = ck->conn;
    resp_add(c, s, n);
    stats_add(&c->worker->stats, STATS_bytes_written, n);
}

void exec_text_line(struct cookie *ck, const char *s)
{
    exec_text_out(ck, s, strlen(s));
}

rel_time_t exec_text_expiry(int32_t wire)
{
    /* memcached: a negative expiry means the item is already expired. */
    return wire < 0 ? 1 : exec_expiry((uint32_t)wire);
}

/* A success-type reply, unless the command said noreply. */
static void exec_text_reply(struct cookie *ck, const char *s)
{
    if (!ck->text->req.noreply)
        exec_text_line(ck, s);
}

void exec_text_engine_error(struct cookie *ck, engine_status s)
{
    switch (s) {
    case ENGINE_E2BIG:
        exec_text_line(ck, "SERVER_ERROR object too large for cache\r\n");
        break;
    case ENGINE_ENOMEM:
        exec_text_line(ck, "SERVER_ERROR out of memory storing object\r\n");
        break;
    case ENGINE_TMPFAIL:
        exec_text_line(ck, "SERVER_ERROR temporary failure\r\n");
        break;
    default: {
        char line[96];
        snprintf(line, sizeof(line), "SERVER_ERROR %s\r\n", engine_status_str(s));
        exec_text_line(ck, line);
    }
    }
}

/* Common ending for engine errors: wait, close, or say SERVER_ERROR. */
static enum exec_result exec_text_fail(struct cookie *ck, engine_status s)
{
    if (s == ENGINE_EWOULDBLOCK)
        return EXEC_WOULDBLOCK;
    if (s == ENGINE_DISCONNECT)
        return EXEC_CLOSE;
    exec_text_engine_error(ck, s);
    return EXEC_DONE;
}

/* Values up to this size go out in one copy with their VALUE line. */
#define EXEC_TEXT_INLINE_MAX 1024

/* "00" to "99": decimals are written two digits a step. */
static const char exec_text_pairs[] = "00010203040506070809"
                                      "10111213141516171819"
                                      "20212223242526272829"
                                      "30313233343536373839"
                                      "40414243444546474849"
                                      "50515253545556575859"
                                      "60616263646566676869"
                                      "70717273747576777879"
                                      "80818283848586878889"
                                      "90919293949596979899";

/* Writes " <v>" in decimal at p (snprintf costs several times more); returns its length. */
static size_t exec_text_dec(char *p, uint64_t v)
{
    size_t n = 1;
    for (uint64_t x = v; x >= 10; x /= 10)
        n++;
    p[0] = ' ';
    /* From the last digit back, in place: no reversal. */
    char *q = p + 1 + n;
    for (; v >= 100; v /= 100) {
        q -= 2;
        memcpy(q, &exec_text_pairs[v % 100 * 2], 2);
    }
    if (v >= 10)
        memcpy(q - 2, &exec_text_pairs[v * 2], 2);
    else
        q[-1] = (char)('0' + v);
    return n + 1;
}

/*
 * "VALUE <key> <flags> <bytes>[ <cas>]\r\n<data>\r\n", then "END\r\n" when
 * last; a small value is copied with its line, in one piece with the END.
 */
static void exec_text_value(struct cookie *ck, struct item *it, bool with_cas, bool last)
{
    static const char tail[] = "\r\nEND\r\n";
    size_t ntail = last ? sizeof(tail) - 1 : 2;
    char buf[TEXT_KEY_MAX + 80 + EXEC_TEXT_INLINE_MAX + sizeof(tail)];
    size_t n = 6;
    memcpy(buf, "VALUE ", n);
    memcpy(buf + n, item_key(it), it->nkey);
    n += it->nkey;
    n += exec_text_dec(buf + n, it->flags);
    n += exec_text_dec(buf + n, it->nbytes);
    if (with_cas)
        n += exec_text_dec(buf + n, it->cas);
    memcpy(buf + n, "\r\n", 2);
    n += 2;
    /* A value the send buffer would take by reference is never copied. */
    if (it->nbytes <= EXEC_TEXT_INLINE_MAX &&
        it->nbytes < ck->conn->worker->fe->cfg->send_buffer_threshold) {
        memcpy(buf + n, item_cvalue(it), it->nbytes);
        /* All of it, of a constant size (two moves); only ntail bytes are sent. */
        memcpy(buf + n + it->nbytes, tail, sizeof(tail) - 1);
        exec_text_out(ck, buf, n + it->nbytes + ntail);
        return;
    }
    exec_text_out(ck, buf, n);
    resp_add_value(ck->conn, it, item_cvalue(it), it->nbytes);
    stats_add(&ck->conn->worker->stats, STATS_bytes_written, it->nbytes);
    exec_text_out(ck, tail, ntail);
}

/* True when the output is over max_send_queue: a long retrieval pauses until it drains. */
static bool exec_text_output_full(const struct cookie *ck)
{
    struct conn *c = ck->conn;
    return resp_queued(c) > c->worker->fe->cfg->max_send_queue;
}

/* Looks one key up for a retrieval; counts it; sends it on a hit, with the END when last. */
static engine_status exec_text_get_one(struct cookie *ck, const struct text_tok *key, bool last,
                                       bool *ended)
{
    struct cookie_text *t = ck->text;
    enum text_cmd cmd = t->req.cmd;
    bool touch = cmd == TEXT_CMD_GAT || cmd == TEXT_CMD_GATS;
    struct engine *e = exec_engine(ck);
    struct item *it = NULL;
    engine_status s = touch ? e->ops->get_and_touch(e, ck, key->s, key->len,
                                                    exec_text_expiry(t->req.exptime), &it)
                            : e->ops->get(e, ck, key->s, key->len, &it);
    if (s == ENGINE_EWOULDBLOCK)
        return s;
    exec_count(ck, touch ? STATS_cmd_touch : STATS_cmd_get);
    if (s == ENGINE_SUCCESS) {
        exec_count(ck, touch ? STATS_touch_hits : STATS_get_hits);
        exec_text_value(ck, it, cmd == TEXT_CMD_GETS || cmd == TEXT_CMD_GATS, last);
        item_unref(it);
        *ended = last;
    } else if (s == ENGINE_KEY_ENOENT) {
        exec_count(ck, touch ? STATS_touch_misses : STATS_get_misses);
        s = ENGINE_SUCCESS;
    }
    return s;
}

/* get, gets, gat, gats: one VALUE per hit, then END. Resumes at the key it stopped at. */
static enum exec_result exec_text_get(struct cookie *ck)
{
    struct cookie_text *t = ck->text;
    bool ended = false;
    /* Counted: no call past the last key to find that none is left. */
    while (t->keys_left > 0) {
        struct text_tok rest = t->next, key;
        uint32_t left = t->keys_left;
        (void)text_pop_key(&rest, &left, &key); /* a key is left: the loop's condition */
        engine_status s = exec_text_get_one(ck, &key, left == 0, &ended);
        if (s == ENGINE_EWOULDBLOCK)
            return EXEC_WOULDBLOCK;
        if (s != ENGINE_SUCCESS)
            return exec_text_fail(ck, s);
        t->next = rest;
        t->keys_left = left;
        /* Whether keys are left first: a single-key get never asks how much output is queued. */
        if (left > 0 && exec_text_output_full(ck))
            return EXEC_PAUSE;
    }
    if (!ended)
        exec_text_line(ck, "END\r\n");
    return EXEC_DONE;
}

static enum engine_store_op exec_text_store_op(enum text_cmd cmd)
{
    switch (cmd) {
    case TEXT_CMD_ADD:
        return ENGINE_STORE_ADD;
    case TEXT_CMD_REPLACE:
        return ENGINE_STORE_REPLACE;
    case TEXT_CMD_APPEND:
        return ENGINE_STORE_APPEND;
    case TEXT_CMD_PREPEND:
        return ENGINE_STORE_PREPEND;
    default:
        return ENGINE_STORE_SET;
    }
}

engine_status exec_text_fill(struct cookie *ck, const struct exec_store_args *a, bool *bad)
{
    engine_status s = exec_store_fill(ck, a);
    if (s != ENGINE_SUCCESS)
        return s;
    char crlf[2];
    conn_in_remove(ck->conn, crlf, 2);
    stats_add(&ck->conn->worker->stats, STATS_bytes_read, 2);
    ck->value_left = 0;
    *bad = memcmp(crlf, "\r\n", 2) != 0;
    return ENGINE_SUCCESS;
}

/* The reply of a finished store, as memcached words it. */
static const char *exec_text_store_reply(enum text_cmd cmd, engine_status s)
{
    switch (s) {
    case ENGINE_SUCCESS:
        return "STORED\r\n";
    case ENGINE_KEY_EEXISTS:
        return cmd == TEXT_CMD_CAS ? "EXISTS\r\n" : "NOT_STORED\r\n";
    case ENGINE_KEY_ENOENT:
        return cmd == TEXT_CMD_CAS ? "NOT_FOUND\r\n" : "NOT_STORED\r\n";
    case ENGINE_NOT_STORED:
        return "NOT_STORED\r\n";
    default:
        return NULL;
    }
}

/* "cas" with unique 0 matches no item: EXISTS or NOT_FOUND, nothing stored (as memcached). */
static enum exec_result exec_text_cas_zero(struct cookie *ck)
{
    struct cookie_text *t = ck->text;
    struct engine *e = exec_engine(ck);
    struct item *it = NULL;
    engine_status s = e->ops->get(e, ck, t->key, t->nkey, &it);
    if (s == ENGINE_SUCCESS)
        item_unref(it);
    if (s != ENGINE_SUCCESS && s != ENGINE_KEY_ENOENT)
        return exec_text_fail(ck, s);
    exec_count(ck, STATS_cmd_set);
    exec_count(ck, s == ENGINE_SUCCESS ? STATS_cas_badval : STATS_cas_misses);
    exec_text_reply(ck, s == ENGINE_SUCCESS ? "EXISTS\r\n" : "NOT_FOUND\r\n");
    return EXEC_DONE;
}

/* set, add, replace, append, prepend, cas. */
static enum exec_result exec_text_store(struct cookie *ck)
{
    struct cookie_text *t = ck->text;
    struct exec_store_args a = {
        .key = t->key,
        .nkey = t->nkey,
        .vallen = t->req.vallen,
        .flags = t->req.flags,
        .exptime = exec_text_expiry(t->req.exptime),
        .cas = t->req.cas,
        .op = exec_text_store_op(t->req.cmd),
    };
    if (t->req.cmd == TEXT_CMD_CAS && t->req.cas == 0)
        return exec_text_cas_zero(ck);
    if (ck->item == NULL) {
        bool bad = false;
        engine_status s = exec_text_fill(ck, &a, &bad);
        if (s != ENGINE_SUCCESS)
            return exec_text_fail(ck, s);
        if (bad) {
            exec_text_line(ck, "CLIENT_ERROR bad data chunk\r\n");
            return EXEC_DONE;
        }
    }
    uint64_t cas = 0;
    engine_status s = exec_store_commit(ck, &a, &cas);
    const char *reply = exec_text_store_reply(t->req.cmd, s);
    if (reply == NULL)
        return exec_text_fail(ck, s);
    exec_text_reply(ck, reply);
    return EXEC_DONE;
}

static enum exec_result exec_text_delete(struct cookie *ck)
{
    struct cookie_text *t = ck->text;
    struct engine *e = exec_engine(ck);
    engine_status s = e->ops->remove(e, ck, t->key, t->nkey, 0);
    if (s == ENGINE_SUCCESS || s == ENGINE_KEY_ENOENT) {
        exec_count(ck, s == ENGINE_SUCCESS ? STATS_delete_hits : STATS_delete_misses);
        exec_text_reply(ck, s == ENGINE_SUCCESS ? "DELETED\r\n" : "NOT_FOUND\r\n");
        return EXEC_DONE;
    }
    return exec_text_fail(ck, s);
}

static enum exec_result exec_text_arith(struct cookie *ck)
{
    struct cookie_text *t = ck->text;
    struct engine_arith a = {.incr = t->req.cmd == TEXT_CMD_INCR, .delta = t->req.delta};
    uint64_t result = 0, cas = 0;
    engine_status s = exec_arith_call(ck, t->key, t->nkey, &a, &result, &cas);
    if (s == ENGINE_SUCCESS) {
        char line[32];
        snprintf(line, sizeof(line), "%llu\r\n", (unsigned long long)result);
        exec_text_reply(ck, line);
    } else if (s == ENGINE_KEY_ENOENT) {
        exec_text_reply(ck, "NOT_FOUND\r\n");
    } else if (s == ENGINE_DELTA_BADVAL) {
        exec_text_line(ck, "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
    } else {
        return exec_text_fail(ck, s);
    }
    return EXEC_DONE;
}

static enum exec_result exec_text_touch(struct cookie *ck)
{
    struct cookie_text *t = ck->text;
    struct engine *e = exec_engine(ck);
    engine_status s =
        e->ops->get_and_touch(e, ck, t->key, t->nkey, exec_text_expiry(t->req.exptime), NULL);
    if (s == ENGINE_SUCCESS || s == ENGINE_KEY_ENOENT) {
        exec_count(ck, STATS_cmd_touch);
        exec_count(ck, s == ENGINE_SUCCESS ? STATS_touch_hits : STATS_touch_misses);
        exec_text_reply(ck, s == ENGINE_SUCCESS ? "TOUCHED\r\n" : "NOT_FOUND\r\n");
        return EXEC_DONE;
    }
    return exec_text_fail(ck, s);
}

/*
 * refresh_certs: rebuilds the TLS context from the certificate files, as
 * SIGHUP does (the file reads block this worker briefly, as in memcached).
 */
static enum exec_result exec_text_refresh_certs(struct cookie *ck)
{
    char err[512];
    if (frontend_refresh_certs(ck->conn->worker->fe, err, sizeof(err)) == 0) {
        exec_text_line(ck, "OK\r\n");
        return EXEC_DONE;
    }
    char line[600];
    snprintf(line, sizeof(line), "ERROR %s\r\n", err);
    /* The reason is one line: OpenSSL's messages carry no line breaks, file names might. */
    line[strcspn(line, "\r\n")] = '\0';
    strcat(line, "\r\n");
    exec_text_line(ck, line);
    return EXEC_DONE;
}

/* flush_all [delay] [noreply], version, verbosity, quit, shutdown, mn. */
static enum exec_result exec_text_admin(struct cookie *ck)
{
    struct cookie_text *t = ck->text;
    switch (t->req.cmd) {
    case TEXT_CMD_FLUSH_ALL: {
        struct engine *e = exec_engine(ck);
        rel_time_t when = t->req.exptime > 0 ? exec_expiry((uint32_t)t->req.exptime) : 0;
        engine_status s = e->ops->flush(e, ck, when);
        if (s != ENGINE_SUCCESS)
            return exec_text_fail(ck, s);
        exec_count(ck, STATS_cmd_flush);
        exec_text_reply(ck, "OK\r\n");
        return EXEC_DONE;
    }
    case TEXT_CMD_VERSION:
        exec_text_line(ck, "VERSION " BASALT_VERSION "\r\n");
        return EXEC_DONE;
    case TEXT_CMD_VERBOSITY:
        log_setup(t->req.level > 2 ? 2 : (int)t->req.level);
        exec_text_reply(ck, "OK\r\n");
        return EXEC_DONE;
    case TEXT_CMD_QUIT:
        return EXEC_CLOSE;
    case TEXT_CMD_MN:
        exec_text_line(ck, "MN\r\n");
        return EXEC_DONE;
    case TEXT_CMD_REFRESH_CERTS:
        return exec_text_refresh_certs(ck);
    default: /* shutdown */
        if (!ck->conn->worker->fe->cfg->enable_shutdown) {
            exec_text_line(ck, "ERROR: shutdown not enabled\r\n");
            return EXEC_DONE;
        }
        /* The main thread's SIGTERM handler runs the orderly shutdown. */
        log_info("shutdown requested by a client");
        kill(getpid(), SIGTERM);
        return EXEC_CLOSE;
    }
}

enum exec_result exec_text_run(struct cookie *ck)
{
    switch (ck->text->req.cmd) {
    case TEXT_CMD_GET:
    case TEXT_CMD_GETS:
    case TEXT_CMD_GAT:
    case TEXT_CMD_GATS:
        return exec_text_get(ck);
    case TEXT_CMD_SET:
    case TEXT_CMD_ADD:
    case TEXT_CMD_REPLACE:
    case TEXT_CMD_APPEND:
    case TEXT_CMD_PREPEND:
    case TEXT_CMD_CAS:
        return exec_text_store(ck);
    case TEXT_CMD_DELETE:
        return exec_text_delete(ck);
    case TEXT_CMD_INCR:
    case TEXT_CMD_DECR:
        return exec_text_arith(ck);
    case TEXT_CMD_TOUCH:
        return exec_text_touch(ck);
    case TEXT_CMD_STATS:
        return exec_text_stats(ck);
    case TEXT_CMD_MG:
    case TEXT_CMD_MS:
    case TEXT_CMD_MD:
    case TEXT_CMD_MA:
    case TEXT_CMD_ME:
        return exec_meta_run(ck);
    default:
        return exec_text_admin(ck);
    }
}
