/*
 * SASL for the binary protocol: the mechanism list, PLAIN, and the server
 * side of SCRAM-SHA512/256/1 as a two-step session. Credentials come from
 * the users table; an unknown user fails exactly like a wrong password.
 * Any thread; a session belongs to one connection.
 */
#ifndef BASALT_AUTH_SASL_H
#define BASALT_AUTH_SASL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/scram.h"
#include "auth/users.h"
#include "base/compiler.h"

/* Room for any reply a mechanism sends. */
#define SASL_OUT_MAX SCRAM_MSG_MAX

enum sasl_result {
    SASL_DONE,     /* authenticated; the reply (maybe empty) is in out */
    SASL_CONTINUE, /* the mechanism needs the client's next step; its challenge is in out */
    SASL_FAILED,   /* wrong credentials or unknown user */
    SASL_REFUSED,  /* unknown or unoffered mechanism, malformed message, step without start */
};

/* Returns a short name for a result. */
const char *sasl_result_str(enum sasl_result r);

/* The mechanisms offered, space-separated, strongest first; PLAIN only when plain is set. */
const char *sasl_mechanisms(bool plain);

struct sasl_session;

/* What one step produced. */
struct sasl_reply {
    char out[SASL_OUT_MAX]; /* challenge or final message (not NUL-terminated on the wire) */
    size_t outlen;
    char user[SCRAM_NAME_MAX + 1]; /* the user named by the client, for logs ("" if none) */
};

/*
 * Starts mechanism mech[0..mechlen) with the client's first message. PLAIN
 * finishes at once (and is refused unless plain_ok); SCRAM answers
 * SASL_CONTINUE and leaves a new session in *s for sasl_step. *s must be NULL
 * on entry; it is left NULL unless the result is SASL_CONTINUE.
 */
enum sasl_result sasl_start(struct auth_users *users, bool plain_ok, const char *mech,
                            size_t mechlen, const uint8_t *in, size_t inlen,
                            struct sasl_session **s, struct sasl_reply *r) WARN_UNUSED;

/*
 * Continues a SCRAM session with the client's final message. The session is
 * finished whatever the result: the caller destroys it afterwards. A NULL
 * session (a step without a start) is SASL_REFUSED.
 */
enum sasl_result sasl_step(struct sasl_session *s, const uint8_t *in, size_t inlen,
                           struct sasl_reply *r) WARN_UNUSED;

/* Frees a session (NULL is fine); *s = NULL. */
void sasl_session_destroy(struct sasl_session **s);

#endif
