/*
 * Meta command lines: "<cmd> <key> [<datalen>] <flag>*". Each flag is one
 * letter, possibly followed by an argument in the same token. The flags a
 * command accepts follow memcached's protocol.txt; a letter outside that set
 * is refused with "CLIENT_ERROR invalid flag". Pure; any thread.
 */
#include "protocol/meta.h"

#include <string.h>

int meta_flag_bit(char letter)
{
    if (letter >= 'A' && letter <= 'Z')
        return letter - 'A';
    if (letter >= 'a' && letter <= 'z')
        return 26 + (letter - 'a');
    return -1;
}

bool meta_has(const struct meta_flags *m, char letter)
{
    int b = meta_flag_bit(letter);
    return b >= 0 && (m->present & (1ull << b)) != 0;
}

struct text_tok meta_arg(const struct meta_flags *m, char letter)
{
    int b = meta_flag_bit(letter);
    if (b < 0 || !(m->present & (1ull << b)))
        return (struct text_tok){"", 0};
    return m->arg[b];
}

bool meta_u64(const struct meta_flags *m, char letter, uint64_t *out)
{
    struct text_tok t = meta_arg(m, letter);
    return meta_has(m, letter) && text_u64(&t, out);
}

bool meta_i32(const struct meta_flags *m, char letter, int32_t *out)
{
    struct text_tok t = meta_arg(m, letter);
    return meta_has(m, letter) && text_i32(&t, out);
}

/* The flags each command accepts, and those whose argument must be a number. */
static const char *meta_allowed(enum text_cmd cmd)
{
    switch (cmd) {
    case TEXT_CMD_MG:
        return "bcfhklOqstuvNRT";
    case TEXT_CMD_MS:
        return "bcCEFIkOqsTM";
    case TEXT_CMD_MD:
        return "bCIkOqT";
    case TEXT_CMD_MA:
        return "bCNJDTMqOtcvk";
    default: /* me */
        return "b";
    }
}

static const char meta_numeric_u64[] = "CEJD";
static const char meta_numeric_i32[] = "NRT";

/* Checks and records one flag token. */
static enum text_verdict meta_flag(const struct text_tok *t, enum text_cmd cmd,
                                   struct meta_flags *m)
{
    char letter = t->s[0];
    int b = meta_flag_bit(letter);
    if (b < 0 || strchr(meta_allowed(cmd), letter) == NULL)
        return TEXT_ERR_INVALID_FLAG;
    if (m->present & (1ull << b))
        return TEXT_ERR_DUP_FLAG;
    struct text_tok arg = {t->s + 1, t->len - 1};
    uint64_t u;
    int32_t i;
    if (strchr(meta_numeric_u64, letter) && !text_u64(&arg, &u))
        return TEXT_ERR_BAD_TOKEN;
    if (strchr(meta_numeric_i32, letter) && !text_i32(&arg, &i))
        return TEXT_ERR_BAD_TOKEN;
    if (letter == 'F' && (!text_u64(&arg, &u) || u > UINT32_MAX))
        return TEXT_ERR_BAD_TOKEN;
    if (letter == 'M' && arg.len != 1)
        return TEXT_ERR_FORMAT;
    if (letter == 'O' && arg.len > 32)
        return TEXT_ERR_OPAQUE;
    m->present |= 1ull << b;
    m->arg[b] = arg;
    m->order[m->norder++] = letter;
    return TEXT_OK;
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

size_t meta_key_decode(const struct text_tok *t, uint8_t *out)
{
    if (t->len == 0 || t->len % 4 != 0)
        return 0;
    size_t n = 0;
    for (uint32_t i = 0; i < t->len; i += 4) {
        int v[4];
        int pad = 0;
        for (int j = 0; j < 4; j++) {
            unsigned char c = (unsigned char)t->s[i + j];
            /* '=' only as the last one or two characters. */
            if (c == '=' && i + 4 == t->len && j >= 2 && (j == 3 || t->s[i + 3] == '=')) {
                v[j] = 0;
                pad++;
                continue;
            }
            v[j] = b64_value(c);
            if (v[j] < 0 || pad > 0)
                return 0;
        }
        uint32_t w =
            (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        uint8_t bytes[3] = {(uint8_t)(w >> 16), (uint8_t)(w >> 8), (uint8_t)w};
        for (int j = 0; j < 3 - pad; j++) {
            if (n == TEXT_KEY_MAX)
                return 0;
            out[n++] = bytes[j];
        }
    }
    return n;
}

enum text_verdict meta_parse(const struct text_tok *tok, size_t n, struct text_req *r)
{
    if (n < 2)
        return r->cmd == TEXT_CMD_ME ? TEXT_ERR_FORMAT : TEXT_ERR_UNKNOWN;
    r->key = tok[1];
    size_t first = 2;
    if (r->cmd == TEXT_CMD_MS) {
        int32_t vlen;
        if (n < 3 || !text_i32(&tok[2], &vlen) || vlen < 0)
            return TEXT_ERR_FORMAT;
        r->vallen = (uint32_t)vlen;
        r->has_data = true;
        first = 3;
    }
    for (size_t i = first; i < n; i++) {
        enum text_verdict v = meta_flag(&tok[i], r->cmd, &r->meta);
        if (v != TEXT_OK)
            return v;
    }
    if (r->key.len > TEXT_KEY_MAX)
        return TEXT_ERR_FORMAT;
    if (meta_has(&r->meta, 'b')) {
        uint8_t raw[TEXT_KEY_MAX];
        if (meta_key_decode(&r->key, raw) == 0)
            return TEXT_ERR_KEY;
    } else if (!text_key_ok(r->key.s, r->key.len)) {
        return TEXT_ERR_FORMAT;
    }
    r->noreply = meta_has(&r->meta, 'q');
    return TEXT_OK;
}
