#!/usr/bin/env python3
"""Writes the seed corpus of the binary fuzz target: one valid frame for every
opcode basalt serves, a few invalid shapes, pipelines and a split frame.
Run from this folder: python3 make_seeds.py (writes corpus/binary/)."""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "binary")


def frame(op, key=b"", extras=b"", value=b"", cas=0, opaque=0, magic=0x80, datatype=0):
    body = extras + key + value
    return struct.pack(">BBHBBHIIQ", magic, op, len(key), len(extras), datatype, 0,
                       len(body), opaque, cas) + body


STORE = struct.pack(">II", 0xdeadbeef, 0)
ARITH = struct.pack(">QQI", 1, 0, 0)
U32 = struct.pack(">I", 0)
SEEDS = {
    "get": frame(0x00, b"k"), "getq": frame(0x09, b"k"), "getk": frame(0x0c, b"k"),
    "getkq": frame(0x0d, b"k"), "set": frame(0x01, b"k", STORE, b"v"),
    "setq": frame(0x11, b"k", STORE, b"v"), "add": frame(0x02, b"k", STORE, b"v"),
    "addq": frame(0x12, b"k", STORE, b"v"), "replace": frame(0x03, b"k", STORE, b"v"),
    "replaceq": frame(0x13, b"k", STORE, b"v"), "append": frame(0x0e, b"k", b"", b"v"),
    "appendq": frame(0x19, b"k", b"", b"v"), "prepend": frame(0x0f, b"k", b"", b"v"),
    "prependq": frame(0x1a, b"k", b"", b"v"), "delete": frame(0x04, b"k"),
    "deleteq": frame(0x14, b"k"), "incr": frame(0x05, b"k", ARITH),
    "incrq": frame(0x15, b"k", ARITH), "decr": frame(0x06, b"k", ARITH),
    "decrq": frame(0x16, b"k", ARITH), "quit": frame(0x07), "quitq": frame(0x17),
    "flush": frame(0x08), "flush_delay": frame(0x08, extras=U32), "flushq": frame(0x18),
    "noop": frame(0x0a), "version": frame(0x0b), "stat": frame(0x10),
    "stat_settings": frame(0x10, b"settings"), "verbosity": frame(0x1b, extras=U32),
    "touch": frame(0x1c, b"k", U32), "gat": frame(0x1d, b"k", U32),
    "gatq": frame(0x1e, b"k", U32), "gatk": frame(0x23, b"k", U32),
    "gatkq": frame(0x24, b"k", U32), "set_cas": frame(0x01, b"k", STORE, b"v", cas=7),
    "unknown": frame(0x40, b"k", b"", b"body"),
    "bad_extras": frame(0x00, b"k", U32), "bad_datatype": frame(0x00, b"k", datatype=1),
    "add_cas": frame(0x02, b"k", STORE, b"v", cas=1), "no_key": frame(0x00),
    "key_251": frame(0x00, b"k" * 251), "value_big": frame(0x01, b"k", STORE, b"v" * 600),
    "bad_magic": frame(0x00, b"k", magic=0x81),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = dict(SEEDS)
    seeds["pipeline_mget"] = b"".join(frame(0x0d, b"key%d" % i) for i in range(20)) + frame(0x0a)
    seeds["pipeline_mixed"] = b"".join(SEEDS[k] for k in ("set", "get", "incr", "delete", "noop"))
    seeds["split_frame"] = SEEDS["set"][:30]
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
