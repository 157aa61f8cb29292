#!/usr/bin/env bash
# Every point 'cdp points' lists, export and restore serve, also while
# retention reclaims the journal under them: with short windows
# (--bp-interval 1s --journal-retention 2s, segments of 4 MiB, which
# even a slow machine fills many of) and QD1 16 KiB writes for
# 8 s, each listed point is exported or restored, and holds exactly what
# was written by its time.  A point that retention took between the
# listing and the export must be gone from the next listing too; once
# the writes stop, every listed point is served.
source "$(dirname "$0")/functions.sh"
requires nbdcopy python3
: "${QD1_WRITER:?QD1_WRITER must name the qd1-writer helper}"

rx=$tmpdir/rx.sock
jdir=$CDP_STORE/tasks/p/journal
block=16384
cdp task create p --size 4M --listen "unix:$rx" --segment-size 4M \
    --bp-interval 1s --journal-retention 2s
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"

"$QD1_WRITER" "nbd+unix:///disk0?socket=$rx" 8 $block \
    >"$tmpdir/writes.log" 2>"$tmpdir/writer.err" &
writer=$!
pids+=("$writer")

# listed_times [N]: the times 'cdp points' lists (the oldest N).
listed_times ()
{
    cdp points p --json | python3 -c '
import json, sys
ts = [p["time"] for p in json.load(sys.stdin)["points"]]
n = int(sys.argv[1]) if len(sys.argv) > 1 else len(ts)
print("\n".join(ts[:n]))' "$@"
}

n=0
checks=()
# get_point T: export (even n) or restore (odd n) the point at T into
# $tmpdir/pt-$n.img.  A refusal is accepted only if T is no longer listed.
get_point ()
{
    local t=$1 out=$tmpdir/pt-$n.img rc=0
    if [ $((n % 2)) -eq 0 ]; then
        export_to p "$t" "$out" 2>"$tmpdir/get.err" || rc=$?
    else
        cdp restore p --at "$t" --output "$out" --format raw \
            2>"$tmpdir/get.err" || rc=$?
    fi
    if [ "$rc" -ne 0 ]; then
        listed_times | grep -qxF "$t" &&
            fail "point $t is listed, but refused: $(tail -n 1 "$tmpdir/get.err")"
        echo "point $t went with retention before it was read"
        rm -f "$out"
    else
        checks+=("$t" "$out")
    fi
    n=$((n + 1))
}

# While the writes and retention run: the oldest points, which
# retention takes next.
while kill -0 "$writer" 2>/dev/null; do
    for t in $(listed_times 4); do
        get_point "$t"
    done
done
reap "$writer" || fail "qd1-writer: $(cat "$tmpdir/writer.err")"
echo "$(wc -l <"$tmpdir/writes.log") writes; $n points read while writing"
[ "$(ls "$jdir" | grep '^seg-' | sort | sed -n 1p)" != seg-0000000000000001.cdpj ] ||
    fail "retention never reclaimed a journal segment: the test wrote too little"

# Retention has nothing more to take once a base point covers the last
# write and the journal before it is gone: then every listed point.
for t in $(listed_times); do
    get_point "$t"
done
[ "${#checks[@]}" -gt 0 ] || fail "no point was read"
python3 "$e2e_dir/qd1-check.py" "$tmpdir/writes.log" $block "${checks[@]}" ||
    fail "a point does not hold what was written by its time"
echo "$(( ${#checks[@]} / 2 )) points hold exactly what was written by then"
stop_cdp_serve
