/*
 * Executors for the commands that do not touch one key: NOOP, QUIT, FLUSH,
 * VERSION, VERBOSITY, STAT, and the test hook TEST_CONTROL. Worker thread.
 */
#include <string.h>

#include "base/log.h"
#include "frontend/conn_internal.h"
#include "frontend/exec_internal.h"
#include "frontend/response.h"
#include "frontend/server.h"
#include "frontend/worker.h"

enum exec_result exec_noop(struct cookie *ck)
{
    resp_status(ck->conn, &ck->req.h, BIN_STATUS_SUCCESS, 0);
    return EXEC_DONE;
}

enum exec_result exec_quit(struct cookie *ck)
{
    if (!exec_quiet(ck))
        resp_status(ck->conn, &ck->req.h, BIN_STATUS_SUCCESS, 0);
    return EXEC_CLOSE;
}

enum exec_result exec_flush(struct cookie *ck)
{
    uint32_t delay = bin_u32_extra(&ck->req);
    rel_time_t when = delay == 0 ? 0 : exec_expiry(delay);
    struct engine *e = exec_engine(ck);
    engine_status s;
    if (!exec_resumed_error(ck, &s))
        s = e->ops->flush(e, ck, when);
    if (s != ENGINE_EWOULDBLOCK)
        exec_count(ck, STATS_cmd_flush);
    return exec_reply(ck, s, 0);
}

enum exec_result exec_test_control(struct cookie *ck)
{
    /* The value stays at the input's head (validated: 1..BIN_TEST_CONTROL_MAX bytes) until the
     * frame finishes, so a run again after a block reads it again. */
    char tmp[BIN_TEST_CONTROL_MAX];
    const char *arg = (const char *)conn_in_peek(ck->conn, tmp, ck->req.vallen);
    struct engine *e = exec_engine(ck);
    engine_status s;
    if (!exec_resumed_error(ck, &s))
        s = e->ops->test_control != NULL ? e->ops->test_control(e, ck, arg, ck->req.vallen)
                                         : ENGINE_NOT_SUPPORTED;
    return exec_reply(ck, s, 0);
}

enum exec_result exec_version(struct cookie *ck)
{
    static const char version[] = BASALT_VERSION;
    struct resp r = {.status = BIN_STATUS_SUCCESS, .value = version, .vallen = sizeof(version) - 1};
    resp_send(ck->conn, &ck->req.h, &r);
    return EXEC_DONE;
}

enum exec_result exec_verbosity(struct cookie *ck)
{
    uint32_t level = bin_u32_extra(&ck->req);
    log_setup(level > 2 ? 2 : (int)level);
    return exec_reply(ck, ENGINE_SUCCESS, 0);
}

/* A stats sink that writes each stat as one STAT response packet. */
static void exec_stat_emit(void *ctx, const char *name, const char *value)
{
    struct cookie *ck = ctx;
    struct resp r = {
        .status = BIN_STATUS_SUCCESS,
        .key = name,
        .keylen = (uint16_t)strlen(name),
        .value = value,
        .vallen = (uint32_t)strlen(value),
    };
    resp_send(ck->conn, &ck->req.h, &r);
}

static bool exec_stat_group(const struct cookie *ck, const char *group)
{
    size_t n = strlen(group);
    return ck->req.h.keylen == n && memcmp(ck->req.key, group, n) == 0;
}

enum exec_result exec_stat(struct cookie *ck)
{
    struct frontend *fe = ck->conn->worker->fe;
    struct stats_sink sink = {.emit = exec_stat_emit, .ctx = ck};
    if (ck->req.h.keylen == 0) {
        server_emit_general(fe, &sink);
    } else if (exec_stat_group(ck, "settings")) {
        server_emit_settings(fe, &sink);
    } else if (exec_stat_group(ck, "reset")) {
        server_reset_stats(fe);
        /* memcached answers a reset with the terminating packet only. */
    } else {
        resp_error(ck->conn, &ck->req.h, BIN_STATUS_KEY_ENOENT);
        return EXEC_DONE;
    }
    resp_status(ck->conn, &ck->req.h, BIN_STATUS_SUCCESS, 0);
    return EXEC_DONE;
}
