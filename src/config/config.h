/*
 * Settings: every flag and -o option, their defaults and validation, --help.
 * main.c parses argv into a struct config once and passes the parts each
 * module needs down to it; nothing reads settings from a global.
 */
#ifndef BASALT_CONFIG_CONFIG_H
#define BASALT_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "base/compiler.h"

#define CONFIG_MAX_LISTEN 16
#define CONFIG_ADDR_LEN 256
#define CONFIG_NAME_LEN 64
#define CONFIG_THREADS_MAX 256     /* -t upper bound: size per-worker arrays with it */
#define CONFIG_FRAME_OVERHEAD 1024 /* config_frame_limit() = item_size_max + this */
#define CONFIG_PATH_LEN 1024       /* file names of -o ssl_* and sasl_users */

/* TLS on one listener: -Z decides unless the address says tls: or notls:. */
enum config_tls {
    CONFIG_TLS_DEFAULT,
    CONFIG_TLS_ON,
    CONFIG_TLS_OFF,
};

struct config {
    int port;                                        /* -p, default 11211 */
    char listen[CONFIG_MAX_LISTEN][CONFIG_ADDR_LEN]; /* -l a,b: addresses, default 127.0.0.1 */
    int nlisten;
    enum config_tls listen_tls[CONFIG_MAX_LISTEN]; /* the tls:/notls: prefix, stripped above */
    int threads;                                   /* -t, default 4, 1..256 */
    size_t memory_limit;                           /* -m in bytes, default 64 MiB */
    int maxconns;                                  /* -c, default 1024 */
    size_t item_size_max; /* -I with k/m suffix, default 1 MiB; 1 KiB..1 GiB; <= memory_limit/2 */
    int verbose;          /* -v count */
    char user[CONFIG_NAME_LEN]; /* -u, accepted and recorded */
    /* -o key=value extended settings */
    int reqs_per_event;             /* default 20 */
    int inbox_batch;                /* default 10 */
    size_t send_buffer_threshold;   /* default 4096 */
    size_t max_send_queue;          /* default 1 MiB */
    int idle_timeout_ms;            /* -o idle_timeout (seconds): 0 = never (default) */
    int read_timeout_ms;            /* -o read_timeout: an incomplete command, default 30 s */
    int stuck_send_timeout_ms;      /* -o stuck_send_timeout: unread replies, default 360 s */
    int shutdown_timeout_ms;        /* -o shutdown_timeout: replies flushed at exit, default 5 s */
    char engine[CONFIG_NAME_LEN];   /* default "memory" */
    char protocol[CONFIG_NAME_LEN]; /* -B auto|binary|ascii, default "auto" */
    bool enable_shutdown;           /* -A: the text `shutdown` command stops the server */
    int reader_threads;             /* reader executor pool size, default 4, 1..64 */
    int enable_test_opcodes;        /* 1: TEST_CONTROL is served; default 0 (refused as unknown) */
    /* TLS (memcached's names): -Z and -o ssl_* */
    bool ssl_enabled;                      /* -Z: every listener without notls: */
    char ssl_chain_cert[CONFIG_PATH_LEN];  /* server certificate chain, PEM */
    char ssl_key[CONFIG_PATH_LEN];         /* its private key, PEM */
    char ssl_ca_cert[CONFIG_PATH_LEN];     /* CAs trusted for client certificates */
    int ssl_verify_mode;                   /* 0 none, 1 request, 2 require, 3 require once */
    char ssl_min_version[CONFIG_NAME_LEN]; /* "tlsv1.2" (default) or "tlsv1.3" */
    char ssl_ciphers[CONFIG_PATH_LEN];     /* OpenSSL cipher list for TLS 1.2; "" = default */
    int ssl_handshake_timeout;             /* seconds, default 10 */
    /* SASL: -S and -o sasl_* */
    bool sasl_required;               /* -S: authenticate before any other command */
    char sasl_users[CONFIG_PATH_LEN]; /* the users file (basalt-passwd writes it) */
    int sasl_plain_over_plaintext;    /* 1 offers PLAIN on plain listeners too */
    /* The wouldblock test engine (engine=wouldblock). */
    char wouldblock_inner[CONFIG_NAME_LEN]; /* the engine it wraps, default "memory" */
    char wouldblock_mode[CONFIG_NAME_LEN];  /* always|random:P|error:STATUS|never, default always;
                                               the engine's parser checks it (main.c) */
    int wouldblock_delay_us;                /* delay before a completion, default 0 */
    /* The disk engine (engine=disk, or --data-dir). */
    char data_dir[CONFIG_PATH_LEN];          /* -o data_dir / --data-dir; implies engine=disk */
    bool repair;                             /* --repair: drop corrupt records at start */
    char durability[CONFIG_NAME_LEN];        /* async (default) or sync */
    int flush_interval_ms;                   /* async: fsync at least this often, default 10 */
    char compact_threshold[CONFIG_NAME_LEN]; /* live fraction below which a segment is rewritten,
                                                default 0.5; the engine checks it (main.c) */
    size_t segment_size;                     /* bytes per segment file, default 64 MiB */
    char disk_faults[CONFIG_NAME_LEN];       /* test only: injected write/fsync failures */
    int disk_fetch_delay_us;                 /* test only: delay of each background fetch */
};

enum config_result {
    CONFIG_RUN,     /* settings are valid: start the server */
    CONFIG_EXIT_OK, /* --help or --version was printed: exit 0 */
    CONFIG_ERROR,   /* err holds a one-line reason: exit 2 */
};

/* Fills *c with the defaults. */
void config_defaults(struct config *c);

/*
 * Parses argv (memcached's flags, -o key=value[,key=value], --help,
 * --version) into *c, starting from the defaults. Help and version text go to
 * out. On CONFIG_ERROR err holds one line without a newline.
 * *c holds the parsed settings only on CONFIG_RUN, the defaults otherwise.
 * Nothing is written to stderr and argv is not modified. Uses getopt's
 * globals: main thread only; may be called again (tests do).
 */
enum config_result config_parse(struct config *c, int argc, char **argv, FILE *out, char *err,
                                size_t errlen) WARN_UNUSED;

/* The frame limit derived from the item size max (item_size_max + 1 KiB). */
size_t config_frame_limit(const struct config *c);

/*
 * Splits listen address i (0 <= i < c->nlisten) into the host, without IPv6
 * brackets, and the port: the address's own ("host:port", "[::1]:port") or
 * else c->port. Returns 0, or -1 when i is out of range or host is too small.
 */
int config_listen_addr(const struct config *c, int i, char *host, size_t hostlen,
                       int *port) WARN_UNUSED;

/* True when listener i speaks TLS (its tls:/notls: prefix, else -Z). */
bool config_listen_tls(const struct config *c, int i);

/* True when any listener speaks TLS. */
bool config_tls_used(const struct config *c);

/* Calls fn once per setting with memcached-style names ("maxbytes", "tcpport", ...). */
void config_foreach(const struct config *c,
                    void (*fn)(void *ctx, const char *name, const char *value), void *ctx);

#endif
