#!/usr/bin/env bash
# cdp serve SIGKILLed while a writer writes, at --rpo 1h: every write it
# acknowledged was in the kernel's hands only (no sync comes by itself
# within the hour), and the kernel keeps what a killed process wrote.
# serve started again on the same boot finds the journal's "buffered"
# marker holding this boot's id: nothing was lost, no gap is journaled;
# the newest point holds every acknowledged write and each point offered
# exactly what was written up to it (check.py); writing goes on; and a
# clean stop, which makes every record durable, removes the marker.
source "$(dirname "$0")/functions.sh"
source "$e2e_dir/../powerloss/rpo-functions.sh"
requires nbdcopy python3

rx=$tmpdir/rx.sock
journal=$CDP_STORE/tasks/k/journal
cdp task create k --size 4M --listen "unix:$rx" --rpo 1h
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
[ "$(status_of k served rpo_s)" = "True 3600.0" ] ||
    fail "status: served, rpo_s: $(status_of k served rpo_s)"

lagging ()
{
    python3 -c 'import sys; sys.exit(not float(sys.argv[1]) > 0)' \
        "$(status_of k disk0.durability_lag_s)"
}
start_writer "$rx"
wait_for 60 "300 writes to be acknowledged" acked 300
# Acknowledged, not durable: status reports a durability lag, and the
# marker says that this boot's page cache holds records of the journal.
wait_for 30 "status to report acknowledged writes not yet durable" lagging
[ -f "$journal/buffered" ] || fail "no marker while records are not durable"
[ "$(cat "$journal/buffered")" = "$(cat /proc/sys/kernel/random/boot_id)" ] ||
    fail "the marker does not hold this boot's id: $(cat "$journal/buffered")"
kill_cdp_serve
reap "$writer_pid" || :
echo "serve killed: $(grep -c '^A' "$wlog") writes acknowledged"
[ -f "$journal/buffered" ] || fail "the killed serve's marker is gone"

start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
grep -q 'host went down' "$serve_log" &&
    fail "a killed serve on the same boot taken for a host that went down"
[ "$(status_of k disk0.gaps)" = 0 ] ||
    fail "gaps journaled: $(status_of k disk0.gaps disk0.last_gap)"
gaps=$(python3 "$e2e_dir/journal-records.py" --type 5 "$journal")
[ -z "$gaps" ] || fail "gap records in the journal: $gaps"
check_points k "$tmpdir"/w-*.log
echo "$npoints points exact, the newest holds every acknowledged write"

start_writer "$rx" 200
reap "$writer_pid" || fail "serve takes no writes after the restart"
export_to k now "$tmpdir/now.img"
python3 "$PLCHECK" "$blocks" "$tmpdir"/w-*.log -- newest "$tmpdir/now.img" ||
    fail "the writes after the restart are not in the point 'now'"
stop_cdp_serve
[ ! -e "$journal/buffered" ] || fail "the marker outlived a clean stop"
