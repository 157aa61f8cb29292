#!/usr/bin/env bash
# The fresh-store restore against a real S3 server: a point pushed into
# s3://BUCKET/PREFIX of a single-node Ceph (radosgw) is restored by cdp
# restore --archive on a store directory that never had the task, raw and
# qcow2, byte for byte the disk as written; cdp verify --archive checks
# its chunks clean there.
source "$(dirname "$0")/../e2e/functions.sh"
source "$(dirname "$0")/reading.sh"
source "$(dirname "$0")/ceph.sh"
requires qemu-img ceph-mon ceph-osd radosgw radosgw-admin monmaptool

ceph_start "$tmpdir/ceph" || fail "the Ceph S3 gateway did not start"
pids+=("${ceph_pids[@]}")
arch=s3://$CEPH_BUCKET/read-test

archive_task s 16M --bp-interval 7d
src=$tmpdir/src.img
truncate -s 16M "$src"
dd if=/dev/urandom of="$src" bs=1M count=5 conv=notrunc status=none
dd if=/dev/urandom of="$src" bs=4k seek=3200 count=500 conv=notrunc status=none
put_image s "$src" >/dev/null
t=$(push_point s "$arch")
stop_cdp_serve

fresh_store
cdp restore --archive "$arch" s --at "$t" --output "$tmpdir/out.raw" ||
    fail "restore from S3 (raw)"
same "$tmpdir/out.raw" "$src" "raw restore from S3"
cdp restore --archive "$arch" s --at "$t" --output "$tmpdir/out.qcow2" ||
    fail "restore from S3 (qcow2)"
qemu-img compare -q -f qcow2 -F raw "$tmpdir/out.qcow2" "$src" ||
    fail "the qcow2 restore from S3 differs from what was written"
cdp verify --archive "$arch" s --json >"$tmpdir/verify.json" ||
    fail "verify --archive of S3: $(cat "$tmpdir/verify.json")"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["result"] == "clean" and d["checked"]["points"] == 1, d
assert d["checked"]["chunks"] == 3, d
' "$tmpdir/verify.json" || fail "verify --json: $(cat "$tmpdir/verify.json")"
[ -z "$(ls "$CDP_STORE")" ] || fail "reading the archive wrote into the store"
echo "restored $t from $arch"
