/*
 * Helpers shared by the wouldblock integration tests: starting basalt with
 * the wouldblock engine and sending the TEST_CONTROL opcode.
 */
#ifndef BASALT_TESTS_INTEGRATION_WOULDBLOCK_UTIL_H
#define BASALT_TESTS_INTEGRATION_WOULDBLOCK_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "integration/harness.h"

/* Starts basalt with -o engine=wouldblock and the extra -o settings in opts; skips under memcached.
 */
static inline int wb_setup(void **state, const char *opts, const char *threads)
{
    if (server_is_memcached()) {
        *state = NULL;
        return 0;
    }
    const char *const args[] = {"-t", threads, "-o", "engine=wouldblock", "-o", opts, NULL};
    const struct server_opts o = {.basalt_args = args};
    return server_setup_opts(state, &o);
}

/* Sends TEST_CONTROL with a text value; returns the status or -1. */
static inline int wb_control(int fd, const char *text)
{
    struct frame_req r = {
        .opcode = BIN_CMD_TEST_CONTROL, .value = text, .vallen = (uint32_t)strlen(text)};
    struct frame_resp m;
    int st = frame_call(fd, &r, &m);
    frame_free(&m);
    return st;
}

/* The test's server; skips the test when it runs against memcached (wb_setup left none). */
static inline struct server *wb_server(void **state)
{
    struct server *s = *state;
    if (s == NULL) {
        skip();
    }
    return s;
}

/* Opens a connection to s or fails the test. */
static inline int wb_connect(const struct server *s)
{
    int fd = sock_connect(s->port);
    assert_true(fd >= 0);
    return fd;
}

/* A NOOP round trip that must succeed. */
static inline void wb_noop(int fd)
{
    struct frame_resp m;
    assert_int_equal(frame_call(fd, &(struct frame_req){.opcode = BIN_CMD_NOOP}, &m),
                     BIN_STATUS_SUCCESS);
    frame_free(&m);
}

#endif
