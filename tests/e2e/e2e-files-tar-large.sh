#!/usr/bin/env bash
# A file of 8 GiB or more (past ustar's 11 octal digits) goes into the
# archive of cdp get --tar with its size in a pax record: GNU tar lists
# it at its size and extracts its bytes up to the last, read from the
# stream as it comes (the file is sparse; the archive is 9 GiB of it).
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/../files/functions.sh"
requires tar tail

files_task b 64M
src=$tmpdir/src
mkdir -p "$src/big"
truncate -s 9G "$src/big/nine"
echo "the first bytes" | dd of="$src/big/nine" conv=notrunc status=none
echo "the last bytes of nine GiB" >>"$src/big/nine"
echo "after it" >"$src/big/zz-after"
size=$(stat -c %s "$src/big/nine")
ext4_image "$tmpdir/fs.img" "$src" 48M
at=$(put_disk b "$tmpdir/fs.img")

# One pass over the stream: GNU tar's long listing on stderr (-vv with
# -O), the file's bytes on stdout, of which the first and last are kept.
cdp get b --at "$at" /big --tar --output - 2>"$tmpdir/get.err" |
    tar -xvvOf - big/nine big/zz-after 2>"$tmpdir/list" |
    python3 -c '
import sys
head, tail = b"", b""
for block in iter(lambda: sys.stdin.buffer.read(1 << 20), b""):
    if len(head) < 64:
        head += block[:64]
    tail = (tail + block)[-64:]
sys.stdout.buffer.write(head[:16] + b"|" + tail)' >"$tmpdir/ends" ||
    fail "get --tar | tar -x: $(cat "$tmpdir/get.err" "$tmpdir/list")"
grep -Eq "^-rw-r--r-- 0/0 +$size .* big/nine$" "$tmpdir/list" ||
    fail "tar does not list big/nine at $size bytes: $(cat "$tmpdir/list")"
grep -q "big/zz-after$" "$tmpdir/list" || fail "the member after the large file: $(cat "$tmpdir/list")"
[ "$(head -c 15 "$tmpdir/ends")" = "the first bytes" ] || fail "the start of big/nine: $(head -c 16 "$tmpdir/ends" | od -c | head -2)"
grep -q "the last bytes of nine GiB
after it
\$" "$tmpdir/ends" || fail "the end of big/nine and the next member: $(od -c "$tmpdir/ends" | tail -4)"
stop_cdp_serve
