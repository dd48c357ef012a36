/*
 * basalt-bench command line: flags, defaults, validation and --help. Runs on
 * the main thread before any worker starts. A bad flag prints one line and
 * the caller exits with status 2.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define MAX_THREADS 256
#define MAX_CONNS 10000
#define MAX_PIPELINE 1024
#define MAX_MULTIGET 1000
#define MAX_VALUE (64u << 20)
#define MAX_ZIPF_KEYS 50000000ull

enum {
    OPT_SERVER = 256,
    OPT_PROTOCOL,
    OPT_THREADS,
    OPT_CONNS,
    OPT_PIPELINE,
    OPT_RATIO,
    OPT_KEYS,
    OPT_KEY_DIST,
    OPT_VALUE_SIZE,
    OPT_DURATION,
    OPT_REQUESTS,
    OPT_PREFILL,
    OPT_MULTIGET,
    OPT_RATE,
    OPT_TIMEOUT,
    OPT_JSON,
    OPT_NO_CHECK,
    OPT_SEED,
    OPT_PREFIX,
    OPT_TLS,
    OPT_HELP,
};

static const struct option long_opts[] = {
    {"server", required_argument, NULL, OPT_SERVER},
    {"protocol", required_argument, NULL, OPT_PROTOCOL},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"conns", required_argument, NULL, OPT_CONNS},
    {"pipeline", required_argument, NULL, OPT_PIPELINE},
    {"ratio", required_argument, NULL, OPT_RATIO},
    {"keys", required_argument, NULL, OPT_KEYS},
    {"key-dist", required_argument, NULL, OPT_KEY_DIST},
    {"value-size", required_argument, NULL, OPT_VALUE_SIZE},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"requests", required_argument, NULL, OPT_REQUESTS},
    {"prefill", no_argument, NULL, OPT_PREFILL},
    {"multiget", required_argument, NULL, OPT_MULTIGET},
    {"rate", required_argument, NULL, OPT_RATE},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"json", no_argument, NULL, OPT_JSON},
    {"no-check-stats", no_argument, NULL, OPT_NO_CHECK},
    {"seed", required_argument, NULL, OPT_SEED},
    {"key-prefix", required_argument, NULL, OPT_PREFIX},
    {"tls", no_argument, NULL, OPT_TLS},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static const char usage[] =
    "usage: basalt-bench [options]\n"
    "  --server HOST:PORT     server to load (repeatable; keys spread by consistent hashing)\n"
    "                         default 127.0.0.1:11211\n"
    "  --protocol P           binary (default), text or meta\n"
    "  --threads N            load threads (default 2)\n"
    "  --conns N              connections per thread per server (default 10)\n"
    "  --pipeline N           requests in flight per connection, closed loop (default 1)\n"
    "  --ratio SET:GET        mix of sets and gets (default 1:10)\n"
    "  --keys N               key space size (default 100000)\n"
    "  --key-dist D           uniform (default) or zipf:S\n"
    "  --value-size N|MIN-MAX value bytes (default 32)\n"
    "  --duration S           seconds to run (default 10)\n"
    "  --requests N           run N requests instead (a multi-get of K counts K)\n"
    "  --prefill              store every key once before measuring\n"
    "  --multiget K           gets are batches of K keys (binary GETKQ+NOOP, text get,\n"
    "                         meta mg q + mn)\n"
    "  --rate OPS             open loop: requests per second over all connections, latency\n"
    "                         measured from the scheduled send time\n"
    "  --timeout S            fail a connection after S seconds without a reply (default 5)\n"
    "  --json                 print the result as JSON\n"
    "  --no-check-stats       do not compare counts with the servers' cmd_get/cmd_set\n"
    "  --seed N               random seed (default 1)\n"
    "  --key-prefix STR       key name prefix (default \"key:\")\n"
    "  --tls                  connect with TLS (no certificate check; implies --no-check-stats)\n"
    "exit status: 0 ok, 1 errors or counts disagree, 2 bad usage\n";

static int bad(const char *flag, const char *why, const char *arg)
{
    fprintf(stderr, "basalt-bench: %s: %s, got '%s'\n", flag, why, arg ? arg : "");
    return -1;
}

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    if (*s == '-' || *s == '\0')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
    uint64_t v;
    if (parse_u64(s, lo, hi, &v) != 0)
        return -1;
    *out = (unsigned)v;
    return 0;
}

static int parse_pos_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v <= 0)
        return -1;
    *out = v;
    return 0;
}

/* "host:port", "[v6]:port". */
static int parse_server(struct bench_opts *o, const char *arg)
{
    if (o->nservers == BENCH_MAX_SERVERS)
        return bad("--server", "too many servers", arg);
    char host[128];
    const char *colon = strrchr(arg, ':');
    if (!colon || colon == arg || strlen(arg) >= sizeof(host))
        return bad("--server", "expected HOST:PORT", arg);
    size_t hl = (size_t)(colon - arg);
    const char *h = arg;
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    unsigned port;
    if (parse_uint(colon + 1, 1, 65535, &port) != 0)
        return bad("--server", "expected a port 1..65535", arg);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || !res)
        return bad("--server", "cannot resolve host", arg);
    struct bench_server *s = &o->servers[o->nservers++];
    memcpy(&s->addr, res->ai_addr, res->ai_addrlen);
    s->addrlen = (socklen_t)res->ai_addrlen;
    freeaddrinfo(res);
    snprintf(s->name, sizeof(s->name), "%s", arg);
    return 0;
}

static int parse_ratio(struct bench_opts *o, const char *arg)
{
    char a[32], b[32];
    const char *c = strchr(arg, ':');
    if (!c || (size_t)(c - arg) >= sizeof(a) || strlen(c + 1) >= sizeof(b))
        return bad("--ratio", "expected SET:GET", arg);
    memcpy(a, arg, (size_t)(c - arg));
    a[c - arg] = '\0';
    strcpy(b, c + 1);
    if (parse_uint(a, 0, 1000000, &o->ratio_set) || parse_uint(b, 0, 1000000, &o->ratio_get) ||
        o->ratio_set + o->ratio_get == 0)
        return bad("--ratio", "expected SET:GET, not both zero", arg);
    return 0;
}

static int parse_value_size(struct bench_opts *o, const char *arg)
{
    char a[32];
    const char *d = strchr(arg, '-');
    uint64_t lo, hi;
    if (!d) {
        if (parse_u64(arg, 0, MAX_VALUE, &lo) != 0)
            return bad("--value-size", "expected N or MIN-MAX, at most 64 MiB", arg);
        o->vmin = o->vmax = (uint32_t)lo;
        return 0;
    }
    if ((size_t)(d - arg) >= sizeof(a))
        return bad("--value-size", "expected N or MIN-MAX", arg);
    memcpy(a, arg, (size_t)(d - arg));
    a[d - arg] = '\0';
    if (parse_u64(a, 0, MAX_VALUE, &lo) || parse_u64(d + 1, 0, MAX_VALUE, &hi) || lo > hi)
        return bad("--value-size", "expected MIN-MAX with MIN <= MAX <= 64 MiB", arg);
    o->vmin = (uint32_t)lo;
    o->vmax = (uint32_t)hi;
    return 0;
}

static int parse_dist(struct bench_opts *o, const char *arg)
{
    if (strcmp(arg, "uniform") == 0) {
        o->dist = DIST_UNIFORM;
        return 0;
    }
    if (strncmp(arg, "zipf:", 5) == 0 && parse_pos_double(arg + 5, &o->zipf_s) == 0) {
        o->dist = DIST_ZIPF;
        return 0;
    }
    return bad("--key-dist", "expected uniform or zipf:S with S > 0", arg);
}

static int parse_proto(struct bench_opts *o, const char *arg)
{
    if (strcmp(arg, "binary") == 0)
        o->proto = PROTO_BINARY;
    else if (strcmp(arg, "text") == 0)
        o->proto = PROTO_TEXT;
    else if (strcmp(arg, "meta") == 0)
        o->proto = PROTO_META;
    else
        return bad("--protocol", "expected binary, text or meta", arg);
    return 0;
}

static void defaults(struct bench_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->proto = PROTO_BINARY;
    o->threads = 2;
    o->conns = 10;
    o->pipeline = 1;
    o->ratio_set = 1;
    o->ratio_get = 10;
    o->keys = 100000;
    o->vmin = o->vmax = 32;
    o->duration = 10;
    o->timeout = 5;
    o->check_stats = true;
    o->seed = 1;
    strcpy(o->key_prefix, "key:");
    o->key_prefix_len = 4;
}

static int parse_one(struct bench_opts *o, int opt, const char *arg)
{
    switch (opt) {
    case OPT_SERVER:
        return parse_server(o, arg);
    case OPT_PROTOCOL:
        return parse_proto(o, arg);
    case OPT_THREADS:
        return parse_uint(arg, 1, MAX_THREADS, &o->threads)
                   ? bad("--threads", "expected 1..256", arg)
                   : 0;
    case OPT_CONNS:
        return parse_uint(arg, 1, MAX_CONNS, &o->conns) ? bad("--conns", "expected 1..10000", arg)
                                                        : 0;
    case OPT_PIPELINE:
        return parse_uint(arg, 1, MAX_PIPELINE, &o->pipeline)
                   ? bad("--pipeline", "expected 1..1024", arg)
                   : 0;
    case OPT_RATIO:
        return parse_ratio(o, arg);
    case OPT_KEYS:
        return parse_u64(arg, 1, UINT32_MAX, &o->keys) ? bad("--keys", "expected 1..2^32-1", arg)
                                                       : 0;
    case OPT_KEY_DIST:
        return parse_dist(o, arg);
    case OPT_VALUE_SIZE:
        return parse_value_size(o, arg);
    case OPT_DURATION:
        o->duration_set = true;
        return parse_pos_double(arg, &o->duration) ? bad("--duration", "expected seconds > 0", arg)
                                                   : 0;
    case OPT_REQUESTS:
        return parse_u64(arg, 1, UINT64_MAX / 2, &o->requests)
                   ? bad("--requests", "expected a positive count", arg)
                   : 0;
    case OPT_MULTIGET:
        return parse_uint(arg, 1, MAX_MULTIGET, &o->multiget)
                   ? bad("--multiget", "expected 1..1000", arg)
                   : 0;
    case OPT_RATE:
        return parse_pos_double(arg, &o->rate) ? bad("--rate", "expected requests/s > 0", arg) : 0;
    case OPT_TIMEOUT:
        return parse_pos_double(arg, &o->timeout) ? bad("--timeout", "expected seconds > 0", arg)
                                                  : 0;
    case OPT_SEED:
        return parse_u64(arg, 0, UINT64_MAX, &o->seed) ? bad("--seed", "expected a number", arg)
                                                       : 0;
    case OPT_PREFIX:
        if (strlen(arg) >= 32)
            return bad("--key-prefix", "expected at most 31 bytes", arg);
        strcpy(o->key_prefix, arg);
        o->key_prefix_len = strlen(arg);
        return 0;
    default:
        return -1;
    }
}

static int check_combination(struct bench_opts *o)
{
    if (o->nservers == 0 && parse_server(o, "127.0.0.1:11211") != 0)
        return -1;
    if (o->duration_set && o->requests) {
        fputs("basalt-bench: --duration and --requests exclude each other\n", stderr);
        return -1;
    }
    for (const char *p = o->key_prefix; *p; p++) {
        if (*p <= ' ' || *p == 0x7f)
            return bad("--key-prefix", "no spaces or control characters", o->key_prefix);
    }
    if (o->dist == DIST_ZIPF && o->keys > MAX_ZIPF_KEYS) {
        fprintf(stderr, "basalt-bench: --key-dist zipf: at most %llu keys\n", MAX_ZIPF_KEYS);
        return -1;
    }
    return 0;
}

int opts_parse(struct bench_opts *o, int argc, char **argv)
{
    defaults(o);
    opterr = 0;
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        if (opt == OPT_HELP) {
            fputs(usage, stdout);
            return 1;
        } else if (opt == OPT_PREFILL) {
            o->prefill = true;
        } else if (opt == OPT_JSON) {
            o->json = true;
        } else if (opt == OPT_NO_CHECK) {
            o->check_stats = false;
        } else if (opt == OPT_TLS) {
            /* The stats probe speaks plain TCP. */
            o->check_stats = false;
            if (o->tls_ctx == NULL && (o->tls_ctx = bench_tls_ctx_create()) == NULL) {
                fputs("basalt-bench: --tls: cannot create a TLS context\n", stderr);
                return -1;
            }
        } else if (opt == '?' || opt == ':') {
            fprintf(stderr, "basalt-bench: unknown option or missing value: '%s' (see --help)\n",
                    argv[optind - 1]);
            return -1;
        } else if (parse_one(o, opt, optarg) != 0) {
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "basalt-bench: unexpected argument '%s' (see --help)\n", argv[optind]);
        return -1;
    }
    return check_combination(o);
}

const char *opts_proto_name(enum bench_proto p)
{
    return p == PROTO_BINARY ? "binary" : p == PROTO_TEXT ? "text" : "meta";
}
