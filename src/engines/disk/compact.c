/*
 * Compaction of sealed segments on the aux pool (see docs/storage.md for
 * the storage primitives and their crash safety).
 */
#include "engines/disk/disk_internal.h"

void disk_compact_maybe(struct disk_engine *de)
{
    (void)de;
}
