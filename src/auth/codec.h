/*
 * Base64 (RFC 4648, with padding) for SCRAM messages and the users file.
 * Pure functions; any thread.
 */
#ifndef BASALT_AUTH_CODEC_H
#define BASALT_AUTH_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "base/compiler.h"

/* Encoded length of n bytes, without the terminating NUL. */
#define AUTH_B64_LEN(n) ((((n) + 2) / 3) * 4)

/* Encodes n bytes into out (AUTH_B64_LEN(n) + 1 bytes, NUL-terminated); returns the length. */
size_t auth_b64_encode(const uint8_t *in, size_t n, char *out);

/*
 * Decodes len characters of padded base64 into out (cap bytes). Returns the
 * number of bytes, or -1 when the text is not base64 or does not fit.
 */
long auth_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap) WARN_UNUSED;

#endif
