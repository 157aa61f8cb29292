#!/usr/bin/env bash
# A locks.json that no longer parses (bytes flipped, truncated) is never
# taken as "no locks": while cdp serve runs, retention reclaims nothing
# and the log names the file; a serve that starts finds it and refuses
# that task alone (the other task is served), and 'cdp status' names the
# file.  Repaired, the task is served and the locked point is exact.
source "$(dirname "$0")/functions.sh"
requires nbdcopy qemu-io python3

rx=$tmpdir/rx.sock
uri="nbd+unix:///disk0?socket=$rx"
tdir=$CDP_STORE/tasks/r
cdp task create r --size 16M --listen "unix:$rx" \
    --bp-interval 1s --journal-retention 2s --bp-retention 4s --segment-size 4M
cdp task create other --size 1M --listen "unix:$tmpdir/other.sock"
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"

ref=$tmpdir/ref.img
truncate -s 16M "$ref"
step=0
write_step ()
{
    local c
    step=$((step + 1))
    c="write -P $(( (step % 200) + 1 )) $(( (step * 768) % 15360 ))k 1M"
    qemu-io -f raw -c "$c" "$uri" >/dev/null || fail "qemu-io into the receiver"
    ref_apply "$ref" "$ref.new" "$c"
    mv "$ref.new" "$ref"
}
first_segment () { ls "$tdir/journal" | grep '^seg-' | sort | sed -n 1p; }

write_step
t_locked=$(now)
cp --sparse=always "$ref" "$tmpdir/ref.locked"
cdp lock r --at "$t_locked" | grep -q locked || fail "cdp lock"
cp "$tdir/locks.json" "$tmpdir/locks.good"

# Damage as it happens: one byte flipped (the opening brace).
printf '\x7a' | dd of="$tdir/locks.json" bs=1 seek=0 conv=notrunc status=none
first=$(first_segment)
end=$(( $(date +%s) + 10 ))
while [ "$(date +%s)" -lt "$end" ]; do
    write_step
    sleep 0.1
done
wait_for 30 "the log to name the damaged locks.json" \
    grep -q "cannot read $tdir/locks.json: .*no history is reclaimed" "$serve_log"
[ "$(first_segment)" = "$first" ] ||
    fail "journal reclaimed although the locks could not be read"
cdp status r --json | python3 -c '
import json, sys
t = json.load(sys.stdin)["tasks"][0]
assert "locks.json" in t.get("error", ""), t
assert t["served"], t' || fail "status does not name the damaged locks.json"

# A serve that starts now refuses the task, and serves the other one.
stop_cdp_serve
truncate -s 10 "$tdir/locks.json"
start_cdp_serve
grep -q "task r refused: cannot read $tdir/locks.json" "$serve_log" ||
    fail "serve did not refuse the task with the damaged locks.json"
[ -S "$rx" ] && nbdinfo --size "$uri" >/dev/null 2>&1 &&
    fail "the refused task's receiver listens"
cdp status --json | python3 -c '
import json, sys
ts = {t["name"]: t for t in json.load(sys.stdin)["tasks"]}
assert not ts["r"]["served"], ts["r"]
assert "locks.json" in ts["r"]["error"], ts["r"]
assert ts["other"]["served"], ts["other"]
assert "error" not in ts["other"], ts["other"]' || fail "status after the refusal"
cdp status r | grep -q "error: cannot read .*locks.json" ||
    fail "the text status does not name the file"
expect_error 1 'locks.json: not valid JSON' cdp points r
cp "$tdir/locks.json" "$tmpdir/locks.bad"
expect_error 1 'locks.json: not valid JSON' cdp unlock r --at "$t_locked"
cmp -s "$tmpdir/locks.bad" "$tdir/locks.json" || fail "a refused unlock rewrote locks.json"

# Repaired: served again, retention resumes, the locked point is exact.
stop_cdp_serve
cp "$tmpdir/locks.good" "$tdir/locks.json"
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
write_step
wait_for 60 "retention to reclaim the journal" \
    eval '[ "$(first_segment)" != "$first" ]'
export_to r "$t_locked" "$tmpdir/out.locked"
same "$tmpdir/out.locked" "$tmpdir/ref.locked" "the locked point"
stop_cdp_serve
