#!/usr/bin/env bash
# A point locked while 'cdp task delete' waits for serve.lock (held here
# by the test, as a cdp serve that has not let the task go yet holds it)
# still stops the delete: the guards are checked again once serve.lock
# is the delete's, with locks.json held, not only before.
source "$(dirname "$0")/functions.sh"
requires qemu-io

rx=$tmpdir/rx.sock
cdp task create d --size 1M --listen "unix:$rx"
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
qemu-io -f raw -c "write -P 7 0 64k" "nbd+unix:///disk0?socket=$rx" >/dev/null ||
    fail "qemu-io"
stop_cdp_serve

# This shell holds serve.lock on fd 9, which no command it starts keeps.
exec 9>"$CDP_STORE/tasks/d/serve.lock"
flock 9 || fail "flock"
"$CDP" task delete d >"$tmpdir/delete.out" 2>"$tmpdir/delete.err" 9>&- &
del_pid=$!
pids+=("$del_pid")
# Past its first check: it holds serve.lock open, waiting for it.
wait_for 60 "task delete to wait for serve.lock" \
    eval "ls -l /proc/$del_pid/fd | grep -q serve.lock"
cdp lock d --at now >/dev/null 9>&- || fail "cdp lock"
exec 9>&-

rc=0
reap "$del_pid" || rc=$?
[ "$rc" -eq 1 ] || fail "task delete exited $rc: $(cat "$tmpdir/delete.out" "$tmpdir/delete.err")"
grep -q "not deleted: it has 1 locked point" "$tmpdir/delete.err" ||
    fail "task delete: $(cat "$tmpdir/delete.err")"
[ "$(wc -l <"$tmpdir/delete.err")" -eq 1 ] ||
    fail "task delete says more than one line: $(cat "$tmpdir/delete.err")"
[ -f "$CDP_STORE/tasks/d/locks.json" ] || fail "the locked task was deleted"
# (points lists a second once it is over: wait for the write's.)
wait_for 20 "the task's history to be listed" eval 'cdp points d | grep -q .'
