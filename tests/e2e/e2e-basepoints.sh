#!/usr/bin/env bash
# Base points: points before, at and after several folds (overlays, and a
# new full image once the chain reaches --max-chain) export byte-exact;
# every base point passes `qemu-img check` and no chain is longer than
# max-chain; a serve killed in the middle of a fold changes no point.
source "$(dirname "$0")/functions.sh"
requires nbdcopy qemu-img qemu-io python3

rx=$tmpdir/rx.sock
uri="nbd+unix:///disk0?socket=$rx"
base=$CDP_STORE/tasks/b/base
cdp task create b --size 16M --listen "unix:$rx" --bp-interval 1h --max-chain 3
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"

ref=$tmpdir/ref.img
truncate -s 16M "$ref"
times=()
for i in 1 2 3 4 5 6 7; do
    cmds=("write -P $((0x30 + i)) $(( (i % 5) * 1536 ))k 1500k"
          "write -P $((0x60 + i)) $(( i * 512 ))k 700k"
          "write -z $(( (i * 3 % 14) ))M 300k")
    args=()
    for c in "${cmds[@]}"; do args+=(-c "$c"); done
    qemu-io -f raw "${args[@]}" "$uri" >/dev/null || fail "qemu-io into the receiver"
    ref_apply "$ref" "$ref.new" "${cmds[@]}"
    mv "$ref.new" "$ref"
    cp --sparse=always "$ref" "$tmpdir/ref.$i"
    times+=("$(now)")
    sleep 0.05
    if [ $((i % 2)) -eq 0 ] || [ "$i" -eq 7 ]; then
        cdp fold b >/dev/null || fail "cdp fold"
    fi
done

nbase=$(cdp points b --json | python3 -c '
import json, sys
print(sum(1 for p in json.load(sys.stdin)["points"] if p["kind"] == "base"))')
[ "$nbase" -ge 4 ] || fail "expected at least 4 base points, cdp points lists $nbase"
for f in "$base"/*.qcow2; do
    qemu-img check -q "$f" || fail "qemu-img check $f"
    depth=$(qemu-img info --backing-chain "$f" | grep -c '^image:')
    [ "$depth" -le 3 ] || fail "$f: chain of $depth images, max-chain is 3"
done
full=$(for f in "$base"/*.qcow2; do qemu-img info --output=json "$f"; done |
       grep -c '"backing-filename"' || true)
[ "$full" -lt "$(ls "$base"/*.qcow2 | wc -l)" ] || fail "no full base point"

check_all ()
{
    for i in 1 2 3 4 5 6 7; do
        export_to b "${times[$((i - 1))]}" "$tmpdir/out.img"
        same "$tmpdir/out.img" "$tmpdir/ref.$i" "$1: point $i"
    done
}
check_all "after the folds"

# The newest base point, exported by qemu-img itself, is the disk then.
newest=$(ls "$base"/*.qcow2 | sort | tail -n 1)
qemu-img convert -U -O raw "$newest" "$tmpdir/newest.raw"
same "$tmpdir/newest.raw" "$tmpdir/ref.7" "qemu-img's view of the newest base point"

# Kill serve in the middle of a fold: nothing changes, nothing half made.
qemu-io -f raw -c "write -P 0x77 0 16M" "$uri" >/dev/null
ref_apply "$ref" "$tmpdir/ref.8" "write -P 0x77 0 16M"
t8=$(now)
cdp fold b >/dev/null 2>&1 &
fold_pid=$!
sleep 0.15
kill_cdp_serve
wait "$fold_pid" 2>/dev/null || true
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
ls "$base" | grep -q '\.tmp$' && fail "an unfinished base point was left behind"
for f in "$base"/*.qcow2; do qemu-img check -q "$f" || fail "qemu-img check $f"; done
check_all "after a killed fold"
export_to b "$t8" "$tmpdir/out8.img"
same "$tmpdir/out8.img" "$tmpdir/ref.8" "point 8"
stop_cdp_serve
