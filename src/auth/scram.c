/*
 * SCRAM-SHA-1/256/512 server steps and key derivation (RFC 5802, RFC 7677)
 * on OpenSSL's PKCS5_PBKDF2_HMAC, HMAC, EVP digests and CRYPTO_memcmp. Pure
 * functions of their arguments; any thread.
 */
#include "auth/scram.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#include "auth/codec.h"

static const char *const mech_names[SCRAM_NHASH] = {"SCRAM-SHA512", "SCRAM-SHA256", "SCRAM-SHA1"};

static const EVP_MD *scram_md(enum scram_hash h)
{
    switch (h) {
    case SCRAM_SHA512:
        return EVP_sha512();
    case SCRAM_SHA256:
        return EVP_sha256();
    default:
        return EVP_sha1();
    }
}

const char *scram_mech_name(enum scram_hash h)
{
    return mech_names[h];
}

enum scram_hash scram_hash_by_name(const char *name, size_t len)
{
    for (int h = 0; h < SCRAM_NHASH; h++) {
        if (strlen(mech_names[h]) == len && memcmp(mech_names[h], name, len) == 0)
            return (enum scram_hash)h;
    }
    return SCRAM_NHASH;
}

size_t scram_key_len(enum scram_hash h)
{
    return (size_t)EVP_MD_get_size(scram_md(h));
}

/* HMAC(key, data) into out (scram_key_len bytes). 0 or -1. */
static int scram_hmac(enum scram_hash h, const uint8_t *key, size_t keylen, const void *data,
                      size_t n, uint8_t *out)
{
    unsigned len = 0;
    return HMAC(scram_md(h), key, (int)keylen, data, n, out, &len) != NULL ? 0 : -1;
}

/* StoredKey and ServerKey from SaltedPassword. */
static int scram_keys(enum scram_hash h, const uint8_t *salted, struct scram_cred *c)
{
    size_t kl = scram_key_len(h);
    uint8_t client_key[SCRAM_KEY_MAX];
    unsigned len = 0;
    if (scram_hmac(h, salted, kl, "Client Key", 10, client_key) != 0 ||
        scram_hmac(h, salted, kl, "Server Key", 10, c->server_key) != 0 ||
        EVP_Digest(client_key, kl, c->stored_key, &len, scram_md(h), NULL) != 1)
        return -1;
    return 0;
}

int scram_derive(enum scram_hash h, const char *password, size_t pwlen, const uint8_t *salt,
                 size_t saltlen, unsigned iterations, struct scram_cred *c)
{
    uint8_t salted[SCRAM_KEY_MAX];
    if (saltlen > SCRAM_SALT_MAX || iterations == 0)
        return -1;
    if (PKCS5_PBKDF2_HMAC(password, (int)pwlen, salt, (int)saltlen, (int)iterations, scram_md(h),
                          (int)scram_key_len(h), salted) != 1)
        return -1;
    memcpy(c->salt, salt, saltlen);
    c->saltlen = saltlen;
    c->iterations = iterations;
    int rc = scram_keys(h, salted, c);
    OPENSSL_cleanse(salted, sizeof(salted));
    return rc;
}

bool scram_check_password(enum scram_hash h, const struct scram_cred *c, const char *password,
                          size_t pwlen)
{
    struct scram_cred tried;
    if (scram_derive(h, password, pwlen, c->salt, c->saltlen, c->iterations, &tried) != 0)
        return false;
    bool same = CRYPTO_memcmp(tried.stored_key, c->stored_key, scram_key_len(h)) == 0;
    OPENSSL_cleanse(&tried, sizeof(tried));
    return same;
}

/* Decodes a saslname (",", "=" escaped as =2C, =3D) of len bytes into out. 0 or -1. */
static int scram_decode_name(const char *in, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = in[i];
        if (ch == '=') {
            if (i + 2 >= len)
                return -1;
            if (memcmp(in + i, "=2C", 3) == 0)
                ch = ',';
            else if (memcmp(in + i, "=3D", 3) == 0)
                ch = '=';
            else
                return -1;
            i += 2;
        } else if (ch == ',' || ch == '\0') {
            return -1;
        }
        if (n + 1 >= cap)
            return -1;
        out[n++] = ch;
    }
    out[n] = '\0';
    return n > 0 ? 0 : -1;
}

/* A printable nonce without commas, as RFC 5802 allows. */
static bool scram_nonce_ok(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] < 0x21 || s[i] > 0x7e || s[i] == ',')
            return false;
    }
    return len > 0;
}

/* Splits "gs2-header" off in: "n,," or "y,," with an optional a=authzid. Returns its length. */
static size_t scram_gs2_len(const char *in, size_t len)
{
    if (len < 3 || (in[0] != 'n' && in[0] != 'y') || in[1] != ',')
        return 0; /* "p=" (channel binding) is not offered */
    const char *end = memchr(in + 2, ',', len - 2);
    return end == NULL ? 0 : (size_t)(end - in) + 1;
}

/* An authorization identity in the gs2 header ("n,a=NAME,") must name the user itself. */
static bool scram_authzid_ok(const struct scram_exchange *x)
{
    if (strncmp(x->gs2 + 2, "a=", 2) != 0)
        return x->gs2[2] == ',';
    char authzid[SCRAM_NAME_MAX + 1];
    size_t len = strlen(x->gs2) - 5; /* "n,a=" and the closing ',' */
    return scram_decode_name(x->gs2 + 4, len, authzid, sizeof(authzid)) == 0 &&
           strcmp(authzid, x->user) == 0;
}

enum scram_status scram_parse_client_first(struct scram_exchange *x, enum scram_hash h,
                                           const char *in, size_t len)
{
    memset(x, 0, sizeof(*x));
    x->hash = h;
    size_t gs2 = scram_gs2_len(in, len);
    if (gs2 == 0 || gs2 >= sizeof(x->gs2) || len >= SCRAM_MSG_MAX)
        return SCRAM_MALFORMED;
    memcpy(x->gs2, in, gs2);
    const char *bare = in + gs2;
    size_t barelen = len - gs2;
    if (barelen < 2 || memcmp(bare, "n=", 2) != 0)
        return SCRAM_MALFORMED; /* also refuses the reserved m= extension */
    const char *comma = memchr(bare, ',', barelen);
    if (comma == NULL ||
        scram_decode_name(bare + 2, (size_t)(comma - bare) - 2, x->user, sizeof(x->user)) != 0)
        return SCRAM_MALFORMED;
    const char *r = comma + 1;
    size_t rest = (size_t)(bare + barelen - r);
    if (rest < 2 || memcmp(r, "r=", 2) != 0)
        return SCRAM_MALFORMED;
    const char *end = memchr(r, ',', rest);
    size_t nlen = (end ? (size_t)(end - r) : rest) - 2;
    if (!scram_nonce_ok(r + 2, nlen))
        return SCRAM_MALFORMED;
    memcpy(x->nonce, r + 2, nlen);
    if (!scram_authzid_ok(x))
        return SCRAM_MALFORMED;
    /* The bare message starts the AuthMessage. */
    memcpy(x->auth_prefix, bare, barelen);
    return SCRAM_OK;
}

int scram_server_first(struct scram_exchange *x, const struct scram_cred *c, const char *snonce,
                       char *out, size_t cap)
{
    char salt[AUTH_B64_LEN(SCRAM_SALT_MAX) + 1];
    auth_b64_encode(c->salt, c->saltlen, salt);
    size_t cn = strlen(x->nonce);
    if (cn + strlen(snonce) >= sizeof(x->nonce))
        return -1;
    strcpy(x->nonce + cn, snonce);
    int n = snprintf(out, cap, "r=%s,s=%s,i=%u", x->nonce, salt, c->iterations);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    size_t used = strlen(x->auth_prefix);
    int m = snprintf(x->auth_prefix + used, sizeof(x->auth_prefix) - used, ",%s,", out);
    return m < 0 || (size_t)m >= sizeof(x->auth_prefix) - used ? -1 : 0;
}

/* Checks c= and r= of client-final-without-proof against the exchange. */
static bool scram_final_fields_ok(const struct scram_exchange *x, const char *in, size_t len)
{
    char cb[AUTH_B64_LEN(sizeof(x->gs2)) + 1];
    size_t cblen = auth_b64_encode((const uint8_t *)x->gs2, strlen(x->gs2), cb);
    size_t nlen = strlen(x->nonce);
    if (len < 2 + cblen + 3 + nlen || memcmp(in, "c=", 2) != 0 || memcmp(in + 2, cb, cblen) != 0)
        return false;
    const char *r = in + 2 + cblen;
    if (memcmp(r, ",r=", 3) != 0 || memcmp(r + 3, x->nonce, nlen) != 0)
        return false;
    size_t after = (size_t)(r + 3 + nlen - in);
    return after == len || in[after] == ',';
}

enum scram_status scram_client_final(const struct scram_exchange *x, const struct scram_cred *c,
                                     const char *in, size_t len, char *out, size_t cap)
{
    enum scram_hash h = x->hash;
    size_t kl = scram_key_len(h);
    /* The proof is the last attribute; everything before it is signed. */
    size_t p = len;
    while (p >= 3 && memcmp(in + p - 3, ",p=", 3) != 0)
        p--;
    if (p < 3 || len >= SCRAM_MSG_MAX || !scram_final_fields_ok(x, in, p - 3))
        return SCRAM_MALFORMED;
    uint8_t proof[SCRAM_KEY_MAX + 2];
    if (auth_b64_decode(in + p, len - p, proof, sizeof(proof)) != (long)kl)
        return SCRAM_MALFORMED;
    char auth[4 * SCRAM_MSG_MAX];
    int an = snprintf(auth, sizeof(auth), "%s%.*s", x->auth_prefix, (int)(p - 3), in);
    if (an < 0 || (size_t)an >= sizeof(auth))
        return SCRAM_MALFORMED;
    uint8_t sig[SCRAM_KEY_MAX], client_key[SCRAM_KEY_MAX], stored[SCRAM_KEY_MAX];
    unsigned slen = 0;
    if (scram_hmac(h, c->stored_key, kl, auth, (size_t)an, sig) != 0)
        return SCRAM_BAD_PROOF;
    for (size_t i = 0; i < kl; i++)
        client_key[i] = proof[i] ^ sig[i];
    if (EVP_Digest(client_key, kl, stored, &slen, scram_md(h), NULL) != 1 ||
        CRYPTO_memcmp(stored, c->stored_key, kl) != 0)
        return SCRAM_BAD_PROOF;
    uint8_t server_sig[SCRAM_KEY_MAX];
    char v[AUTH_B64_LEN(SCRAM_KEY_MAX) + 1];
    if (scram_hmac(h, c->server_key, kl, auth, (size_t)an, server_sig) != 0)
        return SCRAM_BAD_PROOF;
    auth_b64_encode(server_sig, kl, v);
    int n = snprintf(out, cap, "v=%s", v);
    return n < 0 || (size_t)n >= cap ? SCRAM_MALFORMED : SCRAM_OK;
}
