/*
 * Internal to the config module: reading one setting value (a decimal number,
 * a size with a k/m/g suffix, a listen address) and writing one-line errors.
 * Pure functions; nothing here keeps state.
 */
#ifndef BASALT_CONFIG_VALUE_H
#define BASALT_CONFIG_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "base/compiler.h"

#define CONFIG_KIB ((uint64_t)1 << 10)
#define CONFIG_MIB ((uint64_t)1 << 20)
#define CONFIG_GIB ((uint64_t)1 << 30)

/* Room for a user-supplied string echoed in an error: cut short, control bytes replaced. */
struct config_quoted {
    char s[72];
};

/* Writes a one-line message into err (when err is not NULL and errlen > 0). */
void config_errorf(char *err, size_t errlen, const char *fmt, ...) PRINTF_LIKE(3, 4);

/* Returns a printable, bounded copy of s kept in *q, for error messages. */
const char *config_quote(const char *s, struct config_quoted *q);

/* Formats a byte count the way sizes are typed: "64m", "4k", "1g" or plain bytes. */
void config_format_size(uint64_t bytes, char *buf, size_t n);

/*
 * Reads a decimal integer in [min, max] from s. On failure writes
 * "FLAG: ..." into err and returns -1.
 */
int config_read_int(const char *flag, const char *s, long long min, long long max, long long *out,
                    char *err, size_t errlen) WARN_UNUSED;

/*
 * Reads a size: digits with an optional k/m/g suffix (any case; powers of
 * 1024). A number without a suffix counts in units of unit bytes. The result
 * in bytes must lie in [min, max]; on failure writes "FLAG: ..." into err and
 * returns -1.
 */
int config_read_size(const char *flag, const char *s, uint64_t unit, uint64_t min, uint64_t max,
                     uint64_t *out, char *err, size_t errlen) WARN_UNUSED;

/*
 * Reads a duration into milliseconds: whole seconds ("30", as memcached),
 * seconds with up to three decimals ("0.25") or milliseconds ("250ms"). The
 * result must lie in [0, max_ms]; on failure writes "FLAG: ..." into err and
 * returns -1.
 */
int config_read_duration(const char *flag, const char *s, long long max_ms, long long *out_ms,
                         char *err, size_t errlen) WARN_UNUSED;

/* Formats milliseconds the way durations are typed: "30", "0.25". */
void config_format_duration(long long ms, char *buf, size_t n);

/*
 * Splits a listen address: "host", "host:port", "[v6]", "[v6]:port" or a bare
 * IPv6 address ("::1", which has no port). Copies the host without brackets
 * into host and sets *port to the port, or -1 when none is given. Returns 0,
 * or -1 with *why set to a short reason.
 */
int config_split_addr(const char *addr, char *host, size_t hostlen, int *port,
                      const char **why) WARN_UNUSED;

#endif
