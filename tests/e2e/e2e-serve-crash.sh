#!/usr/bin/env bash
# 'cdp serve' killed (SIGKILL) while the guest writes: after a restart,
# every point before the kill is exact up to the last write cdp
# acknowledged, the time cdp was away is a fidelity gap (its points are
# refused), and protection resumes by itself with a new mirror job.
source "$(dirname "$0")/functions.sh"
requires nbdcopy cmp

disk=$tmpdir/disk.qcow2
make_disk "$disk" 16M
qemu-io -f qcow2 "$disk" -c "write -P 0x01 0 256k" >/dev/null
qemu-img convert -f qcow2 -O raw "$disk" "$tmpdir/base.img"
start_qemu "$disk"
cdp task create k --qmp "$cdp_qmp_sock" --node disk0
start_cdp_serve
wait_protected k

# Write i: overlapping, 512-byte aligned, pattern i.
write_cmd ()
{
    echo "write -P $(( $1 % 250 + 1 )) $(( ($1 * 7 % 32) * 4096 + $1 % 3 * 512 )) $(( 4096 + $1 % 5 * 512 ))"
}

# The writer: one guest write after another; after each, the instant it
# completed (ns), until told to stop.
writer ()
{
    local i=1
    while [ ! -e "$tmpdir/stop-writer" ]; do
        guest_io "$(write_cmd $i)"
        echo "$i $(date +%s%N)" >>"$tmpdir/writes"
        i=$((i + 1))
    done
}
writer &
writer_pid=$!
pids+=("$writer_pid")

# The daemon was alive at its last state.json ("updated_ns"): wait until
# that is after write 5, so that some writes are known to be acknowledged.
heartbeat ()
{
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["updated_ns"])' \
        "$CDP_STORE/tasks/k/run/state.json"
}
completed ()
{
    awk -v n="$1" '$1 == n { print $2 }' "$tmpdir/writes"
}
# @EPOCH.FRACTION of a time in ns
at () { echo "@${1:0:-9}.${1: -9}"; }
wait_for 20 "a heartbeat after write 5" eval \
    '[ -n "$(completed 5)" ] && [ "$(heartbeat)" -gt "$(completed 5)" ]'
alive=$(heartbeat)
kill_at=$(date +%s%N)
kill_cdp_serve
writes_at_kill=$(wc -l <"$tmpdir/writes")
wait_for 20 "three writes while cdp is down" \
    eval '[ "$(wc -l <"$tmpdir/writes")" -ge $((writes_at_kill + 3)) ]'
down=$(now)
start_cdp_serve
grep -q 'did not stop cleanly' "$serve_log" || fail "the restart says nothing of the crash"
wait_protected k
writes_at_ready=$(wc -l <"$tmpdir/writes")
wait_for 20 "three writes after the new READY" \
    eval '[ "$(wc -l <"$tmpdir/writes")" -ge $((writes_at_ready + 3)) ]'
touch "$tmpdir/stop-writer"
reap "$writer_pid" || fail "the writer failed"
last=$(now)

# Every write that completed while the daemon was known alive is in the
# point after it, and the next is not; a point after a later write that
# completed before the kill may be refused, but if offered is exact.
echo "$(wc -l <"$tmpdir/writes") writes; daemon last seen alive at $alive, killed at $kill_at"
exact=0
while read -r n c; do
    [ "$c" -lt "$kill_at" ] || break
    cmds=()
    for i in $(seq "$n"); do cmds+=("$(write_cmd "$i")"); done
    ref_apply "$tmpdir/base.img" "$tmpdir/ref.img" "${cmds[@]}"
    if [ "$c" -lt "$alive" ]; then
        export_to k "$(at "$c")" "$tmpdir/point.img"
        exact=$((exact + 1))
    elif ! export_to k "$(at "$c")" "$tmpdir/point.img" 2>"$tmpdir/err"; then
        grep -q 'fidelity gap' "$tmpdir/err" || fail "point after write $n: $(cat "$tmpdir/err")"
        echo "point after write $n (after the last heartbeat): refused"
        continue
    fi
    same "$tmpdir/point.img" "$tmpdir/ref.img" "point after write $n (before the kill)"
    echo "point after write $n: exact"
done <"$tmpdir/writes"
[ "$exact" -ge 5 ] || fail "only $exact points known exact"

# While cdp was away the guest wrote: no point then is exact.
expect_error 1 'fidelity gap' \
    cdp export k --at "$down" --listen "unix:$tmpdir/x.sock" --run true

# A new mirror job protects the disk again, and "now" is QEMU's disk.
[ "$(grep -c 'copying: initial full copy' "$serve_log")" -eq 2 ] ||
    fail "no new initial copy after the restart"
qmp query-block-jobs | grep -q '"status": "ready"' || fail "no READY mirror job"
source_image "$tmpdir/source.img"
export_to k "$last" "$tmpdir/last.img"
same "$tmpdir/last.img" "$tmpdir/source.img" "point after the restart"

stop_cdp_serve
