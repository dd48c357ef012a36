/*
 * The text `stats` command: the general group, settings, items, slabs,
 * conns and reset, written as "STAT <name> <value>" lines ending in END.
 * Worker thread.
 */
#include <arpa/inet.h>
#include <event2/bufferevent.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "frontend/conn.h"
#include "frontend/exec_internal.h"
#include "frontend/exec_text.h"
#include "frontend/server.h"
#include "frontend/worker.h"

/* A stats sink that writes one "STAT name value" line per stat. */
static void exec_text_stat_emit(void *ctx, const char *name, const char *value)
{
    char line[512];
    int n = snprintf(line, sizeof(line), "STAT %s %s\r\n", name, value);
    if (n > 0 && (size_t)n < sizeof(line))
        exec_text_out(ctx, line, (size_t)n);
}

static bool stats_group_is(const struct text_tok *g, const char *name)
{
    size_t n = strlen(name);
    return g->len == n && memcmp(g->s, name, n) == 0;
}

/* The memory engine has no slab classes: one class, 1, holds every item. */
static void exec_text_stats_items(struct frontend *fe, const struct stats_sink *sink)
{
    struct engine_stats es = {0};
    fe->engine->ops->get_stats(fe->engine, &es);
    stats_emit_u64(sink, "items:1:number", es.curr_items);
    stats_emit_u64(sink, "items:1:evicted", es.evictions);
    stats_emit_u64(sink, "items:1:evicted_unfetched", es.evicted_unfetched);
    stats_emit_u64(sink, "items:1:expired_unfetched", es.expired_unfetched);
    stats_emit_u64(sink, "items:1:reclaimed", es.reclaimed);
}

static void exec_text_stats_slabs(struct frontend *fe, const struct stats_sink *sink)
{
    struct engine_stats es = {0};
    fe->engine->ops->get_stats(fe->engine, &es);
    stats_emit_u64(sink, "1:used_chunks", es.curr_items);
    stats_emit_u64(sink, "1:mem_requested", es.bytes);
    stats_emit_u64(sink, "active_slabs", es.curr_items > 0 ? 1 : 0);
    stats_emit_u64(sink, "total_malloced", es.bytes);
}

/* One connection's address and state; only this worker's connections are safe to read. */
static void exec_text_stats_conn(struct conn *c, const struct stats_sink *sink)
{
    int fd = c->bev != NULL ? (int)bufferevent_getfd(c->bev) : -1;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char host[INET6_ADDRSTRLEN] = "?", name[64], value[INET6_ADDRSTRLEN + 16];
    int port = 0;
    if (fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *in = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
            port = ntohs(in->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
            port = ntohs(in6->sin6_port);
        }
    }
    snprintf(name, sizeof(name), "%d:addr", fd);
    snprintf(value, sizeof(value), "tcp:%s:%d", host, port);
    stats_emit_str(sink, name, value);
    snprintf(name, sizeof(name), "%d:protocol", fd);
    stats_emit_str(sink, name, c->text ? "ascii" : "binary");
    snprintf(name, sizeof(name), "%d:state", fd);
    stats_emit_str(sink, name, c->state == CONN_BLOCKED ? "conn_waiting" : "conn_parse_cmd");
}

enum exec_result exec_text_stats(struct cookie *ck)
{
    struct worker *w = ck->conn->worker;
    struct frontend *fe = w->fe;
    struct stats_sink sink = {.emit = exec_text_stat_emit, .ctx = ck};
    const struct text_tok *g = &ck->text->req.arg;
    if (g->len == 0) {
        server_emit_general(fe, &sink);
    } else if (stats_group_is(g, "settings")) {
        server_emit_settings(fe, &sink);
    } else if (stats_group_is(g, "items")) {
        exec_text_stats_items(fe, &sink);
    } else if (stats_group_is(g, "slabs")) {
        exec_text_stats_slabs(fe, &sink);
    } else if (stats_group_is(g, "conns")) {
        for (struct conn *c = w->conns; c != NULL; c = c->next)
            exec_text_stats_conn(c, &sink);
    } else if (stats_group_is(g, "reset")) {
        server_reset_stats(fe);
        exec_text_line(ck, "RESET\r\n");
        return EXEC_DONE;
    } else {
        exec_text_line(ck, "ERROR\r\n");
        return EXEC_DONE;
    }
    exec_text_line(ck, "END\r\n");
    return EXEC_DONE;
}
