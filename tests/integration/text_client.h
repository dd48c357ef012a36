/*
 * Text protocol helpers for integration tests: send a line, expect an exact
 * reply (bounded by IO_TIMEOUT_MS), read a reply line. cmocka assertions
 * fail the running test. Single-threaded.
 */
#ifndef BASALT_TESTS_INTEGRATION_TEXT_CLIENT_H
#define BASALT_TESTS_INTEGRATION_TEXT_CLIENT_H

#include <stddef.h>

/* Writes a NUL-terminated string. */
void text_send(int fd, const char *s);

/* Reads exactly strlen(expect) bytes and asserts they equal expect. */
void text_expect(int fd, const char *expect);

/* text_send then text_expect. */
void text_xchg(int fd, const char *send, const char *expect);

/* Reads one line (up to and without "\r\n") into buf of cap bytes; asserts on timeout. */
void text_read_line(int fd, char *buf, size_t cap);

#endif
