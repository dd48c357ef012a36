/* Base64 through OpenSSL's EVP block coder, with the padding accounted for. Any thread. */
#include "auth/codec.h"

#include <openssl/evp.h>
#include <stdlib.h>

size_t auth_b64_encode(const uint8_t *in, size_t n, char *out)
{
    return (size_t)EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

long auth_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
    if (len % 4 != 0 || len / 4 * 3 > cap + 2)
        return -1;
    if (len == 0)
        return 0;
    /* EVP_DecodeBlock writes whole groups: decode into room for them, then drop the padding. */
    uint8_t *tmp = malloc(len / 4 * 3);
    if (tmp == NULL)
        return -1;
    int n = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)len);
    size_t pad = (in[len - 1] == '=') + (in[len - 2] == '=');
    long result = -1;
    if (n >= 0 && (size_t)n >= pad && (size_t)n - pad <= cap) {
        result = (long)((size_t)n - pad);
        for (long i = 0; i < result; i++)
            out[i] = tmp[i];
    }
    free(tmp);
    return result;
}
