#!/usr/bin/env bash
# Power loss under cdp serve: the store lives on plfs, a FUSE file system
# that keeps what was made durable (fsync, fdatasync, O_DSYNC writes,
# directory fsyncs) apart from what was not, and drops the rest at a
# "cut".  plwrite writes a known pattern into a manual-mode task (8
# requests in flight) and records what was acknowledged, and when.  At
# chosen moments - a stream of batches, right after a segment switch,
# during and right after a fold, during a reclaim, right after 'cdp task
# create', right after 'cdp lock' - the power is cut: every process
# killed, the unsynced state dropped, the file system mounted again.
# Then, without any repair: cdp serve starts and takes writes, the
# newest point holds every acknowledged write, every offered point holds
# exactly what was written up to it (a write in flight at the point may
# be there or not, block by block), a task that 'cdp task create'
# reported is there, a lock that 'cdp lock' reported survives.
source "$(dirname "$0")/../e2e/functions.sh"
requires fusermount3 mountpoint nbdcopy python3 md5sum pgrep
: "${PLFS:?PLFS must name plfs}" "${PLWRITE:?PLWRITE must name plwrite}"
: "${PLCHECK:?PLCHECK must name check.py}"

source "$(dirname "$0")/plfs-functions.sh"
source "$(dirname "$0")/plwrite-functions.sh"
trap pl_cleanup EXIT
rx=$tmpdir/rx.sock
export CDP_STORE=$mnt/store
task=$CDP_STORE/tasks/p
cuts=0
what=

after_cut ()
{
    cuts=$((cuts + 1))
    echo "cut $cuts: $what ($(grep -c '^A' "$wlog") writes acknowledged)"
}

# until_soon SECS WHAT CMD...: poll CMD every 10 ms, so that the cut
# comes right after the moment it waits for.
until_soon ()
{
    local deadline=$(( $(date +%s) + $1 )) w=$2
    shift 2
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$deadline" ] || fail "timed out waiting for $w"
        sleep 0.01
    done
}

serve ()
{
    start_cdp_serve
    wait_for 20 "the receiver's socket" test -S "$rx"
}

seg_max ()
{
    ls "$task/journal" | sed -n 's/^seg-\([0-9a-f]*\)\.cdpj$/\1/p' | sort | tail -n 1
}

seg_min ()
{
    ls "$task/journal" | sed -n 's/^seg-\([0-9a-f]*\)\.cdpj$/\1/p' | sort | sed -n 1p
}

check_images ()
{
    python3 "$PLCHECK" "$blocks" "$tmpdir"/w-*.log -- "$@" ||
        fail "after cut $cuts ($what): a point is not what was written up to it"
}

# After the cut, with no repair: every point offered holds exactly what
# was written up to it, the newest every acknowledged write; serve starts
# on the store and takes writes.  Every point offered is served: an
# offered point that export refuses fails the test.
verify ()
{
    local t ns kind locked n=0 args=() newest=
    mount_plfs "$@"
    points p >"$tmpdir/points" 2>"$tmpdir/points.err" ||
        fail "after cut $cuts ($what): cdp points: $(head -n 1 "$tmpdir/points.err")"
    [ -s "$tmpdir/points" ] || fail "after cut $cuts ($what): no points"
    while read -r t ns kind locked; do
        export_to p "@$t" "$tmpdir/pt-$n.img" 2>"$tmpdir/export.err" ||
            fail "after cut $cuts ($what): offered $kind point @$t: $(cat "$tmpdir/export.err")"
        args+=("$ns" "$tmpdir/pt-$n.img")
        newest=$t
        n=$((n + 1))
    done <"$tmpdir/points"
    [ -n "$newest" ] || fail "after cut $cuts ($what): no point can be exported"
    cdp restore p --at "@$newest" --output "$tmpdir/restored.img" --format raw ||
        fail "after cut $cuts ($what): cannot restore @$newest"
    export_to p now "$tmpdir/now.img" ||
        fail "after cut $cuts ($what): cannot export the newest point"
    check_images "${args[@]}" "${newest/./}" "$tmpdir/restored.img" \
        newest "$tmpdir/now.img"
    echo "  $n points exact, the newest restored, nothing acknowledged lost"
    serve
    start_writer "$rx" 40
    reap "$writer_pid" || fail "after cut $cuts ($what): serve takes no writes"
    export_to p now "$tmpdir/now.img"
    check_images newest "$tmpdir/now.img"
    stop_cdp_serve
    rm -f "$tmpdir"/pt-*.img "$tmpdir/restored.img" "$tmpdir/now.img"
}

mount_plfs
cdp task create p --size 4M --listen "unix:$rx" --segment-size 1M \
    --bp-interval 1s --journal-retention 4s --bp-retention 8s
serve

what="a stream of batches"
start_writer "$rx"
wait_for 60 "writes to be acknowledged" acked 300
power_cut
verify --keep 1

what="right after a segment switch"
serve
start_writer "$rx"
wait_for 60 "writes to be acknowledged" acked 50
s=$(seg_max)
until_soon 60 "a new segment" eval '[ "$(seg_max)" != "$s" ]'
power_cut
verify

what="during a fold"
serve
start_writer "$rx"
wait_for 60 "writes to be acknowledged" acked 50
until_soon 60 "a fold" eval 'ls "$task/base" | grep -q "\.tmp$"'
power_cut
verify --keep 3

what="right after a fold"
serve
start_writer "$rx"
wait_for 60 "writes to be acknowledged" acked 50
c=$(md5sum <"$task/base/catalog.json")
until_soon 60 "a fold" eval '[ "$(md5sum <"$task/base/catalog.json")" != "$c" ]'
power_cut
verify

what="during a reclaim"
serve
start_writer "$rx"
wait_for 60 "writes to be acknowledged" acked 50
s=$(seg_min)
until_soon 60 "a reclaim" eval '[ "$(seg_min)" != "$s" ]'
power_cut
verify --keep 5

what="right after a base point was removed"
serve
start_writer "$rx"
n=$(grep -c 'removed base point' "$serve_log" || :)
until_soon 60 "a base point removal" \
    eval '[ "$(grep -c "removed base point" "$serve_log")" -gt "$n" ]'
power_cut
verify --keep 7

what="right after 'cdp task create'"
serve
start_writer "$rx"
wait_for 60 "writes to be acknowledged" acked 50
cdp task create q --size 1M --listen "unix:$tmpdir/q.sock"
power_cut
verify
# 'task create' said it made q: q must be there, whole.
cdp task list | grep -q '^q\b' || fail "task q, created before the cut, is gone"
cdp task show q >/dev/null || fail "task q is listed but cannot be shown"
expect_error 1 "exists already" cdp task create q --size 1M --listen "unix:$tmpdir/q.sock"

what="right after 'cdp lock'"
serve
start_writer "$rx"
wait_for 60 "writes to be acknowledged" acked 300
# The newest base point: retention never takes it, so the lock cannot
# miss its point, and the lock must keep it past --bp-retention.
read -r lt lns _ < <(points p | grep ' base ' | tail -n 1)
cdp lock p --at "@$lt"
power_cut
verify
grep -q "^$lt $lns base true$" "$tmpdir/points" ||
    fail "the lock at @$lt that 'cdp lock' reported is gone"
echo "lock at @$lt kept"
