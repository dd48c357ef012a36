/*
 * Reads a server's request counters (cmd_get + cmd_set) over a short blocking
 * connection: binary STAT, or the text `stats` command for the text and meta
 * protocols. Runs on the main thread before the workers start and after they
 * end; every wait is bounded.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "bench.h"
#include "protocol/binary.h"

#define PROBE_TIMEOUT_S 5
#define PROBE_MAX_BYTES (1u << 20)

static int probe_connect(const struct bench_server *s, char *err, size_t errlen)
{
    int fd = socket(s->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {PROBE_TIMEOUT_S, 0};
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
        connect(fd, (const struct sockaddr *)&s->addr, s->addrlen) != 0) {
        snprintf(err, errlen, "stats probe %s: %s", s->name, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int read_exact(int fd, void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t r = recv(fd, p, n, 0);
        if (r <= 0 && !(r < 0 && errno == EINTR))
            return -1;
        if (r > 0) {
            p += r;
            n -= (size_t)r;
        }
    }
    return 0;
}

static void add_stat(const char *name, size_t nl, const char *val, uint64_t *sum)
{
    if ((nl == 7 && memcmp(name, "cmd_get", 7) == 0) ||
        (nl == 7 && memcmp(name, "cmd_set", 7) == 0))
        *sum += strtoull(val, NULL, 10);
}

static int probe_binary(int fd, uint64_t *out)
{
    uint8_t req[BIN_HEADER_LEN];
    struct bin_header h = {.magic = BIN_MAGIC_REQUEST, .opcode = BIN_CMD_STAT};
    bin_header_encode(&h, req);
    if (send(fd, req, sizeof(req), MSG_NOSIGNAL) != (ssize_t)sizeof(req))
        return -1;
    *out = 0;
    for (;;) {
        uint8_t raw[BIN_HEADER_LEN];
        char body[512];
        if (read_exact(fd, raw, sizeof(raw)) != 0)
            return -1;
        bin_header_decode(raw, &h);
        if (h.magic != BIN_MAGIC_RESPONSE || h.vbucket != 0 || h.bodylen >= sizeof(body) ||
            read_exact(fd, body, h.bodylen) != 0)
            return -1;
        if (h.keylen == 0)
            return 0;
        body[h.bodylen] = '\0';
        add_stat(body + h.extlen, h.keylen, body + h.extlen + h.keylen, out);
    }
}

static int probe_text(int fd, uint64_t *out)
{
    if (send(fd, "stats\r\n", 7, MSG_NOSIGNAL) != 7)
        return -1;
    char *buf = malloc(PROBE_MAX_BYTES);
    size_t len = 0;
    int rc = -1;
    while (buf && len < PROBE_MAX_BYTES - 1) {
        ssize_t r = recv(fd, buf + len, PROBE_MAX_BYTES - 1 - len, 0);
        if (r <= 0)
            break;
        len += (size_t)r;
        buf[len] = '\0';
        if (len >= 5 && strcmp(buf + len - 5, "END\r\n") == 0) {
            rc = 0;
            break;
        }
    }
    *out = 0;
    for (char *line = buf; rc == 0 && line && strncmp(line, "STAT ", 5) == 0;) {
        char *name = line + 5, *sp = strchr(name, ' ');
        if (sp)
            add_stat(name, (size_t)(sp - name), sp + 1, out);
        line = strstr(line, "\r\n");
        line = line ? line + 2 : NULL;
    }
    free(buf);
    return rc;
}

int probe_requests(const struct bench_server *s, enum bench_proto p, uint64_t *out, char *err,
                   size_t errlen)
{
    int fd = probe_connect(s, err, errlen);
    if (fd < 0)
        return -1;
    int rc = p == PROTO_BINARY ? probe_binary(fd, out) : probe_text(fd, out);
    close(fd);
    if (rc != 0)
        snprintf(err, errlen, "stats probe %s: no usable %s stats reply", s->name,
                 p == PROTO_BINARY ? "binary STAT" : "text stats");
    return rc;
}
