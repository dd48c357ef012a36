/* Unit tests of the text and meta command-line parser (protocol/text.c, meta.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/meta.h"
#include "protocol/text.h"

static enum text_verdict parse(const char *line, struct text_req *r)
{
    return text_parse(line, strlen(line), r);
}

static void assert_tok(const struct text_tok *t, const char *want)
{
    assert_int_equal(t->len, strlen(want));
    assert_memory_equal(t->s, want, t->len);
}

static void test_storage(void **state)
{
    struct text_req r;
    assert_int_equal(parse("set key 42 100 5", &r), TEXT_OK);
    assert_int_equal(r.cmd, TEXT_CMD_SET);
    assert_tok(&r.key, "key");
    assert_int_equal(r.flags, 42);
    assert_int_equal(r.exptime, 100);
    assert_int_equal(r.vallen, 5);
    assert_false(r.noreply);
    assert_int_equal(parse("cas k 0 -1 0 12345 noreply", &r), TEXT_OK);
    assert_int_equal(r.cmd, TEXT_CMD_CAS);
    assert_int_equal(r.cas, 12345);
    assert_int_equal(r.exptime, -1);
    assert_true(r.noreply);
    assert_int_equal(parse("set  k   1  2  3 ", &r), TEXT_OK); /* extra spaces */
    assert_int_equal(r.vallen, 3);
    assert_int_equal(parse("append k 0 0 4294967295", &r), TEXT_ERR_FORMAT);
    assert_int_equal(parse("set k 0 0 -1", &r), TEXT_ERR_FORMAT);
    assert_int_equal(parse("set k x 0 1", &r), TEXT_ERR_FORMAT);
    assert_int_equal(parse("set k 4294967296 0 1", &r), TEXT_ERR_FORMAT);
    assert_int_equal(parse("set k 0 2147483648 1", &r), TEXT_ERR_FORMAT);
    assert_int_equal(parse("set k 0 0", &r), TEXT_ERR_UNKNOWN);
    assert_int_equal(parse("cas k 0 0 1", &r), TEXT_ERR_UNKNOWN);
    assert_int_equal(parse("SET k 0 0 1", &r), TEXT_ERR_UNKNOWN); /* case-sensitive */
}

static void test_keys(void **state)
{
    struct text_req r;
    char line[300] = "get ";
    memset(line + 4, 'k', 250);
    line[254] = '\0';
    assert_int_equal(parse(line, &r), TEXT_OK);
    line[254] = 'k';
    line[255] = '\0';
    assert_int_equal(parse(line, &r), TEXT_ERR_FORMAT);
    assert_true(text_key_ok("abc", 3));
    assert_false(text_key_ok("a\x01", 2));
    assert_false(text_key_ok("a\x7f", 2));
    assert_false(text_key_ok("", 0));
    assert_int_equal(parse("get a  b c", &r), TEXT_OK);
    struct text_tok keys = r.keys, k;
    assert_true(text_next_key(&keys, &k));
    assert_tok(&k, "a");
    assert_true(text_next_key(&keys, &k));
    assert_tok(&k, "b");
    assert_true(text_next_key(&keys, &k));
    assert_tok(&k, "c");
    assert_false(text_next_key(&keys, &k));
    assert_int_equal(parse("gat 100 x y", &r), TEXT_OK);
    assert_int_equal(r.exptime, 100);
    assert_int_equal(parse("gat abc x", &r), TEXT_ERR_EXPTIME);
    assert_int_equal(parse("get", &r), TEXT_ERR_UNKNOWN);
    assert_true(text_is_retrieval("gets a", 6));
    assert_false(text_is_retrieval("getx a", 6));
}

static void test_other_commands(void **state)
{
    struct text_req r;
    assert_int_equal(parse("delete k", &r), TEXT_OK);
    assert_int_equal(parse("delete k 0 noreply", &r), TEXT_OK);
    assert_true(r.noreply);
    assert_int_equal(parse("delete k 5", &r), TEXT_ERR_DELETE);
    assert_int_equal(parse("incr k 18446744073709551615", &r), TEXT_OK);
    assert_int_equal(r.delta, UINT64_MAX);
    assert_int_equal(parse("incr k 18446744073709551616", &r), TEXT_ERR_DELTA);
    assert_int_equal(parse("decr k -1", &r), TEXT_ERR_DELTA);
    assert_int_equal(parse("touch k x", &r), TEXT_ERR_EXPTIME);
    assert_int_equal(parse("flush_all", &r), TEXT_OK);
    assert_int_equal(parse("flush_all 10 noreply", &r), TEXT_OK);
    assert_int_equal(r.exptime, 10);
    assert_true(r.noreply);
    assert_int_equal(parse("flush_all x", &r), TEXT_ERR_EXPTIME);
    assert_int_equal(parse("stats", &r), TEXT_OK);
    assert_int_equal(r.arg.len, 0);
    assert_int_equal(parse("stats settings", &r), TEXT_OK);
    assert_tok(&r.arg, "settings");
    assert_int_equal(parse("verbosity 1", &r), TEXT_OK);
    assert_int_equal(parse("verbosity x", &r), TEXT_ERR_FORMAT);
    assert_int_equal(parse("version", &r), TEXT_OK);
    assert_int_equal(parse("version x", &r), TEXT_ERR_UNKNOWN);
    assert_int_equal(parse("refresh_certs", &r), TEXT_OK);
    assert_int_equal(r.cmd, TEXT_CMD_REFRESH_CERTS);
    assert_int_equal(parse("refresh_certs now", &r), TEXT_ERR_UNKNOWN);
    assert_int_equal(parse("GET / HTTP/1.1", &r), TEXT_ERR_HTTP);
    assert_int_equal(parse("POST /x HTTP/1.0", &r), TEXT_ERR_HTTP);
    assert_int_equal(parse("", &r), TEXT_ERR_UNKNOWN);
    assert_string_equal(text_verdict_reply(TEXT_ERR_FORMAT),
                        "CLIENT_ERROR bad command line format\r\n");
}

static void test_meta(void **state)
{
    struct text_req r;
    assert_int_equal(parse("mg foo v c f O123 T30 q", &r), TEXT_OK);
    assert_int_equal(r.cmd, TEXT_CMD_MG);
    assert_true(meta_has(&r.meta, 'v'));
    assert_true(meta_has(&r.meta, 'q'));
    assert_false(meta_has(&r.meta, 'k'));
    assert_true(r.noreply);
    assert_int_equal(r.meta.norder, 6);
    assert_int_equal(r.meta.order[3], 'O');
    struct text_tok o = meta_arg(&r.meta, 'O');
    assert_tok(&o, "123");
    int32_t ttl;
    assert_true(meta_i32(&r.meta, 'T', &ttl));
    assert_int_equal(ttl, 30);
    assert_int_equal(parse("mg foo zz", &r), TEXT_ERR_INVALID_FLAG);
    assert_int_equal(parse("mg foo v v", &r), TEXT_ERR_DUP_FLAG);
    assert_int_equal(parse("mg foo Tabc", &r), TEXT_ERR_BAD_TOKEN);
    assert_int_equal(parse("mg", &r), TEXT_ERR_UNKNOWN);
    assert_int_equal(parse("ms foo 5 T10 F3 MS", &r), TEXT_OK);
    assert_int_equal(r.vallen, 5);
    assert_int_equal(parse("ms foo bar", &r), TEXT_ERR_FORMAT);
    assert_int_equal(parse("ms foo -1", &r), TEXT_ERR_FORMAT);
    assert_int_equal(parse("ms foo 1 v", &r), TEXT_ERR_INVALID_FLAG);
    assert_int_equal(parse("md foo I T30 q", &r), TEXT_OK);
    assert_int_equal(parse("ma foo N0 J5 D2 MD v", &r), TEXT_OK);
    assert_int_equal(parse("mn", &r), TEXT_OK);
    assert_int_equal(parse("mg Zm9v b v", &r), TEXT_OK);
    uint8_t key[TEXT_KEY_MAX];
    assert_int_equal(meta_key_decode(&r.key, key), 3);
    assert_memory_equal(key, "foo", 3);
    assert_int_equal(parse("mg Zm9 b v", &r), TEXT_ERR_KEY);
    struct text_tok pad = {"YQ==", 4};
    assert_int_equal(meta_key_decode(&pad, key), 1);
    assert_int_equal(key[0], 'a');
}

/*
 * Parses line (with len bytes) as a retrieval and walks its keys as the
 * executor does (text_pop_key), and again token by token; returns their count.
 */
static size_t walk_keys(const char *line, size_t len, struct text_tok *last)
{
    struct text_req r;
    assert_int_equal(text_parse(line, len, &r), TEXT_OK);
    struct text_tok rest = r.keys, tokens = r.keys, key, tok;
    uint32_t left = r.nkeys;
    size_t n = 0;
    while (text_pop_key(&rest, &left, &key)) {
        assert_true(text_next_key(&tokens, &tok));
        assert_ptr_equal(key.s, tok.s);
        assert_int_equal(key.len, tok.len);
        assert_int_equal(left, r.nkeys - ++n);
        *last = key;
    }
    assert_int_equal(n, r.nkeys);
    assert_int_equal(rest.len, 0);
    assert_false(text_next_key(&tokens, &tok));
    return n;
}

/* The one-pass key list check of retrievals and the walk over what it leaves. */
static void test_key_list(void **state)
{
    struct text_req r;
    struct text_tok last;
    assert_int_equal(parse("get a b   ", &r), TEXT_OK); /* trailing spaces */
    assert_tok(&r.keys, "a b");
    assert_int_equal(walk_keys("get a b   ", 10, &last), 2);
    assert_tok(&last, "b");
    assert_int_equal(parse("gets    a", &r), TEXT_OK); /* leading spaces */
    assert_tok(&r.keys, "a");
    assert_int_equal(parse("get    ", &r), TEXT_ERR_UNKNOWN);
    assert_int_equal(parse("gat 10   ", &r), TEXT_OK); /* memcached: END */
    assert_int_equal(r.keys.len, 0);
    assert_int_equal(parse("gat 10", &r), TEXT_OK);
    assert_int_equal(parse("gat", &r), TEXT_ERR_UNKNOWN);
    assert_int_equal(parse("gats x k", &r), TEXT_ERR_EXPTIME);
    assert_int_equal(parse("get a b\x01"
                           "c d",
                           &r),
                     TEXT_ERR_FORMAT);
    assert_int_equal(parse("get a b\x7f", &r), TEXT_ERR_FORMAT);
    assert_int_equal(parse("get a\tb", &r), TEXT_ERR_FORMAT);
    assert_int_equal(parse("get a\rb", &r), TEXT_ERR_FORMAT);
    assert_int_equal(text_parse("get a\0b", 7, &r), TEXT_ERR_FORMAT);
    assert_int_equal(parse("get a\x80\xff", &r), TEXT_OK); /* bytes above 0x7f are key bytes */

    /* 250 bytes is a key, 251 is not, wherever it stands in the list. */
    char line[600];
    int n = snprintf(line, sizeof(line), "get a %250s b", "");
    memset(line + 6, 'k', 250);
    assert_int_equal(walk_keys(line, (size_t)n, &last), 3);
    assert_tok(&last, "b");
    n = snprintf(line, sizeof(line), "get a b ");
    memset(line + n, 'k', 251);
    line[n + 251] = '\0';
    assert_int_equal(parse(line, &r), TEXT_ERR_FORMAT);
    line[n + 250] = '\0';
    assert_int_equal(walk_keys(line, strlen(line), &last), 3);
    assert_int_equal(last.len, 250);

    /* Many keys, with runs of spaces: each once, in order. */
    static char many[64 * 1024];
    size_t len = (size_t)snprintf(many, sizeof(many), "gats 5");
    for (int i = 0; i < 5000; i++)
        len += (size_t)snprintf(many + len, sizeof(many) - len, "%*sk%d", 1 + i % 3, "", i);
    assert_true(len > TEXT_LINE_MAX);
    assert_int_equal(walk_keys(many, len, &last), 5000);
    assert_tok(&last, "k4999");
}

/* Every command name is found, and words that only look like one are not. */
static void test_command_names(void **state)
{
    static const struct {
        const char *line;
        enum text_cmd cmd;
    } ok[] = {
        {"get k", TEXT_CMD_GET},
        {"gets k", TEXT_CMD_GETS},
        {"gat 1 k", TEXT_CMD_GAT},
        {"gats 1 k", TEXT_CMD_GATS},
        {"set k 0 0 1", TEXT_CMD_SET},
        {"add k 0 0 1", TEXT_CMD_ADD},
        {"replace k 0 0 1", TEXT_CMD_REPLACE},
        {"append k 0 0 1", TEXT_CMD_APPEND},
        {"prepend k 0 0 1", TEXT_CMD_PREPEND},
        {"cas k 0 0 1 1", TEXT_CMD_CAS},
        {"delete k", TEXT_CMD_DELETE},
        {"incr k 1", TEXT_CMD_INCR},
        {"decr k 1", TEXT_CMD_DECR},
        {"touch k 1", TEXT_CMD_TOUCH},
        {"flush_all", TEXT_CMD_FLUSH_ALL},
        {"version", TEXT_CMD_VERSION},
        {"verbosity 1", TEXT_CMD_VERBOSITY},
        {"quit", TEXT_CMD_QUIT},
        {"stats", TEXT_CMD_STATS},
        {"shutdown", TEXT_CMD_SHUTDOWN},
        {"refresh_certs", TEXT_CMD_REFRESH_CERTS},
        {"mg k", TEXT_CMD_MG},
        {"ms k 1", TEXT_CMD_MS},
        {"md k", TEXT_CMD_MD},
        {"ma k", TEXT_CMD_MA},
        {"mn", TEXT_CMD_MN},
        {"me k", TEXT_CMD_ME},
    };
    struct text_req r;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(parse(ok[i].line, &r), TEXT_OK);
        assert_int_equal(r.cmd, ok[i].cmd);
    }
    static const char *const unknown[] = {
        "g k",       "ge k",     "gt k",        "gett k",          "sex k 0 0 1",
        "mx k",      "m k",      "Mg k",        "sets k 0 0 1",    "touchy k 1",
        "deletes k", "flush_al", "flush_alll",  "refresh_cert",    "refresh_certs_",
        "versio",    "shutdow",  "verbositx 1", "prepent k 0 0 1", "\x01get k",
    };
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
        assert_int_equal(parse(unknown[i], &r), TEXT_ERR_UNKNOWN);
    /* Only a retrieval may have more than TEXT_TOKENS_MAX tokens. */
    char line[256] = "set k 0 0 1";
    for (int i = 0; i < TEXT_TOKENS_MAX; i++)
        strcat(line, " x");
    assert_int_equal(parse(line, &r), TEXT_ERR_UNKNOWN);
    memcpy(line, "mg k", 4);
    memset(line + 4, ' ', 7);
    assert_int_equal(parse(line, &r), TEXT_ERR_FORMAT);
    assert_int_equal(parse("GET / a b c d e f g h i j k l m n o p q r s t u HTTP/1.1", &r),
                     TEXT_ERR_HTTP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_storage),        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_other_commands), cmocka_unit_test(test_meta),
        cmocka_unit_test(test_key_list),       cmocka_unit_test(test_command_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
