/*
 * SCRAM (RFC 5802, RFC 7677) on OpenSSL's PBKDF2, HMAC and constant-time
 * compare: key derivation from a password, and the server side of one
 * exchange as pure steps (the server nonce is an argument, so the RFC test
 * vectors can be replayed). Any thread; a struct scram_exchange belongs to
 * one connection.
 */
#ifndef BASALT_AUTH_SCRAM_H
#define BASALT_AUTH_SCRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/compiler.h"

#define SCRAM_KEY_MAX 64  /* SHA-512 */
#define SCRAM_SALT_MAX 64 /* bytes of salt a users file may hold */
#define SCRAM_NAME_MAX 128
#define SCRAM_DEFAULT_ITERATIONS 4096
#define SCRAM_MSG_MAX 1024 /* the longest message either side may send */

enum scram_hash {
    SCRAM_SHA512,
    SCRAM_SHA256,
    SCRAM_SHA1,
    SCRAM_NHASH,
};

/* One user's stored credential for one hash: never the password. */
struct scram_cred {
    uint8_t salt[SCRAM_SALT_MAX];
    size_t saltlen;
    unsigned iterations;
    uint8_t stored_key[SCRAM_KEY_MAX];
    uint8_t server_key[SCRAM_KEY_MAX];
};

/* The mechanism name as Couchbase clients send it ("SCRAM-SHA512", ...). */
const char *scram_mech_name(enum scram_hash h);

/* The hash whose mechanism name is name[0..len), or SCRAM_NHASH. */
enum scram_hash scram_hash_by_name(const char *name, size_t len);

/* Digest length of h in bytes. */
size_t scram_key_len(enum scram_hash h);

/*
 * Fills c from a password: SaltedPassword = PBKDF2(password, salt, iterations),
 * StoredKey = H(HMAC(SaltedPassword, "Client Key")), ServerKey =
 * HMAC(SaltedPassword, "Server Key"). 0 or -1.
 */
int scram_derive(enum scram_hash h, const char *password, size_t pwlen, const uint8_t *salt,
                 size_t saltlen, unsigned iterations, struct scram_cred *c) WARN_UNUSED;

/* True when password matches c (PLAIN): one PBKDF2, then a constant-time compare. */
bool scram_check_password(enum scram_hash h, const struct scram_cred *c, const char *password,
                          size_t pwlen);

/* The server's state between the client's first and final messages. */
struct scram_exchange {
    enum scram_hash hash;
    char user[SCRAM_NAME_MAX + 1];       /* decoded from n= */
    char nonce[SCRAM_MSG_MAX];           /* client nonce + server nonce */
    char auth_prefix[3 * SCRAM_MSG_MAX]; /* client-first-bare "," server-first "," */
    char gs2[64];                        /* the client's gs2 header, e.g. "n,," */
};

/* Why an exchange step failed. */
enum scram_status {
    SCRAM_OK,
    SCRAM_MALFORMED, /* not a SCRAM message, or channel binding asked for */
    SCRAM_BAD_PROOF, /* the client proof does not match */
};

/*
 * Reads client-first-message in[0..len): the gs2 header and n=, r=. Sets
 * x->user and x->hash; the caller then looks up the credential for x->user.
 */
enum scram_status scram_parse_client_first(struct scram_exchange *x, enum scram_hash h,
                                           const char *in, size_t len) WARN_UNUSED;

/*
 * Writes server-first-message "r=NONCE,s=SALT,i=N" into out (cap bytes,
 * NUL-terminated) for credential c and server nonce snonce. 0, or -1 when it
 * does not fit.
 */
int scram_server_first(struct scram_exchange *x, const struct scram_cred *c, const char *snonce,
                       char *out, size_t cap) WARN_UNUSED;

/*
 * Checks client-final-message in[0..len) against c and, when the proof
 * matches, writes server-final-message "v=SIGNATURE" into out (cap bytes).
 */
enum scram_status scram_client_final(const struct scram_exchange *x, const struct scram_cred *c,
                                     const char *in, size_t len, char *out, size_t cap) WARN_UNUSED;

#endif
