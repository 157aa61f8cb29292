#!/usr/bin/env python3
"""Print the write records of a cdp journal directory, one per line:
SEGMENT_FILE SEGMENT RECORD_OFFSET SEQ DISK_OFFSET LENGTH PAYLOAD_LEN
(the on-disk format of docs/ARCHITECTURE.md), for tests that damage
records the way it happens: bytes flipped in the files."""
import glob
import os
import struct
import sys

for path in sorted(glob.glob(os.path.join(sys.argv[1], "seg-*.cdpj"))):
    with open(path, "rb") as f:
        data = f.read()
    segment = struct.unpack_from("<Q", data, 32)[0]
    pos = 4096
    while pos + 64 <= len(data):
        magic, _crc, seg, seq, _t, typ, _fl, _disk, off, length, plen, _bs = \
            struct.unpack_from("<IIQQqHHIQQII", data, pos)
        if magic != 0x4A504443 or seg != segment:
            break
        if typ == 1:
            print(path, segment, pos, seq, off, length, plen)
        pos += 64 + (plen + 63) // 64 * 64
