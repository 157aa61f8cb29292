#!/usr/bin/env bash
# The timeline's retention edges move as retention drops history
# (--journal-retention 3s, --bp-retention 6s, 4 MiB segments under QD1
# 16 KiB writes), and its counts stay the list's after retention and
# after the index is rebuilt from the journal (TASK/index deleted).
source "$(dirname "$0")/functions.sh"
requires python3 jq
: "${QD1_WRITER:?QD1_WRITER must name the qd1-writer helper}"

rx=$tmpdir/rx.sock
check=$e2e_dir/points-timeline-check.py
jdir=$CDP_STORE/tasks/r/journal
cdp task create r --size 4M --listen "unix:$rx" --segment-size 4M \
    --bp-interval 1s --journal-retention 3s --bp-retention 6s
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"

"$QD1_WRITER" "nbd+unix:///disk0?socket=$rx" 14 16384 \
    >"$tmpdir/writes.log" 2>"$tmpdir/writer.err" &
writer=$!
pids+=("$writer")

edges ()
{
    cdp points r --bucket 1s --json | jq -r '.retention | "\(.oldest_second) \(.oldest_base)"'
}
has_edges ()
{
    ! edges | grep -q null
}
wait_for 30 "a second point and a base point" has_edges
read -r second0 base0 <<<"$(edges)"
echo "edges while writing: oldest second $second0, oldest base $base0"
moved ()
{
    local s b
    read -r s b <<<"$(edges)"
    [[ $s > $second0 && $b > $base0 ]]
}
wait_for 60 "retention to move both edges" moved
read -r second1 base1 <<<"$(edges)"
echo "edges later: oldest second $second1, oldest base $base1"
reap "$writer" || fail "qd1-writer: $(cat "$tmpdir/writer.err")"
[ "$(ls "$jdir" | grep '^seg-' | sort | sed -n 1p)" != seg-0000000000000001.cdpj ] ||
    fail "retention never reclaimed a journal segment: the test wrote too little"
stop_cdp_serve
# Nothing is written any more, but the second still running is no
# point yet: the list leaves it out, a timeline made once it is over
# counts it.  Both are made after it.
stopped_s=$(date +%s)
wait_for 5 "the second of the last write to end" eval '[ "$(date +%s)" -gt "$stopped_s" ]'

# compare WHAT: the timeline at 1 s and 1 m against the list, and its
# edges against the list's oldest points.
compare ()
{
    local b
    cdp points r --json >"$tmpdir/list.json" || fail "cdp points --json ($1)"
    for b in 1s 1m; do
        cdp points r --bucket "$b" --json >"$tmpdir/tl.json" ||
            fail "cdp points --bucket $b ($1)"
        python3 "$check" "$tmpdir/tl.json" "$tmpdir/list.json" ||
            fail "the timeline at $b is not the list's $1"
    done
    jq -e --slurpfile l "$tmpdir/list.json" '
        ([$l[0].points[] | select(.kind == "second") | .time] | min) == .retention.oldest_second
        and ([$l[0].points[] | select(.kind == "base") | .time] | min) == .retention.oldest_base
        and .retention.journal_retention_s == 3 and .retention.bp_retention_s == 6' \
        "$tmpdir/tl.json" >/dev/null ||
        fail "retention edges $1: $(jq -c .retention "$tmpdir/tl.json")"
    echo "$1: $(jq -c .retention "$tmpdir/tl.json")"
}
compare "after retention"
rm -rf "$CDP_STORE/tasks/r/index"
compare "after the index was rebuilt"
