/*
 * The cookie: the context of one command on a connection. It holds a private
 * copy of the request's header, extras and key (so the input buffer may move
 * while the command waits), the engine's private slot, and the state that
 * lets a command stop on ENGINE_EWOULDBLOCK and run again when the engine
 * notifies. A connection runs one cookie at a time; the struct is
 * self-contained so a connection could later hold several.
 * Owned by its connection; used only on the connection's worker thread,
 * except that the engine may pass the pointer back through notify.
 */
#ifndef BASALT_FRONTEND_COOKIE_H
#define BASALT_FRONTEND_COOKIE_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/engine.h"
#include "protocol/binary.h"

/* Header + the largest valid extras (20, incr/decr) + the largest key, rounded up. */
#define COOKIE_PACKET_MAX (BIN_HEADER_LEN + 32 + BIN_KEY_MAX)

struct conn;
struct cookie_text;

struct cookie {
    struct conn *conn;      /* the owning connection (borrowed) */
    struct bin_request req; /* extras and key point into packet */
    uint8_t packet[COOKIE_PACKET_MAX];
    uint32_t value_left;       /* value bytes of this frame still at the input's head */
    struct item *item;         /* an item being built or stored (owned reference) or NULL */
    void *engine_private;      /* the engine's slot (engine_host get/set_private) */
    struct cookie_text *text;  /* a text or meta command (exec_text.h; owned, one malloc) or NULL */
    struct cookie_text *spare; /* a finished command's memory, kept for the next (owned) or NULL */
    engine_status notified;    /* the status the engine's notify delivered */
    bool blocked;              /* waiting for the engine's notify */
    bool ready;                /* notify arrived and not yet consumed by the executor */
    bool oversized;            /* value above -I: answered E2BIG by exec_store_oversized */
};

/* Loads a validated request into the cookie: copies header, extras and key into its packet. */
void cookie_load(struct cookie *ck, const struct bin_request *r);

/*
 * Loads only the header and key of a frame whose value is too big to take
 * (keys above BIN_KEY_MAX are dropped); marks the cookie oversized.
 */
void cookie_load_oversized(struct cookie *ck, const struct bin_header *h, const uint8_t *key);

/* Forgets the command: drops the item reference and the engine slot, keeps conn. */
void cookie_reset(struct cookie *ck);

/* Resets the cookie and frees what it keeps between commands; the connection is going away. */
void cookie_deinit(struct cookie *ck);

#endif
