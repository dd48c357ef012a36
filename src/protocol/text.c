/*
 * Text protocol command lines: tokenizing, per-command checks and the reply
 * strings of refused lines. Follows memcached's protocol.txt: tokens are
 * separated by spaces, commands are case-sensitive, numbers are plain
 * decimals. Pure; any thread.
 */
#include "protocol/text.h"

#include <stddef.h>
#include <string.h>

#include "protocol/meta.h"

/* Splits line into at most max tokens; returns the count, or max + 1 when there are more. */
static size_t text_tokenize(const char *line, size_t len, struct text_tok *tok, size_t max)
{
    size_t n = 0, i = 0;
    while (i < len) {
        while (i < len && line[i] == ' ')
            i++;
        if (i == len)
            break;
        size_t start = i;
        while (i < len && line[i] != ' ')
            i++;
        if (n == max)
            return max + 1;
        tok[n].s = line + start;
        tok[n].len = (uint32_t)(i - start);
        n++;
    }
    return n;
}

static bool tok_is(const struct text_tok *t, const char *word)
{
    size_t n = strlen(word);
    return t->len == n && memcmp(t->s, word, n) == 0;
}

bool text_u64(const struct text_tok *t, uint64_t *out)
{
    if (t->len == 0 || t->len > 20)
        return false;
    uint64_t v = 0;
    for (uint32_t i = 0; i < t->len; i++) {
        unsigned d = (unsigned char)t->s[i] - '0';
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool text_i32(const struct text_tok *t, int32_t *out)
{
    bool neg = t->len > 0 && t->s[0] == '-';
    struct text_tok digits = {t->s + neg, t->len - neg};
    uint64_t v;
    if (!text_u64(&digits, &v) || v > (neg ? 2147483648u : 2147483647u))
        return false;
    *out = neg ? (int32_t)(-(int64_t)v) : (int32_t)v;
    return true;
}

static bool text_u32(const struct text_tok *t, uint32_t *out)
{
    uint64_t v;
    if (!text_u64(t, &v) || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

bool text_key_ok(const char *s, size_t n)
{
    if (n == 0 || n > TEXT_KEY_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= ' ' || ch == 0x7f)
            return false;
    }
    return true;
}

bool text_next_key(struct text_tok *keys, struct text_tok *key)
{
    struct text_tok one;
    size_t n = text_tokenize(keys->s, keys->len, &one, 1);
    if (n == 0)
        return false;
    *key = one;
    const char *end = keys->s + keys->len;
    keys->s = one.s + one.len;
    keys->len = (uint32_t)(end - keys->s);
    return true;
}

bool text_keys_empty(const struct text_tok *keys)
{
    return text_tokenize(keys->s, keys->len, NULL, 0) == 0;
}

bool text_is_storage(enum text_cmd cmd)
{
    return cmd == TEXT_CMD_SET || cmd == TEXT_CMD_ADD || cmd == TEXT_CMD_REPLACE ||
           cmd == TEXT_CMD_APPEND || cmd == TEXT_CMD_PREPEND || cmd == TEXT_CMD_CAS;
}

static const struct {
    const char *name;
    enum text_cmd cmd;
} text_commands[] = {
    {"get", TEXT_CMD_GET},
    {"gets", TEXT_CMD_GETS},
    {"gat", TEXT_CMD_GAT},
    {"gats", TEXT_CMD_GATS},
    {"set", TEXT_CMD_SET},
    {"add", TEXT_CMD_ADD},
    {"replace", TEXT_CMD_REPLACE},
    {"append", TEXT_CMD_APPEND},
    {"prepend", TEXT_CMD_PREPEND},
    {"cas", TEXT_CMD_CAS},
    {"delete", TEXT_CMD_DELETE},
    {"incr", TEXT_CMD_INCR},
    {"decr", TEXT_CMD_DECR},
    {"touch", TEXT_CMD_TOUCH},
    {"flush_all", TEXT_CMD_FLUSH_ALL},
    {"version", TEXT_CMD_VERSION},
    {"verbosity", TEXT_CMD_VERBOSITY},
    {"quit", TEXT_CMD_QUIT},
    {"stats", TEXT_CMD_STATS},
    {"shutdown", TEXT_CMD_SHUTDOWN},
    {"refresh_certs", TEXT_CMD_REFRESH_CERTS},
    {"mg", TEXT_CMD_MG},
    {"ms", TEXT_CMD_MS},
    {"md", TEXT_CMD_MD},
    {"ma", TEXT_CMD_MA},
    {"mn", TEXT_CMD_MN},
    {"me", TEXT_CMD_ME},
};

static bool text_lookup(const struct text_tok *t, enum text_cmd *cmd)
{
    for (size_t i = 0; i < sizeof(text_commands) / sizeof(text_commands[0]); i++) {
        if (tok_is(t, text_commands[i].name)) {
            *cmd = text_commands[i].cmd;
            return true;
        }
    }
    return false;
}

bool text_is_retrieval(const char *p, size_t len)
{
    static const char *const prefixes[] = {"get ", "gets ", "gat ", "gats "};
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t n = strlen(prefixes[i]);
        if (len >= n && memcmp(p, prefixes[i], n) == 0)
            return true;
    }
    return false;
}

/* "GET / HTTP/1.1" and friends: an upper-case method and an HTTP version at the end. */
static bool text_is_http(const struct text_tok *tok, size_t n)
{
    if (n < 2 || tok[n - 1].len < 5 || memcmp(tok[n - 1].s, "HTTP/", 5) != 0)
        return false;
    for (uint32_t i = 0; i < tok[0].len; i++) {
        if (tok[0].s[i] < 'A' || tok[0].s[i] > 'Z')
            return false;
    }
    return true;
}

/* get/gets: the key list; gat/gats: an expiry, then the key list. Every key is checked. */
static enum text_verdict text_parse_retrieval(const char *line, size_t len, struct text_req *r)
{
    struct text_tok rest = {line, (uint32_t)len}, t;
    (void)text_next_key(&rest, &t); /* the command itself */
    if (r->cmd == TEXT_CMD_GAT || r->cmd == TEXT_CMD_GATS) {
        if (!text_next_key(&rest, &t))
            return TEXT_ERR_UNKNOWN;
        if (!text_i32(&t, &r->exptime))
            return TEXT_ERR_EXPTIME;
    }
    r->keys = rest;
    struct text_tok scan = rest, key;
    bool any = false;
    while (text_next_key(&scan, &key)) {
        if (!text_key_ok(key.s, key.len))
            return TEXT_ERR_FORMAT;
        any = true;
    }
    /* memcached answers "gat <exptime>" without keys with END. */
    return any || r->cmd == TEXT_CMD_GAT || r->cmd == TEXT_CMD_GATS ? TEXT_OK : TEXT_ERR_UNKNOWN;
}

/* Takes a trailing "noreply" off the token count. */
static size_t text_noreply(const struct text_tok *tok, size_t n, size_t min, struct text_req *r)
{
    if (n > min && tok_is(&tok[n - 1], "noreply")) {
        r->noreply = true;
        return n - 1;
    }
    return n;
}

/* set/add/replace/append/prepend <key> <flags> <exptime> <bytes> [noreply]; cas adds <cas>. */
static enum text_verdict text_parse_storage(const struct text_tok *tok, size_t n,
                                            struct text_req *r)
{
    size_t want = r->cmd == TEXT_CMD_CAS ? 6 : 5;
    if (n != want && n != want + 1)
        return TEXT_ERR_UNKNOWN;
    if (n == want + 1)
        r->noreply = tok_is(&tok[want], "noreply");
    int32_t vlen;
    if (!text_key_ok(tok[1].s, tok[1].len) || !text_u32(&tok[2], &r->flags) ||
        !text_i32(&tok[3], &r->exptime) || !text_i32(&tok[4], &vlen) || vlen < 0)
        return TEXT_ERR_FORMAT;
    if (r->cmd == TEXT_CMD_CAS && !text_u64(&tok[5], &r->cas))
        return TEXT_ERR_FORMAT;
    r->key = tok[1];
    r->vallen = (uint32_t)vlen;
    return TEXT_OK;
}

/* delete <key> [0] [noreply] */
static enum text_verdict text_parse_delete(const struct text_tok *tok, size_t n, struct text_req *r)
{
    n = text_noreply(tok, n, 2, r);
    if (n < 2)
        return TEXT_ERR_UNKNOWN;
    if (n > 3 || (n == 3 && !tok_is(&tok[2], "0")))
        return TEXT_ERR_DELETE;
    if (!text_key_ok(tok[1].s, tok[1].len))
        return TEXT_ERR_FORMAT;
    r->key = tok[1];
    return TEXT_OK;
}

/* incr/decr <key> <delta> [noreply]; touch <key> <exptime> [noreply] */
static enum text_verdict text_parse_key_arg(const struct text_tok *tok, size_t n,
                                            struct text_req *r)
{
    /* As memcached: a fourth token is noreply when it says so, and ignored otherwise. */
    if (n != 3 && n != 4)
        return TEXT_ERR_UNKNOWN;
    r->noreply = n == 4 && tok_is(&tok[3], "noreply");
    if (!text_key_ok(tok[1].s, tok[1].len))
        return TEXT_ERR_FORMAT;
    r->key = tok[1];
    if (r->cmd == TEXT_CMD_TOUCH)
        return text_i32(&tok[2], &r->exptime) ? TEXT_OK : TEXT_ERR_EXPTIME;
    return text_u64(&tok[2], &r->delta) ? TEXT_OK : TEXT_ERR_DELTA;
}

/* Commands without a key: flush_all, version, verbosity, quit, stats, shutdown,
 * refresh_certs, mn. */
static enum text_verdict text_parse_other(const struct text_tok *tok, size_t n, struct text_req *r)
{
    switch (r->cmd) {
    case TEXT_CMD_FLUSH_ALL:
        n = text_noreply(tok, n, 1, r);
        if (n > 2)
            return TEXT_ERR_UNKNOWN;
        return n == 1 || text_i32(&tok[1], &r->exptime) ? TEXT_OK : TEXT_ERR_EXPTIME;
    case TEXT_CMD_VERBOSITY:
        if (n < 2 || n > 3)
            return TEXT_ERR_UNKNOWN;
        r->noreply = tok_is(&tok[n - 1], "noreply");
        /* As memcached: "verbosity noreply" is accepted silently. */
        if (n == 2 && r->noreply)
            return TEXT_OK;
        return text_u32(&tok[1], &r->level) ? TEXT_OK : TEXT_ERR_FORMAT;
    case TEXT_CMD_STATS:
        if (n > 2)
            return TEXT_ERR_UNKNOWN;
        r->arg = n == 2 ? tok[1] : (struct text_tok){tok[0].s + tok[0].len, 0};
        return TEXT_OK;
    case TEXT_CMD_SHUTDOWN:
        r->arg = n >= 2 ? tok[1] : (struct text_tok){tok[0].s + tok[0].len, 0};
        return n <= 2 ? TEXT_OK : TEXT_ERR_UNKNOWN;
    case TEXT_CMD_MN:
        return TEXT_OK; /* memcached ignores anything after mn */
    default:            /* version, quit, refresh_certs */
        return n == 1 ? TEXT_OK : TEXT_ERR_UNKNOWN;
    }
}

/* Points t at to + its offset in from, when it points into from's len bytes. */
static void text_tok_rebase(struct text_tok *t, const char *from, size_t len, const char *to)
{
    if (t->s != NULL && t->s >= from && t->s <= from + len)
        t->s = to + (t->s - from);
}

void text_req_rebase(struct text_req *r, const char *from, size_t len, const char *to)
{
    text_tok_rebase(&r->key, from, len, to);
    text_tok_rebase(&r->keys, from, len, to);
    text_tok_rebase(&r->arg, from, len, to);
    for (uint64_t bits = r->meta.present; bits != 0; bits &= bits - 1)
        text_tok_rebase(&r->meta.arg[__builtin_ctzll(bits)], from, len, to);
}

/* The part of a text_req before the meta flag arguments, which count only where present. */
#define TEXT_REQ_FIXED offsetof(struct text_req, meta.arg)

void text_req_copy(struct text_req *dst, const struct text_req *src)
{
    memcpy(dst, src, TEXT_REQ_FIXED);
    for (uint64_t bits = src->meta.present; bits != 0; bits &= bits - 1) {
        int b = __builtin_ctzll(bits);
        dst->meta.arg[b] = src->meta.arg[b];
    }
}

enum text_verdict text_parse(const char *line, size_t len, struct text_req *r)
{
    /* Not the 52 flag arguments (most of the struct): present says which are set. */
    memset(r, 0, TEXT_REQ_FIXED);
    struct text_tok tok[TEXT_TOKENS_MAX];
    size_t n = text_tokenize(line, len, tok, TEXT_TOKENS_MAX);
    if (n == 0)
        return TEXT_ERR_UNKNOWN;
    size_t shown = n > TEXT_TOKENS_MAX ? TEXT_TOKENS_MAX : n;
    if (!text_lookup(&tok[0], &r->cmd))
        return text_is_http(tok, shown) ? TEXT_ERR_HTTP : TEXT_ERR_UNKNOWN;
    switch (r->cmd) {
    case TEXT_CMD_GET:
    case TEXT_CMD_GETS:
    case TEXT_CMD_GAT:
    case TEXT_CMD_GATS:
        return text_parse_retrieval(line, len, r);
    case TEXT_CMD_MG:
    case TEXT_CMD_MS:
    case TEXT_CMD_MD:
    case TEXT_CMD_MA:
    case TEXT_CMD_ME:
        if (n > TEXT_TOKENS_MAX)
            return TEXT_ERR_FORMAT;
        return meta_parse(tok, n, r);
    default:
        break;
    }
    if (n > TEXT_TOKENS_MAX)
        return TEXT_ERR_UNKNOWN;
    if (text_is_storage(r->cmd))
        return text_parse_storage(tok, n, r);
    if (r->cmd == TEXT_CMD_DELETE)
        return text_parse_delete(tok, n, r);
    if (r->cmd == TEXT_CMD_INCR || r->cmd == TEXT_CMD_DECR || r->cmd == TEXT_CMD_TOUCH)
        return text_parse_key_arg(tok, n, r);
    return text_parse_other(tok, n, r);
}

const char *text_verdict_reply(enum text_verdict v)
{
    switch (v) {
    case TEXT_OK:
    case TEXT_ERR_HTTP:
        return "";
    case TEXT_ERR_FORMAT:
        return "CLIENT_ERROR bad command line format\r\n";
    case TEXT_ERR_INVALID_FLAG:
        return "CLIENT_ERROR invalid flag\r\n";
    case TEXT_ERR_KEY:
        return "CLIENT_ERROR error decoding key\r\n";
    case TEXT_ERR_DELETE:
        return "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n";
    case TEXT_ERR_DELTA:
        return "CLIENT_ERROR invalid numeric delta argument\r\n";
    case TEXT_ERR_EXPTIME:
        return "CLIENT_ERROR invalid exptime argument\r\n";
    case TEXT_ERR_BAD_TOKEN:
        return "CLIENT_ERROR bad token in command line format\r\n";
    case TEXT_ERR_DUP_FLAG:
        return "CLIENT_ERROR duplicate flag\r\n";
    case TEXT_ERR_OPAQUE:
        return "CLIENT_ERROR opaque token too long\r\n";
    case TEXT_ERR_UNKNOWN:
    default:
        return "ERROR\r\n";
    }
}
