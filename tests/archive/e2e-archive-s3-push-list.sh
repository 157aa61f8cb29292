#!/usr/bin/env bash
# cdp archive push, list and gc against a real S3 server (a single-node
# Ceph's radosgw): a point of a manual task is pushed into
# s3://BUCKET/PREFIX and listed (text and --json); a second point after
# part of the disk was rewritten uploads only the changed chunks; a
# collection keeps what both points use, and both restore byte for byte
# on a store that never had the task.
source "$(dirname "$0")/../e2e/functions.sh"
source "$(dirname "$0")/ceph.sh"
requires nbdcopy truncate dd cmp python3 ceph-mon ceph-osd radosgw radosgw-admin monmaptool

ceph_start "$tmpdir/ceph" || fail "the Ceph S3 gateway did not start"
pids+=("${ceph_pids[@]}")
arch=s3://$CEPH_BUCKET/cli-test

rx=$tmpdir/rx.sock
cdp task create m --size 32M --listen "unix:$rx" --archive "$arch" 2>"$tmpdir/create.err"
[ ! -s "$tmpdir/create.err" ] || grep -q 'taken up\|no cdp serve' "$tmpdir/create.err" ||
    fail "task create: $(cat "$tmpdir/create.err")"
start_cdp_serve m
wait_for 20 "the receiver's socket" test -S "$rx"
src=$tmpdir/src.img
truncate -s 32M "$src"
dd if=/dev/urandom of="$src" bs=1M seek=2 count=12 conv=notrunc status=none
nbdcopy -- "$src" "nbd+unix:///disk0?socket=$rx"
# serve's own archiving is not what this test looks at.
cdp task set m --archive none >/dev/null

t1=$(now)
cdp archive push m --at "$t1" --archive "$arch" >"$tmpdir/push1.txt"
grep -Eq '^archived m at [0-9T:.-]+Z: 8 chunks, [34] new \([0-9.]+ MiB stored\), [45] zero$' \
    "$tmpdir/push1.txt" || fail "push said: $(cat "$tmpdir/push1.txt")"
cp "$src" "$tmpdir/ref1.img"
cdp archive list "$arch" | grep -Eq '^  [0-9T:.-]+Z  push +disk0 32.0 MiB' ||
    fail "list: $(cdp archive list "$arch")"

dd if=/dev/urandom of="$src" bs=1M seek=9 count=1 conv=notrunc status=none
nbdcopy -- "$src" "nbd+unix:///disk0?socket=$rx"
t2=$(now)
cdp archive push m --at "$t2" --archive "$arch" --json >"$tmpdir/push2.json"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["chunks"] == 8 and d["new_chunks"] == 1 and not d["already"], d' \
    "$tmpdir/push2.json"

cdp archive gc "$arch" --grace 0 --json >"$tmpdir/gc.json"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["points"] == 2 and d["removed"] == 0, d' "$tmpdir/gc.json"
cdp archive list "$arch" m --json >"$tmpdir/list.json"
python3 - "$tmpdir/list.json" "$arch" <<'PY' >"$tmpdir/times"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["location"] == sys.argv[2], d
ps = d["tasks"][0]["points"]
assert [p["kind"] for p in ps] == ["push", "push"], ps
for p in ps:
    assert p["disks"] == [{"name": "disk0", "size": 32 << 20, "chunks": 8}], p
    print(p["time"])
PY
i=1
while read -r time; do
    rm -f "$tmpdir/back.raw"
    CDP_STORE=$tmpdir/elsewhere cdp restore --archive "$arch" m --at "$time" \
        --output "$tmpdir/back.raw" >/dev/null
    [ "$i" = 1 ] && ref=$tmpdir/ref1.img || ref=$src
    same "$tmpdir/back.raw" "$ref" "point $i restored from S3"
    i=$((i + 1))
done <"$tmpdir/times"
stop_cdp_serve
