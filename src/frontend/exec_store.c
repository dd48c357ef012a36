/*
 * The storage executor: SET, ADD, REPLACE, APPEND, PREPEND and their quiet
 * forms. The value is copied once, from the input buffer straight into the
 * engine's item; the item is kept in the cookie so a store that would block
 * is retried with the same item: the cookie's item is the state of this
 * small machine (no item: allocate and fill; an item: store it). A value
 * above -I is answered by exec_store_oversized. Worker thread.
 */

#include "frontend/conn_internal.h"
#include "frontend/exec_internal.h"
#include "frontend/exec_text.h"
#include "frontend/response.h"
#include "frontend/worker.h"
#include "protocol/meta.h"

static enum engine_store_op exec_store_op(uint8_t opcode)
{
    switch (opcode) {
    case BIN_CMD_ADD:
    case BIN_CMD_ADDQ:
        return ENGINE_STORE_ADD;
    case BIN_CMD_REPLACE:
    case BIN_CMD_REPLACEQ:
        return ENGINE_STORE_REPLACE;
    case BIN_CMD_APPEND:
    case BIN_CMD_APPENDQ:
        return ENGINE_STORE_APPEND;
    case BIN_CMD_PREPEND:
    case BIN_CMD_PREPENDQ:
        return ENGINE_STORE_PREPEND;
    default:
        return ENGINE_STORE_SET;
    }
}

engine_status exec_store_fill(struct cookie *ck, const struct exec_store_args *a)
{
    struct engine *e = exec_engine(ck);
    engine_status s;
    if (!exec_resumed_error(ck, &s))
        s = e->ops->allocate(e, ck, a->key, a->nkey, a->vallen, a->flags, a->exptime, &ck->item);
    if (s != ENGINE_SUCCESS)
        return s;
    if (a->vallen > 0)
        conn_in_remove(ck->conn, item_value(ck->item), a->vallen);
    stats_add(&ck->conn->worker->stats, STATS_bytes_read, a->vallen);
    ck->value_left -= a->vallen;
    return ENGINE_SUCCESS;
}

/* Counts the outcome of a store for the cas_* stats. */
static void exec_store_count(struct cookie *ck, uint64_t cas, engine_status s)
{
    exec_count(ck, STATS_cmd_set);
    if (cas == 0)
        return;
    if (s == ENGINE_SUCCESS)
        exec_count(ck, STATS_cas_hits);
    else if (s == ENGINE_KEY_EEXISTS)
        exec_count(ck, STATS_cas_badval);
    else if (s == ENGINE_KEY_ENOENT)
        exec_count(ck, STATS_cas_misses);
}

engine_status exec_store_commit(struct cookie *ck, const struct exec_store_args *a,
                                uint64_t *cas_out)
{
    struct engine *e = exec_engine(ck);
    engine_status s;
    if (!exec_resumed_error(ck, &s))
        s = e->ops->store(e, ck, ck->item, a->cas, a->op, cas_out);
    if (s != ENGINE_EWOULDBLOCK)
        exec_store_count(ck, a->cas, s);
    return s;
}

enum exec_result exec_store(struct cookie *ck)
{
    struct bin_store_extras x = {0, 0};
    if (ck->req.h.extlen == 8)
        bin_store_extras_decode(&ck->req, &x);
    struct exec_store_args a = {
        .key = ck->req.key,
        .nkey = ck->req.h.keylen,
        .vallen = ck->req.vallen,
        .flags = x.flags,
        .exptime = exec_expiry(x.exptime),
        .cas = ck->req.h.cas,
        .op = exec_store_op(ck->req.h.opcode),
    };
    engine_status s = ENGINE_SUCCESS;
    if (ck->item == NULL)
        s = exec_store_fill(ck, &a);
    if (s == ENGINE_EWOULDBLOCK)
        return EXEC_WOULDBLOCK;
    uint64_t cas = 0;
    if (s == ENGINE_SUCCESS) {
        s = exec_store_commit(ck, &a, &cas);
        if (s == ENGINE_EWOULDBLOCK)
            return EXEC_WOULDBLOCK;
    } else {
        exec_store_count(ck, a.cas, s);
    }
    return exec_reply(ck, s, cas);
}

enum exec_result exec_store_oversized(struct cookie *ck)
{
    const void *key;
    size_t nkey;
    bool is_set;
    if (ck->text != NULL) {
        key = ck->text->key;
        nkey = ck->text->nkey;
        /* A base64 key (meta b) is decoded only by the meta executor: leave it be. */
        bool b64 = (ck->text->req.meta.present & (1ull << meta_flag_bit('b'))) != 0;
        is_set = (ck->text->req.cmd == TEXT_CMD_SET || ck->text->req.cmd == TEXT_CMD_MS) && !b64;
    } else {
        key = ck->req.key;
        nkey = ck->req.h.keylen;
        is_set = ck->req.h.opcode == BIN_CMD_SET || ck->req.h.opcode == BIN_CMD_SETQ;
    }
    engine_status s = ENGINE_SUCCESS;
    if (is_set && nkey > 0 && !exec_resumed_error(ck, &s)) {
        /* As memcached does: a failed set must not leave the old value readable. */
        struct engine *e = exec_engine(ck);
        s = e->ops->remove(e, ck, key, nkey, 0);
    }
    if (s == ENGINE_EWOULDBLOCK)
        return EXEC_WOULDBLOCK;
    /* Whatever the removal answered (a missing key is the common case), the reply is too big. */
    if (ck->text != NULL)
        exec_text_line(ck, "SERVER_ERROR object too large for cache\r\n");
    else
        resp_error(ck->conn, &ck->req.h, BIN_STATUS_E2BIG);
    return EXEC_DONE;
}
