/*
 * SCRAM server steps against test vectors: RFC 5802 section 5 (SCRAM-SHA-1)
 * and RFC 7677 section 3 (SCRAM-SHA-256). RFC 7677 has no SHA-512 example;
 * the SHA-512 vector below reuses the RFC 7677 inputs and was computed
 * independently with python3's hashlib.pbkdf2_hmac and hmac when this test
 * was written (the same script reproduces both RFC vectors). Also the
 * failure paths: wrong proof, wrong nonce, channel binding, malformed names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "auth/codec.h"
#include "auth/scram.h"

struct vector {
    enum scram_hash hash;
    const char *client_first;
    const char *snonce;
    const char *salt_b64;
    const char *server_first;
    const char *client_final;
    const char *server_final;
};

static const struct vector vectors[] = {
    {SCRAM_SHA1, "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL", "3rfcNHYJY1ZVvWVs7j", "QSXCR+Q6sek8bf92",
     "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
     "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
     "v=rmF9pqV8S7suAoZWja4dJRkFsKQ="},
    {SCRAM_SHA256, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO", "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
     "W22ZaJ0SNY7soEsUEjb6gQ==",
     "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
     "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
     "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
     "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="},
    /* Computed with python3 hashlib/hmac (not from an RFC). */
    {SCRAM_SHA512, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO", "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
     "W22ZaJ0SNY7soEsUEjb6gQ==",
     "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
     "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
     "p=gMGXRcevScNtxZ6/8lQYpGtnsNAc3mGcmNomv+xnoOMw+3R2xNJdMNnzMlTN8PPC6wdp6dybEmDYXYTxwnYPJQ==",
     "v=ZQnYEgWQMFmmsM8aQMF0nDDCy/AgCzkwk8CmMZYcMg0vSVlKDanekLtifDSeVGT4+5ZxXnJq199RVG2rR7N7Zw=="},
};

static void derive(const struct vector *v, struct scram_cred *c)
{
    uint8_t salt[64];
    long n = auth_b64_decode(v->salt_b64, strlen(v->salt_b64), salt, sizeof(salt));
    assert_true(n > 0);
    assert_int_equal(scram_derive(v->hash, "pencil", 6, salt, (size_t)n, 4096, c), 0);
}

/* Runs client-first and server-first of v; leaves the exchange in x. */
static void first_steps(const struct vector *v, struct scram_exchange *x, struct scram_cred *c)
{
    char out[SCRAM_MSG_MAX];
    derive(v, c);
    assert_int_equal(scram_parse_client_first(x, v->hash, v->client_first, strlen(v->client_first)),
                     SCRAM_OK);
    assert_string_equal(x->user, "user");
    assert_int_equal(scram_server_first(x, c, v->snonce, out, sizeof(out)), 0);
    assert_string_equal(out, v->server_first);
}

static void test_vectors(void **state)
{
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        const struct vector *v = &vectors[i];
        struct scram_exchange x;
        struct scram_cred c;
        char out[SCRAM_MSG_MAX];
        first_steps(v, &x, &c);
        assert_int_equal(
            scram_client_final(&x, &c, v->client_final, strlen(v->client_final), out, sizeof(out)),
            SCRAM_OK);
        assert_string_equal(out, v->server_final);
    }
}

/* A proof with one changed byte, a changed nonce, a bad channel binding: all refused. */
static void test_wrong_final(void **state)
{
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        const struct vector *v = &vectors[i];
        struct scram_exchange x;
        struct scram_cred c;
        char out[SCRAM_MSG_MAX], bad[SCRAM_MSG_MAX];
        first_steps(v, &x, &c);
        size_t len = strlen(v->client_final);
        strcpy(bad, v->client_final);
        char *p = strstr(bad, ",p=") + 3;
        p[0] = p[0] == 'A' ? 'B' : 'A';
        assert_int_equal(scram_client_final(&x, &c, bad, len, out, sizeof(out)), SCRAM_BAD_PROOF);
        strcpy(bad, v->client_final);
        strstr(bad, ",r=")[4] ^= 1;
        assert_int_equal(scram_client_final(&x, &c, bad, len, out, sizeof(out)), SCRAM_MALFORMED);
        strcpy(bad, v->client_final);
        memcpy(bad, "c=eSws", 6);
        assert_int_equal(scram_client_final(&x, &c, bad, len, out, sizeof(out)), SCRAM_MALFORMED);
        assert_int_equal(scram_client_final(&x, &c, "c=biws", 6, out, sizeof(out)),
                         SCRAM_MALFORMED);
    }
}

/* A different password derives keys the RFC proof does not match. */
static void test_wrong_password(void **state)
{
    const struct vector *v = &vectors[1];
    struct scram_exchange x;
    struct scram_cred c, other;
    char out[SCRAM_MSG_MAX];
    first_steps(v, &x, &c);
    assert_int_equal(scram_derive(v->hash, "pencil!", 7, c.salt, c.saltlen, 4096, &other), 0);
    assert_int_equal(
        scram_client_final(&x, &other, v->client_final, strlen(v->client_final), out, sizeof(out)),
        SCRAM_BAD_PROOF);
    assert_true(scram_check_password(v->hash, &c, "pencil", 6));
    assert_false(scram_check_password(v->hash, &c, "pencil!", 7));
    assert_false(scram_check_password(v->hash, &c, "", 0));
}

static void test_client_first_malformed(void **state)
{
    static const char *const bad[] = {
        "",
        "n,,",
        "p=tls-unique,,n=user,r=abc", /* channel binding is not offered */
        "n,,m=ext,n=user,r=abc",
        "n,,n=,r=abc",
        "n,,n=us=ZZer,r=abc",
        "n,,n=user",
        "n,,n=user,r=",
        "n,,n=user,x=abc",
        "x,,n=user,r=abc",
        "n,a=admin,n=user,r=abc", /* acting as another user is not supported */
        "n,x,n=user,r=abc",
    };
    struct scram_exchange x;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (scram_parse_client_first(&x, SCRAM_SHA256, bad[i], strlen(bad[i])) != SCRAM_MALFORMED)
            fail_msg("accepted '%s'", bad[i]);
    }
    const char *escaped = "y,,n=a=2Cb=3Dc,r=abc";
    assert_int_equal(scram_parse_client_first(&x, SCRAM_SHA1, escaped, strlen(escaped)), SCRAM_OK);
    assert_string_equal(x.user, "a,b=c");
    const char *self = "n,a=user,n=user,r=abc";
    assert_int_equal(scram_parse_client_first(&x, SCRAM_SHA1, self, strlen(self)), SCRAM_OK);
}

static void test_names_and_base64(void **state)
{
    assert_int_equal(scram_hash_by_name("SCRAM-SHA512", 12), SCRAM_SHA512);
    assert_int_equal(scram_hash_by_name("SCRAM-SHA256", 12), SCRAM_SHA256);
    assert_int_equal(scram_hash_by_name("SCRAM-SHA1", 10), SCRAM_SHA1);
    assert_int_equal(scram_hash_by_name("SCRAM-SHA-1", 11), SCRAM_NHASH);
    assert_int_equal(scram_key_len(SCRAM_SHA512), 64);
    char enc[16];
    uint8_t dec[8];
    assert_int_equal(auth_b64_encode((const uint8_t *)"ab", 2, enc), 4);
    assert_string_equal(enc, "YWI=");
    assert_int_equal(auth_b64_decode("YWI=", 4, dec, sizeof(dec)), 2);
    assert_memory_equal(dec, "ab", 2);
    assert_int_equal(auth_b64_decode("YWI", 3, dec, sizeof(dec)), -1);
    assert_int_equal(auth_b64_decode("Y!I=", 4, dec, sizeof(dec)), -1);
    assert_int_equal(auth_b64_decode("YWJjZGVmZ2hp", 12, dec, sizeof(dec)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),          cmocka_unit_test(test_wrong_final),
        cmocka_unit_test(test_wrong_password),   cmocka_unit_test(test_client_first_malformed),
        cmocka_unit_test(test_names_and_base64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
