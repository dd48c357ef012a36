/*
 * The opcode table of the binary protocol: one row per opcode with its name,
 * its BIN_OP_* flags and the validator of its request shape (extras length,
 * key, value, CAS), following memcached 1.6 and kv_engine. Validators are
 * pure functions of the frame: any thread.
 */
#include "protocol/binary.h"

typedef enum bin_status (*bin_validator)(const struct bin_request *r);

struct bin_op {
    const char *name;
    unsigned flags;
    bin_validator validate;
};

enum key_rule { KEY_FORBIDDEN, KEY_REQUIRED, KEY_OPTIONAL };
enum value_rule { VALUE_FORBIDDEN, VALUE_OPTIONAL };

/* Checks the extras length, key presence and value presence of a request. */
static enum bin_status shape(const struct bin_request *r, uint8_t extlen, enum key_rule key,
                             enum value_rule value)
{
    if (r->h.extlen != extlen) {
        return BIN_STATUS_EINVAL;
    }
    if ((key == KEY_REQUIRED && r->h.keylen == 0) || (key == KEY_FORBIDDEN && r->h.keylen != 0)) {
        return BIN_STATUS_EINVAL;
    }
    if (value == VALUE_FORBIDDEN && r->vallen != 0) {
        return BIN_STATUS_EINVAL;
    }
    return BIN_STATUS_SUCCESS;
}

/* GET, GETQ, GETK, GETKQ. */
static enum bin_status validate_get(const struct bin_request *r)
{
    return shape(r, 0, KEY_REQUIRED, VALUE_FORBIDDEN);
}

/* SET, ADD, REPLACE and their quiet forms: flags and exptime extras, any value. */
static enum bin_status validate_store(const struct bin_request *r)
{
    /* ADD only succeeds when the key is absent, so a CAS cannot match anything. */
    if ((r->h.opcode == BIN_CMD_ADD || r->h.opcode == BIN_CMD_ADDQ) && r->h.cas != 0) {
        return BIN_STATUS_EINVAL;
    }
    return shape(r, 8, KEY_REQUIRED, VALUE_OPTIONAL);
}

/* APPEND, PREPEND and their quiet forms. */
static enum bin_status validate_concat(const struct bin_request *r)
{
    return shape(r, 0, KEY_REQUIRED, VALUE_OPTIONAL);
}

/* DELETE, DELETEQ. */
static enum bin_status validate_delete(const struct bin_request *r)
{
    return shape(r, 0, KEY_REQUIRED, VALUE_FORBIDDEN);
}

/* INCREMENT, DECREMENT and their quiet forms: delta, initial, exptime extras. */
static enum bin_status validate_arith(const struct bin_request *r)
{
    return shape(r, 20, KEY_REQUIRED, VALUE_FORBIDDEN);
}

/* QUIT, QUITQ, NOOP, VERSION: the header alone. */
static enum bin_status validate_bare(const struct bin_request *r)
{
    return shape(r, 0, KEY_FORBIDDEN, VALUE_FORBIDDEN);
}

/* FLUSH, FLUSHQ: an optional 4-byte delay. */
static enum bin_status validate_flush(const struct bin_request *r)
{
    if (r->h.extlen != 0 && r->h.extlen != 4) {
        return BIN_STATUS_EINVAL;
    }
    return shape(r, r->h.extlen, KEY_FORBIDDEN, VALUE_FORBIDDEN);
}

/* STAT: the key, when present, names the stats group. */
static enum bin_status validate_stat(const struct bin_request *r)
{
    return shape(r, 0, KEY_OPTIONAL, VALUE_FORBIDDEN);
}

/* VERBOSITY: the level in 4 bytes of extras. */
static enum bin_status validate_verbosity(const struct bin_request *r)
{
    return shape(r, 4, KEY_FORBIDDEN, VALUE_FORBIDDEN);
}

/* TOUCH, GAT, GATQ, GATK, GATKQ: the new exptime in 4 bytes of extras. */
static enum bin_status validate_touch(const struct bin_request *r)
{
    return shape(r, 4, KEY_REQUIRED, VALUE_FORBIDDEN);
}

/* TEST_CONTROL: a short text value and nothing else. */
static enum bin_status validate_test_control(const struct bin_request *r)
{
    if (r->vallen == 0 || r->vallen > BIN_TEST_CONTROL_MAX) {
        return BIN_STATUS_EINVAL;
    }
    return shape(r, 0, KEY_FORBIDDEN, VALUE_OPTIONAL);
}

#define KNOWN BIN_OP_KNOWN
#define QUIET (BIN_OP_KNOWN | BIN_OP_QUIET)
#define STORE (BIN_OP_KNOWN | BIN_OP_STORAGE)
#define STOREQ (BIN_OP_KNOWN | BIN_OP_STORAGE | BIN_OP_QUIET)
#define WKEY (BIN_OP_KNOWN | BIN_OP_WITH_KEY)
#define WKEYQ (BIN_OP_KNOWN | BIN_OP_WITH_KEY | BIN_OP_QUIET)

/* Rows left zero are unknown opcodes. */
static const struct bin_op bin_ops[256] = {
    [BIN_CMD_GET] = {"GET", KNOWN, validate_get},
    [BIN_CMD_SET] = {"SET", STORE, validate_store},
    [BIN_CMD_ADD] = {"ADD", STORE, validate_store},
    [BIN_CMD_REPLACE] = {"REPLACE", STORE, validate_store},
    [BIN_CMD_DELETE] = {"DELETE", KNOWN, validate_delete},
    [BIN_CMD_INCREMENT] = {"INCREMENT", KNOWN, validate_arith},
    [BIN_CMD_DECREMENT] = {"DECREMENT", KNOWN, validate_arith},
    [BIN_CMD_QUIT] = {"QUIT", KNOWN, validate_bare},
    [BIN_CMD_FLUSH] = {"FLUSH", KNOWN, validate_flush},
    [BIN_CMD_GETQ] = {"GETQ", QUIET, validate_get},
    [BIN_CMD_NOOP] = {"NOOP", KNOWN, validate_bare},
    [BIN_CMD_VERSION] = {"VERSION", KNOWN, validate_bare},
    [BIN_CMD_GETK] = {"GETK", WKEY, validate_get},
    [BIN_CMD_GETKQ] = {"GETKQ", WKEYQ, validate_get},
    [BIN_CMD_APPEND] = {"APPEND", STORE, validate_concat},
    [BIN_CMD_PREPEND] = {"PREPEND", STORE, validate_concat},
    [BIN_CMD_STAT] = {"STAT", KNOWN, validate_stat},
    [BIN_CMD_SETQ] = {"SETQ", STOREQ, validate_store},
    [BIN_CMD_ADDQ] = {"ADDQ", STOREQ, validate_store},
    [BIN_CMD_REPLACEQ] = {"REPLACEQ", STOREQ, validate_store},
    [BIN_CMD_DELETEQ] = {"DELETEQ", QUIET, validate_delete},
    [BIN_CMD_INCREMENTQ] = {"INCREMENTQ", QUIET, validate_arith},
    [BIN_CMD_DECREMENTQ] = {"DECREMENTQ", QUIET, validate_arith},
    [BIN_CMD_QUITQ] = {"QUITQ", QUIET, validate_bare},
    [BIN_CMD_FLUSHQ] = {"FLUSHQ", QUIET, validate_flush},
    [BIN_CMD_APPENDQ] = {"APPENDQ", STOREQ, validate_concat},
    [BIN_CMD_PREPENDQ] = {"PREPENDQ", STOREQ, validate_concat},
    [BIN_CMD_VERBOSITY] = {"VERBOSITY", KNOWN, validate_verbosity},
    [BIN_CMD_TOUCH] = {"TOUCH", KNOWN, validate_touch},
    [BIN_CMD_GAT] = {"GAT", KNOWN, validate_touch},
    [BIN_CMD_GATQ] = {"GATQ", QUIET, validate_touch},
    [BIN_CMD_GATK] = {"GATK", WKEY, validate_touch},
    [BIN_CMD_GATKQ] = {"GATKQ", WKEYQ, validate_touch},
    [BIN_CMD_TEST_CONTROL] = {"TEST_CONTROL", BIN_OP_KNOWN | BIN_OP_TEST, validate_test_control},
};

/* Unknown opcode first, then the shared rules, then the opcode's own validator. */
enum bin_status bin_validate(const struct bin_request *r)
{
    const struct bin_op *op = &bin_ops[r->h.opcode];

    if (op->validate == NULL) {
        return BIN_STATUS_UNKNOWN_COMMAND;
    }
    /* Rules of every opcode: raw bytes only (no JSON, no snappy), memcached's key limit. */
    if (r->h.datatype != 0 || r->h.keylen > BIN_KEY_MAX) {
        return BIN_STATUS_EINVAL;
    }
    return op->validate(r);
}

/* The BIN_OP_* flags of an opcode's row; 0 for unknown opcodes. */
unsigned bin_opcode_flags(uint8_t opcode)
{
    return bin_ops[opcode].flags;
}

/* The opcode's name, or "UNKNOWN". */
const char *bin_opcode_name(uint8_t opcode)
{
    const char *name = bin_ops[opcode].name;

    return name != NULL ? name : "UNKNOWN";
}
