/*
 * The memcached text protocol codec: command lines split into tokens and
 * checked (numbers, key rules, noreply), the key list of retrievals, and the
 * reply strings memcached writes. Pure functions of bytes: no connection, no
 * engine, no allocation. Any thread.
 */
#ifndef BASALT_PROTOCOL_TEXT_H
#define BASALT_PROTOCOL_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/compiler.h"

/* A command line longer than this (without its newline) is refused, retrievals excepted. */
#define TEXT_LINE_MAX 2048
/* The longest retrieval line (get/gets/gat/gats with many keys) accepted. */
#define TEXT_RETRIEVAL_LINE_MAX (4u * 1024 * 1024)
#define TEXT_KEY_MAX 250
/* Tokens of one command line (command, key, arguments and meta flags). */
#define TEXT_TOKENS_MAX 24

enum text_cmd {
    TEXT_CMD_GET, /* the retrievals, GET to GATS, come first: text_is_retrieval_cmd */
    TEXT_CMD_GETS,
    TEXT_CMD_GAT,
    TEXT_CMD_GATS,
    TEXT_CMD_SET, /* the storage commands, SET to CAS, stay together: text_is_storage */
    TEXT_CMD_ADD,
    TEXT_CMD_REPLACE,
    TEXT_CMD_APPEND,
    TEXT_CMD_PREPEND,
    TEXT_CMD_CAS,
    TEXT_CMD_DELETE,
    TEXT_CMD_INCR,
    TEXT_CMD_DECR,
    TEXT_CMD_TOUCH,
    TEXT_CMD_FLUSH_ALL,
    TEXT_CMD_VERSION,
    TEXT_CMD_VERBOSITY,
    TEXT_CMD_QUIT,
    TEXT_CMD_STATS,
    TEXT_CMD_SHUTDOWN,
    TEXT_CMD_REFRESH_CERTS,
    TEXT_CMD_MG,
    TEXT_CMD_MS,
    TEXT_CMD_MD,
    TEXT_CMD_MA,
    TEXT_CMD_MN,
    TEXT_CMD_ME,
};

/* Why a line was refused; text_verdict_reply() gives the line to send. */
enum text_verdict {
    TEXT_OK,
    TEXT_ERR_UNKNOWN,      /* "ERROR" */
    TEXT_ERR_FORMAT,       /* "CLIENT_ERROR bad command line format" */
    TEXT_ERR_INVALID_FLAG, /* "CLIENT_ERROR invalid flag" (meta) */
    TEXT_ERR_KEY,          /* meta: a base64 key that does not decode */
    TEXT_ERR_DELETE,       /* delete with bad arguments: the usage line */
    TEXT_ERR_DELTA,        /* incr/decr: "CLIENT_ERROR invalid numeric delta argument" */
    TEXT_ERR_EXPTIME,      /* touch/gat: "CLIENT_ERROR invalid exptime argument" */
    TEXT_ERR_OPAQUE,       /* meta: "CLIENT_ERROR opaque token too long" */
    TEXT_ERR_DUP_FLAG,     /* meta: "CLIENT_ERROR duplicate flag" */
    TEXT_ERR_BAD_TOKEN, /* meta: a flag's number: "CLIENT_ERROR bad token in command line format" */
    TEXT_ERR_HTTP,      /* an HTTP request line: close without a reply */
};

struct text_tok {
    const char *s;
    uint32_t len;
};

/* Meta flags: one slot per letter (A-Z then a-z); a flag's token is its text after the letter. */
#define META_NFLAGS 52
struct meta_flags {
    uint64_t present;            /* bit meta_flag_bit(letter) set when the flag was given */
    char order[TEXT_TOKENS_MAX]; /* the letters in the order they came */
    uint8_t norder;
    /* Last, and valid only where present says so: text_parse skips the rest. */
    struct text_tok arg[META_NFLAGS];
};

/* A parsed command line; every pointer points into the line it was parsed from. */
struct text_req {
    enum text_cmd cmd;
    struct text_tok key;  /* single-key commands; meta: the key token as sent */
    struct text_tok keys; /* retrievals: the checked key list, from its first key to its last */
    uint32_t nkeys;       /* retrievals: how many keys keys holds */
    struct text_tok arg;  /* stats: the group ("" for the general one) */
    uint32_t flags;
    int32_t exptime; /* also flush_all's delay */
    uint32_t vallen; /* storage: the data block length, without its "\r\n" */
    bool has_data;   /* vallen was read: a data block follows even if the line is refused (ms) */
    uint64_t cas;
    uint64_t delta;
    uint32_t level; /* verbosity */
    bool noreply;
    struct meta_flags meta;
};

/*
 * Parses one command line (without "\r\n" or "\n"). Checks token counts,
 * numbers and key rules; on TEXT_OK *r is filled. Meta lines are parsed by
 * meta_parse (meta.h), which this calls.
 */
enum text_verdict text_parse(const char *line, size_t len, struct text_req *r) WARN_UNUSED;

/* True when the start of an unfinished line is a retrieval command ("get ", "gats ", ...). */
bool text_is_retrieval(const char *p, size_t len);

/* Pops the next key of a key list (space-separated) into *key; false when none is left. */
bool text_next_key(struct text_tok *keys, struct text_tok *key);

/*
 * Pops the next key of a list text_parse checked (r->keys, with *left at
 * first r->nkeys, the keys still in it) and counts it off; false when none
 * is left. The last key is taken without a scan: the list ends with it.
 */
bool text_pop_key(struct text_tok *keys, uint32_t *left, struct text_tok *key);

/* True for a valid key: 1..250 bytes, no space or control character. */
bool text_key_ok(const char *s, size_t n);

/* True for get, gets, gat and gats (the first four commands): a key list follows. */
static inline bool text_is_retrieval_cmd(enum text_cmd cmd)
{
    return cmd <= TEXT_CMD_GATS;
}

/* True when the command is a storage command (a data block follows its line). */
static inline bool text_is_storage(enum text_cmd cmd)
{
    /* Inline, and one range test: asked twice for every command line. */
    return cmd >= TEXT_CMD_SET && cmd <= TEXT_CMD_CAS;
}

/* The reply line of a refused command, with "\r\n" ("" for TEXT_ERR_HTTP). */
const char *text_verdict_reply(enum text_verdict v);

/* Reads a whole token as an unsigned decimal below 2^64; false on anything else. */
bool text_u64(const struct text_tok *t, uint64_t *out) WARN_UNUSED;

/* Reads a whole token as a signed 32-bit decimal; false on anything else. */
bool text_i32(const struct text_tok *t, int32_t *out) WARN_UNUSED;

#endif
