#!/usr/bin/env bash
# cdp restore --json --progress whose reader is gone (the pipe of its
# stdout closed, as when a page that watched it goes away): writing the
# stream fails, and the restore stops as a cancel does: exit 1, one line
# saying "cancelled", no image and no temporary file left behind.
source "$(dirname "$0")/functions.sh"
requires python3 nbdcopy dd truncate

rx=$tmpdir/rx.sock
cdp task create r --size 64M --listen "unix:$rx" >/dev/null 2>&1
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
truncate -s 64M "$tmpdir/ref.img"
dd if=/dev/urandom of="$tmpdir/ref.img" bs=1M count=8 conv=notrunc status=none
nbdcopy -- "$tmpdir/ref.img" "nbd+unix:///disk0?socket=$rx"
t=$(now)
stop_cdp_serve

mkdir "$tmpdir/out"
# stdout a pipe whose read end is closed before cdp starts.
(python3 - "$CDP" "$t" "$tmpdir/out/r.img" "$tmpdir/err" <<'PY'
import os, subprocess, sys
cdp, t, out, err = sys.argv[1:]
r, w = os.pipe()
os.close(r)
with open(err, "w") as e:
    p = subprocess.run([cdp, "restore", "r", "--at", t, "--output", out,
                        "--json", "--progress"], stdout=w, stderr=e)
os.close(w)
print(p.returncode)
PY
) >"$tmpdir/rc" || fail "python3"
[ "$(cat "$tmpdir/rc")" = 1 ] ||
    fail "a restore whose reader is gone: status $(cat "$tmpdir/rc") (negative: killed by that signal), $(cat "$tmpdir/err")"
[ "$(wc -l <"$tmpdir/err")" -eq 1 ] && grep -q cancelled "$tmpdir/err" ||
    fail "it should say in one line that it was cancelled: $(cat "$tmpdir/err")"
left=$(ls -A "$tmpdir/out")
[ -z "$left" ] || fail "left behind: $left"
echo ok
