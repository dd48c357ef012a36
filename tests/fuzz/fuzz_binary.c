/*
 * Fuzz target: the binary protocol codec as the read path uses it. The input
 * is a stream of request frames; each header is decoded and checked, a frame
 * that passes is validated, and what validation admits must be consistent:
 * lengths inside the frame, keys within 250 bytes, extras the decoders can
 * read, a header that encodes back to the same bytes. Single thread.
 */
#include <string.h>

#include "fuzz/fuzz.h"
#include "protocol/binary.h"

/* Small limits, so the fuzzer reaches the too-big paths with short inputs. */
#define FUZZ_ITEM_MAX 512u
#define FUZZ_FRAME_LIMIT (FUZZ_ITEM_MAX + 1024u)

/* Checks what a validated request promises to the executors. */
static void check_valid(const struct bin_request *r, size_t frame)
{
    unsigned fl = bin_opcode_flags(r->h.opcode);
    FUZZ_CHECK(fl & BIN_OP_KNOWN);
    FUZZ_CHECK(r->h.keylen <= BIN_KEY_MAX);
    FUZZ_CHECK((size_t)BIN_HEADER_LEN + r->h.extlen + r->h.keylen + r->vallen == frame);
    FUZZ_CHECK(r->h.datatype == 0);
    if (fl & BIN_OP_STORAGE) {
        FUZZ_CHECK(r->h.keylen > 0);
        FUZZ_CHECK(r->vallen <= FUZZ_ITEM_MAX);
        struct bin_store_extras x;
        bin_store_extras_decode(r, &x);
    }
    if (r->h.opcode == BIN_CMD_INCREMENT || r->h.opcode == BIN_CMD_DECREMENT ||
        r->h.opcode == BIN_CMD_INCREMENTQ || r->h.opcode == BIN_CMD_DECREMENTQ) {
        FUZZ_CHECK(r->h.extlen == 20);
        struct bin_arith_extras x;
        bin_arith_extras_decode(r, &x);
    }
    (void)bin_u32_extra(r);
    FUZZ_CHECK(bin_opcode_name(r->h.opcode) != NULL);
}

/* Runs one frame at the head of data; returns the bytes it used, 0 to stop. */
static size_t one_frame(const uint8_t *data, size_t size)
{
    struct bin_header h;
    bin_header_decode(data, &h);
    uint8_t again[BIN_HEADER_LEN];
    bin_header_encode(&h, again);
    FUZZ_CHECK(memcmp(again, data, BIN_HEADER_LEN) == 0);
    enum bin_header_verdict v = bin_header_check(&h, FUZZ_FRAME_LIMIT, FUZZ_ITEM_MAX);
    FUZZ_CHECK(bin_header_verdict_str(v) != NULL);
    size_t frame = BIN_HEADER_LEN + (size_t)h.bodylen;
    if (v == BIN_HDR_VALUE_TOO_BIG) {
        /* The read path answers E2BIG and skips the value: only storage opcodes get here. */
        FUZZ_CHECK(bin_opcode_flags(h.opcode) & BIN_OP_STORAGE);
        FUZZ_CHECK((size_t)h.extlen + h.keylen <= h.bodylen);
        return frame <= size ? frame : 0;
    }
    if (v != BIN_HDR_OK)
        return 0; /* the connection would close */
    FUZZ_CHECK(frame <= FUZZ_FRAME_LIMIT);
    if (frame > size)
        return 0;
    struct bin_request r;
    bin_request_init(&r, &h, data + BIN_HEADER_LEN);
    enum bin_status st = bin_validate(&r);
    if (st == BIN_STATUS_SUCCESS)
        check_valid(&r, frame);
    else
        FUZZ_CHECK(st == BIN_STATUS_EINVAL || st == BIN_STATUS_UNKNOWN_COMMAND);
    uint8_t resp[BIN_HEADER_LEN];
    bin_response_header(resp, h.opcode, (uint16_t)st, 0, 0, 0, h.opaque, 0);
    FUZZ_CHECK(resp[0] == BIN_MAGIC_RESPONSE && resp[1] == h.opcode);
    return frame;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    while (size >= BIN_HEADER_LEN) {
        size_t used = one_frame(data, size);
        if (used == 0)
            break;
        data += used;
        size -= used;
    }
    return 0;
}
