#!/usr/bin/env python3
"""Writes the seed corpus of the record fuzz target: valid records (values,
empty values, tombstones, a 250-byte key), runs of records as a segment body
holds them, a segment header, and broken shapes (torn, bad checksum, bad
length, garbage between records). The format is in docs/storage.md.
Run from anywhere: python3 make_record_seeds.py (writes corpus/record/)."""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "record")


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def record(key, value=None, seq=1, cas=7, flags=0, exptime=0):
    kind = 2 if value is None else 1
    value = value or b""
    rest = struct.pack("<IBBBBIQQQ", 40 + len(key) + len(value), 0xB5, kind, len(key), 0,
                       flags, seq, cas, exptime) + key + value
    return struct.pack("<I", crc32c(rest)) + rest


def segment_header(segno, gen=0):
    head = b"BASALTSG" + struct.pack("<IIQI", 1, gen, segno, 0)
    return head + struct.pack("<I", crc32c(head))


def main():
    os.makedirs(OUT, exist_ok=True)
    one = record(b"key", b"value", seq=5, flags=0xDEADBEEF, exptime=1900000000)
    bad_crc = bytearray(one)
    bad_crc[-1] ^= 0x55
    long_len = bytearray(one)
    long_len[4:8] = struct.pack("<I", 5000)
    run = b"".join(record(b"k%d" % i, b"v" * i, seq=i + 1) for i in range(12))
    seeds = {
        "value": one,
        "empty_value": record(b"k", b"", seq=2),
        "tombstone": record(b"gone", None, seq=3),
        "key_250": record(b"k" * 250, b"v", seq=4),
        "run": run,
        "segment": segment_header(1) + run,
        "torn": run + one[:23],
        "bad_crc": bytes(bad_crc),
        "bad_length": bytes(long_len),
        "garbage_between": record(b"a", b"1") + b"\xAA" * 13 + record(b"b", b"2", seq=2),
        "zero_tail": run + b"\x00" * 64,
    }
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
