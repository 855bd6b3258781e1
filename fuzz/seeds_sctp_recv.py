#!/usr/bin/env python3
"""Write the seed corpus of fuzz_sctp_recv (see the input format at the top
of fuzz_sctp_recv.c): real TLS ClientHellos, partial deliveries, oversized
and unordered messages, messages on unidirectional streams, and the SCTP
notifications of both backends (usrsctp and Linux constants, host byte
order). Usage: seeds_sctp_recv.py DIR"""
import os
import ssl
import struct
import sys

USR = dict(assoc=0x0001, shutdown=0x0005, pdapi=0x0007, reset=0x0009,
           send_failed=0x000e, up=1, lost=2, restart=3)
LNX = dict(assoc=0x8001, shutdown=0x8005, pdapi=0x8006, reset=0x800a,
           send_failed=0x800e, up=0, lost=1, restart=2)


def client_hello():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inb, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inb, outb, server_hostname="fuzz.test")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outb.read()


def setup(nin, nout, client=False, status_fails=False, cbmode=False,
          reset=False, plain1=False):
    b0 = ((nin - 1) // 2) | (((nout - 1) // 2) << 3)
    b0 |= 0x40 if client else 0
    b0 |= 0x80 if status_fails else 0
    b1 = (1 if cbmode else 0) | (2 if reset else 0) | (4 if plain1 else 0)
    return bytes([b0, b1])


def data(sid, payload, eor=True, unordered=False):
    f = sid | (0x20 if eor else 0) | (0x40 if unordered else 0)
    return bytes([0, f]) + struct.pack(">H", len(payload)) + payload


def fill(sid, count, byte, eor=True):
    f = sid | (0x20 if eor else 0)
    return bytes([3, f]) + struct.pack(">HB", count, byte)


def notif(kind, body):
    return bytes([kind]) + struct.pack(">H", len(body)) + body


def assoc_change(t, state, nout=5, nin=5):
    return struct.pack("=HHIHHHHI", t["assoc"], 0, 20, t[state], 0, nout, nin,
                       1)


def send_failed(t, sid):
    return struct.pack("=HHIIHHIII", t["send_failed"], 0, 32, 1, sid, 0, 0, 0,
                       1) + b"lost"


def stream_reset(t, sids, flags=0):
    body = struct.pack("=HHII", t["reset"], flags, 12 + 2 * len(sids), 1)
    return body + b"".join(struct.pack("=H", s) for s in sids)


def pdapi(t, sid):
    return struct.pack("=HHIIIII", t["pdapi"], 0, 24, 1, sid, 0, 1)


def shutdown(t):
    return struct.pack("=HHII", t["shutdown"], 0, 12, 1)


PAUSE = bytes([5])


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    ch = client_hello()
    seeds = {
        "hello": setup(5, 5) + data(0, ch) + PAUSE + data(1, ch),
        "hello-cb": setup(5, 5, cbmode=True) + data(0, ch) + data(2, ch),
        "partial": setup(5, 5) + data(0, ch[:40], eor=False) +
        data(0, ch[40:100], eor=False) + data(0, ch[100:]) + PAUSE,
        "oversized": setup(5, 5) + data(0, ch) + fill(1, 1200, 0x17) +
        data(1, ch) + PAUSE + data(2, b"\x17\x03\x03\x00\x05hello"),
        "oversized-partial": setup(5, 5) + fill(2, 4000, 0x16, eor=False) +
        fill(2, 10, 0) + data(3, ch),
        "unordered": setup(5, 5) + data(0, ch) + data(0, ch, unordered=True) +
        data(1, ch, unordered=True),
        "uni": setup(5, 9) + data(6, b"plain") + data(8, b"x" * 100) +
        data(4, ch),
        "plain1": setup(5, 5, plain1=True) + PAUSE + data(1, b"plaintext") +
        data(1, b"more", unordered=True),
        "client": setup(3, 3, client=True) + data(0, ch) +
        data(1, b"\x16\x03\x03\x00\x02\x02\x00"),
        "error": setup(5, 5) + data(0, ch) + bytes([4]),
    }
    for name, t in (("usr", USR), ("lnx", LNX)):
        kind = 1 if name == "usr" else 2
        seeds["up-" + name] = (setup(5, 5, status_fails=True) +
                               notif(kind, assoc_change(t, "up", 7, 5)) +
                               data(0, ch) + data(4, ch))
        seeds["events-" + name] = (
            setup(5, 5, reset=True) + data(0, ch) + data(1, ch) +
            notif(kind, send_failed(t, 1)) +
            notif(kind, stream_reset(t, [2, 3])) +
            notif(kind, stream_reset(t, [], 0)) +
            data(4, ch[:30], eor=False) + notif(kind, pdapi(t, 4)) + PAUSE +
            notif(kind, stream_reset(t, [0], 4)) + notif(kind, shutdown(t)))
        for state in ("lost", "restart"):
            seeds[state + "-" + name] = (setup(5, 5) + data(0, ch) +
                                         notif(kind, assoc_change(t, state)))
    for n, b in seeds.items():
        with open(os.path.join(out, n), "wb") as f:
            f.write(b)
    print(len(seeds), "seeds written")


main()
