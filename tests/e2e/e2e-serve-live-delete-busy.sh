#!/usr/bin/env bash
# 'cdp task delete' of one task while another task's receiver is busy
# taking writes: serve lets the deleted task go, and the other's writer
# never notices (every nbdcopy pass completes, the point holds the last
# one); the deleted task's directory is not made again, and serve logs
# nothing more of it.
source "$(dirname "$0")/functions.sh"
requires nbdcopy python3 dd

rxa=$tmpdir/a.sock
rxb=$tmpdir/b.sock
cdp task create a --size 8M --listen "unix:$rxa" 2>/dev/null
cdp task create b --size 8M --listen "unix:$rxb" 2>/dev/null
start_cdp_serve
wait_for 20 "the receivers' sockets" test -S "$rxa" -a -S "$rxb"
for i in 0 1; do
    dd if=/dev/urandom of="$tmpdir/src$i.img" bs=1M count=8 status=none
done

# The writer: whole-disk copies into a, alternating sources, until told
# to stop; it notes each pass that completed, or the first that failed.
(
    set +e
    k=0
    while [ ! -e "$tmpdir/stop" ]; do
        if ! nbdcopy -- "$tmpdir/src$((k % 2)).img" "nbd+unix:///disk0?socket=$rxa" \
             2>>"$tmpdir/writer.err"; then
            echo "FAILED $k" >>"$tmpdir/writer.log"
            exit 1
        fi
        echo "done $k" >>"$tmpdir/writer.log"
        k=$((k + 1))
    done
) &
writer=$!
pids+=("$writer")
wait_for 60 "the writer's first pass" test -s "$tmpdir/writer.log"
lines=$(wc -l <"$serve_log")

cdp task delete b >"$tmpdir/delete.out" || fail "task delete b: $(cat "$tmpdir/delete.out")"
grep -q "cdp serve stopped serving it" "$tmpdir/delete.out" || fail "$(cat "$tmpdir/delete.out")"
grep -q "task b deleted" "$tmpdir/delete.out" || fail "$(cat "$tmpdir/delete.out")"
kill -0 "$writer" 2>/dev/null || fail "the writer stopped: $(cat "$tmpdir/writer.log" "$tmpdir/writer.err")"
passes=$(wc -l <"$tmpdir/writer.log")
wait_for 120 "a pass of the writer after the delete" \
    eval "[ \$(wc -l <'$tmpdir/writer.log') -ge $((passes + 1)) ]"
touch "$tmpdir/stop"
reap "$writer" || fail "the writer failed: $(cat "$tmpdir/writer.log" "$tmpdir/writer.err")"
last=$(tail -n 1 "$tmpdir/writer.log")
[[ $last == "done "* ]] || fail "writer: $last"
export_to a now "$tmpdir/a.img"
same "$tmpdir/a.img" "$tmpdir/src$(( ${last#done } % 2 )).img" "a's point after the writer's last pass"

# A heartbeat of a after the delete: serve looked at the store since.
t0=$(date +%s%N)
wait_for 20 "a heartbeat after the delete" python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
sys.exit(0 if s["updated_ns"] > int(sys.argv[2]) else 1)' \
    "$CDP_STORE/tasks/a/run/state.json" "$t0"
[ ! -e "$CDP_STORE/tasks/b" ] || fail "b's directory is there again: $(ls -R "$CDP_STORE/tasks/b")"
kill -0 "$serve_pid" || fail "serve is gone"
cdp status --json | python3 -c '
import json, sys
ts = json.load(sys.stdin)["tasks"]
assert [t["name"] for t in ts] == ["a"] and ts[0]["served"], ts' || fail "status after the delete"
tail -n +"$((lines + 1))" "$serve_log" >"$tmpdir/later.log"
grep -q "task b: no longer served" "$tmpdir/later.log" || fail "serve does not say it let b go"
sed '1,/task b: no longer served/d' "$tmpdir/later.log" | grep "task b" &&
    fail "serve still logs about the deleted task"
grep -E "task a(:| disk)" "$tmpdir/later.log" | grep -v "client on\|base point at" &&
    fail "serve did something to task a"
stop_cdp_serve
