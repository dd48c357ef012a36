/* Cookie set-up and reset; runs on the owning connection's worker thread. */
#include "frontend/cookie.h"

#include <stdlib.h>
#include <string.h>

#include "frontend/exec_text.h"

void cookie_load(struct cookie *ck, const struct bin_request *r)
{
    size_t ext = r->h.extlen, key = r->h.keylen;
    /* Validation guarantees the sizes; the packet holds the largest valid request. */
    memcpy(ck->packet + BIN_HEADER_LEN, r->extras, ext);
    memcpy(ck->packet + BIN_HEADER_LEN + ext, r->key, key);
    ck->req = *r;
    ck->req.extras = ck->packet + BIN_HEADER_LEN;
    ck->req.key = ck->packet + BIN_HEADER_LEN + ext;
    ck->value_left = r->vallen;
    ck->blocked = false;
    ck->ready = false;
    ck->oversized = false;
    ck->notified = ENGINE_SUCCESS;
}

void cookie_load_oversized(struct cookie *ck, const struct bin_header *h, const uint8_t *key)
{
    struct bin_request r = {.h = *h, .extras = key, .key = key, .vallen = 0};
    r.h.extlen = 0; /* the reply needs no extras, and they may not fit the packet */
    if (r.h.keylen > BIN_KEY_MAX)
        r.h.keylen = 0;
    cookie_load(ck, &r);
    ck->oversized = true;
}

void cookie_reset(struct cookie *ck)
{
    if (ck->item != NULL) {
        item_unref(ck->item);
        ck->item = NULL;
    }
    exec_text_unload(ck);
    ck->engine_private = NULL;
    ck->blocked = false;
    ck->ready = false;
    ck->oversized = false;
}

void cookie_deinit(struct cookie *ck)
{
    cookie_reset(ck);
    free(ck->spare);
    ck->spare = NULL;
}
