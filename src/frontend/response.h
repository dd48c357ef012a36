/*
 * Binary responses: header, extras, key and value appended to a connection's
 * output. Small parts are copied; a value of at least send_buffer_threshold
 * bytes that lives in an item is passed by reference (evbuffer_add_reference)
 * with a cleanup that drops the item reference once libevent has sent it.
 * Runs on the connection's worker thread.
 */
#ifndef BASALT_FRONTEND_RESPONSE_H
#define BASALT_FRONTEND_RESPONSE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/item.h"
#include "protocol/binary.h"

struct conn;

struct resp {
    uint16_t status;
    const void *extras;
    uint8_t extlen;
    const void *key;
    uint16_t keylen;
    const void *value;
    uint32_t vallen;
    struct item
        *item; /* the value lives in this item (borrowed; referenced if sent by reference) */
    uint64_t cas;
};

/*
 * Replies are gathered in the worker's reply buffer and join the
 * connection's output in one piece (resp_commit): one evbuffer_add, and one
 * run of the output's callbacks, for all the replies of a callback instead
 * of one per reply. Whatever reads or writes the output commits first
 * (conn_flush, at the end of every callback) or counts resp_queued.
 */

/* Appends n bytes of reply to c (gathered; committed by resp_commit). */
void resp_add(struct conn *c, const void *data, size_t n);

/* Moves c's gathered replies into its output; no-op when it has none. */
void resp_commit(struct conn *c);

/*
 * Writes c's gathered replies straight to its plain socket fd (the output
 * must be empty, so the order holds); what the socket does not take goes to
 * the output for the write event. Saves the evbuffer's copy, chain and
 * callbacks for the common reply.
 */
void resp_write(struct conn *c, int fd);

/* Drops c's gathered replies (the connection is closing). */
void resp_discard(struct conn *c);

/* Bytes in c's output buffer; 0 without looking while c->out_maybe says it is empty. */
size_t resp_output_len(const struct conn *c);

/* Bytes of reply waiting to be sent to c: in its output and gathered for it. */
size_t resp_queued(const struct conn *c);

/* Appends one response to request req (same opcode and opaque). */
void resp_send(struct conn *c, const struct bin_header *req, const struct resp *r);

/*
 * Appends a value of len bytes that lives in item it (borrowed; may be NULL):
 * by reference when len >= send_buffer_threshold, else copied. Both protocols use it.
 */
void resp_add_value(struct conn *c, struct item *it, const void *value, size_t len);

/* Appends an error response whose body is the status text, as memcached sends it. */
void resp_error(struct conn *c, const struct bin_header *req, uint16_t status);

/* Appends an empty response with a status and CAS. */
void resp_status(struct conn *c, const struct bin_header *req, uint16_t status, uint64_t cas);

#endif
