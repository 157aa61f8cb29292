#!/usr/bin/env python3
"""Check images of recovery points against what plwrite recorded.

    check.py BLOCKS LOG... -- T IMAGE [T IMAGE]...

LOG: plwrite's outputs (S/A/E lines).  T: the point's time in ns since
the epoch, or 'newest' (every write acknowledged so far).  IMAGE: the
point as a raw image of BLOCKS blocks of 4 KiB.

Writes to one block are ordered (plwrite never overlaps requests in
flight), so at T a block must hold the last write to it acknowledged
at or before T (zero if none), or a later one submitted at or before T:
that one was in flight at T, and the point may or may not hold it, as
it may or may not hold a write whose acknowledgement never came (the
power was cut).  Anything else - an acknowledged write missing, a write
submitted after T, a block no write made - is an error.  Exit 0 when
every image is right; else one line per wrong block (at most 10 per
image) and exit 1."""
import struct
import sys

BLOCK = 4096
MASK = (1 << 64) - 1
ZERO = bytes(BLOCK)


def pattern(wid, blk):
    fill = ((wid * 0x9e3779b97f4a7c15) & MASK) ^ blk
    return struct.pack('<QQ', wid, blk) + struct.pack('<Q', fill) * (BLOCK // 8 - 2)


def load(logs, blocks):
    hist = [[] for _ in range(blocks)]      # per block: [submit, id, zero]
    ack = {}
    for log in logs:
        with open(log) as f:
            for line in f:
                p = line.split()
                if not p:
                    continue
                if p[0] == 'S' and len(p) == 6:
                    wid, first, n, zero, t = map(int, p[1:])
                    for b in range(first, first + n):
                        hist[b].append((t, wid, bool(zero)))
                elif p[0] == 'A' and len(p) == 3:
                    ack[int(p[1])] = int(p[2])
    for h in hist:
        h.sort()
    return hist, ack


def acceptable(h, ack, t):
    """(ids, zero_ok) the block may hold at time t."""
    last = -1
    for i, (_, wid, _) in enumerate(h):
        a = ack.get(wid)
        if a is not None and a <= t:
            last = i
    ids, zero_ok = set(), last < 0
    if last >= 0:
        wid, zero = h[last][1], h[last][2]
        zero_ok |= zero
        if not zero:
            ids.add(wid)
    for sub, wid, zero in h[last + 1:]:
        if sub <= t:
            zero_ok |= zero
            if not zero:
                ids.add(wid)
    return ids, zero_ok


def check(hist, ack, t, image, blocks):
    errors = []
    with open(image, 'rb') as f:
        data = f.read()
    if len(data) != blocks * BLOCK:
        return ['%s: %d bytes, not %d' % (image, len(data), blocks * BLOCK)]
    for b in range(blocks):
        got = data[b * BLOCK:(b + 1) * BLOCK]
        ids, zero_ok = acceptable(hist[b], ack, t)
        if got == ZERO:
            if not zero_ok:
                errors.append('block %d is zero, expected write %s'
                              % (b, sorted(ids)))
            continue
        wid, blk = struct.unpack_from('<QQ', got)
        if blk != b or got != pattern(wid, blk):
            errors.append('block %d holds data no write made' % b)
        elif wid not in ids:
            why = ('acknowledged write %s missing' % sorted(ids) if ids
                   else 'expected zero')
            errors.append('block %d holds write %d: %s' % (b, wid, why))
    return ['%s at %s: %s' % (image, t, e) for e in errors[:10]]


def main():
    args = sys.argv[1:]
    blocks = int(args[0])
    sep = args.index('--')
    hist, ack = load(args[1:sep], blocks)
    pairs = args[sep + 1:]
    bad = []
    for i in range(0, len(pairs), 2):
        t = float('inf') if pairs[i] == 'newest' else int(pairs[i])
        bad += check(hist, ack, t, pairs[i + 1], blocks)
    for line in bad:
        print(line)
    sys.exit(1 if bad else 0)


main()
