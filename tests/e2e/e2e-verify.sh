#!/usr/bin/env bash
# cdp verify: a clean task exits 0 (text and --json, the whole task and
# one point) and status shows the clean check; a flipped byte in a
# journal record, in a base point's qcow2 metadata, a base point image
# removed, an unreadable catalog and a flipped byte in an index entry
# each exit 1 naming what is damaged and which points it affects.
source "$(dirname "$0")/functions.sh"
requires nbdcopy qemu-io python3 dd

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
qemu-io -f raw -c 'write -P 0x33 1M 256k' -c 'write -P 0x44 5M 64k' "$uri" >/dev/null
after=$(now)
stop_cdp_serve

# Clean.
cdp verify m >"$tmpdir/v.out" || fail "verify of a clean task: $(cat "$tmpdir/v.out")"
grep -q '^m: clean$' "$tmpdir/v.out" || fail "verify says: $(cat "$tmpdir/v.out")"
cdp verify m --at "$after" >/dev/null || fail "verify --at of a clean point failed"
cdp verify m --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["version"] == 1 and d["result"] == "clean" and d["damage"] == [], d
assert d["checked"]["journal_records"] > 0 and d["checked"]["base_points"] == 2, d
' || fail "verify --json of a clean task"
cdp status m --json | python3 -c '
import json, sys
i = json.load(sys.stdin)["tasks"][0]["integrity"]
assert i["state"] == "clean" and i["last_verify"]["result"] == "clean", i
' || fail "status after a clean verify: $(cdp status m --json)"
expect_error 2 'usage' cdp verify
expect_error 2 'unknown option' cdp verify m --bogus
expect_error 1 "no task 'nosuch'" cdp verify nosuch
cp -a "$CDP_STORE" "$tmpdir/pristine"

pristine () {
    rm -rf "$CDP_STORE"
    cp -a "$tmpdir/pristine" "$CDP_STORE"
}

# flip FILE OFFSET: one byte changed in place.
flip () {
    python3 - "$1" "$2" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1)
    f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0x01]))
PY
}

# damaged RE [ARGS]: verify exits 1 and names it; --json says so too.
damaged () {
    local rc=0
    cdp verify m "${@:2}" >"$tmpdir/v.out" 2>&1 || rc=$?
    [ "$rc" -eq 1 ] || fail "verify exited $rc on $1: $(cat "$tmpdir/v.out")"
    grep -Eq "^damaged: .*$1" "$tmpdir/v.out" ||
        fail "verify does not name /$1/: $(cat "$tmpdir/v.out")"
    rc=0
    cdp verify m --json "${@:2}" >"$tmpdir/v.json" || rc=$?
    [ "$rc" -eq 1 ] || fail "verify --json exited $rc"
    python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["version"] == 1 and d["result"] == "damaged" and d["damage"], d
' "$tmpdir/v.json" || fail "verify --json: $(cat "$tmpdir/v.json")"
    echo "found: $(grep '^damaged:' "$tmpdir/v.out" | sed -n 1p)"
}

records () {
    python3 "$e2e_dir/journal-records.py" "$task/journal"
}

# A journal record: named by segment, offset and the points it affects.
read -r file seg roff seq doff len plen < <(records | tail -n 1)
flip "$file" $((roff + 64 + plen / 2))
damaged "journal record at segment $seg offset $roff \\(record $seq.*points of disk0 from "
damaged "segment $seg offset $roff" --at "$after"
[ "$(cdp status m --json | python3 -c '
import json, sys; print(json.load(sys.stdin)["tasks"][0]["integrity"]["state"])')" = damaged ] ||
    fail "status after verify found damage: $(cdp status m)"
pristine

# A base point's qcow2 metadata: its first L1 entry.
base=$(python3 -c '
import json, sys
b = max(json.load(open(sys.argv[1]))["bases"], key=lambda b: b["seq"])
print(b["file"])' "$task/base/catalog.json")
l1=$(python3 -c '
import struct, sys
print(struct.unpack(">Q", open(sys.argv[1], "rb").read(48)[40:48])[0])' "$task/base/$base")
flip "$task/base/$base" $((l1 + 5))
damaged "base point $base fails qemu-img check.*points of disk0 from "
pristine

# A base point image removed; a catalog that cannot be read.
rm "$task/base/$base"
damaged "base point $base is missing"
pristine
echo '{"bases": [' >"$task/base/catalog.json"
damaged "catalog.json cannot be read"
pristine

# An extents entry of the index naming the wrong place in the journal.
read -r file seg roff seq doff len plen < <(records | sed -n 3p)
python3 - "$task/index/data.mdb" "$seg" "$roff" <<'PY'
import struct, sys
# Every copy of the entry (LMDB keeps old pages too): the live one with them.
d = bytearray(open(sys.argv[1], "rb").read())
pat = struct.pack("<QIH", int(sys.argv[2]), int(sys.argv[3]), 1)
i = d.find(pat)
assert i >= 0, "no extents entry found"
while i >= 0:
    d[i + 8] ^= 0x40
    i = d.find(pat, i + 1)
open(sys.argv[1], "wb").write(d)
PY
damaged "index: extents disk 0 chunk [0-9]+ record $seq does not match the journal"
