/*
 * Shared by the TLS and SASL integration tests: a temporary folder of test
 * certificates made with the openssl command (gen_certs.sh) and removed
 * afterwards, and a server started with extra arguments whose stderr is kept
 * in that folder. Single-threaded.
 */
#ifndef BASALT_TESTS_INTEGRATION_TLS_FIXTURE_H
#define BASALT_TESTS_INTEGRATION_TLS_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>

#include "integration/harness.h"

/* The certificate folder of the running test group. */
struct cert_dir {
    char path[128];
};

/* Creates a temporary folder and generates the CA, server, client and foreign certificates. */
int cert_dir_create(struct cert_dir *d);

/* Removes the folder and everything in it. */
void cert_dir_remove(struct cert_dir *d);

/* Writes "DIR/name" into buf (size n) and returns buf. */
const char *cert_path(const struct cert_dir *d, const char *name, char *buf, size_t n);

/* Copies file from to file to (both full paths). 0 or -1. */
int copy_file(const char *from, const char *to);

/* True once file contains needle, polling for at most timeout_ms. */
bool file_wait_for(const char *file, const char *needle, int timeout_ms);

#endif
