#!/usr/bin/env bash
# 'cdp task delete' of a task whose cdp serve hangs (stopped here with
# SIGSTOP: it holds the task's serve.lock and its control socket takes
# connections but nobody answers) gives up after its wait of 120 s, says
# so in one line and deletes nothing: it never waits for ever.
source "$(dirname "$0")/functions.sh"
requires nbdinfo

rx=$tmpdir/rx.sock
cdp task create d --size 1M --listen "unix:$rx"
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
wait_for 20 "the control socket" test -S "$CDP_STORE/tasks/d/run/control.sock"
kill -STOP "$serve_pid"
"$CDP" task delete d >"$tmpdir/delete.out" 2>"$tmpdir/delete.err" &
del_pid=$!
pids+=("$del_pid")
wait_for 240 "task delete to give up" eval "! kill -0 $del_pid"
kill -CONT "$serve_pid"
rc=0
reap "$del_pid" || rc=$?
[ "$rc" -eq 1 ] || fail "task delete exited $rc: $(cat "$tmpdir/delete.out" "$tmpdir/delete.err")"
grep -q "did not let it go within 120s" "$tmpdir/delete.err" ||
    fail "task delete: $(cat "$tmpdir/delete.err")"
[ "$(wc -l <"$tmpdir/delete.err")" -eq 1 ] ||
    fail "task delete says more than one line: $(cat "$tmpdir/delete.err")"
[ -f "$CDP_STORE/tasks/d/task.json" ] || fail "the task was deleted"
nbdinfo --size "nbd+unix:///disk0?socket=$rx" >/dev/null ||
    fail "the task's receiver no longer answers"
stop_cdp_serve
