#!/usr/bin/env bash
# A store on a small file system under continuous writes: the receiver
# keeps acknowledging every write, the oldest history goes first (and the
# log says so), and the points after the oldest kept one are intact.
source "$(dirname "$0")/functions.sh"
requires nbdcopy qemu-io mount umount

mnt=$tmpdir/small
mkdir -p "$mnt"
mount -t tmpfs -o size=48m cdp-test "$mnt" || fail "mounting a tmpfs needs root"
trap 'st=$?; umount -l "$mnt" 2>/dev/null; (exit $st); cleanup' EXIT
export CDP_STORE=$mnt/store

rx=$tmpdir/rx.sock
uri="nbd+unix:///disk0?socket=$rx"
cdp task create f --size 8M --listen "unix:$rx" --bp-interval 1h
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"

ref=$tmpdir/ref.img
truncate -s 8M "$ref"
end=$(( $(date +%s) + 25 ))
i=0
times=()
while [ "$(date +%s)" -lt "$end" ]; do
    c="write -P $(( (i % 250) + 1 )) $(( (i * 1024) % 7168 ))k 1M"
    qemu-io -f raw -c "$c" "$uri" >"$tmpdir/w.log" 2>&1 ||
        fail "write $i was not acknowledged: $(cat "$tmpdir/w.log")"
    grep -q 'failed' "$tmpdir/w.log" &&
        fail "write $i failed: $(cat "$tmpdir/w.log")"
    ref_apply "$ref" "$ref.new" "$c"
    mv "$ref.new" "$ref"
    times+=("$(now)")
    cp "$ref" "$tmpdir/ref.$i"
    rm -f "$tmpdir/ref.$((i - 7))"
    [ $((i % 20)) -eq 0 ] && cp "$ref" "$tmpdir/keep.$i"
    i=$((i + 1))
    sleep 0.05
done
echo "$i writes of 1 MiB into a 48 MiB store, every one acknowledged"
offered=0
[ "$i" -gt 60 ] || fail "too few writes to fill the store ($i)"
grep -q "low on space" "$serve_log" || fail "serve never reclaimed space"
cdp status f | grep -q "history before" || fail "status does not say history was reclaimed"

# The newest point is exact; every older point is either still offered,
# and then exact, or refused as reclaimed: never wrong.
sleep 1
export_to f now "$tmpdir/out.img"
same "$tmpdir/out.img" "$ref" "the newest point"
for k in "$tmpdir"/ref.[0-9]* "$tmpdir"/keep.[0-9]*; do
    n=${k##*.}
    if out=$tmpdir/out.img "$CDP" export f --at "${times[$n]}" \
           --listen "unix:$tmpdir/k.sock" --run 'nbdcopy -- "$uri" "$out"' \
           2>"$tmpdir/k.err"; then
        same "$tmpdir/out.img" "$k" "point after write $n"
        offered=$((offered + 1))
    else
        grep -q 'reclaimed\|no longer reaches' "$tmpdir/k.err" ||
            fail "point $n: $(cat "$tmpdir/k.err")"
    fi
done
echo "$offered of the sampled older points still offered, all exact"
stop_cdp_serve
