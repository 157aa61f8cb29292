#!/usr/bin/env bash
# Retention with windows of seconds: journal segments are reclaimed once
# base points cover them and old base points go, while a locked point and
# a bookmark survive it all byte-exact; a point whose journal is gone is
# refused with a pointer to the base points that remain.
source "$(dirname "$0")/functions.sh"
requires nbdcopy qemu-io python3

rx=$tmpdir/rx.sock
uri="nbd+unix:///disk0?socket=$rx"
jdir=$CDP_STORE/tasks/r/journal
cdp task create r --size 16M --listen "unix:$rx" \
    --bp-interval 1s --journal-retention 3s --bp-retention 6s --segment-size 4M
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"

ref=$tmpdir/ref.img
truncate -s 16M "$ref"
write_step ()
{
    local i=$1 c
    c="write -P $(( (i % 200) + 1 )) $(( (i * 768) % 15360 ))k 1M"
    qemu-io -f raw -c "$c" "$uri" >/dev/null || fail "qemu-io into the receiver"
    ref_apply "$ref" "$ref.new" "$c"
    mv "$ref.new" "$ref"
}

write_step 1
t_locked=$(now)
cp --sparse=always "$ref" "$tmpdir/ref.locked"
cdp lock r --at "$t_locked" | grep -q locked || fail "cdp lock"
write_step 2
t_plain=$(now)
cp --sparse=always "$ref" "$tmpdir/ref.plain"
write_step 3
cdp mark r --label keepme >/dev/null || fail "cdp mark"
cp --sparse=always "$ref" "$tmpdir/ref.mark"
segs_before=$(ls "$jdir" | grep -c '^seg-')

# Keep writing well past both windows (6 MiB/s: segments fill and rotate).
end=$(( $(date +%s) + 14 ))
i=4
while [ "$(date +%s)" -lt "$end" ]; do
    write_step $i
    i=$((i + 1))
    sleep 0.15
done
t_last=$(now)
sleep 3   # one more retention cycle

first=$(ls "$jdir" | grep '^seg-' | sort | sed -n 1p)
[ "$first" != "seg-0000000000000001.cdpj" ] ||
    fail "the first journal segment was never reclaimed"
cdp status r --json | python3 -c '
import json, sys
t = json.load(sys.stdin)["tasks"][0]
assert t["journal_bytes"] > 0, t' || fail "status lost the journal"

export_to r "$t_locked" "$tmpdir/out.locked"
same "$tmpdir/out.locked" "$tmpdir/ref.locked" "the locked point"
export_to r keepme "$tmpdir/out.mark"
same "$tmpdir/out.mark" "$tmpdir/ref.mark" "the bookmark"
export_to r "$t_last" "$tmpdir/out.last"
same "$tmpdir/out.last" "$ref" "the newest point"
expect_error 1 'base point' cdp export r --at "$t_plain" \
    --listen "unix:$tmpdir/x.sock" --run true

# Old base points went, the kept ones did not.
cdp points r --json | python3 -c '
import json, sys
pts = json.load(sys.stdin)["points"]
bases = [p for p in pts if p["kind"] == "base"]
locked = [p for p in pts if p["locked"]]
marks = [p for p in pts if p["kind"] == "bookmark" and p["label"] == "keepme"]
assert len(locked) >= 1, "no locked point listed"
assert len(marks) == 1, "bookmark missing"
assert len(bases) < 12, "%d base points: bp-retention removed none" % len(bases)
' || fail "points after retention"

cdp unlock r --at "$t_locked" | grep -q unlocked || fail "cdp unlock"
expect_error 1 'no lock' cdp unlock r --at "$t_locked"
stop_cdp_serve
