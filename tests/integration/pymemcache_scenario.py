"""pymemcache against a running server: python3 pymemcache_scenario.py PORT.

Drives get/set/gets/cas/incr/decr/touch/delete/add/replace/append/prepend/
get_many and noreply through Debian's python3-pymemcache; exits non-zero on
the first mismatch. Run with /usr/bin/python3 (the system's modules).
"""
import sys

from pymemcache.client.base import Client


def check(what, got, want):
    if got != want:
        print("FAIL %s: got %r, want %r" % (what, got, want))
        sys.exit(1)


def main():
    port = int(sys.argv[1])
    c = Client(("127.0.0.1", port), connect_timeout=5, timeout=5)
    check("set", c.set("k", b"v1", noreply=False), True)
    check("get", c.get("k"), b"v1")
    check("get miss", c.get("nope"), None)
    value, cas = c.gets("k")
    check("gets", value, b"v1")
    check("cas stale", c.cas("k", b"v2", int(cas) + 100, noreply=False), False)
    check("cas", c.cas("k", b"v2", cas, noreply=False), True)
    check("cas missing", c.cas("nope", b"x", cas, noreply=False), None)
    check("after cas", c.get("k"), b"v2")
    check("add existing", c.add("k", b"x", noreply=False), False)
    check("add", c.add("a", b"1", noreply=False), True)
    check("replace missing", c.replace("nope", b"x", noreply=False), False)
    check("replace", c.replace("a", b"10", noreply=False), True)
    check("incr", c.incr("a", 5), 15)
    check("decr", c.decr("a", 20), 0)
    check("incr missing", c.incr("nope", 1), None)
    check("append", c.append("k", b"!", noreply=False), True)
    check("prepend", c.prepend("k", b"<", noreply=False), True)
    check("after append", c.get("k"), b"<v2!")
    check("touch", c.touch("k", 100, noreply=False), True)
    check("touch missing", c.touch("nope", 100, noreply=False), False)
    many = {"m%d" % i: b"val%d" % i for i in range(100)}
    check("set_many", c.set_many(many, noreply=False), [])
    check("get_many", c.get_many(list(many) + ["nope"]), many)
    c.set("q", b"quiet", noreply=True)
    c.delete("m0", noreply=True)
    check("noreply set", c.get("q"), b"quiet")
    check("noreply delete", c.get("m0"), None)
    check("delete", c.delete("q", noreply=False), True)
    check("delete missing", c.delete("q", noreply=False), False)
    check("version", len(c.version()) > 0, True)
    check("flush_all", c.flush_all(noreply=False), True)
    check("after flush", c.get("k"), None)
    c.close()
    print("pymemcache scenario: ok")


if __name__ == "__main__":
    main()
