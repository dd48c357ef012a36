/*
 * The executor table and the key-value executors (get, gat, touch, store,
 * delete, arithmetic). Each executor is a small resumable function: engine
 * state it creates is kept in the cookie, so a call that returned
 * ENGINE_EWOULDBLOCK is simply made again after the engine's notify.
 * Runs on the connection's worker thread.
 */
#include "frontend/exec.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "frontend/conn.h"
#include "frontend/exec_internal.h"
#include "frontend/exec_text.h"
#include "frontend/response.h"
#include "frontend/server.h"
#include "frontend/worker.h"

uint16_t exec_engine_to_bin(engine_status s)
{
    switch (s) {
    case ENGINE_SUCCESS:
        return BIN_STATUS_SUCCESS;
    case ENGINE_KEY_ENOENT:
        return BIN_STATUS_KEY_ENOENT;
    case ENGINE_KEY_EEXISTS:
        return BIN_STATUS_KEY_EEXISTS;
    case ENGINE_E2BIG:
        return BIN_STATUS_E2BIG;
    case ENGINE_EINVAL:
        return BIN_STATUS_EINVAL;
    case ENGINE_NOT_STORED:
        return BIN_STATUS_NOT_STORED;
    case ENGINE_DELTA_BADVAL:
        return BIN_STATUS_DELTA_BADVAL;
    case ENGINE_ENOMEM:
        return BIN_STATUS_ENOMEM;
    case ENGINE_TMPFAIL:
        return BIN_STATUS_ETMPFAIL;
    case ENGINE_NOT_SUPPORTED:
        return BIN_STATUS_NOT_SUPPORTED;
    default:
        return BIN_STATUS_EINTERNAL;
    }
}

struct engine *exec_engine(const struct cookie *ck)
{
    return ck->conn->worker->fe->engine;
}

void exec_count(const struct cookie *ck, enum stats_counter c)
{
    stats_add(&ck->conn->worker->stats, c, 1);
}

rel_time_t exec_expiry(uint32_t wire)
{
    return clock_expiry(wire, clock_now(), clock_process_started());
}

bool exec_quiet(const struct cookie *ck)
{
    return (bin_opcode_flags(ck->req.h.opcode) & BIN_OP_QUIET) != 0;
}

bool exec_resumed_error(struct cookie *ck, engine_status *s)
{
    if (!ck->ready)
        return false;
    ck->ready = false;
    *s = ck->notified;
    return ck->notified != ENGINE_SUCCESS;
}

enum exec_result exec_reply(struct cookie *ck, engine_status s, uint64_t cas)
{
    if (s == ENGINE_EWOULDBLOCK)
        return EXEC_WOULDBLOCK;
    if (s == ENGINE_DISCONNECT)
        return EXEC_CLOSE;
    if (s != ENGINE_SUCCESS)
        resp_error(ck->conn, &ck->req.h, exec_engine_to_bin(s));
    else if (!exec_quiet(ck))
        resp_status(ck->conn, &ck->req.h, BIN_STATUS_SUCCESS, cas);
    return EXEC_DONE;
}

/* Sends a found item: flags as extras, the key when the opcode asks for it, the value. */
static void exec_send_item(struct cookie *ck, struct item *it, bool value)
{
    uint8_t flags[4];
    bin_put_u32(flags, it->flags);
    bool with_key = (bin_opcode_flags(ck->req.h.opcode) & BIN_OP_WITH_KEY) != 0;
    struct resp r = {
        .status = BIN_STATUS_SUCCESS,
        .extras = flags,
        .extlen = sizeof(flags),
        .key = with_key ? item_key(it) : NULL,
        .keylen = with_key ? it->nkey : 0,
        .value = value ? item_cvalue(it) : NULL,
        .vallen = value ? it->nbytes : 0,
        .item = it,
        .cas = it->cas,
    };
    resp_send(ck->conn, &ck->req.h, &r);
}

/* A miss: quiet gets say nothing; GETK/GATK return the key; others "Not found". */
static void exec_send_miss(struct cookie *ck)
{
    unsigned fl = bin_opcode_flags(ck->req.h.opcode);
    if (fl & BIN_OP_QUIET)
        return;
    if (fl & BIN_OP_WITH_KEY) {
        struct resp r = {
            .status = BIN_STATUS_KEY_ENOENT, .key = ck->req.key, .keylen = ck->req.h.keylen};
        resp_send(ck->conn, &ck->req.h, &r);
        return;
    }
    resp_error(ck->conn, &ck->req.h, BIN_STATUS_KEY_ENOENT);
}

/* GET, GETQ, GETK, GETKQ. */
static enum exec_result exec_get(struct cookie *ck)
{
    struct engine *e = exec_engine(ck);
    struct item *it = NULL;
    engine_status s;
    if (!exec_resumed_error(ck, &s))
        s = e->ops->get(e, ck, ck->req.key, ck->req.h.keylen, &it);
    if (s == ENGINE_EWOULDBLOCK)
        return EXEC_WOULDBLOCK;
    exec_count(ck, STATS_cmd_get);
    if (s == ENGINE_SUCCESS) {
        exec_count(ck, STATS_get_hits);
        exec_send_item(ck, it, true);
        item_unref(it);
        return EXEC_DONE;
    }
    if (s == ENGINE_KEY_ENOENT) {
        exec_count(ck, STATS_get_misses);
        exec_send_miss(ck);
        return EXEC_DONE;
    }
    return exec_reply(ck, s, 0);
}

/* TOUCH (flags only), GAT, GATQ, GATK, GATKQ (flags and value). */
static enum exec_result exec_touch(struct cookie *ck)
{
    struct engine *e = exec_engine(ck);
    struct item *it = NULL;
    rel_time_t exptime = exec_expiry(bin_u32_extra(&ck->req));
    engine_status s;
    if (!exec_resumed_error(ck, &s))
        s = e->ops->get_and_touch(e, ck, ck->req.key, ck->req.h.keylen, exptime, &it);
    if (s == ENGINE_EWOULDBLOCK)
        return EXEC_WOULDBLOCK;
    exec_count(ck, STATS_cmd_touch);
    if (s == ENGINE_SUCCESS) {
        exec_count(ck, STATS_touch_hits);
        /* Hits are answered even for GATQ/GATKQ; TOUCH carries no value. */
        exec_send_item(ck, it, ck->req.h.opcode != BIN_CMD_TOUCH);
        item_unref(it);
        return EXEC_DONE;
    }
    if (s == ENGINE_KEY_ENOENT) {
        exec_count(ck, STATS_touch_misses);
        exec_send_miss(ck);
        return EXEC_DONE;
    }
    return exec_reply(ck, s, 0);
}

/* DELETE, DELETEQ. */
static enum exec_result exec_delete(struct cookie *ck)
{
    struct engine *e = exec_engine(ck);
    engine_status s;
    if (!exec_resumed_error(ck, &s))
        s = e->ops->remove(e, ck, ck->req.key, ck->req.h.keylen, ck->req.h.cas);
    if (s == ENGINE_SUCCESS)
        exec_count(ck, STATS_delete_hits);
    else if (s == ENGINE_KEY_ENOENT)
        exec_count(ck, STATS_delete_misses);
    return exec_reply(ck, s, 0);
}

engine_status exec_arith_call(struct cookie *ck, const void *key, size_t nkey,
                              const struct engine_arith *a, uint64_t *result, uint64_t *cas)
{
    struct engine *e = exec_engine(ck);
    engine_status s;
    if (!exec_resumed_error(ck, &s))
        s = e->ops->arithmetic(e, ck, key, nkey, a, result, cas);
    if (s == ENGINE_SUCCESS || s == ENGINE_KEY_ENOENT)
        exec_count(ck, a->incr ? (s == ENGINE_SUCCESS ? STATS_incr_hits : STATS_incr_misses)
                               : (s == ENGINE_SUCCESS ? STATS_decr_hits : STATS_decr_misses));
    return s;
}

/* INCREMENT, DECREMENT and their quiet forms: the reply is the new value, 8 bytes big-endian. */
static enum exec_result exec_arith(struct cookie *ck)
{
    struct bin_arith_extras x;
    bin_arith_extras_decode(&ck->req, &x);
    bool incr = ck->req.h.opcode == BIN_CMD_INCREMENT || ck->req.h.opcode == BIN_CMD_INCREMENTQ;
    struct engine_arith a = {
        .incr = incr,
        .create = x.exptime != 0xFFFFFFFFu,
        .delta = x.delta,
        .initial = x.initial,
        .exptime = x.exptime != 0xFFFFFFFFu ? exec_expiry(x.exptime) : 0,
        .cas = ck->req.h.cas,
    };
    uint64_t result = 0, cas = 0;
    engine_status s = exec_arith_call(ck, ck->req.key, ck->req.h.keylen, &a, &result, &cas);
    if (s == ENGINE_EWOULDBLOCK)
        return EXEC_WOULDBLOCK;
    if (s != ENGINE_SUCCESS)
        return exec_reply(ck, s, 0);
    if (!exec_quiet(ck)) {
        uint8_t v[8];
        bin_put_u64(v, result);
        struct resp r = {.status = BIN_STATUS_SUCCESS, .value = v, .vallen = 8, .cas = cas};
        resp_send(ck->conn, &ck->req.h, &r);
    }
    return EXEC_DONE;
}

typedef enum exec_result (*exec_fn)(struct cookie *ck);

/* One executor per opcode; the validator table in protocol/ has the same rows. */
static const exec_fn exec_table[256] = {
    [BIN_CMD_GET] = exec_get,
    [BIN_CMD_GETQ] = exec_get,
    [BIN_CMD_GETK] = exec_get,
    [BIN_CMD_GETKQ] = exec_get,
    [BIN_CMD_SET] = exec_store,
    [BIN_CMD_SETQ] = exec_store,
    [BIN_CMD_ADD] = exec_store,
    [BIN_CMD_ADDQ] = exec_store,
    [BIN_CMD_REPLACE] = exec_store,
    [BIN_CMD_REPLACEQ] = exec_store,
    [BIN_CMD_APPEND] = exec_store,
    [BIN_CMD_APPENDQ] = exec_store,
    [BIN_CMD_PREPEND] = exec_store,
    [BIN_CMD_PREPENDQ] = exec_store,
    [BIN_CMD_DELETE] = exec_delete,
    [BIN_CMD_DELETEQ] = exec_delete,
    [BIN_CMD_INCREMENT] = exec_arith,
    [BIN_CMD_INCREMENTQ] = exec_arith,
    [BIN_CMD_DECREMENT] = exec_arith,
    [BIN_CMD_DECREMENTQ] = exec_arith,
    [BIN_CMD_QUIT] = exec_quit,
    [BIN_CMD_QUITQ] = exec_quit,
    [BIN_CMD_FLUSH] = exec_flush,
    [BIN_CMD_FLUSHQ] = exec_flush,
    [BIN_CMD_NOOP] = exec_noop,
    [BIN_CMD_VERSION] = exec_version,
    [BIN_CMD_STAT] = exec_stat,
    [BIN_CMD_VERBOSITY] = exec_verbosity,
    [BIN_CMD_TOUCH] = exec_touch,
    [BIN_CMD_GAT] = exec_touch,
    [BIN_CMD_GATQ] = exec_touch,
    [BIN_CMD_GATK] = exec_touch,
    [BIN_CMD_GATKQ] = exec_touch,
    [BIN_CMD_TEST_CONTROL] = exec_test_control,
    [BIN_CMD_SASL_LIST_MECHS] = exec_sasl_list,
    [BIN_CMD_SASL_AUTH] = exec_sasl_auth,
    [BIN_CMD_SASL_STEP] = exec_sasl_step,
};

enum exec_result exec_run(struct cookie *ck)
{
    if (ck->oversized)
        return exec_store_oversized(ck);
    if (ck->text != NULL)
        return exec_text_run(ck);
    exec_fn fn = exec_table[ck->req.h.opcode];
    if (fn == NULL) {
        /* Validation admits only opcodes of the protocol table, which all have a row here. */
        resp_error(ck->conn, &ck->req.h, BIN_STATUS_UNKNOWN_COMMAND);
        return EXEC_DONE;
    }
    return fn(ck);
}
