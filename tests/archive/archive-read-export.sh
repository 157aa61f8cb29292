#!/usr/bin/env bash
# cdp export --archive serves an archived point over NBD with no store:
# nbdinfo sees its size, nbdcopy copies it byte for byte, qemu-img
# compare finds it the disk as written, its zero chunk reads as a hole,
# and --json says where it is read from.
source "$(dirname "$0")/../e2e/functions.sh"
source "$(dirname "$0")/reading.sh"
requires nbdinfo qemu-img

arch=$tmpdir/archive
archive_task x 12M --bp-interval 7d
src=$tmpdir/src.img
truncate -s 12M "$src"
dd if=/dev/urandom of="$src" bs=1M count=4 conv=notrunc status=none
dd if=/dev/urandom of="$src" bs=1M seek=9 count=3 conv=notrunc status=none
put_image x "$src" >/dev/null
t=$(push_point x "$arch")
stop_cdp_serve
fresh_store

sock=$tmpdir/x.sock
out=$tmpdir/copy.img
size=$(cdp export --archive "$arch" x --at "$t" --listen "unix:$sock" \
       --run 'nbdinfo --size "$uri"') || fail "nbdinfo through export --archive"
[ "$size" -eq $((12 << 20)) ] || fail "nbdinfo says $size bytes, not 12 MiB"
out=$out cdp export --archive "$arch" x --at "$t" --listen "unix:$sock" \
    --run 'nbdcopy -- "$uri" "$out"' || fail "nbdcopy through export --archive"
same "$out" "$src" "nbdcopy of the archived point"
src=$src cdp export --archive "$arch" x --at "$t" --listen "unix:$sock" \
    --run 'qemu-img compare -q -f raw -F raw "$uri" "$src"' ||
    fail "qemu-img compare: the archived point differs from what was written"
# Chunks 1 and 2 (4-8 MiB, 8-9 MiB) are zero: a hole in the extents.
cdp export --archive "$arch" x --at "$t" --listen "unix:$sock" \
    --run 'nbdinfo --map "$uri"' >"$tmpdir/map.txt" || fail "nbdinfo --map"
python3 -c '
import sys
for l in open(sys.argv[1]):
    f = l.split()
    if int(f[0]) <= 4 << 20 and int(f[0]) + int(f[1]) >= 8 << 20 and "hole" in l:
        sys.exit(0)
sys.exit(1)' "$tmpdir/map.txt" ||
    fail "the zero chunk is no hole: $(cat "$tmpdir/map.txt")"

start_export x "$t" "$sock" --archive "$arch" --json
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["archive"] == sys.argv[2] and d["size"] == 12 << 20, d
assert d["task"] == "x" and d["disk"] == "disk0" and not d["writable"], d
' "$tmpdir/export-$export_count.out" "$arch" ||
    fail "export --json: $(cat "$tmpdir/export-$export_count.out")"
kill -TERM "$export_pid"
reap "$export_pid" || fail "export --archive did not stop cleanly on SIGTERM"

# --writable: the overlay goes to $TMPDIR, the archive is not touched.
before=$(cd "$arch" && find . -type f -printf '%p %s %T@\n' | sort | sha256sum)
TMPDIR=$tmpdir cdp export --archive "$arch" x --at "$t" --listen "unix:$sock" \
    --writable --run 'qemu-io -f raw -c "write -P 0x5a 0 1M" -c "read -P 0x5a 0 1M" "$uri"' \
    >"$tmpdir/qio.log" || fail "a write to a --writable export: $(cat "$tmpdir/qio.log")"
grep -q 'failed\|Pattern verification' "$tmpdir/qio.log" && fail "$(cat "$tmpdir/qio.log")"
after=$(cd "$arch" && find . -type f -printf '%p %s %T@\n' | sort | sha256sum)
[ "$before" = "$after" ] || fail "a writable export changed the archive"
echo "exported $t from $arch"
