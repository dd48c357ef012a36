/*
 * The client side of SASL for the integration tests: SCRAM-SHA512/256/1
 * (RFC 5802) and PLAIN over a plain socket or a TLS connection, written
 * directly on OpenSSL's PBKDF2 and HMAC. Single-threaded.
 */
#ifndef BASALT_TESTS_INTEGRATION_SASL_CLIENT_H
#define BASALT_TESTS_INTEGRATION_SASL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "integration/harness.h"
#include "integration/tls_client.h"

/* A connection: tls when not NULL, else the plain socket fd. */
struct io {
    int fd;
    struct tls_conn *tls;
};

/* Sends r and reads one response; returns its status or -1. */
int io_call(struct io *io, const struct frame_req *r, struct frame_resp *m);

/* One SASL request (opcode SASL_AUTH or SASL_STEP); returns the status or -1. */
int sasl_call(struct io *io, uint8_t opcode, const char *mech, const void *value, size_t len,
              struct frame_resp *m);

/* How a SCRAM run deviates from an honest client. */
enum scram_twist {
    SCRAM_HONEST,
    SCRAM_BAD_PROOF, /* flips one bit of the client proof */
};

/*
 * Runs a whole SCRAM exchange with mech ("SCRAM-SHA512", ...). Returns the
 * status of the last reply (0 on success, 0x20 on refusal), -1 on I/O
 * failure, -2 when the server's signature does not verify or a reply is
 * malformed.
 */
int scram_auth(struct io *io, const char *mech, const char *user, const char *password,
               enum scram_twist twist);

/* PLAIN with "\0user\0password"; returns the status or -1. */
int plain_auth(struct io *io, const char *user, const char *password);

#endif
