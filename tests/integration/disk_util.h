/*
 * Helpers shared by the disk engine's integration tests: a server on a data
 * directory of the test's own (made under $TMPDIR, removed at the end), text
 * commands, and reading an item with meta get. Single-threaded.
 */
#ifndef BASALT_TESTS_INTEGRATION_DISK_UTIL_H
#define BASALT_TESTS_INTEGRATION_DISK_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "integration/harness.h"
#include "integration/text_client.h"

struct disk_srv {
    struct server s;
    char dir[256];
    char log[300];
    char opts[512];
};

/* Makes d's data directory and log name; skips under memcached. */
static inline void disk_init(struct disk_srv *d)
{
    if (server_is_memcached())
        skip();
    memset(d, 0, sizeof(*d));
    const char *tmp = getenv("TMPDIR");
    snprintf(d->dir, sizeof(d->dir), "%s/basalt-disk-test-XXXXXX", tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(d->dir));
    snprintf(d->log, sizeof(d->log), "%s.log", d->dir);
    remove(d->log);
}

/* Starts basalt on d's directory with extra -o settings (may be ""), and --repair if asked. */
static inline int disk_start_args(struct disk_srv *d, const char *extra, const char *const *more)
{
    snprintf(d->opts, sizeof(d->opts), "engine=disk,data_dir=%s,flush_interval_ms=2%s%s", d->dir,
             extra[0] ? "," : "", extra);
    const char *args[16] = {"-o", d->opts, "-o", "enable_test_opcodes=1"};
    int n = 4;
    for (; more != NULL && *more != NULL && n < 15; more++)
        args[n++] = *more;
    args[n] = NULL;
    const struct server_opts o = {.basalt_args = args, .stderr_path = d->log};
    return server_start(&d->s, &o);
}

static inline void disk_start(struct disk_srv *d, const char *extra)
{
    assert_int_equal(disk_start_args(d, extra, NULL), 0);
}

/* kill -9 by PID, then reaps it. */
static inline void disk_kill9(struct disk_srv *d)
{
    kill(d->s.pid, SIGKILL);
    (void)server_stop(&d->s); /* reports the kill; the status is not a failure here */
}

/* Stops the server if it runs and removes the directory and the log. */
static inline void disk_cleanup(struct disk_srv *d)
{
    (void)server_stop(&d->s);
    assert_int_equal(remove_dir(d->dir), 0);
    remove(d->log);
}

static inline int disk_connect(const struct disk_srv *d)
{
    int fd = sock_connect(d->s.port);
    assert_true(fd >= 0);
    return fd;
}

/* Sends a command and reads its first reply line into buf. */
static inline void disk_cmd(int fd, const char *cmd, char *buf, size_t cap)
{
    text_send(fd, cmd);
    text_read_line(fd, buf, cap);
}

/* An item as meta get reports it. */
struct disk_item {
    bool found;
    char value[4096];
    unsigned long flags;
    unsigned long long cas;
    long ttl; /* -1: never expires */
};

/* Reads key with "mg key v f c t". */
static inline void disk_mg(int fd, const char *key, struct disk_item *it)
{
    char cmd[300], line[256];
    snprintf(cmd, sizeof(cmd), "mg %s v f c t\r\n", key);
    disk_cmd(fd, cmd, line, sizeof(line));
    memset(it, 0, sizeof(*it));
    if (strcmp(line, "EN") == 0)
        return;
    assert_true(strncmp(line, "VA ", 3) == 0);
    it->found = true;
    char *save = NULL;
    for (char *t = strtok_r(line + 3, " ", &save); t != NULL; t = strtok_r(NULL, " ", &save)) {
        if (t[0] == 'f')
            it->flags = strtoul(t + 1, NULL, 10);
        else if (t[0] == 'c')
            it->cas = strtoull(t + 1, NULL, 10);
        else if (t[0] == 't')
            it->ttl = strtol(t + 1, NULL, 10);
    }
    text_read_line(fd, it->value, sizeof(it->value));
}

/* The numeric value of a `stats` line, or -1. */
static inline long long disk_stat(int fd, const char *name)
{
    char line[512];
    long long v = -1;
    text_send(fd, "stats\r\n");
    for (;;) {
        text_read_line(fd, line, sizeof(line));
        if (strcmp(line, "END") == 0)
            return v;
        size_t n = strlen(name);
        if (strncmp(line, "STAT ", 5) == 0 && strncmp(line + 5, name, n) == 0 && line[5 + n] == ' ')
            v = atoll(line + 6 + n);
    }
}

#endif
