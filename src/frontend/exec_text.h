/*
 * Text and meta protocol executors. A command line is copied into the
 * cookie (struct cookie_text) and parsed there, so the cookie keeps every
 * argument while a command waits for the engine; a multi-key retrieval
 * keeps the keys it has not answered yet and resumes at the one it stopped
 * at. Replies are text lines; values go through response.c (by reference
 * above the send-buffer threshold). Worker thread.
 */
#ifndef BASALT_FRONTEND_EXEC_TEXT_H
#define BASALT_FRONTEND_EXEC_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frontend/cookie.h"
#include "frontend/exec.h"
#include "protocol/text.h"

struct cookie_text {
    struct text_req req;       /* parsed in place from line; its pointers point into line */
    struct text_tok next;      /* retrievals: the keys not answered yet (a checked key list) */
    uint32_t keys_left;        /* retrievals: how many keys next holds */
    uint8_t key[TEXT_KEY_MAX]; /* the key engine calls use (decoded for meta's b flag) */
    size_t nkey;
    uint32_t phase;  /* where a multi-step command is (meta), 0 at start */
    uint64_t number; /* ma: the result kept between its steps */
    uint64_t cas;    /* ma: the CAS kept between its steps */
    size_t len;
    size_t cap;  /* room for a line of cap bytes (and its NUL) */
    char line[]; /* the command line, NUL-terminated */
};

/*
 * A cookie_text holding a copy of a command line of len bytes, for the line
 * to be parsed in place (t->req, by text_parse): the cookie's spare when it
 * has room, else a new one. Owned by the caller until exec_text_start or
 * exec_text_release; NULL when out of memory.
 */
struct cookie_text *exec_text_copy_line(struct cookie *ck, const char *line, size_t len);

/* Gives back a line copy that will not run (NULL is ignored): kept as ck's spare unless large. */
void exec_text_release(struct cookie *ck, struct cookie_text *t);

/* Makes t, its line parsed into t->req with TEXT_OK, ck's command (takes t). */
void exec_text_start(struct cookie *ck, struct cookie_text *t);

/*
 * Forgets the cookie's text command; its memory is kept as the cookie's
 * spare for the next one unless it is large (a long retrieval line).
 */
void exec_text_unload(struct cookie *ck);

/* Runs the cookie's text or meta command. */
enum exec_result exec_text_run(struct cookie *ck);

/* Replies to a command whose blocked engine call ended with error s. */
void exec_text_engine_error(struct cookie *ck, engine_status s);

/* Appends n bytes of reply text to the cookie's connection. */
void exec_text_out(struct cookie *ck, const char *s, size_t n);

/* Appends a NUL-terminated reply line (with its "\r\n"). */
void exec_text_line(struct cookie *ck, const char *s);

/* Converts a text protocol expiry (negative: already expired) to server time. */
rel_time_t exec_text_expiry(int32_t wire);

struct exec_store_args;

/* Moves the data block into a new ck->item and checks the "\r\n" after it (*bad if not). */
engine_status exec_text_fill(struct cookie *ck, const struct exec_store_args *a, bool *bad);

/* The meta commands mg, ms, md, ma, me (exec_meta.c). */
enum exec_result exec_meta_run(struct cookie *ck);

/* The text `stats` command (exec_text_stats.c). */
enum exec_result exec_text_stats(struct cookie *ck);

#endif
