/*
 * The meta protocol codec (mg, ms, md, ma, mn, me): flag tokens checked
 * against what each command accepts, numeric flag arguments, base64 keys and
 * the return-flag encoder helpers. Pure; any thread.
 */
#ifndef BASALT_PROTOCOL_META_H
#define BASALT_PROTOCOL_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/compiler.h"
#include "protocol/text.h"

/* The slot of a flag letter in struct meta_flags (A-Z: 0..25, a-z: 26..51), or -1. */
int meta_flag_bit(char letter);

/* True when flag letter was given. */
bool meta_has(const struct meta_flags *m, char letter);

/* The argument of a flag (its token after the letter); empty when absent. */
struct text_tok meta_arg(const struct meta_flags *m, char letter);

/* Reads a flag's argument as an unsigned number; false when absent or not a number. */
bool meta_u64(const struct meta_flags *m, char letter, uint64_t *out) WARN_UNUSED;

/* Reads a flag's argument as a signed 32-bit number; false when absent or not a number. */
bool meta_i32(const struct meta_flags *m, char letter, int32_t *out) WARN_UNUSED;

/*
 * Parses the tokens of a meta line (tok[0] is the command, already looked
 * up into r->cmd). Checks the key (or its base64 form with b), ms's data
 * length, that every flag is one the command accepts (TEXT_ERR_INVALID_FLAG)
 * and that numeric arguments are numbers (TEXT_ERR_FORMAT).
 */
enum text_verdict meta_parse(const struct text_tok *tok, size_t n, struct text_req *r) WARN_UNUSED;

/* Decodes a base64 key into out (TEXT_KEY_MAX bytes); returns its length, or 0 if invalid. */
size_t meta_key_decode(const struct text_tok *t, uint8_t *out);

#endif
