/*
 * Reading setting values: decimal numbers, sizes with k/m/g suffixes and
 * listen addresses, each checked against its bounds, with a one-line reason
 * on failure. Pure functions, called on the main thread at start-up (and by
 * whoever splits a listen address later).
 */
#include "config/value.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How much of a user-supplied string an error message repeats. */
#define QUOTE_MAX 64

void config_errorf(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

const char *config_quote(const char *s, struct config_quoted *q)
{
    size_t n = 0;
    for (; n < QUOTE_MAX && s[n] != '\0'; n++) {
        unsigned char ch = (unsigned char)s[n];
        /* The message must stay one printable line whatever argv held. */
        q->s[n] = (ch < 0x20 || ch >= 0x7f) ? '?' : (char)ch;
    }
    q->s[n] = '\0';
    if (s[n] != '\0')
        memcpy(q->s + n, "...", 4);
    return q->s;
}

void config_format_size(uint64_t bytes, char *buf, size_t n)
{
    static const struct {
        uint64_t unit;
        char suffix;
    } units[] = {{CONFIG_GIB, 'g'}, {CONFIG_MIB, 'm'}, {CONFIG_KIB, 'k'}};
    for (size_t i = 0; bytes != 0 && i < ARRAY_LEN(units); i++) {
        if (bytes % units[i].unit == 0) {
            snprintf(buf, n, "%llu%c", (unsigned long long)(bytes / units[i].unit),
                     units[i].suffix);
            return;
        }
    }
    snprintf(buf, n, "%llu", (unsigned long long)bytes);
}

/* True when s is one or more ASCII digits and nothing else. */
static bool all_digits(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return false;
    }
    return true;
}

int config_read_int(const char *flag, const char *s, long long min, long long max, long long *out,
                    char *err, size_t errlen)
{
    struct config_quoted q;
    /* A leading '-' is read so that "-t -1" reports the range, not "not a number". */
    if (!all_digits(s[0] == '-' ? s + 1 : s)) {
        config_errorf(err, errlen, "%s: expected a number, got '%s'", flag, config_quote(s, &q));
        return -1;
    }
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE || v < min || v > max) {
        config_errorf(err, errlen, "%s: must be between %lld and %lld, got %s", flag, min, max,
                      config_quote(s, &q));
        return -1;
    }
    *out = v;
    return 0;
}

/* Reads up to three decimals after a point as milliseconds; -1 if malformed. */
static long long read_millis(const char *s)
{
    size_t n = strspn(s, "0123456789");
    if (n == 0 || n > 3 || s[n] != '\0')
        return -1;
    long long ms = 0;
    for (size_t i = 0; i < 3; i++)
        ms = ms * 10 + (i < n ? s[i] - '0' : 0);
    return ms;
}

int config_read_duration(const char *flag, const char *s, long long max_ms, long long *out_ms,
                         char *err, size_t errlen)
{
    struct config_quoted q;
    size_t n = strspn(s, "0123456789");
    bool ms_suffix = n > 0 && strcmp(s + n, "ms") == 0;
    long long frac = 0;
    if (n > 0 && s[n] == '.')
        frac = read_millis(s + n + 1);
    if (n == 0 || n > 12 || frac < 0 || (s[n] != '\0' && s[n] != '.' && !ms_suffix)) {
        config_errorf(err, errlen, "%s: expected seconds such as 30 or 0.5, or 250ms, got '%s'",
                      flag, config_quote(s, &q));
        return -1;
    }
    long long whole = strtoll(s, NULL, 10);
    long long v = ms_suffix ? whole : whole * 1000 + frac;
    if (v > max_ms) {
        config_errorf(err, errlen, "%s: at most %lld seconds, got %s", flag, max_ms / 1000,
                      config_quote(s, &q));
        return -1;
    }
    *out_ms = v;
    return 0;
}

void config_format_duration(long long ms, char *buf, size_t n)
{
    if (ms % 1000 == 0)
        snprintf(buf, n, "%lld", ms / 1000);
    else
        snprintf(buf, n, "%lld.%03lld", ms / 1000, ms % 1000);
}

/* Bytes per unit for a size suffix, or 0 when c is not one. */
static uint64_t suffix_bytes(char c)
{
    switch (c) {
    case 'k':
    case 'K':
        return CONFIG_KIB;
    case 'm':
    case 'M':
        return CONFIG_MIB;
    case 'g':
    case 'G':
        return CONFIG_GIB;
    default:
        return 0;
    }
}

int config_read_size(const char *flag, const char *s, uint64_t unit, uint64_t min, uint64_t max,
                     uint64_t *out, char *err, size_t errlen)
{
    struct config_quoted q;
    size_t ndigits = strspn(s, "0123456789");
    uint64_t mult = unit;
    bool ok = ndigits > 0;
    if (ok && s[ndigits] != '\0') {
        mult = suffix_bytes(s[ndigits]);
        ok = mult != 0 && s[ndigits + 1] == '\0';
    }
    if (!ok) {
        config_errorf(err, errlen, "%s: expected a size such as 4096, 512k or 64m, got '%s'", flag,
                      config_quote(s, &q));
        return -1;
    }
    errno = 0;
    unsigned long long v = strtoull(s, NULL, 10);
    /* v <= max / mult is v * mult <= max without the overflow. */
    if (errno == ERANGE || v > max / mult || v * mult < min) {
        char lo[32], hi[32];
        config_format_size(min, lo, sizeof(lo));
        config_format_size(max, hi, sizeof(hi));
        config_errorf(err, errlen, "%s: must be between %s and %s, got %s", flag, lo, hi,
                      config_quote(s, &q));
        return -1;
    }
    *out = v * mult;
    return 0;
}

/* Reads the port of a listen address: 0..65535, digits only. */
static int read_port(const char *s, int *port)
{
    if (!all_digits(s) || strlen(s) > 5)
        return -1;
    long v = strtol(s, NULL, 10);
    if (v > 65535)
        return -1;
    *port = (int)v;
    return 0;
}

int config_split_addr(const char *addr, char *host, size_t hostlen, int *port, const char **why)
{
    const char *start = addr;
    const char *end;
    const char *portstr = NULL;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (close == NULL) {
            *why = "missing ']'";
            return -1;
        }
        start = addr + 1;
        end = close;
        if (close[1] == ':') {
            portstr = close + 2;
        } else if (close[1] != '\0') {
            *why = "unexpected text after ']'";
            return -1;
        }
    } else {
        /* One colon separates a port; more than one is an IPv6 address without a port. */
        const char *colon = strchr(addr, ':');
        if (colon != NULL && strchr(colon + 1, ':') == NULL) {
            end = colon;
            portstr = colon + 1;
        } else {
            end = addr + strlen(addr);
        }
    }
    size_t len = (size_t)(end - start);
    if (len == 0) {
        *why = "empty host";
        return -1;
    }
    if (len >= hostlen) {
        *why = "host name too long";
        return -1;
    }
    *port = -1;
    if (portstr != NULL && read_port(portstr, port) != 0) {
        *why = "port must be a number between 0 and 65535";
        return -1;
    }
    memcpy(host, start, len);
    host[len] = '\0';
    return 0;
}
