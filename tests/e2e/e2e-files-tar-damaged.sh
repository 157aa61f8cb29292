#!/usr/bin/env bash
# cdp get --tar of a tree whose file lies in a damaged journal record (a
# byte flipped in the segment) fails with one line naming the damage:
# an archive file is removed, and an archive on standard output stops
# before its end blocks, so that GNU tar reports it truncated instead of
# taking it as complete.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/../files/functions.sh"
requires debugfs tar

rx=$tmpdir/rx.sock
uri="nbd+unix:///disk0?socket=$rx"
cdp task create d --size 64M --listen "unix:$rx" --bp-interval 7d >/dev/null
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
qemu-io -f raw -c 'write -z 0 512' "$uri" >/dev/null
wait_for 30 "the first base point" grep -q '"file"' "$CDP_STORE/tasks/d/base/catalog.json"

src=$tmpdir/src
mkdir -p "$src/tree"
echo "before" >"$src/tree/a-small"
head -c $((16 << 20)) /dev/urandom >"$src/tree/b-data"
ext4_image "$tmpdir/fs.img" "$src" 32M
at=$(put_disk d "$tmpdir/fs.img")
stop_cdp_serve

blk=$(debugfs -R 'bmap /tree/b-data 3584' "$tmpdir/fs.img" 2>/dev/null)
[ -n "$blk" ] || fail "debugfs found no block of /tree/b-data"
off=$((blk * 4096 + 100))
read -r file seg roff seq doff len plen < <(python3 "$e2e_dir/journal-records.py" \
    "$CDP_STORE/tasks/d/journal" | awk -v o="$off" '$5 <= o && o < $5 + $6' | tail -n 1)
[ -n "${plen-}" ] && [ "$plen" = "$len" ] || fail "no plain record holds disk offset $off"
python3 - "$file" $((roff + 64 + off - doff)) <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1)
    f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0x01]))
PY

expect_error 1 "segment $seg offset $roff" \
    cdp get d --at "$at" /tree --tar --output "$tmpdir/tree.tar"
[ ! -e "$tmpdir/tree.tar" ] || fail "a failed get --tar left its archive"

rc=0
cdp get d --at "$at" /tree --tar --output - 2>"$tmpdir/err" >"$tmpdir/cut.tar" || rc=$?
[ "$rc" -eq 1 ] && [ "$(wc -l <"$tmpdir/err")" -eq 1 ] &&
    grep -q "segment $seg offset $roff" "$tmpdir/err" ||
    fail "get --tar --output - of a damaged file: exit $rc, $(cat "$tmpdir/err")"
[ -s "$tmpdir/cut.tar" ] || fail "nothing of the archive came before the damage"
rc=0
tar -tf "$tmpdir/cut.tar" >"$tmpdir/list" 2>"$tmpdir/tar.err" || rc=$?
[ "$rc" -ne 0 ] && grep -qi 'unexpected EOF' "$tmpdir/tar.err" ||
    fail "tar took the cut archive as complete (exit $rc): $(cat "$tmpdir/tar.err")"
