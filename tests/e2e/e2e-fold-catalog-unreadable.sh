#!/usr/bin/env bash
# cdp fold --json says each disk's newest base point and whether the
# fold made it: when the base point catalog cannot be read, that is
# not known, and fold fails with one line instead of a document that
# says the disk has no base point.
source "$(dirname "$0")/functions.sh"
requires python3 nbdcopy dd truncate

rx=$tmpdir/rx.sock
cdp task create c --size 64M --listen "unix:$rx" --bp-interval 1h >/dev/null 2>&1
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
truncate -s 64M "$tmpdir/ref.img"
dd if=/dev/urandom of="$tmpdir/ref.img" bs=1M count=4 conv=notrunc status=none
nbdcopy -- "$tmpdir/ref.img" "nbd+unix:///disk0?socket=$rx"
cdp fold c >/dev/null

# The catalog cut short, as a full disk or a bad copy leaves it.
catalog=$CDP_STORE/tasks/c/base/catalog.json
[ -s "$catalog" ] || fail "no catalog at $catalog"
truncate -s 10 "$catalog"
if "$CDP" fold c --json >"$tmpdir/f.out" 2>"$tmpdir/f.err"; then
    fail "fold said what it cannot know: $(cat "$tmpdir/f.out")"
fi
[ -s "$tmpdir/f.out" ] && fail "a failed fold printed a document: $(cat "$tmpdir/f.out")"
[ "$(wc -l <"$tmpdir/f.err")" -eq 1 ] && grep -q catalog "$tmpdir/f.err" ||
    fail "fold should say in one line that the catalog cannot be read: $(cat "$tmpdir/f.err")"
stop_cdp_serve
echo ok
