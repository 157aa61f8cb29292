#!/usr/bin/env bash
# A byte flipped inside a data cluster of a base point image (which
# qemu-img check cannot see) is caught by the cluster's CRC32C sum: cdp
# verify names the base point and the offset, restore of a point that
# reads it fails saying so, the export answers its reads with EIO, and
# status says damaged.  A base point without sums (made before cdp kept
# them) is checked as far as it can be and never failed for it.
source "$(dirname "$0")/functions.sh"
requires nbdcopy qemu-io qemu-img python3 dd

rx=$tmpdir/rx.sock
uri="nbd+unix:///disk0?socket=$rx"
task=$CDP_STORE/tasks/m
cdp task create m --size 8M --listen "unix:$rx" --bp-interval 7d
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
qemu-io -f raw -c 'write -z 0 512' "$uri" >/dev/null
wait_for 30 "the first base point" grep -q '"file"' "$task/base/catalog.json"
dd if=/dev/urandom of="$tmpdir/src.img" bs=1M count=8 status=none
nbdcopy -- "$tmpdir/src.img" "$uri"
cdp fold m
qemu-io -f raw -c 'write -P 0x33 1M 64k' "$uri" >/dev/null
after=$(now)
stop_cdp_serve

base=$(python3 -c '
import json, sys
b = max(json.load(open(sys.argv[1]))["bases"], key=lambda b: b["seq"])
print(b["file"])' "$task/base/catalog.json")
sums=$task/base/${base%.qcow2}.sums
[ -s "$sums" ] || fail "the fold wrote no sums next to $base: $(ls "$task/base")"
cdp verify m --json >"$tmpdir/v.json" || fail "verify of a clean task: $(cat "$tmpdir/v.json")"
python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))["checked"]
assert c["base_summed"] >= 1 and c["base_checked_bytes"] >= 8 << 20, c
' "$tmpdir/v.json" || fail "verify did not check the sums: $(cat "$tmpdir/v.json")"
cp -a "$CDP_STORE" "$tmpdir/pristine"

# The host offset of guest offset 3 MiB in the image, and a byte there.
host=$(qemu-img map -f qcow2 --output=json "$task/base/$base" | python3 -c '
import json, sys
g = 3 << 20
for e in json.load(sys.stdin):
    if e["start"] <= g < e["start"] + e["length"] and e.get("data") and "offset" in e:
        print(e["offset"] + g - e["start"] + 1000)
        break')
[ -n "$host" ] || fail "guest offset 3 MiB is not data in $base"
python3 - "$task/base/$base" "$host" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1)
    f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0x08]))
PY
qemu-img check -q -f qcow2 "$task/base/$base" ||
    fail "qemu-img check should not see a flipped data byte"

rc=0
cdp verify m >"$tmpdir/v.out" || rc=$?
[ "$rc" -eq 1 ] || fail "verify exited $rc: $(cat "$tmpdir/v.out")"
grep -q "^damaged: damaged base point $base: the data cluster at disk offset 3145728 fails its checksum; points of disk0 from " "$tmpdir/v.out" ||
    fail "verify: $(cat "$tmpdir/v.out")"

expect_error 1 "damaged base point $base: the data cluster at disk offset 3145728 fails its checksum" \
    cdp restore m --at "$after" --output "$tmpdir/out.raw"
[ "$(cdp status m --json | python3 -c '
import json, sys; print(json.load(sys.stdin)["tasks"][0]["integrity"]["state"])')" = damaged ] ||
    fail "status: $(cdp status m)"

start_export m "$after" "$tmpdir/ex.sock"
qemu-io -r -f raw -c 'read 3M 4k' "$export_uri" >"$tmpdir/io.out" 2>&1 || :
grep -q 'read failed: Input/output error' "$tmpdir/io.out" ||
    fail "qemu-io read of the damaged cluster: $(cat "$tmpdir/io.out")"
if qemu-img convert -f raw -O raw "$export_uri" "$tmpdir/conv.raw" 2>/dev/null; then
    fail "qemu-img convert read a damaged base point without error"
fi
qemu-io -r -f raw -c 'read -P 0x33 1M 64k' "$export_uri" >"$tmpdir/io2.out" 2>&1
grep -q failed "$tmpdir/io2.out" && fail "an undamaged read failed: $(cat "$tmpdir/io2.out")"
kill -TERM "$export_pid"
reap "$export_pid" || :

# Without sums: checked as far as it can be, not failed for it.
rm -rf "$CDP_STORE"
cp -a "$tmpdir/pristine" "$CDP_STORE"
rm "$sums"
cdp verify m >"$tmpdir/v.out" || fail "verify failed a base point without sums: $(cat "$tmpdir/v.out")"
grep -q "^note: base point $base has no data checksums" "$tmpdir/v.out" ||
    fail "verify does not say the base point has no sums: $(cat "$tmpdir/v.out")"
cdp restore m --at "$after" --output "$tmpdir/out.raw" ||
    fail "restore of a point on a base point without sums"
