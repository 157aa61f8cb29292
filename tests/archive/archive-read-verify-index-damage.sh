#!/usr/bin/env bash
# A byte flipped in the header of one point's index in a directory
# archive: cdp verify --archive reports that index as damaged and exits
# 1, and still checks every chunk of the other point (text and --json);
# it does not stop at the listing with "cannot list the archive".
source "$(dirname "$0")/../e2e/functions.sh"
source "$(dirname "$0")/reading.sh"

arch=$tmpdir/archive
archive_task d 8M --bp-interval 7d
head -c 8M /dev/urandom >"$tmpdir/a.img"
put_image d "$tmpdir/a.img" >/dev/null
t1=$(push_point d "$arch")
head -c 8M /dev/urandom >"$tmpdir/b.img"
put_image d "$tmpdir/b.img" >/dev/null
t2=$(push_point d "$arch")
[ "$t1" != "$t2" ] || fail "the two pushes archived the same point $t1"
stop_cdp_serve
fresh_store

mapfile -t idx < <(find "$arch/points" -name '*.idx' | sort)
[ "${#idx[@]}" -eq 2 ] || fail "not two indexes: ${idx[*]}"
# The magic of the first (older) point's index.
printf 'X' | dd of="${idx[0]}" bs=1 seek=0 conv=notrunc status=none

rc=0
cdp verify --archive "$arch" >"$tmpdir/bad.txt" 2>"$tmpdir/bad.err" || rc=$?
[ "$rc" -eq 1 ] || fail "verify exited $rc: $(cat "$tmpdir/bad.txt" "$tmpdir/bad.err")"
grep -q "damaged: .*$(basename "${idx[0]}")" "$tmpdir/bad.txt" ||
    fail "verify does not name the damaged index: $(cat "$tmpdir/bad.txt" "$tmpdir/bad.err")"
grep -q ': 2 chunks (8.0 MiB) of 2 points checked' "$tmpdir/bad.txt" ||
    fail "verify did not check the other point's chunks: $(cat "$tmpdir/bad.txt")"

rc=0
cdp verify --archive "$arch" d --json >"$tmpdir/bad.json" 2>"$tmpdir/bad.err" || rc=$?
[ "$rc" -eq 1 ] || fail "verify --json exited $rc: $(cat "$tmpdir/bad.err")"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["version"] == 1 and d["result"] == "damaged", d
assert d["checked"]["points"] == 2 and d["checked"]["chunks"] == 2, d
assert d["checked"]["bad_chunks"] == 1, d
assert len(d["damage"]) == 1 and sys.argv[2] in d["damage"][0]["where"], d
' "$tmpdir/bad.json" "$(basename "${idx[0]}")" ||
    fail "verify --json: $(cat "$tmpdir/bad.json")"

