/*
 * Helpers shared by the conformance suite's test files: the fixture (one
 * fresh engine per test), the host and cookies, and one wrapper per engine op
 * that resolves ENGINE_EWOULDBLOCK the way the front-end does.
 */
#ifndef BASALT_TESTS_ENGINE_SUITE_UTIL_H
#define BASALT_TESTS_ENGINE_SUITE_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>

#include "engine/engine.h"
#include "engine_suite.h"

/* One in-flight command: what the front-end's cookie is to an engine. */
struct suite_cookie {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int notified; /* notify calls not yet consumed by suite_wait */
    engine_status status;
    void *priv; /* the engine-private slot */
};

/* The fixture each test gets as *state. */
struct suite_ctx {
    struct engine *e;
    struct suite_cookie cookie; /* for the test's own thread */
    const struct engine_suite_factory *f;
};

/* The host every engine under test reports to. */
extern const struct engine_host suite_host;

void suite_cookie_init(struct suite_cookie *c);
void suite_cookie_deinit(struct suite_cookie *c);

/* cmocka setup/teardown: a fresh engine per test. */
int suite_setup(void **state);
int suite_teardown(void **state);

/* The factory of the running group. */
const struct engine_suite_factory *suite_factory(void);

/* Op wrappers; c may be NULL for the context's own cookie. Keys are C strings. */
engine_status t_get(struct suite_ctx *x, struct suite_cookie *c, const char *key,
                    struct item **out);
engine_status t_gat(struct suite_ctx *x, struct suite_cookie *c, const char *key,
                    rel_time_t exptime, struct item **out);
engine_status t_alloc(struct suite_ctx *x, struct suite_cookie *c, const char *key, size_t nbytes,
                      uint32_t flags, rel_time_t exptime, struct item **out);
engine_status t_store_item(struct suite_ctx *x, struct suite_cookie *c, struct item *it,
                           uint64_t cas, enum engine_store_op op, uint64_t *cas_out);
engine_status t_remove(struct suite_ctx *x, struct suite_cookie *c, const char *key, uint64_t cas);
engine_status t_arith(struct suite_ctx *x, struct suite_cookie *c, const char *key,
                      const struct engine_arith *a, uint64_t *result, uint64_t *cas_out);
/* The meta ops (engines without them: the caller skips). */
engine_status t_meta_get(struct suite_ctx *x, struct suite_cookie *c, const char *key,
                         struct engine_meta_get *m, struct item **out);
engine_status t_invalidate(struct suite_ctx *x, struct suite_cookie *c, const char *key,
                           uint64_t cas, bool touch, rel_time_t exptime);
engine_status t_flush(struct suite_ctx *x, struct suite_cookie *c, rel_time_t when);

/* Allocates, fills with the n bytes at value, stores and drops the reference. */
engine_status t_store(struct suite_ctx *x, struct suite_cookie *c, enum engine_store_op op,
                      const char *key, const void *value, size_t n, uint32_t flags,
                      rel_time_t exptime, uint64_t cas, uint64_t *cas_out);

/* t_store of a C string value with ENGINE_STORE_SET, no CAS, no expiry; asserts success. */
uint64_t t_set(struct suite_ctx *x, const char *key, const char *value, uint32_t flags);

/* Asserts that key holds exactly value (a C string) and flags. */
void t_assert_value(struct suite_ctx *x, const char *key, const char *value, uint32_t flags);

/* Asserts that key is missing. */
void t_assert_missing(struct suite_ctx *x, const char *key);

/* Returns the engine's counters. */
struct engine_stats t_stats(struct suite_ctx *x);

/* The test lists of each suite file. */
extern const struct CMUnitTest suite_store_tests[];
extern const size_t suite_store_count;
extern const struct CMUnitTest suite_arith_tests[];
extern const size_t suite_arith_count;
extern const struct CMUnitTest suite_time_tests[];
extern const size_t suite_time_count;
extern const struct CMUnitTest suite_misc_tests[];
extern const size_t suite_misc_count;
extern const struct CMUnitTest suite_meta_tests[];
extern const size_t suite_meta_count;

#endif
