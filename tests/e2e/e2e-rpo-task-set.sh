#!/usr/bin/env bash
# 'cdp task set NAME --rpo 1s', and back to '--rpo 0', on a running task
# while plwrite writes without a pause: the same cdp serve runs by each
# setting at once (status --json shows the rpo_s in force as soon as
# task set returns), the journal's "buffered" marker comes with the page
# cache and goes once the journal is durable with O_DIRECT again, no gap
# is journaled across the switches, and every point offered - before,
# between and after them - holds exactly what was written up to it, the
# newest every acknowledged write (check.py).
source "$(dirname "$0")/functions.sh"
source "$e2e_dir/../powerloss/rpo-functions.sh"
requires nbdcopy python3

rx=$tmpdir/rx.sock
journal=$CDP_STORE/tasks/m/journal
cdp task create m --size 4M --listen "unix:$rx" --segment-size 4M
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
[ "$(status_of m served rpo_s)" = "True 0.0" ] ||
    fail "status before: $(status_of m served rpo_s)"

newest_after ()
{
    [ "$(points m | tail -n 1 | cut -d' ' -f2)" -gt "$1" ]
}
# switch RPO RPO_S: task set, in force at once; returns when points
# after the switch are offered.
switch ()
{
    local out at
    out=$(cdp task set m --rpo "$1")
    grep -q 'cdp serve runs by it now' <<<"$out" || fail "task set --rpo $1: $out"
    at=$(date +%s%N)
    [ "$(status_of m served rpo_s)" = "True $2" ] ||
        fail "status right after task set --rpo $1: $(status_of m served rpo_s)"
    wait_for 60 "a point after the switch to --rpo $1" newest_after "$at"
    echo "--rpo $1 in force; $(grep -c '^A' "$wlog") writes acknowledged"
}

start_writer "$rx"
wait_for 60 "a point before the first switch" newest_after "$(date +%s%N)"
[ ! -e "$journal/buffered" ] || fail "a marker at --rpo 0"

switch 1s 1.0
wait_for 60 "the journal to write through the page cache (its marker)" \
    test -f "$journal/buffered"
switch 0 0.0
wait_for 60 "the journal to leave the page cache (its marker gone)" \
    test ! -e "$journal/buffered"
switch 1s 1.0
switch 0 0.0
kill -TERM "$writer_pid"
reap "$writer_pid" || :

[ "$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["pid"])' \
    "$CDP_STORE/tasks/m/run/state.json")" = "$serve_pid" ] ||
    fail "another serve holds the task"
kill -0 "$serve_pid" || fail "cdp serve is gone"
[ "$(grep -c 'task m: receiver on' "$serve_log")" = 1 ] ||
    fail "the receiver was opened again"
[ "$(status_of m disk0.gaps)" = 0 ] || fail "a gap across the switches"
gaps=$(python3 "$e2e_dir/journal-records.py" --type 5 "$journal")
[ -z "$gaps" ] || fail "gap records in the journal: $gaps"
check_points m "$wlog"
echo "$npoints points exact across four switches"
stop_cdp_serve
[ ! -e "$journal/buffered" ] || fail "the marker outlived a clean stop"
