/*
 * The storage executor: SET, ADD, REPLACE, APPEND, PREPEND and their quiet
 * forms. The value is copied once, from the input buffer straight into the
 * engine's item; the item is kept in the cookie so a store that would block
 * is retried with the same item: the cookie's item is the state of this
 * small machine (no item: allocate and fill; an item: store it). A value
 * above -I is answered by exec_store_oversized. Worker thread.
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "frontend/conn.h"
#include "frontend/exec_internal.h"
#include "frontend/response.h"
#include "frontend/worker.h"

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

/* Allocates the item and moves the value into it from the input buffer. */
static engine_status exec_store_fill(struct cookie *ck)
{
    struct bin_store_extras x = {0, 0};
    if (ck->req.h.extlen == 8)
        bin_store_extras_decode(&ck->req, &x);
    struct engine *e = exec_engine(ck);
    engine_status s;
    if (!exec_resumed_error(ck, &s))
        s = e->ops->allocate(e, ck, ck->req.key, ck->req.h.keylen, ck->req.vallen, x.flags,
                             exec_expiry(x.exptime), &ck->item);
    if (s != ENGINE_SUCCESS)
        return s;
    struct evbuffer *in = bufferevent_get_input(ck->conn->bev);
    if (ck->req.vallen > 0)
        evbuffer_remove(in, item_value(ck->item), ck->req.vallen);
    stats_add(&ck->conn->worker->stats, STATS_bytes_read, ck->req.vallen);
    ck->value_left = 0;
    return ENGINE_SUCCESS;
}

/* Counts the outcome of a store for the cas_* stats. */
static void exec_store_count(struct cookie *ck, engine_status s)
{
    exec_count(ck, STATS_cmd_set);
    if (ck->req.h.cas == 0)
        return;
    if (s == ENGINE_SUCCESS)
        exec_count(ck, STATS_cas_hits);
    else if (s == ENGINE_KEY_EEXISTS)
        exec_count(ck, STATS_cas_badval);
    else if (s == ENGINE_KEY_ENOENT)
        exec_count(ck, STATS_cas_misses);
}

enum exec_result exec_store(struct cookie *ck)
{
    engine_status s = ENGINE_SUCCESS;
    if (ck->item == NULL)
        s = exec_store_fill(ck);
    if (s == ENGINE_EWOULDBLOCK)
        return EXEC_WOULDBLOCK;
    uint64_t cas = 0;
    if (s == ENGINE_SUCCESS && !exec_resumed_error(ck, &s)) {
        struct engine *e = exec_engine(ck);
        s = e->ops->store(e, ck, ck->item, ck->req.h.cas, exec_store_op(ck->req.h.opcode), &cas);
    }
    if (s == ENGINE_EWOULDBLOCK)
        return EXEC_WOULDBLOCK;
    exec_store_count(ck, s);
    return exec_reply(ck, s, cas);
}

enum exec_result exec_store_oversized(struct cookie *ck)
{
    uint8_t op = ck->req.h.opcode;
    engine_status s = ENGINE_SUCCESS;
    if ((op == BIN_CMD_SET || op == BIN_CMD_SETQ) && ck->req.h.keylen > 0 &&
        !exec_resumed_error(ck, &s)) {
        /* As memcached does: a failed SET must not leave the old value readable. */
        struct engine *e = exec_engine(ck);
        s = e->ops->remove(e, ck, ck->req.key, ck->req.h.keylen, 0);
    }
    if (s == ENGINE_EWOULDBLOCK)
        return EXEC_WOULDBLOCK;
    /* Whatever the removal answered (a missing key is the common case), the reply is E2BIG. */
    resp_error(ck->conn, &ck->req.h, BIN_STATUS_E2BIG);
    return EXEC_DONE;
}
