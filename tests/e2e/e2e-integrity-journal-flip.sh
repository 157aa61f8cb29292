#!/usr/bin/env bash
# A byte flipped in the payload of a journal record is never served as
# data: cdp restore fails naming the segment, offset and times affected,
# the NBD export answers reads of it with EIO (qemu-img convert, nbdcopy
# and qemu-io see the error) while other reads go on, the export logs it
# once, and cdp status says the task is damaged.  Points before the
# record still restore.
source "$(dirname "$0")/functions.sh"
requires nbdcopy qemu-io python3 dd

rx=$tmpdir/rx.sock
uri="nbd+unix:///disk0?socket=$rx"
cdp task create m --size 8M --listen "unix:$rx" --bp-interval 7d
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"

# serve's first base point, of a disk holding one write-zeroes: the data
# after it stays in the journal.
qemu-io -f raw -c 'write -z 0 512' "$uri" >/dev/null
wait_for 30 "the first base point" \
    grep -q '"file"' "$CDP_STORE/tasks/m/base/catalog.json"
before=$(now)
src=$tmpdir/src.img
dd if=/dev/urandom of="$src" bs=1M count=8 status=none
nbdcopy -- "$src" "$uri"
qemu-io -f raw -c 'write -P 0x5a 7M 4k' "$uri" >/dev/null
after=$(now)
stop_cdp_serve

# Flip one byte in the middle of the payload of a large record.
python3 "$e2e_dir/journal-records.py" "$CDP_STORE/tasks/m/journal" \
    >"$tmpdir/records"
read -r file seg roff seq doff len plen < <(awk '$7 >= 65536' "$tmpdir/records" | sed -n 1p)
[ -n "${plen-}" ] || fail "no large write record in the journal: $(cat "$tmpdir/records")"
at=$((roff + 64 + plen / 2))
python3 - "$file" "$at" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1)
    f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0x20]))
PY
echo "flipped a byte of record $seq (segment $seg offset $roff, disk bytes $doff+$len)"

# restore: fails, naming the place and the points.
expect_error 1 "segment $seg offset $roff.*record $seq.*fails its CRC check.*points of disk0 from [0-9-]+T[0-9:.]+Z" \
    cdp restore m --at "$after" --output "$tmpdir/out.raw"
[ ! -e "$tmpdir/out.raw" ] || fail "restore left an image of a damaged point"
cdp restore m --at "$before" --output "$tmpdir/before.raw" ||
    fail "the point before the damaged record does not restore"

# status: damaged, in JSON and in text.
state=$(cdp status m --json | python3 -c '
import json, sys
print(json.load(sys.stdin)["tasks"][0]["integrity"]["state"])')
[ "$state" = damaged ] || fail "status says integrity '$state', not damaged"
cdp status m | grep -q "integrity    damaged" || fail "status text: $(cdp status m)"
cdp status m | grep -q "segment $seg offset $roff" || fail "status text does not name the record"

# export: EIO to real clients, for the damaged range only.
start_export m "$after" "$tmpdir/ex.sock"
if qemu-img convert -f raw -O raw "$export_uri" "$tmpdir/conv.raw" 2>"$tmpdir/conv.err"; then
    fail "qemu-img convert read a damaged point without error"
fi
grep -qi 'input/output error' "$tmpdir/conv.err" || fail "qemu-img: $(cat "$tmpdir/conv.err")"
if nbdcopy -- "$export_uri" "$tmpdir/copy.raw" 2>"$tmpdir/copy.err"; then
    fail "nbdcopy read a damaged point without error"
fi
qemu-io -r -f raw -c "read $((doff + 4096)) 4096" "$export_uri" >"$tmpdir/io.out" 2>&1 || :
grep -q 'read failed: Input/output error' "$tmpdir/io.out" ||
    fail "qemu-io read of the damaged range: $(cat "$tmpdir/io.out")"
qemu-io -r -f raw -c 'read -P 0x5a 7M 4k' "$export_uri" >"$tmpdir/io2.out" 2>&1
grep -q 'failed' "$tmpdir/io2.out" && fail "an undamaged read failed: $(cat "$tmpdir/io2.out")"
n=$(grep -c "segment $seg offset $roff" "$tmpdir/export-1.err" || :)
[ "$n" -eq 1 ] || fail "the export logged the damage $n times: $(cat "$tmpdir/export-1.err")"
