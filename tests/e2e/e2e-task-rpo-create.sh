#!/usr/bin/env bash
# task create --rpo: the default is 0 (every write durable before it
# completes), a duration from 10ms to 1h is kept in task.json and shown
# by task show (text and --json), anything else is a usage error (exit 2,
# one line, no task made); a task.json written before --rpo existed (no
# rpo_ns) reads as RPO 0.
source "$(dirname "$0")/functions.sh"
requires python3

# show_rpo TASK: rpo_s of 'task show --json'
show_rpo ()
{
    cdp task show "$1" --json | python3 -c '
import json, sys
print(json.load(sys.stdin)["rpo_s"])'
}

cdp task create d --size 1M --listen "unix:$tmpdir/d.sock"
[ "$(show_rpo d)" = 0.0 ] || fail "default rpo_s is $(show_rpo d), not 0"
cdp task show d | grep -q '^rpo: *0 ' || fail "task show: $(cdp task show d)"

cdp task create s --size 1M --listen "unix:$tmpdir/s.sock" --rpo 1s
[ "$(show_rpo s)" = 1.0 ] || fail "--rpo 1s shows rpo_s $(show_rpo s)"
cdp task show s | grep -q '^rpo: *1s ' || fail "task show: $(cdp task show s)"
cdp task create lo --size 1M --listen "unix:$tmpdir/lo.sock" --rpo 10ms
[ "$(show_rpo lo)" = 0.01 ] || fail "--rpo 10ms shows rpo_s $(show_rpo lo)"
cdp task create hi --size 1M --listen "unix:$tmpdir/hi.sock" --rpo 1h
[ "$(show_rpo hi)" = 3600.0 ] || fail "--rpo 1h shows rpo_s $(show_rpo hi)"
cdp task create zero --size 1M --listen "unix:$tmpdir/z.sock" --rpo 0
[ "$(show_rpo zero)" = 0.0 ] || fail "--rpo 0 shows rpo_s $(show_rpo zero)"

# QMP mode takes it as well (its disks are read from a live QEMU).
make_disk "$tmpdir/disk.qcow2" 1M
start_qemu "$tmpdir/disk.qcow2"
cdp task create q --qmp "$cdp_qmp_sock" --node disk0 --rpo 250ms
[ "$(show_rpo q)" = 0.25 ] || fail "QMP mode: rpo_s $(show_rpo q)"

for bad in 5ms 2h 61m -1s 1x '' lots; do
    expect_error 2 "--rpo takes 0 .* or a duration from 10ms to 1h" \
        cdp task create bad --size 1M --listen "unix:$tmpdir/b.sock" --rpo "$bad"
done
cdp task list | grep -q '^bad' && fail "a refused task was created"

# A task.json from before --rpo: no rpo_ns in its policy.
python3 - "$CDP_STORE/tasks/s/task.json" <<'PY'
import json, os, sys
p = sys.argv[1]
o = json.load(open(p))
del o["policy"]["rpo_ns"]
with open(p + ".new", "w") as f:
    json.dump(o, f)
os.replace(p + ".new", p)
PY
[ "$(show_rpo s)" = 0.0 ] || fail "a task.json without rpo_ns reads rpo_s $(show_rpo s)"
