#!/usr/bin/env python3
"""Print the write records of a cdp journal directory, one per line:
SEGMENT_FILE SEGMENT RECORD_OFFSET SEQ DISK_OFFSET LENGTH PAYLOAD_LEN
(the on-disk format of docs/ARCHITECTURE.md), for tests that damage
records the way it happens: bytes flipped in the files.  With
--type N first: the records of type N instead (5: gaps)."""
import glob
import os
import struct
import sys

args = sys.argv[1:]
want = 1
if args[0] == "--type":
    want = int(args[1])
    args = args[2:]
for path in sorted(glob.glob(os.path.join(args[0], "seg-*.cdpj"))):
    with open(path, "rb") as f:
        data = f.read()
    segment = struct.unpack_from("<Q", data, 32)[0]
    pos = 4096
    while pos + 64 <= len(data):
        magic, _crc, seg, seq, _t, typ, _fl, _disk, off, length, plen, _bs = \
            struct.unpack_from("<IIQQqHHIQQII", data, pos)
        if magic != 0x4A504443 or seg != segment:
            break
        if typ == want:
            print(path, segment, pos, seq, off, length, plen)
        pos += 64 + (plen + 63) // 64 * 64
