#!/usr/bin/env python3
"""Writes the seed corpus of the text fuzz target (and the text seeds of the
connection target): every text and meta command, refused shapes, pipelines.
Run from this folder: python3 make_text_seeds.py (writes corpus/text/)."""
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "text")

SEEDS = {
    "get": b"get k\r\n", "get_multi": b"get a b c d e f\r\n", "gets": b"gets k\r\n",
    "gat": b"gat 100 k\r\n", "gats": b"gats 0 a b\r\n", "gat_nokey": b"gat 10\r\n",
    "set": b"set k 0 0 1\r\nv\r\n", "set_noreply": b"set k 5 100 3 noreply\r\nabc\r\n",
    "add": b"add k 0 0 1\r\nv\r\n", "replace": b"replace k 0 0 1\r\nv\r\n",
    "append": b"append k 0 0 1\r\nv\r\n", "prepend": b"prepend k 0 0 1\r\nv\r\n",
    "cas": b"cas k 0 0 1 12\r\nv\r\n", "delete": b"delete k\r\n", "delete0": b"delete k 0\r\n",
    "delete_bad": b"delete k 5\r\n", "incr": b"incr k 5\r\n", "decr": b"decr k 18446744073709551615\r\n",
    "incr_bad": b"incr k -1\r\n", "touch": b"touch k 10\r\n", "flush_all": b"flush_all\r\n",
    "flush_delay": b"flush_all 10 noreply\r\n", "version": b"version\r\n",
    "verbosity": b"verbosity 1\r\n", "verbosity_nr": b"verbosity noreply\r\n",
    "quit": b"quit\r\n", "stats": b"stats\r\n", "stats_settings": b"stats settings\r\n",
    "stats_items": b"stats items\r\n", "shutdown": b"shutdown\r\n",
    "mg": b"mg k v f t c s k O123 q\r\n", "mg_b64": b"mg a2V5 b v\r\n",
    "mg_vivify": b"mg k N30 R10 T5 h l\r\n", "ms": b"ms k 2 F5 T10 I q\r\nab\r\n",
    "ms_append": b"ms k 1 MA N10\r\nx\r\n", "ms_bad": b"ms k 2 Z\r\nab\r\n",
    "md": b"md k q C5 I T30 x\r\n", "ma": b"ma k MD D5 N0 J10 v t c\r\n",
    "mn": b"mn\r\n", "me": b"me k\r\n", "bad_flag": b"mg k !\r\n",
    "opaque_long": b"mg k O" + b"9" * 40 + b"\r\n", "http": b"GET / HTTP/1.1\r\n",
    "empty": b"\r\n", "unknown": b"frobnicate\r\n", "long_key": b"get " + b"k" * 251 + b"\r\n",
    "tokens": b"mg k" + b" v" * 30 + b"\r\n", "lf_only": b"get k\nset k 0 0 1\nv\n",
    "neg_len": b"set k 0 0 -1\r\n", "big_len": b"set k 0 0 4294967295\r\n",
}


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = dict(SEEDS)
    seeds["pipeline"] = b"".join(SEEDS[k] for k in ("set", "get", "incr", "mg", "ms", "md", "mn"))
    seeds["pipeline_gets"] = b"".join(b"get key%d\r\n" % i for i in range(20))
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
