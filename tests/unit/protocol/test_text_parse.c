/* Unit tests of the text and meta command-line parser (protocol/text.c, meta.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

/* A parse moved to a copy of its line points into the copy, at the same tokens. */
static void test_rebase(void **state)
{
    char a[64], b[64];
    struct text_req r;
    strcpy(a, "mg key v O123 t k");
    assert_int_equal(text_parse(a, strlen(a), &r), TEXT_OK);
    memcpy(b, a, sizeof(a));
    text_req_rebase(&r, a, strlen(a), b);
    memset(a, 'x', sizeof(a));
    assert_ptr_equal(r.key.s, b + 3);
    assert_tok(&r.key, "key");
    struct text_tok opaque = meta_arg(&r.meta, 'O');
    assert_tok(&opaque, "123");
    strcpy(a, "get k1 k2");
    assert_int_equal(text_parse(a, strlen(a), &r), TEXT_OK);
    memcpy(b, a, sizeof(a));
    text_req_rebase(&r, a, strlen(a), b);
    memset(a, 'x', sizeof(a));
    struct text_tok key;
    assert_true(text_next_key(&r.keys, &key));
    assert_tok(&key, "k1");
    assert_true(text_next_key(&r.keys, &key));
    assert_tok(&key, "k2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_storage),        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_other_commands), cmocka_unit_test(test_meta),
        cmocka_unit_test(test_rebase),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
