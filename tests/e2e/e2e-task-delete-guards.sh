#!/usr/bin/env bash
# 'cdp task delete' without --force refuses a task with locked points,
# or with a rapid recovery that is unfinished (running, or interrupted by
# SIGKILL), served or not: nothing of it is let go or deleted; with
# --force it deletes those, and a task whose task.json is damaged.
source "$(dirname "$0")/functions.sh"
requires nbdinfo qemu-io

rx=$tmpdir/rx.sock
uri="nbd+unix:///disk0?socket=$rx"
cdp task create d --size 8M --listen "unix:$rx"
cdp task create l --size 1M --listen "unix:$tmpdir/l.sock"
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
qemu-io -f raw -c "write -P 7 0 1m" "$uri" >/dev/null || fail "qemu-io"
t=$(now)

qemu-io -f raw -c "write -P 9 0 64k" "nbd+unix:///disk0?socket=$tmpdir/l.sock" \
    >/dev/null || fail "qemu-io into l"
cdp lock l --at now >/dev/null || fail "cdp lock"
expect_error 1 "not deleted: it has 1 locked point .*--force" cdp task delete l
grep -q "letting it go" "$serve_log" && fail "serve let a refused task go"
nbdinfo --size "nbd+unix:///disk0?socket=$tmpdir/l.sock" >/dev/null ||
    fail "the refused task's receiver no longer answers"
stop_cdp_serve

# Locked points.
expect_error 1 "not deleted: it has 1 locked point .*--force" cdp task delete l
cdp task delete l --force | grep -q deleted || fail "task delete l --force"
[ ! -e "$CDP_STORE/tasks/l" ] || fail "task l is still there"

# A rapid recovery running, then killed: unfinished either way.
"$CDP" recover d --at "$t" --to "$tmpdir/rec.qcow2" >"$tmpdir/rec.out" 2>"$tmpdir/rec.err" &
rec_pid=$!
pids+=("$rec_pid")
wait_for 30 "cdp recover to serve the point" grep -q block-stream "$tmpdir/rec.out"
expect_error 1 "not deleted: .*--force" cdp task delete d
kill -KILL "$rec_pid"
reap "$rec_pid" || :
cdp unlock d --at "$t" >/dev/null || fail "cdp unlock"
expect_error 1 "not deleted: a rapid recovery from it is interrupted" cdp task delete d
[ -f "$CDP_STORE/tasks/d/task.json" ] || fail "task d was deleted"
cdp task delete d --force | grep -q deleted || fail "task delete d --force"
[ ! -e "$CDP_STORE/tasks/d" ] || fail "task d is still there"

# A task.json that no longer parses: named, and deleted only with --force.
cdp task create j --size 1M --listen "unix:$tmpdir/j.sock" >/dev/null
truncate -s 7 "$CDP_STORE/tasks/j/task.json"
expect_error 1 "task.json: not valid JSON.*task delete --force" cdp task delete j
[ -d "$CDP_STORE/tasks/j" ] || fail "task j was deleted without --force"
cdp task delete j --force | grep -q deleted || fail "task delete j --force"
[ ! -e "$CDP_STORE/tasks/j" ] || fail "task j is still there"
