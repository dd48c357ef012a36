/*
 * Helpers shared by the executor files (exec.c, exec_store.c, exec_admin.c).
 * Worker thread only.
 */
#ifndef BASALT_FRONTEND_EXEC_INTERNAL_H
#define BASALT_FRONTEND_EXEC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "frontend/exec.h"
#include "stats/stats.h"

/* The engine behind the cookie's connection. */
struct engine *exec_engine(const struct cookie *ck);

/* Counts one event on the worker's counters. */
void exec_count(const struct cookie *ck, enum stats_counter c);

/* Converts a wire expiration to server time. */
rel_time_t exec_expiry(uint32_t wire);

/* True for the quiet opcodes. */
bool exec_quiet(const struct cookie *ck);

/*
 * Takes the notify a resumed command carries: when the engine finished the
 * blocked work with an error, stores it in *s and returns true, and the
 * executor treats it as the engine call's answer; otherwise (not resumed, or
 * resumed with success) returns false and the executor makes the call.
 */
bool exec_resumed_error(struct cookie *ck, engine_status *s);

/* Common ending: EWOULDBLOCK waits; an error is sent; success is sent unless quiet. */
enum exec_result exec_reply(struct cookie *ck, engine_status s, uint64_t cas);

/* What a store needs; key points at memory that lives as long as the cookie's command. */
struct exec_store_args {
    const void *key;
    size_t nkey;
    uint32_t vallen;
    uint32_t flags;
    rel_time_t exptime;
    uint64_t cas;
    enum engine_store_op op;
};

/* Allocates ck->item and moves vallen value bytes into it from the input's head. */
engine_status exec_store_fill(struct cookie *ck, const struct exec_store_args *a);

/* Stores ck->item as a says; counts cmd_set and the cas_* outcome. */
engine_status exec_store_commit(struct cookie *ck, const struct exec_store_args *a,
                                uint64_t *cas_out);

/* Calls the engine's arithmetic and counts incr/decr hits and misses. */
engine_status exec_arith_call(struct cookie *ck, const void *key, size_t nkey,
                              const struct engine_arith *a, uint64_t *result, uint64_t *cas);

/* Executors defined outside exec.c. */
enum exec_result exec_store(struct cookie *ck);
enum exec_result exec_store_oversized(struct cookie *ck);
enum exec_result exec_test_control(struct cookie *ck);
enum exec_result exec_noop(struct cookie *ck);
enum exec_result exec_quit(struct cookie *ck);
enum exec_result exec_flush(struct cookie *ck);
enum exec_result exec_version(struct cookie *ck);
enum exec_result exec_verbosity(struct cookie *ck);
enum exec_result exec_stat(struct cookie *ck);
enum exec_result exec_sasl_list(struct cookie *ck);
enum exec_result exec_sasl_auth(struct cookie *ck);
enum exec_result exec_sasl_step(struct cookie *ck);

#endif
