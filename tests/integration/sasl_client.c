/*
 * The tests' SASL client: SCRAM (client-first, client-final with the proof,
 * checking the server signature) and PLAIN, over a plain or TLS connection.
 * Computes with OpenSSL directly, independently of the server's auth code.
 * Runs on the test's thread.
 */
#include "integration/sasl_client.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int io_call(struct io *io, const struct frame_req *r, struct frame_resp *m)
{
    return io->tls ? tls_frame_call(io->tls, r, m) : frame_call(io->fd, r, m);
}

int sasl_call(struct io *io, uint8_t opcode, const char *mech, const void *value, size_t len,
              struct frame_resp *m)
{
    struct frame_req r = {.opcode = opcode,
                          .key = mech,
                          .keylen = (uint16_t)strlen(mech),
                          .value = value,
                          .vallen = (uint32_t)len};
    return io_call(io, &r, m);
}

static const EVP_MD *mech_md(const char *mech)
{
    if (strcmp(mech, "SCRAM-SHA512") == 0)
        return EVP_sha512();
    if (strcmp(mech, "SCRAM-SHA256") == 0)
        return EVP_sha256();
    return EVP_sha1();
}

/* The value of attribute "a=" in a SCRAM message (copied into out), or -1. */
static int attr(const char *msg, char a, char *out, size_t cap)
{
    for (const char *p = msg; p != NULL && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
        if (p[0] == a && p[1] == '=') {
            size_t n = strcspn(p + 2, ",");
            if (n >= cap)
                return -1;
            memcpy(out, p + 2, n);
            out[n] = '\0';
            return 0;
        }
    }
    return -1;
}

/* The server's first message as a string, or -2 from scram_auth on a malformed reply. */
static int server_first(struct frame_resp *m, char *out, size_t cap)
{
    uint32_t n = resp_vallen(m);
    if (n == 0 || n >= cap)
        return -1;
    memcpy(out, resp_value(m), n);
    out[n] = '\0';
    return 0;
}

/* Builds client-final and the expected server signature from the server's first message. */
static int scram_final(const EVP_MD *md, const char *bare, const char *sfirst, const char *password,
                       enum scram_twist twist, char *final, size_t cap, char *want_v)
{
    char nonce[256], salt_b64[256], iter[16];
    uint8_t salt[128], sp[64], ck[64], sk[64], svk[64], sig[64], proof[64], ssig[64];
    unsigned kl = (unsigned)EVP_MD_get_size(md), len;
    if (attr(sfirst, 'r', nonce, sizeof(nonce)) || attr(sfirst, 's', salt_b64, sizeof(salt_b64)) ||
        attr(sfirst, 'i', iter, sizeof(iter)))
        return -1;
    int saltlen = EVP_DecodeBlock(salt, (const uint8_t *)salt_b64, (int)strlen(salt_b64));
    saltlen -= (salt_b64[strlen(salt_b64) - 1] == '=') + (salt_b64[strlen(salt_b64) - 2] == '=');
    PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, saltlen, atoi(iter), md, (int)kl, sp);
    HMAC(md, sp, (int)kl, (const uint8_t *)"Client Key", 10, ck, &len);
    HMAC(md, sp, (int)kl, (const uint8_t *)"Server Key", 10, svk, &len);
    EVP_Digest(ck, kl, sk, &len, md, NULL);
    char without[512], auth[2048], p64[128];
    snprintf(without, sizeof(without), "c=biws,r=%s", nonce);
    snprintf(auth, sizeof(auth), "%s,%s,%s", bare, sfirst, without);
    HMAC(md, sk, (int)kl, (const uint8_t *)auth, strlen(auth), sig, &len);
    for (unsigned i = 0; i < kl; i++)
        proof[i] = ck[i] ^ sig[i];
    if (twist == SCRAM_BAD_PROOF)
        proof[kl / 2] ^= 0x10;
    EVP_EncodeBlock((uint8_t *)p64, proof, (int)kl);
    snprintf(final, cap, "%s,p=%s", without, p64);
    HMAC(md, svk, (int)kl, (const uint8_t *)auth, strlen(auth), ssig, &len);
    strcpy(want_v, "v=");
    EVP_EncodeBlock((uint8_t *)want_v + 2, ssig, (int)kl);
    return 0;
}

int scram_auth(struct io *io, const char *mech, const char *user, const char *password,
               enum scram_twist twist)
{
    uint8_t raw[18];
    char cnonce[32], first[256], sfirst[1024], final[1024], want_v[128];
    RAND_bytes(raw, sizeof(raw));
    EVP_EncodeBlock((uint8_t *)cnonce, raw, sizeof(raw));
    snprintf(first, sizeof(first), "n,,n=%s,r=%s", user, cnonce);
    struct frame_resp m;
    int st = sasl_call(io, BIN_CMD_SASL_AUTH, mech, first, strlen(first), &m);
    if (st != BIN_STATUS_AUTH_CONTINUE) {
        frame_free(&m);
        return st;
    }
    int ok = server_first(&m, sfirst, sizeof(sfirst));
    frame_free(&m);
    if (ok != 0 || strncmp(sfirst + 2, cnonce, strlen(cnonce)) != 0 ||
        scram_final(mech_md(mech), first + 3, sfirst, password, twist, final, sizeof(final),
                    want_v) != 0)
        return -2;
    st = sasl_call(io, BIN_CMD_SASL_STEP, mech, final, strlen(final), &m);
    if (st == BIN_STATUS_SUCCESS &&
        (resp_vallen(&m) != strlen(want_v) || memcmp(resp_value(&m), want_v, strlen(want_v)) != 0))
        st = -2;
    frame_free(&m);
    return st;
}

int plain_auth(struct io *io, const char *user, const char *password)
{
    char body[512];
    size_t ul = strlen(user), pl = strlen(password);
    body[0] = '\0';
    memcpy(body + 1, user, ul);
    body[1 + ul] = '\0';
    memcpy(body + 2 + ul, password, pl);
    struct frame_resp m;
    int st = sasl_call(io, BIN_CMD_SASL_AUTH, "PLAIN", body, 2 + ul + pl, &m);
    frame_free(&m);
    return st;
}
