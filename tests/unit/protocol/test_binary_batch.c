/*
 * bin_batch_get_keys: which keys of a batch of pipelined frames are handed
 * out for prefetching, and where the walk stops (a lone frame, a partial
 * frame, a bad magic, inconsistent lengths, the frame limit).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "protocol/binary.h"

struct batch {
    uint8_t buf[4096];
    size_t len;
};

/* Appends a request frame: header, extlen bytes of extras, the key, vallen bytes of value. */
static void add_frame(struct batch *b, uint8_t magic, uint8_t opcode, uint8_t extlen,
                      const char *key, uint32_t vallen)
{
    struct bin_header h = {.magic = magic, .opcode = opcode, .extlen = extlen};
    h.keylen = (uint16_t)strlen(key);
    h.bodylen = extlen + h.keylen + vallen;
    assert_true(b->len + BIN_HEADER_LEN + h.bodylen <= sizeof(b->buf));
    bin_header_encode(&h, b->buf + b->len);
    b->len += BIN_HEADER_LEN;
    memset(b->buf + b->len, 'x', extlen);
    b->len += extlen;
    memcpy(b->buf + b->len, key, h.keylen);
    b->len += h.keylen;
    memset(b->buf + b->len, 'v', vallen);
    b->len += vallen;
}

static void add_get(struct batch *b, uint8_t opcode, const char *key)
{
    add_frame(b, BIN_MAGIC_REQUEST, opcode, 0, key, 0);
}

static void assert_key(const struct bin_key *k, const char *want)
{
    assert_int_equal(k->len, strlen(want));
    assert_memory_equal(k->key, want, k->len);
}

static void test_lone_frame_gives_none(void **state)
{
    (void)state;
    struct batch b = {.len = 0};
    struct bin_key keys[8];
    add_get(&b, BIN_CMD_GET, "k1");
    assert_int_equal(bin_batch_get_keys(b.buf, b.len, keys, 8), 0);
    /* The same frame followed by a partial one is a batch: its key counts. */
    b.buf[b.len++] = BIN_MAGIC_REQUEST;
    assert_int_equal(bin_batch_get_keys(b.buf, b.len, keys, 8), 1);
    assert_key(&keys[0], "k1");
    assert_int_equal(bin_batch_get_keys(b.buf, 0, keys, 8), 0);
}

static void test_pipelined_gets(void **state)
{
    (void)state;
    struct batch b = {.len = 0};
    struct bin_key keys[32];
    char key[16];
    for (int i = 0; i < 16; i++) {
        snprintf(key, sizeof(key), "key:%d", i);
        add_get(&b, BIN_CMD_GET, key);
    }
    assert_int_equal(bin_batch_get_keys(b.buf, b.len, keys, 32), 16);
    for (int i = 0; i < 16; i++) {
        snprintf(key, sizeof(key), "key:%d", i);
        assert_key(&keys[i], key);
    }
}

static void test_only_gets_and_their_keys(void **state)
{
    (void)state;
    struct batch b = {.len = 0};
    struct bin_key keys[8];
    add_frame(&b, BIN_MAGIC_REQUEST, BIN_CMD_SET, 8, "setkey", 32);
    add_get(&b, BIN_CMD_GETK, "a");
    add_get(&b, BIN_CMD_NOOP, "");
    add_get(&b, BIN_CMD_GETQ, "bb");
    add_frame(&b, BIN_MAGIC_REQUEST, BIN_CMD_DELETE, 0, "del", 0);
    add_get(&b, BIN_CMD_GETKQ, "ccc");
    add_get(&b, BIN_CMD_GET, ""); /* no key: nothing to prefetch (it fails validation later) */
    add_get(&b, BIN_CMD_GET, "dddd");
    assert_int_equal(bin_batch_get_keys(b.buf, b.len, keys, 8), 4);
    assert_key(&keys[0], "a");
    assert_key(&keys[1], "bb");
    assert_key(&keys[2], "ccc");
    assert_key(&keys[3], "dddd");
}

/* Only a get as it must be: no extras, no value, a key of 1 to 250 bytes. */
static void test_only_well_formed_gets(void **state)
{
    (void)state;
    struct batch b = {.len = 0};
    struct bin_key keys[8];
    char k250[251], k251[252];
    memset(k250, 'a', 250);
    k250[250] = '\0';
    memset(k251, 'b', 251);
    k251[251] = '\0';
    add_frame(&b, BIN_MAGIC_REQUEST, BIN_CMD_GET, 4, "extras", 0);
    add_frame(&b, BIN_MAGIC_REQUEST, BIN_CMD_GETK, 0, "value", 3);
    add_get(&b, BIN_CMD_GET, k251);
    add_get(&b, BIN_CMD_GETQ, k250);
    add_get(&b, BIN_CMD_GET, "fine");
    assert_int_equal(bin_batch_get_keys(b.buf, b.len, keys, 8), 2);
    assert_key(&keys[0], k250);
    assert_key(&keys[1], "fine");
}

static void test_stops_at_partial_frame(void **state)
{
    (void)state;
    struct batch b = {.len = 0};
    struct bin_key keys[8];
    add_get(&b, BIN_CMD_GET, "one");
    add_get(&b, BIN_CMD_GET, "two");
    size_t two = b.len;
    add_get(&b, BIN_CMD_GET, "three");
    /* Every cut inside the third frame leaves the first two. */
    for (size_t cut = two + 1; cut < b.len; cut++)
        assert_int_equal(bin_batch_get_keys(b.buf, cut, keys, 8), 2);
    assert_int_equal(bin_batch_get_keys(b.buf, b.len, keys, 8), 3);
    assert_key(&keys[2], "three");
}

static void test_stops_at_bad_frame(void **state)
{
    (void)state;
    struct bin_key keys[8];
    struct batch b = {.len = 0};
    add_get(&b, BIN_CMD_GET, "ok");
    add_frame(&b, 0x81, BIN_CMD_GET, 0, "response", 0); /* a response magic */
    add_get(&b, BIN_CMD_GET, "after");
    assert_int_equal(bin_batch_get_keys(b.buf, b.len, keys, 8), 1);
    assert_key(&keys[0], "ok");

    /* extlen + keylen above bodylen: the key would run past the frame. */
    struct batch c = {.len = 0};
    add_get(&c, BIN_CMD_GET, "ok");
    size_t second = c.len;
    add_get(&c, BIN_CMD_GET, "longer-key");
    add_get(&c, BIN_CMD_GET, "after");
    struct bin_header h;
    bin_header_decode(c.buf + second, &h);
    h.bodylen = 3;
    bin_header_encode(&h, c.buf + second);
    assert_int_equal(bin_batch_get_keys(c.buf, c.len, keys, 8), 1);
}

static void test_frame_limit(void **state)
{
    (void)state;
    struct batch b = {.len = 0};
    struct bin_key keys[8];
    for (int i = 0; i < 20; i++)
        add_get(&b, BIN_CMD_GETKQ, "k");
    assert_int_equal(bin_batch_get_keys(b.buf, b.len, keys, 8), 8);
    /* The limit counts frames walked, not keys found. */
    struct batch c = {.len = 0};
    for (int i = 0; i < 6; i++)
        add_frame(&c, BIN_MAGIC_REQUEST, BIN_CMD_SET, 8, "s", 4);
    for (int i = 0; i < 6; i++)
        add_get(&c, BIN_CMD_GET, "g");
    assert_int_equal(bin_batch_get_keys(c.buf, c.len, keys, 8), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lone_frame_gives_none),
        cmocka_unit_test(test_pipelined_gets),
        cmocka_unit_test(test_only_gets_and_their_keys),
        cmocka_unit_test(test_only_well_formed_gets),
        cmocka_unit_test(test_stops_at_partial_frame),
        cmocka_unit_test(test_stops_at_bad_frame),
        cmocka_unit_test(test_frame_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
