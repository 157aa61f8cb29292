#!/usr/bin/env python3
"""qd1-check.py LOG BLOCK [TIME IMAGE]...: each IMAGE, the disk at TIME
(RFC 3339 with nanoseconds, or @EPOCH.NANOSECONDS), must hold what the
writes in LOG (qd1-writer's lines: i offset sent_ns acked_ns) left there
by then: every block the newest write acknowledged by TIME, or a write
still in flight at TIME (sent by then, acknowledged after), and zeroes
where nothing was written by then."""
import struct
import sys
from datetime import datetime, timezone


def pattern(i, block):
    b = bytearray([i % 251 + 1]) * block
    b[0:8] = struct.pack('<Q', i)
    return bytes(b)


def parse_time(s):
    if s.startswith('@'):
        sec, _, frac = s[1:].partition('.')
        return int(sec) * 10**9 + int((frac + '000000000')[:9])
    base, _, frac = s.rstrip('Z').partition('.')
    dt = datetime.strptime(base, '%Y-%m-%dT%H:%M:%S').replace(tzinfo=timezone.utc)
    return int(dt.timestamp()) * 10**9 + int((frac + '000000000')[:9])


def main():
    log, block = sys.argv[1], int(sys.argv[2])
    writes = {}
    for line in open(log):
        i, off, sent, acked = map(int, line.split())
        writes.setdefault(off, []).append((i, sent, acked))
    args = sys.argv[3:]
    bad = 0
    for k in range(0, len(args), 2):
        when, image = parse_time(args[k]), args[k + 1]
        data = open(image, 'rb').read()
        for off in range(0, len(data), block):
            got = data[off:off + block]
            done = [w for w in writes.get(off, []) if w[2] <= when]
            maybe = [w for w in writes.get(off, []) if w[1] <= when < w[2]]
            ok = [pattern(done[-1][0], block) if done else bytes(len(got))]
            ok += [pattern(w[0], block) for w in maybe]
            if got not in ok:
                have = struct.unpack('<Q', got[:8])[0]
                print(f'{image} (point at {args[k]}): block at {off} holds '
                      f'{"write %d" % have if any(got) else "zeroes"}, expected '
                      f'{"write %d" % done[-1][0] if done else "zeroes"}'
                      f'{" or write %d" % maybe[0][0] if maybe else ""}',
                      file=sys.stderr)
                bad += 1
                break
    sys.exit(1 if bad else 0)


main()
