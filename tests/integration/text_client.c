/* Text protocol helpers for the integration tests (see text_client.h). */
#include "integration/text_client.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "integration/harness.h"

void text_send(int fd, const char *s)
{
    assert_int_equal(sock_write_all(fd, s, strlen(s)), 0);
}

void text_expect(int fd, const char *expect)
{
    size_t n = strlen(expect);
    char *got = calloc(1, n + 1);
    assert_non_null(got);
    if (sock_read_exact(fd, got, n, IO_TIMEOUT_MS) != 0)
        fail_msg("expected %zu bytes '%s', got '%s' before timeout or EOF", n, expect, got);
    if (memcmp(got, expect, n) != 0)
        fail_msg("expected '%s', got '%s'", expect, got);
    free(got);
}

void text_xchg(int fd, const char *send, const char *expect)
{
    text_send(fd, send);
    text_expect(fd, expect);
}

void text_read_line(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        assert_int_equal(sock_read_exact(fd, buf + n, 1, IO_TIMEOUT_MS), 0);
        if (buf[n] == '\n') {
            buf[n > 0 && buf[n - 1] == '\r' ? n - 1 : n] = '\0';
            return;
        }
        n++;
    }
    fail_msg("line longer than %zu bytes", cap);
}
