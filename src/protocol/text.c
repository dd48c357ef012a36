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

/*
 * Finds the token at or after *i (past spaces) into *t and moves *i past it;
 * false when only spaces are left. A byte loop: tokens are short, shorter
 * than what a memchr call costs.
 */
static bool text_token(const char *line, size_t len, size_t *i, struct text_tok *t)
{
    size_t j = *i;
    while (j < len && line[j] == ' ')
        j++;
    if (j == len)
        return false;
    size_t start = j;
    while (j < len && line[j] != ' ')
        j++;
    *t = (struct text_tok){line + start, (uint32_t)(j - start)};
    *i = j;
    return true;
}

/* Splits line into at most max tokens; returns the count, or max + 1 when there are more. */
static size_t text_tokenize(const char *line, size_t len, struct text_tok *tok, size_t max)
{
    size_t n = 0, i = 0;
    struct text_tok t;
    while (text_token(line, len, &i, &t)) {
        if (n == max)
            return max + 1;
        tok[n++] = t;
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

/* A byte a key may hold: not a space, a control character or DEL. */
static inline bool text_key_byte(char ch)
{
    return (unsigned char)ch > ' ' && ch != 0x7f;
}

bool text_key_ok(const char *s, size_t n)
{
    if (n == 0 || n > TEXT_KEY_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!text_key_byte(s[i]))
            return false;
    }
    return true;
}

bool text_next_key(struct text_tok *keys, struct text_tok *key)
{
    size_t i = 0;
    bool found = text_token(keys->s, keys->len, &i, key);
    keys->s += i;
    keys->len -= (uint32_t)i;
    return found;
}

bool text_pop_key(struct text_tok *keys, uint32_t *left, struct text_tok *key)
{
    if (*left == 0)
        return false;
    if (--*left > 0)
        return text_next_key(keys, key);
    /* The list ends at its last key: past the blanks before it, the rest is the key. */
    size_t i = 0;
    while (i < keys->len && keys->s[i] == ' ')
        i++;
    *key = (struct text_tok){keys->s + i, (uint32_t)(keys->len - i)};
    *keys = (struct text_tok){keys->s + keys->len, 0};
    return true;
}

/* The command a token names: by length, then by its bytes (no table scan: runs for every line). */
static bool text_lookup(const struct text_tok *t, enum text_cmd *cmd)
{
#define TEXT_IS(word, c) (memcmp(t->s, word, sizeof(word) - 1) == 0 ? (*cmd = (c), true) : false)
    switch (t->len) {
    case 2:
        return TEXT_IS("mg", TEXT_CMD_MG) || TEXT_IS("ms", TEXT_CMD_MS) ||
               TEXT_IS("md", TEXT_CMD_MD) || TEXT_IS("ma", TEXT_CMD_MA) ||
               TEXT_IS("mn", TEXT_CMD_MN) || TEXT_IS("me", TEXT_CMD_ME);
    case 3:
        return TEXT_IS("get", TEXT_CMD_GET) || TEXT_IS("set", TEXT_CMD_SET) ||
               TEXT_IS("gat", TEXT_CMD_GAT) || TEXT_IS("add", TEXT_CMD_ADD) ||
               TEXT_IS("cas", TEXT_CMD_CAS);
    case 4:
        return TEXT_IS("gets", TEXT_CMD_GETS) || TEXT_IS("gats", TEXT_CMD_GATS) ||
               TEXT_IS("incr", TEXT_CMD_INCR) || TEXT_IS("decr", TEXT_CMD_DECR) ||
               TEXT_IS("quit", TEXT_CMD_QUIT);
    case 5:
        return TEXT_IS("touch", TEXT_CMD_TOUCH) || TEXT_IS("stats", TEXT_CMD_STATS);
    case 6:
        return TEXT_IS("append", TEXT_CMD_APPEND) || TEXT_IS("delete", TEXT_CMD_DELETE);
    case 7:
        return TEXT_IS("replace", TEXT_CMD_REPLACE) || TEXT_IS("prepend", TEXT_CMD_PREPEND) ||
               TEXT_IS("version", TEXT_CMD_VERSION);
    case 8:
        return TEXT_IS("shutdown", TEXT_CMD_SHUTDOWN);
    case 9:
        return TEXT_IS("flush_all", TEXT_CMD_FLUSH_ALL) || TEXT_IS("verbosity", TEXT_CMD_VERBOSITY);
    case 13:
        return TEXT_IS("refresh_certs", TEXT_CMD_REFRESH_CERTS);
    default:
        return false;
    }
#undef TEXT_IS
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

/*
 * Checks every key of a key list in one pass (split at spaces, each key as
 * text_key_ok says) and sets r->keys to the list from its first key to the
 * end of its last, and r->nkeys to their count, so the executor walks it
 * without checking again and knows the last key without looking past it.
 * False on a bad key.
 */
static bool text_scan_keys(const char *s, size_t len, struct text_req *r)
{
    size_t i = 0, first = len, end = len;
    uint32_t n = 0;
    while (i < len) {
        if (s[i] == ' ') {
            i++;
            continue;
        }
        size_t start = i;
        while (i < len && text_key_byte(s[i]))
            i++;
        /* The key ends at a space, the end, or a byte no key may hold. */
        if ((i < len && s[i] != ' ') || i - start > TEXT_KEY_MAX)
            return false;
        if (n++ == 0)
            first = start;
        end = i;
    }
    r->keys = (struct text_tok){s + first, (uint32_t)(end - first)};
    r->nkeys = n;
    return true;
}

/* get/gets: the key list; gat/gats: an expiry, then the key list. rest: the line after the
 * command. */
static enum text_verdict text_parse_retrieval(struct text_tok rest, struct text_req *r)
{
    if (r->cmd == TEXT_CMD_GAT || r->cmd == TEXT_CMD_GATS) {
        struct text_tok t;
        if (!text_next_key(&rest, &t))
            return TEXT_ERR_UNKNOWN;
        if (!text_i32(&t, &r->exptime))
            return TEXT_ERR_EXPTIME;
    }
    if (!text_scan_keys(rest.s, rest.len, r))
        return TEXT_ERR_FORMAT;
    /* memcached answers "gat <exptime>" without keys with END. */
    return r->nkeys > 0 || r->cmd == TEXT_CMD_GAT || r->cmd == TEXT_CMD_GATS ? TEXT_OK
                                                                             : TEXT_ERR_UNKNOWN;
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

/* The part of a text_req before the meta flag arguments, which count only where present. */
#define TEXT_REQ_FIXED offsetof(struct text_req, meta.arg)

enum text_verdict text_parse(const char *line, size_t len, struct text_req *r)
{
    /* Not the 52 flag arguments (most of the struct): present says which are set. */
    memset(r, 0, TEXT_REQ_FIXED);
    struct text_tok tok[TEXT_TOKENS_MAX];
    size_t i = 0;
    if (!text_token(line, len, &i, &tok[0]))
        return TEXT_ERR_UNKNOWN;
    struct text_tok rest = {line + i, (uint32_t)(len - i)};
    bool known = text_lookup(&tok[0], &r->cmd);
    /* A retrieval's key list is walked once, by text_scan_keys, not split into tokens. */
    if (known && text_is_retrieval_cmd(r->cmd))
        return text_parse_retrieval(rest, r);
    size_t n = 1 + text_tokenize(rest.s, rest.len, tok + 1, TEXT_TOKENS_MAX - 1);
    if (!known)
        return text_is_http(tok, n > TEXT_TOKENS_MAX ? TEXT_TOKENS_MAX : n) ? TEXT_ERR_HTTP
                                                                            : TEXT_ERR_UNKNOWN;
    switch (r->cmd) {
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
