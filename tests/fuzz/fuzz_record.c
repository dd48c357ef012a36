/*
 * Fuzz target: the storage record decoder as the recovery scan uses it. The
 * input is read as a segment body: records are decoded one after the other,
 * and after a bad one the next offset is tried, as repair mode resyncs. What
 * the decoder accepts must be consistent: lengths inside the input and the
 * limit, a well-formed record that encodes back to the same bytes. The first
 * bytes are also tried as a segment header. Single thread.
 */
#include <string.h>

#include "fuzz/fuzz.h"
#include "storage/record.h"

/* A small limit, so the fuzzer reaches the too-long path with short inputs. */
#define FUZZ_RECORD_MAX 1024u

/* Checks what an accepted record promises to the recovery scan and the reader. */
static void check_record(const uint8_t *data, size_t size, const struct store_record *r,
                         uint32_t used)
{
    FUZZ_CHECK(used <= size && used <= FUZZ_RECORD_MAX);
    FUZZ_CHECK(used == store_record_size(r->nkey, r->nvalue));
    FUZZ_CHECK(r->nkey >= 1 && r->nkey <= STORE_KEY_MAX);
    FUZZ_CHECK(r->seq != 0);
    FUZZ_CHECK(r->kind == STORE_KIND_VALUE || r->kind == STORE_KIND_TOMBSTONE);
    FUZZ_CHECK(r->kind == STORE_KIND_VALUE || r->nvalue == 0);
    FUZZ_CHECK((const uint8_t *)r->key == data + STORE_RECORD_HEADER);
    FUZZ_CHECK(store_record_check(r, FUZZ_RECORD_MAX) == STORE_REC_OK);
    uint8_t again[FUZZ_RECORD_MAX];
    FUZZ_CHECK(store_record_encode(r, again, sizeof(again)) == used);
    FUZZ_CHECK(memcmp(again, data, used) == 0);
    /* The same bytes cut short are never accepted. */
    struct store_record cut;
    uint32_t cut_used;
    FUZZ_CHECK(store_record_decode(data, used - 1, FUZZ_RECORD_MAX, &cut, &cut_used) ==
               STORE_REC_SHORT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= STORE_SEGMENT_HEADER) {
        struct store_segment_header h;
        if (store_segment_header_decode(data, &h) == 0) {
            uint8_t again[STORE_SEGMENT_HEADER];
            store_segment_header_encode(&h, again);
            FUZZ_CHECK(memcmp(again, data, STORE_SEGMENT_HEADER) == 0);
        }
    }
    size_t pos = 0;
    while (pos < size) {
        struct store_record r;
        uint32_t used = 0;
        enum store_verdict v =
            store_record_decode(data + pos, size - pos, FUZZ_RECORD_MAX, &r, &used);
        FUZZ_CHECK(store_verdict_str(v) != NULL);
        if (v == STORE_REC_OK) {
            check_record(data + pos, size - pos, &r, used);
            pos += used;
        } else {
            pos++; /* resync, as repair mode does */
        }
    }
    return 0;
}
