#!/usr/bin/env bash
# Two stores (two store directories, each with its serve and a task)
# push points into one directory archive while each runs 'cdp archive gc
# --grace 0' in a loop: every point listed reads back byte for byte as
# it was written.  Once both tasks are deleted (which forgets their
# points), a collection leaves no chunk.
source "$(dirname "$0")/../e2e/functions.sh"
requires nbdcopy truncate dd cmp python3 find

arch=$tmpdir/arch
s1=$CDP_STORE
s2=$tmpdir/store2
rounds=5

CDP_STORE=$s1 cdp task create a --size 24M --listen "unix:$tmpdir/a.sock" --archive "$arch"
CDP_STORE=$s2 cdp task create b --size 16M --listen "unix:$tmpdir/b.sock" --archive "$arch"
start_cdp_serve
CDP_STORE=$s2 "$CDP" serve >"$tmpdir/serve2.log" 2>&1 &
pids+=($!)
wait_for 20 "the receivers" test -S "$tmpdir/a.sock" -a -S "$tmpdir/b.sock"

# push_loop STORE TASK SIZE: write a random part, push the point, keep
# a copy of the disk under the point's time; $rounds times.
push_loop ()
{
    local store=$1 task=$2 size=$3 i t
    truncate -s "$size" "$tmpdir/$task.img"
    for i in $(seq "$rounds"); do
        dd if=/dev/urandom of="$tmpdir/$task.img" bs=1M seek=$((i * 2 % 12)) \
            count=3 conv=notrunc status=none
        nbdcopy -- "$tmpdir/$task.img" "nbd+unix:///disk0?socket=$tmpdir/$task.sock"
        CDP_STORE=$store "$CDP" archive push "$task" --at now --json \
            >"$tmpdir/$task-push-$i.json"
        t=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["time"])' \
            "$tmpdir/$task-push-$i.json")
        cp "$tmpdir/$task.img" "$tmpdir/ref-$task-$t.img"
    done
}
gc_loop ()
{
    local n=0
    while [ ! -e "$tmpdir/stop-gc" ]; do
        "$CDP" archive gc "$arch" --grace 0 >>"$tmpdir/gc-$1.log" 2>&1 ||
            tail -n 1 "$tmpdir/gc-$1.log" >>"$tmpdir/gc-$1.err"
        n=$((n + 1))
    done
    echo "$n" >"$tmpdir/gc-$1.runs"
}

push_loop "$s1" a 24M & p1=$!; pids+=("$p1")
push_loop "$s2" b 16M & p2=$!; pids+=("$p2")
wait_for 60 "the archive to be made" test -e "$arch/cdp-archive.json"
gc_loop 1 & g1=$!; pids+=("$g1")
gc_loop 2 & g2=$!; pids+=("$g2")
reap "$p1" || fail "the pushes of store 1 failed"
reap "$p2" || fail "the pushes of store 2 failed"
touch "$tmpdir/stop-gc"
reap "$g1"; reap "$g2"
[ ! -e "$tmpdir/gc-1.err" ] || fail "gc of store 1: $(cat "$tmpdir/gc-1.err")"
[ ! -e "$tmpdir/gc-2.err" ] || fail "gc of store 2: $(cat "$tmpdir/gc-2.err")"
echo "collections: $(cat "$tmpdir/gc-1.runs") and $(cat "$tmpdir/gc-2.runs")"

# Every point listed that was pushed by hand restores as it was written (serve
# also archived a base point of each; its content is the first write's).
checked=0
cdp archive list "$arch" --json | python3 -c '
import json, sys
for t in json.load(sys.stdin)["tasks"]:
    for p in t["points"]:
        print(t["name"], p["time"], p["kind"])' >"$tmpdir/points"
while read -r task time kind; do
    [ "$kind" = push ] || continue
    rm -f "$tmpdir/back.raw"
    # From a store that never had the task, as another host would.
    CDP_STORE=$tmpdir/elsewhere cdp restore --archive "$arch" "$task" \
        --at "$time" --output "$tmpdir/back.raw" >/dev/null
    same "$tmpdir/back.raw" "$tmpdir/ref-$task-$time.img" "$task at $time"
    checked=$((checked + 1))
done <"$tmpdir/points"
[ "$checked" -ge 2 ] || fail "only $checked points were left to check"
echo "$checked points read back"

CDP_STORE=$s1 cdp task delete a >/dev/null
CDP_STORE=$s2 cdp task delete b >/dev/null
cdp archive list "$arch" | grep -q 'holds no points' ||
    fail "points are left: $(cdp archive list "$arch")"
cdp archive gc "$arch" --grace 0 --json >"$tmpdir/gc.json"
left=$(find "$arch/chunks" -type f | wc -l)
[ "$left" -eq 0 ] || fail "$left chunk files are left after both tasks were deleted"
