#!/usr/bin/env python3
"""Write the seed sessions of the NBD fuzzer into corpus/.

Each seed is what a client sends in one session: client flags, options,
requests and write payloads (the server's side is not part of it).
Run it again after changing a seed; the output is deterministic.
"""
import os
import struct

IHAVEOPT = 0x49484156454F5054
REQ_MAGIC = 0x25609513
OPT = dict(EXPORT_NAME=1, ABORT=2, LIST=3, STARTTLS=5, INFO=6, GO=7,
           STRUCTURED_REPLY=8, LIST_META=9, SET_META=10, EXTENDED=11)
CMD = dict(READ=0, WRITE=1, DISC=2, FLUSH=3, TRIM=4, CACHE=5, ZEROES=6,
           BLOCK_STATUS=7)
FUA, NO_HOLE, DF, REQ_ONE, FAST_ZERO = 1, 2, 4, 8, 16


def flags(no_zeroes=True):
    return struct.pack(">I", 1 | (2 if no_zeroes else 0))


def option(opt, data=b""):
    return struct.pack(">QII", IHAVEOPT, OPT[opt], len(data)) + data


def info_go(opt, name=b"", infos=(3, 1, 2)):
    data = struct.pack(">I", len(name)) + name
    data += struct.pack(">H", len(infos)) + b"".join(
        struct.pack(">H", i) for i in infos)
    return option(opt, data)


def meta(opt, name=b"", queries=(b"base:allocation",)):
    data = struct.pack(">I", len(name)) + name + struct.pack(">I", len(queries))
    for q in queries:
        data += struct.pack(">I", len(q)) + q
    return option(opt, data)


def req(cmd, offset=0, count=0, flags=0, cookie=1, payload=b""):
    return struct.pack(">IHHQQI", REQ_MAGIC, flags, CMD[cmd], cookie,
                       offset, count) + payload


def negotiate(name=b"", structured=True):
    s = flags()
    if structured:
        s += option("STRUCTURED_REPLY") + meta("SET_META", name)
    return s + info_go("GO", name)


SEEDS = {
    "full-session": negotiate() +
        req("WRITE", 4096, 8192, cookie=1, payload=b"\xab" * 8192) +
        req("READ", 0, 65536, cookie=2) +
        req("READ", 4096, 4096, DF, cookie=3) +
        req("BLOCK_STATUS", 0, 1 << 20, cookie=4) +
        req("BLOCK_STATUS", 4096, 65536, REQ_ONE, cookie=5) +
        req("ZEROES", 8192, 4096, NO_HOLE | FUA, cookie=6) +
        req("ZEROES", 4096, 4096, FAST_ZERO, cookie=7) +
        req("TRIM", 0, 4096, cookie=8) +
        req("FLUSH", cookie=9) + req("DISC"),
    "simple-replies": negotiate(structured=False) +
        req("WRITE", 0, 512, cookie=1, payload=b"x" * 512) +
        req("READ", 0, 1024, cookie=2) + req("READ", 1 << 20, 512, cookie=3) +
        req("DISC"),
    "export-name": flags(False) + option("EXPORT_NAME", b"") +
        req("READ", 0, 4096) + req("FLUSH", cookie=2) + req("DISC"),
    "list-info-abort": flags() + option("LIST") + info_go("INFO", b"ro") +
        info_go("INFO", b"missing") + option("STRUCTURED_REPLY") +
        meta("LIST_META", b"", ()) + meta("LIST_META", b"", (b"base:",)) +
        option("ABORT"),
    "errors": flags() + option("STARTTLS") + option("EXTENDED") +
        struct.pack(">QII", IHAVEOPT, 99, 3) + b"abc" +
        option("LIST", b"junk") + option("STRUCTURED_REPLY") +
        info_go("GO", b"ro") +
        req("WRITE", 0, 512, cookie=1, payload=b"y" * 512) +
        req("TRIM", 0, 512, cookie=2) + req("READ", (1 << 20) - 512, 1024,
                                            cookie=3) +
        req("CACHE", 0, 512, cookie=4) + struct.pack(">IHHQQI", REQ_MAGIC,
                                                     0x40, 42, 5, 0, 0) +
        req("READ", 0, 0, cookie=6) + req("BLOCK_STATUS", 0, 512, cookie=7) +
        req("DISC"),
    "block-size": negotiate(b"b512") +
        req("READ", 100, 512, cookie=1) + req("READ", 0, 1 << 17, cookie=2) +
        req("WRITE", 512, 1000, cookie=3, payload=b"z" * 1000) +
        req("ZEROES", 0, 4096, FAST_ZERO, cookie=4) + req("DISC"),
    "bad-request-magic": negotiate() + b"\xde\xad\xbe\xef" * 7,
    "truncated-write": negotiate() + req("WRITE", 0, 65536) + b"partial",
}

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
os.makedirs(out, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
