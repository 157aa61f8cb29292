#!/usr/bin/env bash
# 'cdp archive gc' killed (SIGKILL) again and again in the middle of its
# sweep, then run to the end: every point still listed reads right, and
# the chunks only deleted points used are gone.
source "$(dirname "$0")/../e2e/functions.sh"
requires nbdcopy truncate dd cmp python3 find
: "${ARCHIVE_DUMP:?}"

arch=$tmpdir/arch
for n in keep gone; do
    cdp task create "$n" --size 96M --listen "unix:$tmpdir/$n.sock"
done
start_cdp_serve
wait_for 20 "the receivers" test -S "$tmpdir/keep.sock" -a -S "$tmpdir/gone.sock"
for n in keep gone; do
    truncate -s 96M "$tmpdir/$n.img"
    for i in 1 2; do
        dd if=/dev/urandom of="$tmpdir/$n.img" bs=1M count=96 conv=notrunc status=none
        nbdcopy -- "$tmpdir/$n.img" "nbd+unix:///disk0?socket=$tmpdir/$n.sock"
        cdp archive push "$n" --at now --archive "$arch" --json >"$tmpdir/$n-$i.json"
        cp "$tmpdir/$n.img" "$tmpdir/$n-$i.img"
    done
done
chunks ()
{
    { find "$arch/chunks" -type f -regextype posix-extended \
          -regex '.*/[0-9a-f]{64}' 2>/dev/null || :; } | wc -l
}
total=$(chunks)
[ "$total" -eq 96 ] || fail "the archive holds $total chunks, not 96"
# The points of 'gone' are forgotten: 48 chunks are garbage.
cdp task set gone --archive "$arch" >/dev/null
cdp task delete gone >/dev/null
cdp archive list "$arch" gone | grep -q 'holds no points' || fail "points of gone are left"

mid=0
for delay in 0.01 0.02 0.05 0.1 0.2 0.3; do
    "$CDP" archive gc "$arch" --grace 0 >/dev/null 2>&1 &
    pid=$!
    pids+=("$pid")
    sleep "$delay"
    kill -KILL "$pid" 2>/dev/null || :
    reap "$pid" || :
    now_chunks=$(chunks)
    if [ "$now_chunks" -gt 48 ] && [ "$now_chunks" -lt "$total" ]; then
        mid=$((mid + 1))
    fi
    total=$now_chunks
    for i in 1 2; do
        t=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["time"])' "$tmpdir/keep-$i.json")
        "$ARCHIVE_DUMP" "$arch" keep "$t" disk0 "$tmpdir/back.img"
        same "$tmpdir/back.img" "$tmpdir/keep-$i.img" "point $i of keep after a killed gc"
    done
done
echo "kills that landed in the middle of the sweep: $mid"
cdp archive gc "$arch" --grace 0 --json >"$tmpdir/gc.json"
[ "$(chunks)" -eq 48 ] || fail "$(chunks) chunks are left, not the 48 of keep"
for i in 1 2; do
    t=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["time"])' "$tmpdir/keep-$i.json")
    "$ARCHIVE_DUMP" "$arch" keep "$t" disk0 "$tmpdir/back.img"
    same "$tmpdir/back.img" "$tmpdir/keep-$i.img" "point $i of keep after the collection"
done
stop_cdp_serve
