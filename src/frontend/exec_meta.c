/*
 * Meta protocol executors: mg, ms, md, ma, me (mn is answered with the text
 * commands). Replies are a two-letter code (HD VA EN NF NS EX) followed by
 * the return flags in the order the request gave them; q hides the codes a
 * pipeline does not need (mg: EN; ms, md and ma: HD), and mn
 * ends such a pipeline. Commands with two engine steps (ma with t or T)
 * keep their progress in the cookie, so a step that would block resumes
 * rather than repeats. Worker thread.
 */
#include <stdio.h>
#include <string.h>

#include "frontend/conn.h"
#include "frontend/exec_internal.h"
#include "frontend/exec_text.h"
#include "frontend/response.h"
#include "protocol/meta.h"

/* One reply line being built. */
struct meta_out {
    char buf[1024];
    size_t n;
};

static void out_str(struct meta_out *o, const char *s, size_t n)
{
    if (o->n + n < sizeof(o->buf)) {
        memcpy(o->buf + o->n, s, n);
        o->n += n;
    }
}

static void out_fmt_u64(struct meta_out *o, char flag, uint64_t v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof(tmp), " %c%llu", flag, (unsigned long long)v);
    out_str(o, tmp, (size_t)n);
}

/* The flags every reply echoes: O (opaque), k (key, with b when it is base64). */
static void out_echo(struct meta_out *o, const struct meta_flags *m, char letter,
                     const struct text_req *r)
{
    if (letter == 'O') {
        out_str(o, " O", 2);
        out_str(o, meta_arg(m, 'O').s, meta_arg(m, 'O').len);
    } else if (letter == 'k') {
        out_str(o, " k", 2);
        out_str(o, r->key.s, r->key.len);
        if (meta_has(m, 'b'))
            out_str(o, " b", 2);
    }
}

/* Sends "<code><echoed flags>\r\n" unless quiet hides this code. */
static void meta_status(struct cookie *ck, const char *code, bool hidden_when_quiet)
{
    const struct text_req *r = &ck->text->req;
    if (hidden_when_quiet && r->noreply)
        return;
    struct meta_out o = {.n = 0};
    out_str(&o, code, strlen(code));
    for (uint8_t i = 0; i < r->meta.norder; i++)
        out_echo(&o, &r->meta, r->meta.order[i], r);
    out_str(&o, "\r\n", 2);
    exec_text_out(ck, o.buf, o.n);
}

/* A TTL flag (T, N) as server time; a negative TTL is already expired. */
static rel_time_t meta_ttl(const struct meta_flags *m, char letter)
{
    int32_t v = 0;
    if (!meta_i32(m, letter, &v))
        return 0;
    return exec_text_expiry(v);
}

/* " t<seconds left>" or " t-1" for an item that never expires. */
static void out_ttl(struct meta_out *o, rel_time_t exptime)
{
    if (exptime == 0) {
        out_str(o, " t-1", 4);
        return;
    }
    rel_time_t now = clock_now();
    out_fmt_u64(o, 't', exptime > now ? exptime - now : 0);
}

/* Finds the item for mg: through meta_get when the engine has it, else a plain (touching) get. */
static engine_status meta_lookup(struct cookie *ck, struct engine_meta_get *m, struct item **it)
{
    struct cookie_text *t = ck->text;
    const struct meta_flags *f = &t->req.meta;
    struct engine *e = exec_engine(ck);
    m->touch = meta_has(f, 'T');
    m->exptime = meta_ttl(f, 'T');
    m->vivify = meta_has(f, 'N');
    m->vivify_exptime = meta_ttl(f, 'N');
    int32_t r = 0;
    m->recache = meta_i32(f, 'R', &r);
    m->recache_before = clock_now() + (rel_time_t)(r > 0 ? r : 0);
    if (e->ops->meta_get != NULL)
        return e->ops->meta_get(e, ck, t->key, t->nkey, m, it);
    if (m->touch)
        return e->ops->get_and_touch(e, ck, t->key, t->nkey, m->exptime, it);
    return e->ops->get(e, ck, t->key, t->nkey, it);
}

/* The return flags of an mg hit, in request order, then Z, X and W. */
static void mg_flags(struct meta_out *o, const struct text_req *r, const struct item *it,
                     const struct engine_meta_get *m)
{
    for (uint8_t i = 0; i < r->meta.norder; i++) {
        char letter = r->meta.order[i];
        switch (letter) {
        case 'c':
            out_fmt_u64(o, 'c', it->cas);
            break;
        case 'f':
            out_fmt_u64(o, 'f', it->flags);
            break;
        case 'h':
            out_str(o, m->fetched ? " h1" : " h0", 3);
            break;
        case 'l':
            out_fmt_u64(o, 'l', m->last_access ? clock_now() - m->last_access : 0);
            break;
        case 's':
            out_fmt_u64(o, 's', it->nbytes);
            break;
        case 't':
            out_ttl(o, m->exptime_now);
            break;
        default:
            out_echo(o, &r->meta, letter, r);
        }
    }
    if (m->win_sent)
        out_str(o, " Z", 2);
    if (m->stale)
        out_str(o, " X", 2);
    if (m->won)
        out_str(o, " W", 2);
}

static enum exec_result exec_mg(struct cookie *ck)
{
    const struct text_req *r = &ck->text->req;
    struct engine_meta_get m = {0};
    struct item *it = NULL;
    engine_status s = meta_lookup(ck, &m, &it);
    if (s == ENGINE_EWOULDBLOCK)
        return EXEC_WOULDBLOCK;
    exec_count(ck, STATS_cmd_get);
    if (s == ENGINE_KEY_ENOENT) {
        exec_count(ck, STATS_get_misses);
        meta_status(ck, "EN", true);
        return EXEC_DONE;
    }
    if (s != ENGINE_SUCCESS) {
        exec_text_engine_error(ck, s);
        return s == ENGINE_DISCONNECT ? EXEC_CLOSE : EXEC_DONE;
    }
    exec_count(ck, STATS_get_hits);
    if (exec_engine(ck)->ops->meta_get == NULL)
        m.exptime_now = m.touch ? m.exptime : 0; /* best effort without the engine's state */
    bool value = meta_has(&r->meta, 'v');
    struct meta_out o = {.n = 0};
    if (value) {
        char head[24];
        int n = snprintf(head, sizeof(head), "VA %u", it->nbytes);
        out_str(&o, head, (size_t)n);
    } else {
        out_str(&o, "HD", 2);
    }
    mg_flags(&o, r, it, &m);
    out_str(&o, "\r\n", 2);
    exec_text_out(ck, o.buf, o.n);
    if (value) {
        resp_add_value(ck->conn, it, item_cvalue(it), it->nbytes);
        exec_text_out(ck, "\r\n", 2);
    }
    item_unref(it);
    return EXEC_DONE;
}

/* ms's M flag: E add, A append, P prepend, R replace, S set (either case). */
static bool ms_mode(const struct meta_flags *f, enum engine_store_op *op)
{
    *op = ENGINE_STORE_SET;
    if (!meta_has(f, 'M'))
        return true;
    switch (meta_arg(f, 'M').s[0]) {
    case 'E':
    case 'e':
        *op = ENGINE_STORE_ADD;
        return true;
    case 'A':
    case 'a':
        *op = ENGINE_STORE_APPEND;
        return true;
    case 'P':
    case 'p':
        *op = ENGINE_STORE_PREPEND;
        return true;
    case 'R':
    case 'r':
        *op = ENGINE_STORE_REPLACE;
        return true;
    case 'S':
    case 's':
        return true;
    default:
        return false;
    }
}

/* HD with ms's return flags (c: the new CAS, O, k). */
static void ms_stored(struct cookie *ck, uint64_t cas)
{
    const struct text_req *r = &ck->text->req;
    if (r->noreply)
        return;
    struct meta_out o = {.n = 0};
    out_str(&o, "HD", 2);
    for (uint8_t i = 0; i < r->meta.norder; i++) {
        if (r->meta.order[i] == 'c')
            out_fmt_u64(&o, 'c', cas);
        else
            out_echo(&o, &r->meta, r->meta.order[i], r);
    }
    out_str(&o, "\r\n", 2);
    exec_text_out(ck, o.buf, o.n);
}

static enum exec_result exec_ms(struct cookie *ck)
{
    struct cookie_text *t = ck->text;
    const struct meta_flags *f = &t->req.meta;
    uint64_t cmp = 0, explicit_cas = 0, flags = 0;
    struct exec_store_args a = {.key = t->key, .nkey = t->nkey, .vallen = t->req.vallen};
    if (!ms_mode(f, &a.op)) {
        exec_text_line(ck, "CLIENT_ERROR invalid mode for ms M token\r\n");
        return EXEC_DONE;
    }
    a.cas = meta_u64(f, 'C', &cmp) ? cmp : 0;
    /* I: an older CAS still stores, marking the item stale (only a plain set can). */
    if (meta_has(f, 'I') && a.op == ENGINE_STORE_SET && a.cas != 0)
        a.op = ENGINE_STORE_INVALIDATE;
    a.flags = meta_u64(f, 'F', &flags) ? (uint32_t)flags : 0;
    a.exptime = meta_ttl(f, 'T');
    if (ck->item == NULL) {
        bool bad = false;
        engine_status s = exec_text_fill(ck, &a, &bad);
        if (s == ENGINE_EWOULDBLOCK)
            return EXEC_WOULDBLOCK;
        if (s != ENGINE_SUCCESS || bad) {
            if (bad)
                exec_text_line(ck, "CLIENT_ERROR bad data chunk\r\n");
            else
                exec_text_engine_error(ck, s);
            return EXEC_DONE;
        }
        if (meta_u64(f, 'E', &explicit_cas))
            ck->item->cas = explicit_cas;
    }
    uint64_t cas = 0;
    engine_status s = exec_store_commit(ck, &a, &cas);
    if (s == ENGINE_EWOULDBLOCK)
        return EXEC_WOULDBLOCK;
    if (s == ENGINE_SUCCESS)
        ms_stored(ck, cas);
    else if (s == ENGINE_KEY_EEXISTS && a.op != ENGINE_STORE_ADD)
        meta_status(ck, "EX", false);
    else if (s == ENGINE_KEY_ENOENT && a.cas != 0)
        meta_status(ck, "NF", false);
    else if (s == ENGINE_KEY_EEXISTS || s == ENGINE_KEY_ENOENT || s == ENGINE_NOT_STORED)
        meta_status(ck, "NS", false);
    else
        exec_text_engine_error(ck, s);
    return EXEC_DONE;
}

static enum exec_result exec_md(struct cookie *ck)
{
    struct cookie_text *t = ck->text;
    const struct meta_flags *f = &t->req.meta;
    struct engine *e = exec_engine(ck);
    uint64_t cas = 0;
    if (!meta_u64(f, 'C', &cas))
        cas = 0;
    engine_status s;
    if (meta_has(f, 'I') && e->ops->invalidate != NULL)
        s = e->ops->invalidate(e, ck, t->key, t->nkey, cas, meta_has(f, 'T'), meta_ttl(f, 'T'));
    else
        s = e->ops->remove(e, ck, t->key, t->nkey, cas);
    if (s == ENGINE_EWOULDBLOCK)
        return EXEC_WOULDBLOCK;
    if (s == ENGINE_SUCCESS || s == ENGINE_KEY_ENOENT)
        exec_count(ck, s == ENGINE_SUCCESS ? STATS_delete_hits : STATS_delete_misses);
    if (s == ENGINE_SUCCESS)
        meta_status(ck, "HD", true);
    else if (s == ENGINE_KEY_ENOENT)
        meta_status(ck, "NF", false);
    else if (s == ENGINE_KEY_EEXISTS)
        meta_status(ck, "EX", false);
    else
        exec_text_engine_error(ck, s);
    return s == ENGINE_DISCONNECT ? EXEC_CLOSE : EXEC_DONE;
}

/* ma's arguments: M (I + incr, D - decr), D delta (1), J initial (0), N autovivify TTL, C. */
static bool ma_args(const struct meta_flags *f, struct engine_arith *a)
{
    *a = (struct engine_arith){.incr = true, .delta = 1};
    if (meta_has(f, 'M')) {
        char mode = meta_arg(f, 'M').s[0];
        if (mode == 'D' || mode == 'd' || mode == '-')
            a->incr = false;
        else if (mode != 'I' && mode != 'i' && mode != '+')
            return false;
    }
    uint64_t v;
    if (meta_u64(f, 'D', &v))
        a->delta = v;
    if (meta_u64(f, 'J', &v))
        a->initial = v;
    if (meta_u64(f, 'C', &v))
        a->cas = v;
    a->create = meta_has(f, 'N');
    a->exptime = meta_ttl(f, 'N');
    return true;
}

/* HD or "VA <len>" with ma's return flags, then the number when v was asked. */
static void ma_reply(struct cookie *ck, rel_time_t exptime)
{
    struct cookie_text *t = ck->text;
    const struct text_req *r = &t->req;
    bool value = meta_has(&r->meta, 'v');
    if (r->noreply)
        return; /* as memcached 1.6: q hides a successful ma, value or not */
    char num[24];
    int len = snprintf(num, sizeof(num), "%llu", (unsigned long long)t->number);
    struct meta_out o = {.n = 0};
    if (value) {
        char head[16];
        int n = snprintf(head, sizeof(head), "VA %d", len);
        out_str(&o, head, (size_t)n);
    } else {
        out_str(&o, "HD", 2);
    }
    for (uint8_t i = 0; i < r->meta.norder; i++) {
        char letter = r->meta.order[i];
        if (letter == 'c')
            out_fmt_u64(&o, 'c', t->cas);
        else if (letter == 't')
            out_ttl(&o, exptime);
        else
            out_echo(&o, &r->meta, letter, r);
    }
    out_str(&o, "\r\n", 2);
    exec_text_out(ck, o.buf, o.n);
    if (value) {
        exec_text_out(ck, num, (size_t)len);
        exec_text_out(ck, "\r\n", 2);
    }
}

/* ma's second step (t or T asked): set and read the expiry through a meta get. */
static engine_status ma_ttl(struct cookie *ck, rel_time_t *exptime)
{
    struct cookie_text *t = ck->text;
    const struct meta_flags *f = &t->req.meta;
    struct engine *e = exec_engine(ck);
    *exptime = 0;
    if (!meta_has(f, 't') && !meta_has(f, 'T'))
        return ENGINE_SUCCESS;
    struct engine_meta_get m = {.touch = meta_has(f, 'T'), .exptime = meta_ttl(f, 'T')};
    struct item *it = NULL;
    engine_status s = e->ops->meta_get != NULL
                          ? e->ops->meta_get(e, ck, t->key, t->nkey, &m, &it)
                          : e->ops->get_and_touch(e, ck, t->key, t->nkey, m.exptime, &it);
    if (s == ENGINE_SUCCESS) {
        *exptime = e->ops->meta_get != NULL ? m.exptime_now : m.exptime;
        item_unref(it);
    }
    return s == ENGINE_KEY_ENOENT ? ENGINE_SUCCESS : s; /* removed meanwhile: report no TTL */
}

static enum exec_result exec_ma(struct cookie *ck)
{
    struct cookie_text *t = ck->text;
    if (t->phase == 0) {
        struct engine_arith a;
        if (!ma_args(&t->req.meta, &a)) {
            exec_text_line(ck, "CLIENT_ERROR invalid mode for ma M token\r\n");
            return EXEC_DONE;
        }
        engine_status s = exec_arith_call(ck, t->key, t->nkey, &a, &t->number, &t->cas);
        if (s == ENGINE_EWOULDBLOCK)
            return EXEC_WOULDBLOCK;
        if (s == ENGINE_KEY_ENOENT)
            meta_status(ck, a.create && a.cas == 0 ? "NS" : "NF", false);
        else if (s == ENGINE_KEY_EEXISTS)
            meta_status(ck, "EX", false);
        else if (s == ENGINE_DELTA_BADVAL)
            exec_text_line(ck, "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
        else if (s != ENGINE_SUCCESS)
            exec_text_engine_error(ck, s);
        if (s != ENGINE_SUCCESS)
            return EXEC_DONE;
        t->phase = 1;
    }
    rel_time_t exptime = 0;
    engine_status s = ma_ttl(ck, &exptime);
    if (s == ENGINE_EWOULDBLOCK)
        return EXEC_WOULDBLOCK;
    ma_reply(ck, exptime);
    return EXEC_DONE;
}

/* me <key>: memcached's debug line; through meta_get, so it counts as an access. */
static enum exec_result exec_me(struct cookie *ck)
{
    struct engine_meta_get m = {0};
    struct item *it = NULL;
    struct cookie_text *t = ck->text;
    struct engine *e = exec_engine(ck);
    if (e->ops->meta_get == NULL) {
        exec_text_line(ck, "SERVER_ERROR not supported\r\n");
        return EXEC_DONE;
    }
    engine_status s = e->ops->meta_get(e, ck, t->key, t->nkey, &m, &it);
    if (s == ENGINE_EWOULDBLOCK)
        return EXEC_WOULDBLOCK;
    if (s != ENGINE_SUCCESS) {
        exec_text_line(ck, "EN\r\n");
        return EXEC_DONE;
    }
    rel_time_t now = clock_now();
    char line[TEXT_KEY_MAX + 160];
    long long exp = m.exptime_now == 0 ? -1 : (long long)(m.exptime_now - now);
    int n =
        snprintf(line, sizeof(line), "ME %.*s exp=%lld la=%u cas=%llu fetch=%s cls=1 size=%zu\r\n",
                 (int)t->req.key.len, t->req.key.s, exp, m.last_access ? now - m.last_access : 0,
                 (unsigned long long)it->cas, m.fetched ? "yes" : "no",
                 item_total_size(it->nkey, it->nbytes));
    exec_text_out(ck, line, (size_t)n);
    item_unref(it);
    return EXEC_DONE;
}

enum exec_result exec_meta_run(struct cookie *ck)
{
    struct cookie_text *t = ck->text;
    if (meta_has(&t->req.meta, 'b') && t->phase == 0 && t->nkey == t->req.key.len)
        t->nkey = meta_key_decode(&t->req.key, t->key);
    switch (t->req.cmd) {
    case TEXT_CMD_MG:
        return exec_mg(ck);
    case TEXT_CMD_MS:
        return exec_ms(ck);
    case TEXT_CMD_MD:
        return exec_md(ck);
    case TEXT_CMD_MA:
        return exec_ma(ck);
    default:
        return exec_me(ck);
    }
}
