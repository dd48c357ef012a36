/*
 * Helpers shared by the config unit tests: run config_parse on a list of
 * arguments (writable copies, checked unchanged afterwards) and capture what
 * it prints.
 */
#ifndef BASALT_TESTS_CONFIG_TEST_H
#define BASALT_TESTS_CONFIG_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

#define TEST_MAX_ARGS 40
#define TEST_ARG_LEN 512

struct run {
    struct config c;
    enum config_result result;
    char err[256];
    char *out; /* everything config_parse printed; free()d by run_free */
    size_t outlen;
};

/* Parses "basalt" followed by args (NULL-terminated) into *r. */
static inline enum config_result run_args(struct run *r, const char *const *args)
{
    static char store[TEST_MAX_ARGS][TEST_ARG_LEN];
    char *argv[TEST_MAX_ARGS + 1];
    int argc = 0;
    snprintf(store[argc], TEST_ARG_LEN, "basalt");
    argv[argc] = store[argc];
    argc++;
    for (; args[argc - 1] != NULL; argc++) {
        assert_true(argc < TEST_MAX_ARGS);
        assert_true(strlen(args[argc - 1]) < TEST_ARG_LEN);
        snprintf(store[argc], TEST_ARG_LEN, "%s", args[argc - 1]);
        argv[argc] = store[argc];
    }
    argv[argc] = NULL;
    char *before[TEST_MAX_ARGS + 1];
    memcpy(before, argv, sizeof(argv));

    free(r->out);
    r->out = NULL;
    FILE *out = open_memstream(&r->out, &r->outlen);
    assert_non_null(out);
    memset(r->err, 'x', sizeof(r->err));
    r->result = config_parse(&r->c, argc, argv, out, r->err, sizeof(r->err));
    assert_int_equal(fclose(out), 0);

    /* config_parse must neither reorder argv nor write into the strings. */
    assert_memory_equal(before, argv, sizeof(argv));
    assert_string_equal(argv[0], "basalt");
    for (int i = 1; i < argc; i++)
        assert_string_equal(argv[i], args[i - 1]);
    return r->result;
}

static inline void run_free(struct run *r)
{
    free(r->out);
    r->out = NULL;
}

#define RUN(r, ...) run_args((r), (const char *const[]){__VA_ARGS__, NULL})
#define RUN_NONE(r) run_args((r), (const char *const[]){NULL})

#endif
