/*
 * SASL mechanisms on top of scram.c and the users table: PLAIN checks a
 * password against the stored SCRAM keys (one PBKDF2), SCRAM runs the
 * RFC 5802 exchange with a random server nonce. Runs on the worker of the
 * connection that authenticates.
 */
#include "auth/sasl.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "auth/codec.h"

#define SASL_NONCE_BYTES 18

struct sasl_session {
    struct scram_exchange x;
    struct scram_cred cred;
    bool known; /* the user exists with this hash */
};

const char *sasl_result_str(enum sasl_result r)
{
    switch (r) {
    case SASL_DONE:
        return "authenticated";
    case SASL_CONTINUE:
        return "continue";
    case SASL_FAILED:
        return "wrong credentials";
    default:
        return "refused";
    }
}

const char *sasl_mechanisms(bool plain)
{
    return plain ? "SCRAM-SHA512 SCRAM-SHA256 SCRAM-SHA1 PLAIN"
                 : "SCRAM-SHA512 SCRAM-SHA256 SCRAM-SHA1";
}

/* PLAIN: "[authzid] NUL authcid NUL password" (RFC 4616). */
static enum sasl_result sasl_plain(struct auth_users *users, const uint8_t *in, size_t inlen,
                                   struct sasl_reply *r)
{
    const uint8_t *nul1 = memchr(in, '\0', inlen);
    const uint8_t *nul2 = nul1 ? memchr(nul1 + 1, '\0', inlen - (size_t)(nul1 + 1 - in)) : NULL;
    if (nul2 == NULL)
        return SASL_REFUSED;
    size_t zlen = (size_t)(nul1 - in), clen = (size_t)(nul2 - nul1 - 1);
    if (clen == 0 || clen > SCRAM_NAME_MAX)
        return SASL_REFUSED;
    memcpy(r->user, nul1 + 1, clen);
    r->user[clen] = '\0';
    if (zlen != 0 && (zlen != clen || memcmp(in, r->user, clen) != 0))
        return SASL_FAILED; /* acting as another user is not supported */
    const char *pw = (const char *)nul2 + 1;
    size_t pwlen = inlen - (size_t)(nul2 + 1 - in);
    struct scram_cred c;
    /* The strongest stored hash; an unknown user still costs one PBKDF2, like a known one. */
    enum scram_hash h = SCRAM_SHA512;
    bool known = false;
    for (int i = 0; i < SCRAM_NHASH && !known; i++) {
        known = auth_users_lookup(users, r->user, (enum scram_hash)i, &c);
        if (known)
            h = (enum scram_hash)i;
    }
    if (!known)
        (void)auth_users_lookup(users, r->user, h, &c);
    bool ok = scram_check_password(h, &c, pw, pwlen) && known;
    OPENSSL_cleanse(&c, sizeof(c));
    if (!ok)
        return SASL_FAILED;
    r->outlen = 0;
    return SASL_DONE;
}

/* SCRAM's first step: parse client-first, answer server-first. */
static enum sasl_result sasl_scram_start(struct auth_users *users, enum scram_hash h,
                                         const uint8_t *in, size_t inlen, struct sasl_session **sp,
                                         struct sasl_reply *r)
{
    struct sasl_session *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return SASL_REFUSED;
    uint8_t raw[SASL_NONCE_BYTES];
    char nonce[AUTH_B64_LEN(SASL_NONCE_BYTES) + 1];
    if (scram_parse_client_first(&s->x, h, (const char *)in, inlen) != SCRAM_OK ||
        RAND_bytes(raw, sizeof(raw)) != 1) {
        free(s);
        return SASL_REFUSED;
    }
    snprintf(r->user, sizeof(r->user), "%s", s->x.user);
    auth_b64_encode(raw, sizeof(raw), nonce);
    s->known = auth_users_lookup(users, s->x.user, h, &s->cred);
    if (scram_server_first(&s->x, &s->cred, nonce, r->out, sizeof(r->out)) != 0) {
        sasl_session_destroy(&s);
        return SASL_REFUSED;
    }
    r->outlen = strlen(r->out);
    *sp = s;
    return SASL_CONTINUE;
}

enum sasl_result sasl_start(struct auth_users *users, bool plain_ok, const char *mech,
                            size_t mechlen, const uint8_t *in, size_t inlen,
                            struct sasl_session **s, struct sasl_reply *r)
{
    r->outlen = 0;
    r->user[0] = '\0';
    if (mechlen == 5 && memcmp(mech, "PLAIN", 5) == 0)
        return plain_ok ? sasl_plain(users, in, inlen, r) : SASL_REFUSED;
    enum scram_hash h = scram_hash_by_name(mech, mechlen);
    if (h == SCRAM_NHASH)
        return SASL_REFUSED;
    return sasl_scram_start(users, h, in, inlen, s, r);
}

enum sasl_result sasl_step(struct sasl_session *s, const uint8_t *in, size_t inlen,
                           struct sasl_reply *r)
{
    r->outlen = 0;
    r->user[0] = '\0';
    if (s == NULL)
        return SASL_REFUSED;
    snprintf(r->user, sizeof(r->user), "%s", s->x.user);
    enum scram_status st =
        scram_client_final(&s->x, &s->cred, (const char *)in, inlen, r->out, sizeof(r->out));
    if (st == SCRAM_MALFORMED)
        return SASL_REFUSED;
    if (st != SCRAM_OK || !s->known)
        return SASL_FAILED;
    r->outlen = strlen(r->out);
    return SASL_DONE;
}

void sasl_session_destroy(struct sasl_session **sp)
{
    if (*sp == NULL)
        return;
    OPENSSL_cleanse(*sp, sizeof(**sp));
    free(*sp);
    *sp = NULL;
}
