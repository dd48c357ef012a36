/*
 * What every fuzz target provides, and the check it uses. A target is one
 * LLVMFuzzerTestOneInput; `make fuzz` links it with libFuzzer, and `make
 * test` links it with replay.c, which feeds it the checked-in corpus. Runs
 * on the fuzzer's (or the replay's) only thread.
 */
#ifndef BASALT_TESTS_FUZZ_FUZZ_H
#define BASALT_TESTS_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Runs the code under test on one input; returns 0 (libFuzzer's contract). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the code under test: a false one is a finding, so abort loudly. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
