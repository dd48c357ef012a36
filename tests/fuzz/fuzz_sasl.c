/*
 * Fuzz target: the server side of SCRAM as a connection drives it. The input
 * is a selector byte (which hash), the client-first message, a NUL byte and
 * the client-final message. Whatever the bytes, each step must end in one of
 * its documented results, a server-first message must carry the client's
 * nonce, and a success must come with a "v=" signature. The base64 decoder
 * sees the raw input too. Single thread.
 */
#include <string.h>

#include "auth/codec.h"
#include "auth/scram.h"
#include "fuzz/fuzz.h"

#define FUZZ_SNONCE "fuzzServerNonce"

static const struct scram_cred *fuzz_cred(enum scram_hash h)
{
    static struct scram_cred creds[SCRAM_NHASH];
    static int ready[SCRAM_NHASH];
    if (!ready[h]) {
        /* Two iterations: the keys only need to exist, not to be expensive. */
        FUZZ_CHECK(scram_derive(h, "pencil", 6, (const uint8_t *)"salt", 4, 2, &creds[h]) == 0);
        ready[h] = 1;
    }
    return &creds[h];
}

static void fuzz_exchange(enum scram_hash h, const char *first, size_t flen, const char *final,
                          size_t len)
{
    struct scram_exchange x;
    enum scram_status st = scram_parse_client_first(&x, h, first, flen);
    FUZZ_CHECK(st == SCRAM_OK || st == SCRAM_MALFORMED);
    if (st != SCRAM_OK)
        return;
    FUZZ_CHECK(x.user[0] != '\0' && strlen(x.user) <= SCRAM_NAME_MAX);
    char out[SCRAM_MSG_MAX];
    const struct scram_cred *c = fuzz_cred(h);
    if (scram_server_first(&x, c, FUZZ_SNONCE, out, sizeof(out)) != 0)
        return;
    FUZZ_CHECK(strncmp(out, "r=", 2) == 0 && strstr(out, FUZZ_SNONCE ",s=") != NULL);
    st = scram_client_final(&x, c, final, len, out, sizeof(out));
    FUZZ_CHECK(st == SCRAM_OK || st == SCRAM_MALFORMED || st == SCRAM_BAD_PROOF);
    if (st == SCRAM_OK)
        FUZZ_CHECK(strncmp(out, "v=", 2) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t dec[256];
    long n = auth_b64_decode((const char *)data, size, dec, sizeof(dec));
    FUZZ_CHECK(n >= -1 && n <= (long)sizeof(dec));
    if (size < 1)
        return 0;
    enum scram_hash h = (enum scram_hash)(data[0] % SCRAM_NHASH);
    const char *first = (const char *)data + 1;
    size_t rest = size - 1;
    const char *nul = memchr(first, '\0', rest);
    size_t flen = nul ? (size_t)(nul - first) : rest;
    const char *final = nul ? nul + 1 : first + rest;
    size_t len = nul ? rest - flen - 1 : 0;
    fuzz_exchange(h, first, flen, final, len);
    return 0;
}
