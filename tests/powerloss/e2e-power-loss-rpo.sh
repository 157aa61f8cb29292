#!/usr/bin/env bash
# Power loss of the store's host at an RPO above 0.  The store lives on
# plfs; plwrite writes into a manual-mode task and records what was
# acknowledged.  The journal writes through the page cache: its segment
# loses O_DIRECT (fcntl F_SETFL) and its records reach plfs as plain
# writes, without O_DIRECT or O_DSYNC in the flags the kernel sends
# (plfs --trace shows them), durable only at the journal's fdatasync, so
# a cut loses what was not synced.  Twice: at --rpo 1h, where no sync
# comes by itself and everything the writer wrote is lost (which also
# shows plfs sees those writes as not durable); at --rpo 1s with --keep,
# where a torn part of the unsynced tail survives.  Before each cut
# 'cdp points' runs, which indexes records the page cache holds (its
# catch-up reads the journal through it); the cut comes right after a
# heartbeat reported the durability lag L at its time H.
#
# After the cut cdp serve starts as on the host's next boot: in a mount
# namespace where the kernel's boot id is another one (the journal's
# "buffered" marker, left as the cut left it, holds the old boot's id;
# the store is not touched, as a real next boot would not touch it).
# Then:
#   - serve journals a gap, reason "host went down within the RPO", from
#     the time T of the last record that survived (cdp status);
#   - no point between T and the gap's end is offered, and one asked for
#     is refused;
#   - what survived is a prefix: every point offered (before T, and after
#     the gap's end, where manual mode offers points again), and "now",
#     hold exactly what plwrite wrote as if nothing had come after
#     C = max(T, H - L): every write acknowledged by C is there (those
#     acknowledged by H - L were durable, by the lag reported), nothing
#     submitted after it is (check.py on logs cut at C);
#   - at 1h the lost window is not empty (what a sync interval loses);
#   - writing goes on; the journal's sequence numbers stay dense across
#     the loss (the lost ones are used again, the index forgot them); the
#     marker holds the new boot's id while written through the page
#     cache, and is gone after a clean stop.
source "$(dirname "$0")/../e2e/functions.sh"
source "$(dirname "$0")/rpo-functions.sh"
requires fusermount3 mountpoint nbdcopy python3 pgrep unshare mount
: "${PLFS:?PLFS must name plfs}"

export CDP_STORE=$mnt/store
boot=1

# phase TASK RPO: the cut under a writer, and the checks.
phase ()
{
    local task=$1 rpo=$2 rx=$tmpdir/$1.sock journal=$CDP_STORE/tasks/$1/journal
    local h l t reason c lost gap_seq resume pre cut log a ns first why
    echo "--- --rpo $rpo"
    cdp task create "$task" --size 4M --listen "unix:$rx" --segment-size 16M \
        --rpo "$rpo"
    start_serve_boot "$boot" "$task"
    wait_for 20 "the receiver's socket" test -S "$rx"
    start_writer "$rx"
    log=$wlog
    wait_for 60 "300 writes to be acknowledged" acked 300
    [ "$(cat "$journal/buffered")" = "$(cat "$tmpdir/boot-$boot")" ] ||
        fail "the marker does not hold the boot's id"
    pre=$(points "$task" | tail -n 1 | cut -d' ' -f2)
    a=$(awk '$1 == "A" { print $3 }' "$log" | tail -n 1)
    wait_for 30 "a heartbeat after the last acknowledgement seen" \
        eval '[ "$(heartbeat "$task" updated_ns)" -gt "$a" ]'
    read -r h l < <(heartbeat "$task" updated_ns durability_lag_ns)
    cut=$(date +%s%N)
    power_cut
    echo "cut: $(grep -c '^A' "$log") writes acknowledged; the last heartbeat" \
         "reported a durability lag of $l ns"

    mount_plfs
    boot=$((boot + 1))
    start_serve_boot "$boot" "$task"
    wait_for 20 "the receiver's socket" test -S "$rx"
    grep -q "task $task: the host went down" "$serve_log" ||
        fail "serve says nothing of the lost page cache tail"
    read -r t reason < <(last_gap "$task")
    [ "$reason" = "host went down within the RPO" ] ||
        fail "the last gap's reason: $reason"
    # The gap is the first record after the cut, from the last survivor
    # (from before the first write, when none survived).
    journal_records "$journal" >"$tmpdir/records"
    read -r gap_seq _ < <(awk '$2 == 5' "$tmpdir/records" | tail -n 1)
    first=$(awk '$1 == "S" { print $6; exit }' "$log")
    if [ "$gap_seq" -gt 1 ]; then
        awk -v s="$((gap_seq - 1))" '$1 == s { print $3 }' "$tmpdir/records" |
            grep -qx "$t" || fail "the gap is not from the last surviving record"
    else
        [ "$t" -lt "$first" ] || fail "no record survived, yet the gap is from $t"
    fi
    read -r _ _ resume _ < <(awk -v s="$((gap_seq + 1))" '$1 == s && $2 == 6' "$tmpdir/records")
    [ -n "$resume" ] || fail "no resume after the gap (manual mode)"

    c=$((h - l))
    [ "$t" -gt "$c" ] && c=$t
    truncate_log "$c" "$log" "$log.kept"
    lost=$(awk -v c="$c" '$1 == "A" && $3 "" > c ""' "$log" | wc -l)
    echo "survived: every write acknowledged by $c; $lost acknowledged after it"
    if [ "$rpo" = 1h ]; then
        # Nothing asked for a sync (no FLUSH, no FUA, no read), and none
        # came by itself: not one write survived.
        [ "$t" -lt "$first" ] ||
            fail "at --rpo 1h a record written after the writer started was synced"
        [ "$lost" -eq "$(grep -c '^A' "$log")" ] ||
            fail "at --rpo 1h acknowledged writes survived the cut"
    fi

    # No point inside the gap; one asked for is refused (before the
    # journal's first record when nothing survived).
    while read -r _ ns _; do
        [ "$ns" -le "$t" ] || [ "$ns" -ge "$resume" ] ||
            fail "point $ns offered inside the gap ($t, $resume)"
    done < <(points "$task")
    why='fidelity gap'
    [ "$gap_seq" -gt 1 ] || why='no recovery point'
    for ns in "$cut" "$pre"; do
        [ "$ns" -gt "$t" ] && [ "$ns" -lt "$resume" ] || continue
        expect_error 1 "$why" cdp export "$task" \
            --at "@${ns:0:-9}.${ns: -9}" --listen "unix:$tmpdir/x.sock" --run true
    done
    check_points "$task" "$log.kept"
    echo "$npoints points exact, as if nothing had been written after $c"

    start_writer "$rx" 200
    reap "$writer_pid" || fail "serve takes no writes after the cut"
    [ "$(cat "$journal/buffered")" = "$(cat "$tmpdir/boot-$boot")" ] ||
        fail "the marker does not hold the new boot's id"
    export_to "$task" now "$tmpdir/now.img"
    python3 "$PLCHECK" "$blocks" "$log.kept" "$wlog" -- newest "$tmpdir/now.img" ||
        fail "the writes after the cut are not in the point 'now'"
    kill -TERM "$serve_pid"
    reap "$serve_pid" || fail "cdp serve did not stop cleanly"
    [ ! -e "$journal/buffered" ] || fail "the marker outlived a clean stop"
    journal_records "$journal" | python3 -c '
import sys
seqs = [int(l.split()[0]) for l in sys.stdin]
if seqs != list(range(seqs[0], seqs[0] + len(seqs))):
    sys.exit("sequence numbers not dense: %s" %
             [s for a, s in zip(seqs, seqs[1:]) if s != a + 1][:5])' ||
        fail "the journal's sequence numbers after the cut"
    rm -f "$tmpdir"/w-*.log*
}

mount_plfs
phase h 1h
# The next cut keeps a random part of what was not synced (a torn tail).
fusermount3 -u "$mnt"
wait "$plfs_pid" || fail "plfs failed at an orderly unmount"
mount_plfs --keep 11
phase s 1s
