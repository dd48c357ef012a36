#!/usr/bin/env python3
"""Writes the seed corpus of the connection fuzz target: every binary frame
and text/meta command of the other targets' seeds behind a control byte
(see fuzz_conn.c), pipelines, frames split into 1-byte writes, a client that
reads nothing while its replies pile up, garbage after valid frames.
Run from this folder: python3 make_conn_seeds.py (writes corpus/conn/)."""
import os
import struct

import make_seeds
import make_text_seeds

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "conn")

CHUNK_BIG = 0x07      # 128-byte writes, client reads as it goes, then closes
CHUNK_ONE = 0x00      # 1-byte writes: every split point
NO_READ = 0x08        # the client reads nothing until it has sent everything
HALF_CLOSE = 0x10     # shutdown(SHUT_WR) at the end: replies still come
WOULDBLOCK = 0x20     # the wouldblock engine: every engine call blocks, then completes
WB_ERROR = 0x40       # with WOULDBLOCK: calls fail after blocking (tmpfail)
WB_DISCONNECT = 0x80  # with WB_ERROR: they fail with disconnect
DISK = 0x40           # without WOULDBLOCK: the disk engine in a fresh directory
DISK_SYNC = 0x80      # with DISK: durability=sync (replies after the fsync)


def seeds():
    out = {}
    for name, data in make_seeds.SEEDS.items():
        out["bin_" + name] = bytes([CHUNK_BIG | HALF_CLOSE]) + data
    for name, data in make_text_seeds.SEEDS.items():
        out["txt_" + name] = bytes([CHUNK_BIG | HALF_CLOSE]) + data
    frame = make_seeds.frame
    store = struct.pack(">II", 0, 0)
    sets = b"".join(frame(0x01, b"k%d" % i, store, b"v" * 900) for i in range(8))
    gets = b"".join(frame(0x00, b"k%d" % (i % 8)) for i in range(64))
    out["bin_fill_send_queue"] = bytes([CHUNK_BIG | NO_READ | HALF_CLOSE]) + sets + gets
    out["bin_split_bytes"] = bytes([CHUNK_ONE | HALF_CLOSE]) + make_seeds.SEEDS["set"] + \
        make_seeds.SEEDS["get"]
    out["bin_garbage_after"] = bytes([CHUNK_BIG | HALF_CLOSE]) + make_seeds.SEEDS["noop"] + \
        b"\xde\xad\xbe\xef" * 8
    out["bin_reset"] = bytes([CHUNK_BIG]) + sets + gets
    big = b"set big 0 0 1000\r\n" + b"x" * 1000 + b"\r\n"
    out["txt_fill_send_queue"] = bytes([CHUNK_BIG | NO_READ | HALF_CLOSE]) + big + \
        b"get big big big big big big big big\r\n" * 8
    out["txt_split_bytes"] = bytes([CHUNK_ONE | HALF_CLOSE]) + b"set k 0 0 2\r\nab\r\nget k\r\n"
    out["txt_too_big"] = bytes([CHUNK_BIG | HALF_CLOSE]) + b"set k 0 0 2000\r\n" + b"y" * 2002 + \
        b"get k\r\n"
    out["txt_long_line"] = bytes([CHUNK_BIG | HALF_CLOSE]) + b"x" * 3000 + b"\r\n"
    out["txt_garbage_after"] = bytes([CHUNK_BIG | HALF_CLOSE]) + b"mn\r\n" + bytes(range(256))
    out["txt_meta_pipeline"] = bytes([CHUNK_BIG | HALF_CLOSE]) + b"".join(
        make_text_seeds.SEEDS[k] for k in ("ms", "mg", "ma", "md", "mg_vivify", "ms_append", "mn"))
    wb = CHUNK_BIG | HALF_CLOSE | WOULDBLOCK
    for name in ("pipeline_mixed", "pipeline_mget"):
        data = make_seeds_pipelines()[name]
        out["wb_" + name] = bytes([wb]) + data
        out["wb_error_" + name] = bytes([wb | WB_ERROR]) + data
        out["wb_disc_" + name] = bytes([wb | WB_ERROR | WB_DISCONNECT]) + data
    for name in ("pipeline", "ms", "mg_vivify", "ma", "get_multi", "cas", "incr"):
        out["wb_txt_" + name] = bytes([wb]) + make_text_seeds.SEEDS[name] if name != "pipeline" \
            else bytes([wb]) + b"".join(make_text_seeds.SEEDS[k] for k in ("set", "get", "mg", "md"))
    never = frame(0xeb, value=b"never")
    out["wb_never_reset"] = bytes([CHUNK_BIG | WOULDBLOCK]) + never + make_seeds.SEEDS["get"]
    out["wb_never_half"] = bytes([wb]) + never + make_seeds.SEEDS["set"] + make_seeds.SEEDS["noop"]
    out["wb_random"] = bytes([wb]) + frame(0xeb, value=b"random:0.5") + sets + gets
    out["wb_fill_send_queue"] = bytes([wb | NO_READ]) + sets + gets
    disk = CHUNK_BIG | HALF_CLOSE | DISK
    for name, data in make_seeds_pipelines().items():
        out["disk_" + name] = bytes([disk]) + data
        out["disk_sync_" + name] = bytes([disk | DISK_SYNC]) + data
    out["disk_fill"] = bytes([disk]) + sets + gets + frame(0x08) + gets
    out["disk_reset"] = bytes([CHUNK_BIG | DISK]) + sets + gets
    out["disk_txt_pipeline"] = bytes([disk]) + b"".join(
        make_text_seeds.SEEDS[k] for k in ("set", "get", "ms", "mg", "ma", "md", "incr", "touch",
                                           "append", "cas", "flush_all", "get_multi"))
    return out


def make_seeds_pipelines():
    """The binary target's pipelines (built in its main())."""
    frame = make_seeds.frame
    s = make_seeds.SEEDS
    return {
        "pipeline_mget": b"".join(frame(0x0d, b"key%d" % i) for i in range(20)) + frame(0x0a),
        "pipeline_mixed": b"".join(s[k] for k in ("set", "get", "incr", "delete", "noop")),
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in seeds().items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
