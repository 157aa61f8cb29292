#!/usr/bin/env bash
# The timeline (cdp points --bucket DUR --json) of a task written by a
# real writer through cdp serve, with bookmarks, base points and a lock:
# each bucket counts exactly the points the list (cdp points --json)
# shows in it, at 1 s, 100 ms and 1 m buckets; its base points,
# bookmarks and locks are the list's in the range and none outside it.
source "$(dirname "$0")/functions.sh"
requires python3 jq
: "${QD1_WRITER:?QD1_WRITER must name the qd1-writer helper}"

rx=$tmpdir/rx.sock
uri="nbd+unix:///disk0?socket=$rx"
check=$e2e_dir/points-timeline-check.py
locks=$CDP_STORE/tasks/t/locks.json
cdp task create t --size 4M --listen "unix:$rx" --bp-interval 1h
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"

write_for ()
{
    "$QD1_WRITER" "$uri" "$1" 4096 >>"$tmpdir/writes.log" 2>"$tmpdir/writer.err" ||
        fail "qd1-writer: $(cat "$tmpdir/writer.err")"
}

write_for 3
cdp mark t --label first >/dev/null || fail "cdp mark"
cdp fold t >/dev/null || fail "cdp fold"
write_for 3
cdp mark t --label second >/dev/null || fail "cdp mark"
t_second=$(cdp points t --json | jq -r '.points[] | select(.label == "second") | .time')
# Lock a second point listed between the two bookmarks.
t_lock=$(cdp points t --json | jq -r --arg s "$t_second" \
    '[.points[] | select(.kind == "second" and .time < $s)] | .[length - 2].time')
cdp lock t --at "$t_lock" >/dev/null || fail "cdp lock"
cdp fold t >/dev/null || fail "cdp fold"
write_for 2
cdp mark t --label third >/dev/null || fail "cdp mark"
stop_cdp_serve
# Nothing is written any more, but the second still running is no
# point yet: the list leaves it out, a timeline made once it is over
# counts it.  Both are made after it.
stopped_s=$(date +%s)
wait_for 5 "the second of the last write to end" eval '[ "$(date +%s)" -gt "$stopped_s" ]'

cdp points t --json >"$tmpdir/list.json" || fail "cdp points --json"
[ "$(jq -r 'keys_unsorted[0]' "$tmpdir/list.json")" = version ] ||
    fail "the list's first member is not version: $(head -c 200 "$tmpdir/list.json")"
nsec=$(jq '[.points[] | select(.kind == "second")] | length' "$tmpdir/list.json")
[ "$nsec" -ge 6 ] || fail "only $nsec second points after 8 s of writes"

# The whole history, at three bucket sizes.
for b in 1s 100ms 1m; do
    cdp points t --disk disk0 --bucket "$b" --json >"$tmpdir/tl-$b.json" ||
        fail "cdp points --bucket $b"
    python3 "$check" "$tmpdir/tl-$b.json" "$tmpdir/list.json" "$locks" ||
        fail "the timeline at $b buckets is not the list's"
done
jq -e '(.counts | add) == ([$l[0].points[] | select(.time >= $f)] | length)' \
    --slurpfile l "$tmpdir/list.json" --arg f "$(jq -r .from "$tmpdir/tl-1s.json")" \
    "$tmpdir/tl-1s.json" >/dev/null || fail "the counts do not add up to the list"
jq -e '[.points[] | select(.kind == "bookmark") | .label] == ["first", "second", "third"]
       and ([.points[] | select(.kind == "base")] | length) >= 2
       and (.locks | length) == 1 and .locks[0].point == true
       and .retention.oldest_second != null and .retention.oldest_base != null
       and .task == "t" and .disk == "disk0"' "$tmpdir/tl-1s.json" >/dev/null ||
    fail "the timeline misses bookmarks, base points or the lock: $(jq -c 'del(.counts)' "$tmpdir/tl-1s.json")"

# From the lock to just before the second bookmark: "first" and the
# base point after it are outside, the lock inside, "second" outside.
before_second=$(python3 -c '
import sys
s = sys.argv[1]
print(s[:20] + "%09dZ" % (int(s[20:29]) - 1) if int(s[20:29]) > 0 else s)' "$t_second")
cdp points t --from "$t_lock" --to "$before_second" --bucket 1s --json \
    >"$tmpdir/tl-window.json" || fail "cdp points --from --to --bucket"
python3 "$check" "$tmpdir/tl-window.json" "$tmpdir/list.json" "$locks" ||
    fail "the window's timeline is not the list's"
jq -e --arg l "$t_lock" '[.points[] | select(.kind == "bookmark")] == []
       and .locks == [{"time": $l, "point": true}]
       and (.counts | add) >= 1 and .counts[0] == 1' \
    "$tmpdir/tl-window.json" >/dev/null ||
    fail "window [$t_lock, $before_second]: $(jq -c . "$tmpdir/tl-window.json")"
echo "timeline: $(python3 "$check" "$tmpdir/tl-1s.json" "$tmpdir/list.json" "$locks")"
# From the second bookmark on: the lock and "first" are outside.
cdp points t --from "$t_second" --bucket 1s --json >"$tmpdir/tl-after.json" ||
    fail "cdp points --from --bucket"
python3 "$check" "$tmpdir/tl-after.json" "$tmpdir/list.json" "$locks" ||
    fail "the timeline from the second bookmark is not the list's"
jq -e '[.points[] | select(.kind == "bookmark") | .label] == ["second", "third"]
       and .locks == [] and .points[0].time == $s' --arg s "$t_second" \
    "$tmpdir/tl-after.json" >/dev/null ||
    fail "from $t_second: $(jq -c 'del(.counts)' "$tmpdir/tl-after.json")"
