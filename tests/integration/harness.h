/*
 * Integration test harness: starts the server under test (BASALT_TEST_SERVER,
 * default BASALT_BIN, with the extra words of BASALT_TEST_ARGS for basalt)
 * on a free loopback port, stops it by PID and reports how
 * it exited, and offers raw socket and binary-protocol helpers with timeouts.
 * Single-threaded use except where a function says otherwise.
 */
#ifndef BASALT_TESTS_INTEGRATION_HARNESS_H
#define BASALT_TESTS_INTEGRATION_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "protocol/binary.h"

/* Default bound for one read of a reply. */
#define IO_TIMEOUT_MS 5000

/* A started server process. */
struct server {
    pid_t pid;     /* 0 when not running */
    uint16_t port; /* loopback port it listens on */
    bool is_memcached;
    bool reaped; /* exited and reaped; status is valid */
    int status;  /* waitpid status once reaped */
    /* A fresh directory standing for @DATA_DIR@ in $BASALT_TEST_ARGS, removed by server_stop
     * ("" when unused): the disk engine's suites get an empty data directory per server. */
    char data_dir[256];
};

/* Extra arguments, each list NULL-terminated (or NULL for none). */
struct server_opts {
    const char *const *args;           /* for both servers */
    const char *const *memcached_args; /* only for the reference memcached */
    const char *const *basalt_args;    /* only for basalt */
    const char *stderr_path;           /* append the server's stderr to this file (NULL: inherit) */
};

/* Removes a directory and the files in it (one level, as a data directory has). 0 or -1. */
int remove_dir(const char *path);

/* Path of the server under test: $BASALT_TEST_SERVER or BASALT_BIN. */
const char *server_path(void);

/* True when the server under test is the reference memcached (basename starts with "memcached"). */
bool server_is_memcached(void);

/* Finds a free loopback port (bind port 0, read it, close). 0 or -1. */
int pick_free_port(uint16_t *port);

/* Starts the server and waits until it accepts connections (bounded ~10 s). 0 or -1. */
int server_start(struct server *s, const struct server_opts *o);

/*
 * Stops the server: SIGTERM by PID, bounded wait (10 s), then SIGKILL.
 * Returns 0 when it exited with status 0, -1 otherwise (reason on stderr).
 * Idempotent: a stopped server returns 0.
 */
int server_stop(struct server *s);

/* True while the process has not exited (reaps it if it has). */
bool server_alive(struct server *s);

/* The server's VmRSS in KiB from /proc/PID/status, or -1. */
long server_rss_kib(const struct server *s);

/*
 * cmocka fixtures: server_setup_opts() starts a server with o and stores a malloc'd
 * struct server in *state; server_teardown() stops it by PID and fails the test
 * (returns -1) when the server crashed or exited non-zero.
 */
int server_setup_opts(void **state, const struct server_opts *o);
int server_setup(void **state);
int server_teardown(void **state);

/* Opens a blocking TCP connection to 127.0.0.1:port with TCP_NODELAY; returns fd or -1. */
int sock_connect(uint16_t port);

/* Writes all n bytes (blocking, bounded by IO_TIMEOUT_MS of no progress). 0 or -1. */
int sock_write_all(int fd, const void *buf, size_t n);

/* Reads exactly n bytes within timeout_ms overall. 0, or -1 on EOF, error or timeout. */
int sock_read_exact(int fd, void *buf, size_t n, int timeout_ms);

/* True when the peer closes (read returns 0 or ECONNRESET) within timeout_ms with no data first. */
bool sock_expect_closed(int fd, int timeout_ms);

/* True when no byte is readable within timeout_ms (and the connection is open). */
bool sock_expect_silent(int fd, int timeout_ms);

/* A request to encode; pointers are borrowed. */
struct frame_req {
    uint8_t opcode;
    const void *extras;
    uint8_t extlen;
    const void *key;
    uint16_t keylen;
    const void *value;
    uint32_t vallen;
    uint32_t opaque;
    uint64_t cas;
};

/* A received response; body is malloc'd (NULL when bodylen is 0). */
struct frame_resp {
    struct bin_header h; /* h.vbucket holds the status */
    uint8_t *body;
};

/* Encoded size of a request. */
size_t frame_size(const struct frame_req *r);

/* Encodes a request (header via bin_header_encode) into out, which holds frame_size(r) bytes. */
void frame_encode(const struct frame_req *r, uint8_t *out);

/* Encodes and writes one request. 0 or -1. */
int frame_send(int fd, const struct frame_req *r);

/* Reads one response (header and body) within timeout_ms. 0 or -1. */
int frame_recv(int fd, struct frame_resp *m, int timeout_ms);

/* Frees a response body. */
void frame_free(struct frame_resp *m);

/* Sends r and reads one response; returns its status, or -1 on I/O failure. */
int frame_call(int fd, const struct frame_req *r, struct frame_resp *m);

/* Response accessors. */
static inline uint16_t resp_status(const struct frame_resp *m)
{
    return m->h.vbucket;
}
const uint8_t *resp_key(const struct frame_resp *m);
const uint8_t *resp_value(const struct frame_resp *m);
uint32_t resp_vallen(const struct frame_resp *m);

/* Convenience commands on a raw connection; each returns the status or -1. */
int kv_set(int fd, uint8_t opcode, const char *key, const void *val, uint32_t vallen,
           uint32_t exptime, uint64_t cas);
/* GET: on success copies up to cap bytes of the value into out and sets *len. */
int kv_get(int fd, const char *key, char *out, size_t cap, size_t *len);
/* INCREMENT/DECREMENT: on success stores the 8-byte result in *result. */
int kv_arith(int fd, uint8_t opcode, const char *key, uint64_t delta, uint64_t initial,
             uint32_t exptime, uint64_t *result);

/* Sends STAT and reads every reply; returns the value of stat name, or -1 (absent, I/O error). */
long long stat_value(int fd, const char *name);

/* Result of running a short-lived program. */
struct proc_result {
    int status; /* waitpid status; check with WIFEXITED etc. */
    bool timed_out;
    char out[16384]; /* stdout, NUL-terminated, truncated */
    char err[16384]; /* stderr, NUL-terminated, truncated */
};

/* Runs argv (argv[0] is a path or is looked up in PATH), capturing output, bounded by timeout_ms
 * (then SIGKILL by PID). 0, or -1 when it could not be started. */
int proc_run(char *const argv[], int timeout_ms, struct proc_result *r);

/* Monotonic milliseconds. */
int64_t now_ms(void);

/* Sleeps ms milliseconds. */
void sleep_ms(int ms);

#endif
