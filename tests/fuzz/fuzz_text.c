/*
 * Fuzz target: the text and meta command parser as the text read path uses
 * it. The input is a stream of command lines ending in "\n" (an "\r" before
 * it is dropped, as conn_text.c does); each line is copied into a buffer of
 * exactly its size, so a read past the line is an ASan finding, and parsed.
 * What the parser admits must be consistent: every token inside the line,
 * keys that follow the key rules, a refusal with a reply string. A storage
 * command's data block is skipped as the connection would. Single thread.
 */
#include <stdbool.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "protocol/meta.h"
#include "protocol/text.h"

/* True when tok lies inside [line, line + len]. */
static bool tok_inside(const struct text_tok *t, const char *line, size_t len)
{
    if (t->len == 0)
        return true;
    return t->s >= line && t->s + t->len <= line + len;
}

/* Checks the meta flags the parser recorded. */
static void check_meta(const struct text_req *r, const char *line, size_t len)
{
    FUZZ_CHECK(r->meta.norder <= TEXT_TOKENS_MAX);
    for (uint8_t i = 0; i < r->meta.norder; i++) {
        char letter = r->meta.order[i];
        FUZZ_CHECK(meta_flag_bit(letter) >= 0);
        FUZZ_CHECK(meta_has(&r->meta, letter));
        struct text_tok a = meta_arg(&r->meta, letter);
        FUZZ_CHECK(tok_inside(&a, line, len));
        uint64_t u;
        int32_t n;
        /* Both readings of one argument agree when both succeed. */
        if (meta_u64(&r->meta, letter, &u) && meta_i32(&r->meta, letter, &n))
            FUZZ_CHECK(n >= 0 && (uint64_t)n == u);
    }
    FUZZ_CHECK(r->key.len <= TEXT_KEY_MAX);
    if (meta_has(&r->meta, 'b')) {
        uint8_t raw[TEXT_KEY_MAX];
        size_t n = meta_key_decode(&r->key, raw);
        FUZZ_CHECK(n > 0 && n <= TEXT_KEY_MAX);
    } else {
        FUZZ_CHECK(text_key_ok(r->key.s, r->key.len));
    }
}

/* Checks what an admitted line promises to the executors. */
static void check_ok(const struct text_req *r, const char *line, size_t len)
{
    FUZZ_CHECK(tok_inside(&r->key, line, len));
    FUZZ_CHECK(tok_inside(&r->keys, line, len));
    FUZZ_CHECK(tok_inside(&r->arg, line, len));
    switch (r->cmd) {
    case TEXT_CMD_GET:
    case TEXT_CMD_GETS:
    case TEXT_CMD_GAT:
    case TEXT_CMD_GATS: {
        struct text_tok keys = r->keys, key;
        while (text_next_key(&keys, &key)) {
            FUZZ_CHECK(tok_inside(&key, line, len));
            FUZZ_CHECK(text_key_ok(key.s, key.len));
        }
        return;
    }
    case TEXT_CMD_MG:
    case TEXT_CMD_MS:
    case TEXT_CMD_MD:
    case TEXT_CMD_MA:
    case TEXT_CMD_ME:
        check_meta(r, line, len);
        return;
    case TEXT_CMD_MN:
    case TEXT_CMD_FLUSH_ALL:
    case TEXT_CMD_VERSION:
    case TEXT_CMD_VERBOSITY:
    case TEXT_CMD_QUIT:
    case TEXT_CMD_STATS:
    case TEXT_CMD_SHUTDOWN:
        return;
    default:
        FUZZ_CHECK(text_key_ok(r->key.s, r->key.len));
        return;
    }
}

/* Parses one line (a private copy of exactly len bytes); returns the data block to skip. */
static size_t one_line(const uint8_t *data, size_t len)
{
    char *line = malloc(len ? len : 1);
    FUZZ_CHECK(line != NULL);
    memcpy(line, data, len);
    (void)text_is_retrieval(line, len);
    struct text_req r;
    enum text_verdict v = text_parse(line, len, &r);
    const char *reply = text_verdict_reply(v);
    FUZZ_CHECK(reply != NULL);
    FUZZ_CHECK((v == TEXT_OK || v == TEXT_ERR_HTTP) == (reply[0] == '\0'));
    size_t skip = 0;
    if (v == TEXT_OK) {
        check_ok(&r, line, len);
        if (text_is_storage(r.cmd) || r.cmd == TEXT_CMD_MS)
            skip = (size_t)r.vallen + 2;
    } else if (r.has_data) {
        skip = (size_t)r.vallen + 2; /* a refused ms still has its block swallowed */
    }
    free(line);
    return skip;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    while (size > 0) {
        const uint8_t *nl = memchr(data, '\n', size);
        size_t len = nl ? (size_t)(nl - data) : size;
        size_t used = nl ? len + 1 : len;
        if (len > 0 && data[len - 1] == '\r')
            len--;
        size_t skip = one_line(data, len);
        data += used;
        size -= used;
        if (skip >= size)
            break;
        data += skip;
        size -= skip;
    }
    return 0;
}
