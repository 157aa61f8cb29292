#!/usr/bin/env bash
# A point archived from one store is restored on a "host" that never
# protected the VM: a store directory with no task at all.  cdp restore
# --archive DIR NAME --at T writes raw and qcow2 images byte for byte
# the disk as written (data in three chunks, a zero chunk, an unaligned
# tail); T as an RFC 3339 time or an archived bookmark's label, and a T
# that is no archived point is refused naming the nearest archived
# points, with nothing written.
source "$(dirname "$0")/../e2e/functions.sh"
source "$(dirname "$0")/reading.sh"
requires qemu-img

arch=$tmpdir/archive
archive_task r 20M --bp-interval 7d

# 20 MiB: random data in chunks 0, 1 and 3 (not aligned to them), chunk 2
# all zero, the last (partial) chunk data up to the end.
src=$tmpdir/src.img
truncate -s 20M "$src"
dd if=/dev/urandom of="$src" bs=512 seek=3 count=16000 conv=notrunc status=none
dd if=/dev/urandom of="$src" bs=1M seek=12 count=8 conv=notrunc status=none
put_image r "$src" >/dev/null
t=$(push_point r "$arch")
# A second point: a bookmark, archived with its label.
src2=$tmpdir/src2.img
cp "$src" "$src2"
dd if=/dev/urandom of="$src2" bs=1M seek=5 count=2 conv=notrunc status=none
put_image r "$src2" >/dev/null
cdp mark r --label before-upgrade >/dev/null
push_point r "$arch" before-upgrade >/dev/null
stop_cdp_serve

fresh_store
[ -z "$(ls "$CDP_STORE")" ] || fail "the fresh store is not empty"
cdp restore --archive "$arch" r --at "$t" --output "$tmpdir/out.raw" ||
    fail "restore from the archive (raw)"
same "$tmpdir/out.raw" "$src" "raw restore of the archived point"
cdp restore --archive "$arch" r --at "$t" --output "$tmpdir/out.qcow2" --json \
    >"$tmpdir/restore.json" || fail "restore from the archive (qcow2)"
qemu-img check -q "$tmpdir/out.qcow2" || fail "the restored qcow2 does not check"
qemu-img info --output=json "$tmpdir/out.qcow2" | grep -q backing-filename &&
    fail "the restored qcow2 has a backing file"
qemu-img compare -q -f qcow2 -F raw "$tmpdir/out.qcow2" "$src" ||
    fail "the qcow2 restore differs from what was written"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["task"] == "r" and d["disk"] == "disk0", d
assert d["archive"] == sys.argv[2], d
assert d["size"] == 20 << 20 and d["format"] == "qcow2", d
' "$tmpdir/restore.json" "$arch" || fail "restore --json: $(cat "$tmpdir/restore.json")"
cdp restore --archive "$arch" r --at before-upgrade --output "$tmpdir/label.raw" ||
    fail "restore of an archived bookmark by its label"
same "$tmpdir/label.raw" "$src2" "restore of the archived bookmark"
[ -z "$(ls "$CDP_STORE")" ] || fail "reading the archive wrote into the store: $(ls "$CDP_STORE")"

# A time that is no archived point: one line naming the nearest.
expect_error 1 "holds no point of task r at .*nearest archived point is $t" \
    cdp restore --archive "$arch" r --at "$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)" \
    --output "$tmpdir/no.raw"
[ ! -e "$tmpdir/no.raw" ] || fail "a refused restore wrote its output"
expect_error 1 "holds no point of task 'nosuch'" \
    cdp restore --archive "$arch" nosuch --at "$t" --output "$tmpdir/no.raw"
expect_error 1 "no archive at" \
    cdp restore --archive "$tmpdir/nowhere" r --at "$t" --output "$tmpdir/no.raw"
expect_error 2 "has no disk 'vdz'" \
    cdp restore --archive "$arch" r --at "$t" --disk vdz --output "$tmpdir/no.raw"
echo "restored $t from $arch on a fresh store"
