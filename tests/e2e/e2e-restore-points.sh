#!/usr/bin/env bash
# cdp restore writes the point at T as a standalone image: at each of
# three recorded times, in qcow2 and raw (by extension and by --format),
# the image equals what was written by then and what 'cdp export' serves
# for the same point; the qcow2 has no backing file, passes 'qemu-img
# check', and both formats are sparse where the disk is empty.  Restore
# works with 'cdp serve' stopped too.
source "$(dirname "$0")/functions.sh"
requires nbdcopy qemu-img qemu-io truncate dd cmp du python3

M=$((1 << 20))
rx=$tmpdir/rx.sock
uri="nbd+unix:///disk0?socket=$rx"
cdp task create r --size 64M --listen "unix:$rx"
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"

# 1: random data with holes and unaligned edges, copied by nbdcopy.
ref1=$tmpdir/ref1.img
truncate -s 64M "$ref1"
dd if=/dev/urandom of="$ref1" bs=512 seek=2047 count=16386 conv=notrunc status=none
dd if=/dev/urandom of="$ref1" bs=512 seek=81921 count=5000 conv=notrunc status=none
nbdcopy -- "$ref1" "$uri"
t1=$(now)

# 2: patterns, zeroes over data and a discard, through qemu-io.
ops=("write -P 0x5a 2M 1M" "write -z 5M 2M" "write -P 0x33 63M 4096"
     "write -P 0x44 40961k 1536" "discard 41M 1M")
ref2=$tmpdir/ref2.img
ref_apply "$ref1" "$ref2" "${ops[@]}"
args=()
for c in "${ops[@]}"; do args+=(-c "$c"); done
qemu-io -f raw "$uri" "${args[@]}" >"$tmpdir/qio.log" ||
    fail "qemu-io: $(cat "$tmpdir/qio.log")"
t2=$(now)

# 3: nbdcopy of another image replaces everything (its holes as zeroes).
ref3=$tmpdir/ref3.img
truncate -s 64M "$ref3"
dd if=/dev/urandom of="$ref3" bs=1M seek=16 count=12 conv=notrunc status=none
nbdcopy -- "$ref3" "$uri"
t3=$(now)

# allocated FILE: bytes the file takes on disk.
allocated ()
{
    echo $(( $(du -B1 "$1" | cut -f1) ))
}

check_qcow2 ()
{
    local img=$1 what=$2
    qemu-img check -q "$img" || fail "$what: qemu-img check failed"
    qemu-img info --output=json "$img" >"$tmpdir/info.json"
    python3 - "$tmpdir/info.json" "$what" <<'PY' || fail "$2: $(cat "$tmpdir/info.json")"
import json, sys
i = json.load(open(sys.argv[1]))
assert i["format"] == "qcow2", i["format"]
assert "backing-filename" not in i and "full-backing-filename" not in i, "has a backing file"
assert i["virtual-size"] == 64 << 20, i["virtual-size"]
# Sparse: the disk is at most 20 MiB of data.
assert i["actual-size"] < 24 << 20, ("not sparse", i["actual-size"])
PY
}

n=0
for pair in "$t1 $ref1" "$t2 $ref2" "$t3 $ref3"; do
    set -- $pair
    at=$1 ref=$2
    n=$((n + 1))
    cdp restore r --at "$at" --output "$tmpdir/p$n.qcow2" 2>"$tmpdir/restore.err" ||
        fail "restore at $at: $(cat "$tmpdir/restore.err")"
    grep -q "restored r/disk0 at .* to $tmpdir/p$n.qcow2 (qcow2" "$tmpdir/restore.err" ||
        fail "restore's final line: $(cat "$tmpdir/restore.err")"
    [ "$(wc -l <"$tmpdir/restore.err")" -eq 1 ] ||
        fail "restore to a pipe should say one line: $(cat "$tmpdir/restore.err")"
    check_qcow2 "$tmpdir/p$n.qcow2" "point $n (qcow2)"
    qemu-img compare -q -f raw -F qcow2 "$ref" "$tmpdir/p$n.qcow2" ||
        fail "point $n: the qcow2 image differs from what was written"

    cdp restore r --at "$at" --output "$tmpdir/p$n.img" 2>/dev/null
    qemu-img info --output=json "$tmpdir/p$n.img" | grep -q '"format": "raw"' ||
        fail "point $n: .img is not raw"
    same "$tmpdir/p$n.img" "$ref" "point $n (raw) against what was written"
    [ "$(allocated "$tmpdir/p$n.img")" -lt $((24 * M)) ] ||
        fail "point $n: the raw image is not sparse ($(allocated "$tmpdir/p$n.img") bytes)"

    export_to r "$at" "$tmpdir/e$n.img"
    same "$tmpdir/p$n.img" "$tmpdir/e$n.img" "point $n: restore against export"
    qemu-img compare -q -F qcow2 -f raw "$tmpdir/e$n.img" "$tmpdir/p$n.qcow2" ||
        fail "point $n: the qcow2 image differs from the export"
done

# --format wins over the extension.
cdp restore r --at "$t2" --output "$tmpdir/f.qcow2" --format raw 2>/dev/null
same "$tmpdir/f.qcow2" "$ref2" "--format raw into f.qcow2"
cdp restore r --at "$t2" --output "$tmpdir/f.img" --format qcow2 2>/dev/null
check_qcow2 "$tmpdir/f.img" "--format qcow2 into f.img"
qemu-img compare -q -f raw -F qcow2 "$ref2" "$tmpdir/f.img" ||
    fail "--format qcow2 into f.img differs"

# Without the daemon: restore reads the store itself.
stop_cdp_serve
cdp restore r --at "$t2" --output "$tmpdir/offline.qcow2" 2>/dev/null
qemu-img compare -q -f raw -F qcow2 "$ref2" "$tmpdir/offline.qcow2" ||
    fail "restore with cdp serve stopped differs"
ls "$tmpdir" | grep -q '\.tmp-' && fail "temporary files left: $(ls "$tmpdir")"
exit 0
