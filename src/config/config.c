/*
 * The settings table: every command-line flag and -o option with its bounds,
 * how it is read, its default and its line in --help. config_parse walks argv
 * with getopt_long, applies each flag through the table, then checks the
 * rules that tie settings together. Main thread, at start-up.
 */
#include "config/config.h"

#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/value.h"

/* The engines -o engine= accepts; add a name here when an engine is added. */
static const char *const engine_names[] = {"memory", "wouldblock", "disk"};
/* The disk engine's durability policies. */
static const char *const durability_names[] = {"async", "sync"};
/* The engines wouldblock can wrap. */
static const char *const inner_names[] = {"memory"};
/* -B: memcached's protocol names; auto picks by the first byte of a connection. */
static const char *const protocol_names[] = {"auto", "binary", "ascii"};
/* TLS 1.2 is the floor: older versions are never offered. */
static const char *const tls_versions[] = {"tlsv1.2", "tlsv1.3"};

enum value_kind {
    VALUE_INT,    /* int field, decimal in [min, max] */
    VALUE_MSEC,   /* int field in milliseconds, typed as seconds (config_read_duration) */
    VALUE_SIZE,   /* size_t field, bytes in [min, max]; a bare number counts in unit */
    VALUE_CHOICE, /* char[CONFIG_NAME_LEN] field, one of choices */
    VALUE_STRING, /* char[CONFIG_PATH_LEN] field, any text (file names, cipher lists) */
    VALUE_TEXT,   /* char[CONFIG_NAME_LEN] field, any non-empty text (its owner checks it) */
};

/* How a generic setting is read and where it is stored in struct config. */
struct value_spec {
    enum value_kind kind;
    size_t offset;
    long long min, max;
    uint64_t unit;
    const char *const *choices;
    size_t nchoices;
};

#define INT_SPEC(field, lo, hi)                                                                    \
    {                                                                                              \
        .kind = VALUE_INT, .offset = offsetof(struct config, field), .min = (lo), .max = (hi)      \
    }
#define SIZE_SPEC(field, lo, hi, u)                                                                \
    {                                                                                              \
        .kind = VALUE_SIZE, .offset = offsetof(struct config, field), .min = (long long)(lo),      \
        .max = (long long)(hi), .unit = (u)                                                        \
    }

static const struct value_spec port_spec = INT_SPEC(port, 0, 65535);
static const struct value_spec threads_spec = INT_SPEC(threads, 1, CONFIG_THREADS_MAX);
static const struct value_spec conns_spec = INT_SPEC(maxconns, 1, INT_MAX);
/* -m: a bare number is megabytes, as in memcached; 1 MiB .. 1 TiB. */
static const struct value_spec memory_spec =
    SIZE_SPEC(memory_limit, CONFIG_MIB, 1024 * CONFIG_GIB, CONFIG_MIB);
/* -I: a bare number is bytes; memcached's 1 KiB .. 1 GiB. */
static const struct value_spec item_spec = SIZE_SPEC(item_size_max, CONFIG_KIB, CONFIG_GIB, 1);
static const struct value_spec reqs_spec = INT_SPEC(reqs_per_event, 1, 10000);
static const struct value_spec inbox_spec = INT_SPEC(inbox_batch, 1, 10000);
/* 0 sends every value by reference; at or above -I every value is copied. */
static const struct value_spec sendbuf_spec = SIZE_SPEC(send_buffer_threshold, 0, CONFIG_GIB, 1);
static const struct value_spec sendq_spec =
    SIZE_SPEC(max_send_queue, 4 * CONFIG_KIB, CONFIG_GIB, 1);
static const struct value_spec protocol_spec = {.kind = VALUE_CHOICE,
                                                .offset = offsetof(struct config, protocol),
                                                .choices = protocol_names,
                                                .nchoices = ARRAY_LEN(protocol_names)};
#define STRING_SPEC(field)                                                                         \
    {                                                                                              \
        .kind = VALUE_STRING, .offset = offsetof(struct config, field)                             \
    }
static const struct value_spec chain_spec = STRING_SPEC(ssl_chain_cert);
static const struct value_spec key_spec = STRING_SPEC(ssl_key);
static const struct value_spec ca_spec = STRING_SPEC(ssl_ca_cert);
static const struct value_spec ciphers_spec = STRING_SPEC(ssl_ciphers);
static const struct value_spec users_spec = STRING_SPEC(sasl_users);
static const struct value_spec verify_spec = INT_SPEC(ssl_verify_mode, 0, 3);
static const struct value_spec handshake_spec = INT_SPEC(ssl_handshake_timeout, 1, 3600);
#define MSEC_SPEC(field, hi_seconds)                                                               \
    {                                                                                              \
        .kind = VALUE_MSEC, .offset = offsetof(struct config, field), .max = (hi_seconds)*1000LL   \
    }
/* Connection timeouts: 0 turns one off; at most a day. */
static const struct value_spec idle_spec = MSEC_SPEC(idle_timeout_ms, 86400);
static const struct value_spec read_timeout_spec = MSEC_SPEC(read_timeout_ms, 86400);
static const struct value_spec stuck_spec = MSEC_SPEC(stuck_send_timeout_ms, 86400);
static const struct value_spec shutdown_spec = MSEC_SPEC(shutdown_timeout_ms, 3600);
static const struct value_spec plain_spec = INT_SPEC(sasl_plain_over_plaintext, 0, 1);
static const struct value_spec tls_version_spec = {.kind = VALUE_CHOICE,
                                                   .offset =
                                                       offsetof(struct config, ssl_min_version),
                                                   .choices = tls_versions,
                                                   .nchoices = ARRAY_LEN(tls_versions)};
static const struct value_spec engine_spec = {.kind = VALUE_CHOICE,
                                              .offset = offsetof(struct config, engine),
                                              .choices = engine_names,
                                              .nchoices = ARRAY_LEN(engine_names)};
static const struct value_spec readers_spec = INT_SPEC(reader_threads, 1, 64);
static const struct value_spec test_ops_spec = INT_SPEC(enable_test_opcodes, 0, 1);
static const struct value_spec wb_inner_spec = {.kind = VALUE_CHOICE,
                                                .offset = offsetof(struct config, wouldblock_inner),
                                                .choices = inner_names,
                                                .nchoices = ARRAY_LEN(inner_names)};
static const struct value_spec wb_mode_spec = {.kind = VALUE_TEXT,
                                               .offset = offsetof(struct config, wouldblock_mode)};
static const struct value_spec wb_delay_spec = INT_SPEC(wouldblock_delay_us, 0, 10000000);
static const struct value_spec data_dir_spec = STRING_SPEC(data_dir);
static const struct value_spec durability_spec = {.kind = VALUE_CHOICE,
                                                  .offset = offsetof(struct config, durability),
                                                  .choices = durability_names,
                                                  .nchoices = ARRAY_LEN(durability_names)};
static const struct value_spec flush_interval_spec = INT_SPEC(flush_interval_ms, 1, 60000);
static const struct value_spec compact_spec = {
    .kind = VALUE_TEXT, .offset = offsetof(struct config, compact_threshold)};
static const struct value_spec segment_spec =
    SIZE_SPEC(segment_size, 64 * CONFIG_KIB, 4 * CONFIG_GIB, 1);
static const struct value_spec faults_spec = {.kind = VALUE_TEXT,
                                              .offset = offsetof(struct config, disk_faults)};
static const struct value_spec fetch_delay_spec = INT_SPEC(disk_fetch_delay_us, 0, 10000000);

/* State of one config_parse call. */
struct parse {
    struct config *c;
    FILE *out;
    char *err;
    size_t errlen;
    bool listen_given; /* the first -l replaces the default address, later ones add */
    bool finished;     /* --help or --version was printed */
};

/* Applies a flag that needs more than a value_spec; flag is spelled as the user typed it. */
typedef int (*flag_fn)(struct parse *p, const char *flag, const char *arg);
/* Writes the default of a custom flag for --help. */
typedef void (*show_fn)(const struct config *d, char *buf, size_t n);

/* Keys of long-only flags: above every short option letter. */
enum { FLAG_DATA_DIR = 256, FLAG_REPAIR };

struct flag {
    int key;               /* the short option letter, or a FLAG_* for a long-only flag */
    const char *long_name; /* memcached's long option */
    int has_arg;           /* of the long option; the short one takes an argument iff required */
    const char *metavar;
    const char *help;
    const struct value_spec *value; /* a generic setting, or NULL for apply */
    flag_fn apply;
    show_fn show; /* default shown by --help for custom flags, or NULL */
};

struct extended {
    const char *key;
    const char *metavar;
    const char *help;
    const struct value_spec *value;
};

static int apply_listen(struct parse *p, const char *flag, const char *arg);
static int apply_udp(struct parse *p, const char *flag, const char *arg);
static int apply_user(struct parse *p, const char *flag, const char *arg);
static int apply_verbose(struct parse *p, const char *flag, const char *arg);
static int apply_extended(struct parse *p, const char *flag, const char *arg);
static int apply_version(struct parse *p, const char *flag, const char *arg);
static int apply_shutdown(struct parse *p, const char *flag, const char *arg);
static int apply_help(struct parse *p, const char *flag, const char *arg);
static int apply_tls(struct parse *p, const char *flag, const char *arg);
static int apply_sasl(struct parse *p, const char *flag, const char *arg);
static int apply_repair(struct parse *p, const char *flag, const char *arg);
static void show_listen(const struct config *d, char *buf, size_t n);
static void show_zero(const struct config *d, char *buf, size_t n);

static const struct flag flags[] = {
    {'p', "port", required_argument, "PORT", "TCP port to listen on; 0 picks a free port",
     &port_spec, NULL, NULL},
    {'l', "listen", required_argument, "ADDR[,ADDR]",
     "addresses: host[:port], [v6][:port]; repeatable", NULL, apply_listen, show_listen},
    {'t', "threads", required_argument, "N", "worker threads, 1-256", &threads_spec, NULL, NULL},
    {'m', "memory-limit", required_argument, "MB", "item memory: megabytes, or a size such as 2g",
     &memory_spec, NULL, NULL},
    {'c', "conn-limit", required_argument, "N", "maximum simultaneous connections", &conns_spec,
     NULL, NULL},
    {'I', "max-item-size", required_argument, "SIZE",
     "largest item in bytes, k/m/g ok; 1k-1g, <= -m/2", &item_spec, NULL, NULL},
    {'R', "max-reqs-per-event", required_argument, "N", "same as -o reqs_per_event=N", &reqs_spec,
     NULL, NULL},
    {'U', "udp-port", required_argument, "PORT", "UDP port; only 0 (off) is supported", NULL,
     apply_udp, show_zero},
    {'u', "user", required_argument, "USER", "user to run as (recorded)", NULL, apply_user, NULL},
    {'v', "verbose", optional_argument, "N", "more logging; -vv for more", NULL, apply_verbose,
     show_zero},
    {'B', "protocol", required_argument, "auto|binary|ascii", "protocol served on the port",
     &protocol_spec, NULL, NULL},
    {'A', "enable-shutdown", no_argument, NULL, "allow the text shutdown command", NULL,
     apply_shutdown, NULL},
    {'o', "extended", required_argument, "KEY=VALUE[,...]", "extended settings below; repeatable",
     NULL, apply_extended, NULL},
    {'Z', "enable-ssl", no_argument, NULL, "TLS on every listener without notls:", NULL, apply_tls,
     NULL},
    {'S', "enable-sasl", no_argument, NULL, "require SASL authentication (binary protocol)", NULL,
     apply_sasl, NULL},
    {FLAG_DATA_DIR, "data-dir", required_argument, "PATH",
     "keep the data in PATH (the disk engine); same as -o data_dir=PATH", &data_dir_spec, NULL,
     NULL},
    {FLAG_REPAIR, "repair", no_argument, NULL,
     "disk engine: start despite corrupt records, dropping them", NULL, apply_repair, NULL},
    {'V', "version", no_argument, NULL, "print the version and exit", NULL, apply_version, NULL},
    {'h', "help", no_argument, NULL, "print this help and exit", NULL, apply_help, NULL},
};

static const struct extended extended[] = {
    {"reqs_per_event", "N", "requests per connection per event, 1-10000", &reqs_spec},
    {"inbox_batch", "N", "inbox messages per worker wake-up, 1-10000", &inbox_spec},
    {"send_buffer_threshold", "SIZE", "values above this are sent without a copy", &sendbuf_spec},
    {"max_send_queue", "SIZE", "pause a connection with more than this unsent", &sendq_spec},
    {"engine", "NAME", "storage engine", &engine_spec},
    {"idle_timeout", "SECONDS", "close a connection idle this long (0: never)", &idle_spec},
    {"read_timeout", "SECONDS", "close a connection whose command stays incomplete (0: never)",
     &read_timeout_spec},
    {"stuck_send_timeout", "SECONDS", "close a connection whose replies stay unread (0: never)",
     &stuck_spec},
    {"shutdown_timeout", "SECONDS", "at exit, wait this long for replies to be sent",
     &shutdown_spec},
    {"ssl_chain_cert", "FILE", "TLS server certificate chain (PEM)", &chain_spec},
    {"ssl_key", "FILE", "TLS server private key (PEM)", &key_spec},
    {"ssl_ca_cert", "FILE", "CA certificates trusted for client certificates (PEM)", &ca_spec},
    {"ssl_verify_mode", "N", "client certificates: 0 none, 1 request, 2 require, 3 once",
     &verify_spec},
    {"ssl_min_version", "VERSION", "oldest TLS version accepted", &tls_version_spec},
    {"ssl_ciphers", "LIST", "OpenSSL cipher list for TLS 1.2", &ciphers_spec},
    {"ssl_handshake_timeout", "SECONDS", "close a TLS handshake not done by then", &handshake_spec},
    {"sasl_users", "FILE", "SASL users file written by basalt-passwd", &users_spec},
    {"sasl_plain_over_plaintext", "0|1", "offer SASL PLAIN on listeners without TLS", &plain_spec},
    {"reader_threads", "N", "threads of the reader executor pool, 1-64", &readers_spec},
    {"enable_test_opcodes", "0|1", "serve the TEST_CONTROL opcode (tests only)", &test_ops_spec},
    {"wouldblock_inner", "NAME", "engine the wouldblock test engine wraps", &wb_inner_spec},
    {"wouldblock_mode", "MODE", "wouldblock: always, random:P, error:STATUS or never",
     &wb_mode_spec},
    {"wouldblock_delay_us", "N", "wouldblock: microseconds before a completion, 0-10000000",
     &wb_delay_spec},
    {"data_dir", "PATH", "disk engine: data directory (implies engine=disk)", &data_dir_spec},
    {"durability", "POLICY", "disk engine: reply before (async) or after (sync) the fsync",
     &durability_spec},
    {"flush_interval_ms", "MS", "disk engine, async: fsync at least this often, 1-60000",
     &flush_interval_spec},
    {"compact_threshold", "FRACTION", "disk engine: rewrite segments less live than this, 0-1",
     &compact_spec},
    {"segment_size", "SIZE", "disk engine: bytes per segment file", &segment_spec},
    {"disk_faults", "SPEC", "tests only: write:N[:COUNT][:ERRNO] or fsync:..., joined by +",
     &faults_spec},
    {"disk_fetch_delay_us", "N", "tests only: delay of each background fetch", &fetch_delay_spec},
};

void config_defaults(struct config *c)
{
    memset(c, 0, sizeof(*c));
    c->port = 11211;
    strcpy(c->listen[0], "127.0.0.1");
    c->nlisten = 1;
    c->threads = 4;
    c->memory_limit = 64 * CONFIG_MIB;
    c->maxconns = 1024;
    c->item_size_max = CONFIG_MIB;
    c->verbose = 0;
    c->reqs_per_event = 20;
    c->inbox_batch = 10;
    c->send_buffer_threshold = 4096;
    c->max_send_queue = CONFIG_MIB;
    c->idle_timeout_ms = 0;
    c->read_timeout_ms = 30 * 1000;
    c->stuck_send_timeout_ms = 360 * 1000;
    c->shutdown_timeout_ms = 5 * 1000;
    strcpy(c->engine, "memory");
    strcpy(c->ssl_min_version, "tlsv1.2");
    c->ssl_handshake_timeout = 10;
    c->reader_threads = 4;
    c->enable_test_opcodes = 0;
    strcpy(c->wouldblock_inner, "memory");
    strcpy(c->wouldblock_mode, "always");
    c->wouldblock_delay_us = 0;
    strcpy(c->protocol, "auto");
    strcpy(c->durability, "async");
    c->flush_interval_ms = 10;
    strcpy(c->compact_threshold, "0.5");
    c->segment_size = 64 * CONFIG_MIB;
}

/* Writes the names a VALUE_CHOICE setting accepts as "a, b, c". */
static void join_choices(const struct value_spec *spec, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < spec->nchoices && used < n; i++) {
        snprintf(buf + used, n - used, "%s%s", i ? ", " : "", spec->choices[i]);
        used += strlen(buf + used);
    }
}

/* Reads arg as described by spec into the matching field of p->c. */
static int apply_value(struct parse *p, const struct value_spec *spec, const char *flag,
                       const char *arg)
{
    char *field = (char *)p->c + spec->offset;
    if (spec->kind == VALUE_INT) {
        long long v;
        if (config_read_int(flag, arg, spec->min, spec->max, &v, p->err, p->errlen) != 0)
            return -1;
        *(int *)(void *)field = (int)v;
        return 0;
    }
    if (spec->kind == VALUE_MSEC) {
        long long v;
        if (config_read_duration(flag, arg, spec->max, &v, p->err, p->errlen) != 0)
            return -1;
        *(int *)(void *)field = (int)v;
        return 0;
    }
    if (spec->kind == VALUE_SIZE) {
        uint64_t v;
        if (config_read_size(flag, arg, spec->unit, (uint64_t)spec->min, (uint64_t)spec->max, &v,
                             p->err, p->errlen) != 0)
            return -1;
        *(size_t *)(void *)field = (size_t)v;
        return 0;
    }
    if (spec->kind == VALUE_STRING) {
        if (strlen(arg) >= CONFIG_PATH_LEN) {
            config_errorf(p->err, p->errlen, "%s: longer than %d characters", flag,
                          CONFIG_PATH_LEN - 1);
            return -1;
        }
        snprintf(field, CONFIG_PATH_LEN, "%s", arg);
        return 0;
    }
    if (spec->kind == VALUE_TEXT) {
        if (*arg == '\0' || strlen(arg) >= CONFIG_NAME_LEN) {
            config_errorf(p->err, p->errlen, "%s: value must be 1 to %d characters", flag,
                          CONFIG_NAME_LEN - 1);
            return -1;
        }
        snprintf(field, CONFIG_NAME_LEN, "%s", arg);
        return 0;
    }
    for (size_t i = 0; i < spec->nchoices; i++) {
        if (strcmp(arg, spec->choices[i]) == 0) {
            snprintf(field, CONFIG_NAME_LEN, "%s", spec->choices[i]);
            return 0;
        }
    }
    char known[CONFIG_NAME_LEN * 4];
    join_choices(spec, known, sizeof(known));
    struct config_quoted q;
    config_errorf(p->err, p->errlen, "%s: unknown value '%s' (known: %s)", flag,
                  config_quote(arg, &q), known);
    return -1;
}

/* Strips memcached's tls: or notls: prefix from *addr and says which it was. */
static enum config_tls listen_prefix(const char **addr)
{
    if (strncmp(*addr, "tls:", 4) == 0) {
        *addr += 4;
        return CONFIG_TLS_ON;
    }
    if (strncmp(*addr, "notls:", 6) == 0) {
        *addr += 6;
        return CONFIG_TLS_OFF;
    }
    return CONFIG_TLS_DEFAULT;
}

/* Checks one -l address and appends it to the listen list. */
static int add_listen(struct parse *p, const char *flag, const char *addr)
{
    struct config *c = p->c;
    struct config_quoted q;
    char host[CONFIG_ADDR_LEN];
    const char *why = NULL;
    int port;
    enum config_tls tls = listen_prefix(&addr);
    if (*addr == '\0') {
        config_errorf(p->err, p->errlen, "%s: empty address", flag);
        return -1;
    }
    if (strlen(addr) >= CONFIG_ADDR_LEN) {
        config_errorf(p->err, p->errlen, "%s: address longer than %d characters: '%s'", flag,
                      CONFIG_ADDR_LEN - 1, config_quote(addr, &q));
        return -1;
    }
    if (config_split_addr(addr, host, sizeof(host), &port, &why) != 0) {
        config_errorf(p->err, p->errlen, "%s: %s in '%s'", flag, why, config_quote(addr, &q));
        return -1;
    }
    for (int i = 0; i < c->nlisten; i++) {
        if (strcmp(c->listen[i], addr) == 0) {
            config_errorf(p->err, p->errlen, "%s: '%s' given twice", flag, config_quote(addr, &q));
            return -1;
        }
    }
    if (c->nlisten == CONFIG_MAX_LISTEN) {
        config_errorf(p->err, p->errlen, "%s: at most %d addresses", flag, CONFIG_MAX_LISTEN);
        return -1;
    }
    c->listen_tls[c->nlisten] = tls;
    strcpy(c->listen[c->nlisten++], addr);
    return 0;
}

/* -l ADDR[,ADDR]: memcached also separates with ';' and lets -l repeat. */
static int apply_listen(struct parse *p, const char *flag, const char *arg)
{
    if (!p->listen_given) {
        p->c->nlisten = 0;
        p->listen_given = true;
    }
    char *copy = strdup(arg);
    if (copy == NULL) {
        config_errorf(p->err, p->errlen, "%s: out of memory", flag);
        return -1;
    }
    int rc = 0;
    char *rest = copy;
    char *addr;
    while (rc == 0 && (addr = strsep(&rest, ",;")) != NULL)
        rc = add_listen(p, flag, addr);
    free(copy);
    return rc;
}

/* -U: memcached scripts pass -U 0 to turn UDP off; basalt has no UDP to turn on. */
static int apply_udp(struct parse *p, const char *flag, const char *arg)
{
    long long v;
    if (config_read_int(flag, arg, 0, 65535, &v, p->err, p->errlen) != 0)
        return -1;
    if (v != 0) {
        config_errorf(p->err, p->errlen, "%s: UDP is not supported (only 0 is accepted), got %lld",
                      flag, v);
        return -1;
    }
    return 0;
}

static int apply_user(struct parse *p, const char *flag, const char *arg)
{
    if (*arg == '\0' || strlen(arg) >= CONFIG_NAME_LEN) {
        config_errorf(p->err, p->errlen, "%s: user name must be 1 to %d characters", flag,
                      CONFIG_NAME_LEN - 1);
        return -1;
    }
    snprintf(p->c->user, sizeof(p->c->user), "%s", arg);
    return 0;
}

/* -v adds one level; --verbose=N sets the level. */
static int apply_verbose(struct parse *p, const char *flag, const char *arg)
{
    if (arg == NULL) {
        p->c->verbose++;
        return 0;
    }
    long long v;
    if (config_read_int(flag, arg, 0, 10, &v, p->err, p->errlen) != 0)
        return -1;
    p->c->verbose = (int)v;
    return 0;
}

/* One KEY=VALUE of -o; item is a writable copy. */
static int apply_extended_item(struct parse *p, const char *flag, char *item)
{
    struct config_quoted q;
    char *value = strchr(item, '=');
    if (value != NULL)
        *value++ = '\0';
    const struct extended *e = NULL;
    for (size_t i = 0; i < ARRAY_LEN(extended) && e == NULL; i++) {
        if (strcmp(item, extended[i].key) == 0)
            e = &extended[i];
    }
    if (e == NULL) {
        if (*item == '\0')
            config_errorf(p->err, p->errlen, "%s: empty setting name", flag);
        else
            config_errorf(p->err, p->errlen, "%s: unknown option '%s'", flag,
                          config_quote(item, &q));
        return -1;
    }
    if (value == NULL) {
        config_errorf(p->err, p->errlen, "%s: %s needs a value (%s=%s)", flag, e->key, e->key,
                      e->metavar);
        return -1;
    }
    char name[CONFIG_NAME_LEN + 32];
    snprintf(name, sizeof(name), "%s %s", flag, e->key);
    return apply_value(p, e->value, name, value);
}

/* -o KEY=VALUE[,KEY=VALUE...] */
static int apply_extended(struct parse *p, const char *flag, const char *arg)
{
    char *copy = strdup(arg);
    if (copy == NULL) {
        config_errorf(p->err, p->errlen, "%s: out of memory", flag);
        return -1;
    }
    int rc = 0;
    char *rest = copy;
    char *item;
    while (rc == 0 && (item = strsep(&rest, ",")) != NULL)
        rc = apply_extended_item(p, flag, item);
    free(copy);
    return rc;
}

static int apply_shutdown(struct parse *p, const char *flag, const char *arg)
{
    p->c->enable_shutdown = true;
    return 0;
}

static int apply_tls(struct parse *p, const char *flag, const char *arg)
{
    p->c->ssl_enabled = true;
    return 0;
}

static int apply_sasl(struct parse *p, const char *flag, const char *arg)
{
    p->c->sasl_required = true;
    return 0;
}

static int apply_repair(struct parse *p, const char *flag, const char *arg)
{
    p->c->repair = true;
    return 0;
}

static int apply_version(struct parse *p, const char *flag, const char *arg)
{
    fprintf(p->out, "basalt %s\n", BASALT_VERSION);
    p->finished = true;
    return 0;
}

static void show_listen(const struct config *d, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < d->nlisten && used < n; i++) {
        snprintf(buf + used, n - used, "%s%s", i ? "," : "", d->listen[i]);
        used += strlen(buf + used);
    }
}

static void show_zero(const struct config *d, char *buf, size_t n)
{
    snprintf(buf, n, "0");
}

/* The default of a flag or -o option as --help shows it; "" when there is none. */
static void show_default(const struct config *d, const struct value_spec *spec, show_fn show,
                         char *buf, size_t n)
{
    const char *field = (const char *)d + (spec ? spec->offset : 0);
    buf[0] = '\0';
    if (spec == NULL && show != NULL)
        show(d, buf, n);
    else if (spec != NULL && spec->kind == VALUE_INT)
        snprintf(buf, n, "%d", *(const int *)(const void *)field);
    else if (spec != NULL && spec->kind == VALUE_MSEC)
        config_format_duration(*(const int *)(const void *)field, buf, n);
    else if (spec != NULL && spec->kind == VALUE_SIZE)
        config_format_size(*(const size_t *)(const void *)field, buf, n);
    else if (spec != NULL)
        snprintf(buf, n, "%.*s", (int)(n - 1), field);
}

/* One --help line: the option column, its description and its default. */
static void help_line(FILE *out, const char *option, const char *help, const char *def)
{
    fprintf(out, "  %-32s %s", option, help);
    if (*def != '\0')
        fprintf(out, " (default: %s)", def);
    fputc('\n', out);
}

static int apply_help(struct parse *p, const char *flag, const char *arg)
{
    struct config d;
    char option[96], help[CONFIG_NAME_LEN * 6], def[CONFIG_MAX_LISTEN * CONFIG_ADDR_LEN];
    config_defaults(&d);
    fprintf(p->out,
            "basalt %s, a memcached-compatible key-value server\n"
            "Usage: basalt [options]\n",
            BASALT_VERSION);
    for (size_t i = 0; i < ARRAY_LEN(flags); i++) {
        const struct flag *f = &flags[i];
        const char *sep = f->has_arg == optional_argument ? "[=" : "=";
        char shortopt[8] = "    ";
        if (f->key < FLAG_DATA_DIR)
            snprintf(shortopt, sizeof(shortopt), "-%c, ", f->key);
        snprintf(option, sizeof(option), "%s--%s%s%s%s", shortopt, f->long_name,
                 f->metavar ? sep : "", f->metavar ? f->metavar : "",
                 f->has_arg == optional_argument ? "]" : "");
        show_default(&d, f->value, f->show, def, sizeof(def));
        help_line(p->out, option, f->help, def);
    }
    fprintf(p->out, "Extended settings (-o KEY=VALUE):\n");
    for (size_t i = 0; i < ARRAY_LEN(extended); i++) {
        const struct extended *e = &extended[i];
        snprintf(option, sizeof(option), "    %s=%s", e->key, e->metavar);
        show_default(&d, e->value, NULL, def, sizeof(def));
        if (e->value->kind == VALUE_CHOICE) {
            char known[CONFIG_NAME_LEN * 4];
            join_choices(e->value, known, sizeof(known));
            snprintf(help, sizeof(help), "%s: %s", e->help, known);
        } else {
            snprintf(help, sizeof(help), "%s", e->help);
        }
        help_line(p->out, option, help, def);
    }
    fprintf(p->out, "Sizes take a k, m or g suffix (powers of 1024).\n");
    p->finished = true;
    return 0;
}

static const struct flag *find_flag(int key)
{
    for (size_t i = 0; i < ARRAY_LEN(flags); i++) {
        if (flags[i].key == key)
            return &flags[i];
    }
    return NULL;
}

/*
 * Builds getopt_long's tables from flags[]. '+' stops at the first operand
 * (argv is left alone); ':' makes a missing argument return ':'.
 */
static void build_getopt(struct option *longopts, char *optstring)
{
    char *s = optstring;
    *s++ = '+';
    *s++ = ':';
    for (size_t i = 0; i < ARRAY_LEN(flags); i++) {
        longopts[i] = (struct option){flags[i].long_name, flags[i].has_arg, NULL, flags[i].key};
        if (flags[i].key >= FLAG_DATA_DIR)
            continue; /* long only */
        *s++ = (char)flags[i].key;
        if (flags[i].has_arg == required_argument)
            *s++ = ':';
    }
    longopts[ARRAY_LEN(flags)] = (struct option){NULL, 0, NULL, 0};
    *s = '\0';
}

/* Turns getopt's '?' or ':' into a message; word is argv[optind - 1]. */
static void getopt_error(struct parse *p, int ch, const char *word)
{
    /* The option as typed, without any "=value". */
    char typed[sizeof(struct config_quoted)];
    struct config_quoted q;
    snprintf(typed, sizeof(typed), "%.*s", (int)strcspn(word, "="), word);
    config_quote(typed, &q);
    bool is_long = strncmp(word, "--", 2) == 0;
    bool printable = optopt > 0x20 && optopt < 0x7f;
    if (ch == ':' && is_long)
        config_errorf(p->err, p->errlen, "%s: missing argument", q.s);
    else if (ch == ':')
        config_errorf(p->err, p->errlen, "-%c: missing argument", optopt);
    else if (optopt != 0 && find_flag(optopt) != NULL)
        /* A short flag never gets here with '?': this is --flag=value on a flag without one. */
        config_errorf(p->err, p->errlen, "%s: takes no argument", q.s);
    else if (optopt == 0)
        config_errorf(p->err, p->errlen, "unknown or ambiguous option %s", q.s);
    else if (printable)
        config_errorf(p->err, p->errlen, "unknown option -%c", optopt);
    else
        config_errorf(p->err, p->errlen, "unknown option (byte 0x%02x)", optopt & 0xff);
}

/* TLS needs a certificate and key; client verification and -S need their files. */
static int check_security(struct parse *p)
{
    const struct config *c = p->c;
    if (config_tls_used(c) && (c->ssl_chain_cert[0] == '\0' || c->ssl_key[0] == '\0')) {
        config_errorf(p->err, p->errlen,
                      "TLS (-Z or -l tls:) needs -o ssl_chain_cert=FILE,ssl_key=FILE");
        return -1;
    }
    if (config_tls_used(c) && c->ssl_verify_mode > 0 && c->ssl_ca_cert[0] == '\0') {
        config_errorf(p->err, p->errlen,
                      "-o ssl_verify_mode=%d needs -o ssl_ca_cert=FILE to check client "
                      "certificates against",
                      c->ssl_verify_mode);
        return -1;
    }
    if (c->sasl_required && c->sasl_users[0] == '\0') {
        config_errorf(p->err, p->errlen, "-S needs -o sasl_users=FILE");
        return -1;
    }
    return 0;
}

/* --data-dir picks the disk engine, which needs a data directory. */
static int check_disk(struct parse *p)
{
    struct config *c = p->c;
    if (c->data_dir[0] != '\0' && strcmp(c->engine, "memory") == 0)
        strcpy(c->engine, "disk");
    if (strcmp(c->engine, "disk") == 0 && c->data_dir[0] == '\0') {
        config_errorf(p->err, p->errlen, "-o engine=disk needs a data directory (--data-dir PATH)");
        return -1;
    }
    return 0;
}

/* Settings that constrain each other, checked once every flag is read. */
static int check_rules(struct parse *p)
{
    const struct config *c = p->c;
    if (c->item_size_max > c->memory_limit / 2) {
        char item[32], mem[32];
        config_format_size(c->item_size_max, item, sizeof(item));
        config_format_size(c->memory_limit, mem, sizeof(mem));
        config_errorf(p->err, p->errlen,
                      "-I: item size max %s is more than half of the memory limit (-m %s)", item,
                      mem);
        return -1;
    }
    if (check_disk(p) != 0)
        return -1;
    return check_security(p);
}

/* Reads every flag of argv into p->c; -1 on error, 0 when done or finished. */
static int parse_flags(struct parse *p, int argc, char **argv)
{
    struct option longopts[ARRAY_LEN(flags) + 1];
    char optstring[2 * ARRAY_LEN(flags) + 3];
    build_getopt(longopts, optstring);
    opterr = 0;
    optind = 0; /* 0, not 1: glibc then resets all of its state, so parsing can run again */
    while (!p->finished) {
        int longindex = -1;
        int ch = getopt_long(argc, argv, optstring, longopts, &longindex);
        if (ch == -1)
            break;
        if (ch == '?' || ch == ':') {
            getopt_error(p, ch, optind >= 1 && optind <= argc ? argv[optind - 1] : "");
            return -1;
        }
        const struct flag *f = find_flag(ch);
        char name[64];
        if (longindex >= 0)
            snprintf(name, sizeof(name), "--%s", f->long_name);
        else
            snprintf(name, sizeof(name), "-%c", ch & 0x7f);
        /* Only a long option can carry an optional argument (--verbose=2). */
        const char *arg = f->has_arg == required_argument || longindex >= 0 ? optarg : NULL;
        if (f->has_arg == no_argument)
            arg = NULL;
        int rc = f->value ? apply_value(p, f->value, name, arg) : f->apply(p, name, arg);
        if (rc != 0)
            return -1;
    }
    if (!p->finished && optind < argc) {
        struct config_quoted q;
        config_errorf(p->err, p->errlen, "unexpected argument '%s'",
                      config_quote(argv[optind], &q));
        return -1;
    }
    return 0;
}

enum config_result config_parse(struct config *c, int argc, char **argv, FILE *out, char *err,
                                size_t errlen)
{
    struct config parsed;
    config_defaults(c);
    config_defaults(&parsed);
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    struct parse p = {.c = &parsed, .out = out ? out : stdout, .err = err, .errlen = errlen};
    if (parse_flags(&p, argc, argv) != 0)
        return CONFIG_ERROR;
    if (p.finished) {
        fflush(p.out);
        return CONFIG_EXIT_OK;
    }
    if (check_rules(&p) != 0)
        return CONFIG_ERROR;
    *c = parsed;
    return CONFIG_RUN;
}
