/* Engine interface helpers: status names and item release; any thread. */
#include "engine/engine.h"

#include <stdlib.h>
#include <string.h>

const char *engine_status_str(engine_status s)
{
    static const char *const names[] = {
        [ENGINE_SUCCESS] = "success",
        [ENGINE_KEY_ENOENT] = "key_enoent",
        [ENGINE_KEY_EEXISTS] = "key_eexists",
        [ENGINE_E2BIG] = "e2big",
        [ENGINE_EINVAL] = "einval",
        [ENGINE_NOT_STORED] = "not_stored",
        [ENGINE_DELTA_BADVAL] = "delta_badval",
        [ENGINE_ENOMEM] = "enomem",
        [ENGINE_EWOULDBLOCK] = "ewouldblock",
        [ENGINE_DISCONNECT] = "disconnect",
        [ENGINE_TMPFAIL] = "tmpfail",
        [ENGINE_NOT_SUPPORTED] = "not_supported",
        [ENGINE_FAILED] = "failed",
    };
    if ((unsigned)s < ARRAY_LEN(names) && names[s] != NULL)
        return names[s];
    return "unknown";
}

void item_unref(struct item *it)
{
    /* acq_rel: the freeing thread must see every write made under other references. */
    if (atomic_fetch_sub_explicit(&it->refcount, 1, memory_order_acq_rel) == 1)
        free(it);
}

void item_init(struct item *it, const void *key, size_t nkey, size_t nbytes, uint32_t flags,
               rel_time_t exptime)
{
    it->engine_next = NULL;
    it->engine_prev = NULL;
    it->engine_lnext = NULL;
    it->cas = 0;
    it->exptime = exptime;
    it->flags = flags;
    it->nbytes = (uint32_t)nbytes;
    atomic_init(&it->refcount, 1);
    it->nkey = (uint8_t)nkey;
    it->engine_bits = 0;
    it->engine_atime = 0;
    memcpy(it->data, key, nkey);
}
