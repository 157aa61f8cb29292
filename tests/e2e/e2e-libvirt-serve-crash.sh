#!/usr/bin/env bash
# libvirt mode: 'cdp serve' killed (SIGKILL) while the domain writes.
# After a restart no acknowledged write is lost (every point while the
# daemon was known alive is exact), the time it was away is a fidelity
# gap, and protection resumes by itself: the dead serve's copy job is
# replaced by a new one.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/libvirt.sh"
requires nbdcopy cmp

define_domain --blank 16M --paused
vio "write -P 0x01 0 256k"
dom_image "$tmpdir/base.img"
cdp task create k --domain "$dom"
start_cdp_serve
wait_protected k vda 60

write_cmd ()
{
    echo "write -P $(( $1 % 250 + 1 )) $(( ($1 * 7 % 32) * 4096 + $1 % 3 * 512 )) $(( 4096 + $1 % 5 * 512 ))"
}
writer ()
{
    local i=1
    while [ ! -e "$tmpdir/stop-writer" ]; do
        vio "$(write_cmd $i)"
        echo "$i $(date +%s%N)" >>"$tmpdir/writes"
        i=$((i + 1))
    done
}
writer &
writer_pid=$!
pids+=("$writer_pid")

heartbeat ()
{
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["updated_ns"])' \
        "$CDP_STORE/tasks/k/run/state.json"
}
completed () { awk -v n="$1" '$1 == n { print $2 }' "$tmpdir/writes"; }
at () { echo "@${1:0:-9}.${1: -9}"; }
wait_for 30 "a heartbeat after write 5" eval \
    '[ -n "$(completed 5)" ] && [ "$(heartbeat)" -gt "$(completed 5)" ]'
alive=$(heartbeat)
kill_at=$(date +%s%N)
kill_cdp_serve
n_kill=$(wc -l <"$tmpdir/writes")
wait_for 30 "three writes while cdp is down" \
    eval '[ "$(wc -l <"$tmpdir/writes")" -ge $((n_kill + 3)) ]'
down=$(now)
start_cdp_serve
grep -q 'did not stop cleanly' "$serve_log" || fail "the restart says nothing of the crash"
wait_protected k vda 60
n_ready=$(wc -l <"$tmpdir/writes")
wait_for 30 "three writes after the new READY" \
    eval '[ "$(wc -l <"$tmpdir/writes")" -ge $((n_ready + 3)) ]'
touch "$tmpdir/stop-writer"
reap "$writer_pid" || fail "the writer failed"
last=$(now)

echo "$(wc -l <"$tmpdir/writes") writes; daemon last seen alive at $alive, killed at $kill_at"
exact=0
while read -r n c; do
    [ "$c" -lt "$alive" ] || break
    cmds=()
    for i in $(seq "$n"); do cmds+=("$(write_cmd "$i")"); done
    ref_apply "$tmpdir/base.img" "$tmpdir/ref.img" "${cmds[@]}"
    export_to k "$(at "$c")" "$tmpdir/point.img"
    same "$tmpdir/point.img" "$tmpdir/ref.img" "point after write $n (acknowledged before the kill)"
    exact=$((exact + 1))
done <"$tmpdir/writes"
[ "$exact" -ge 5 ] || fail "only $exact points known exact"
echo "$exact points before the kill: exact"

expect_error 1 'fidelity gap' \
    cdp export k --at "$down" --listen "unix:$tmpdir/x.sock" --run true
dom_image "$tmpdir/source.img"
export_to k "$last" "$tmpdir/last.img"
same "$tmpdir/last.img" "$tmpdir/source.img" "point after the restart"
stop_cdp_serve
