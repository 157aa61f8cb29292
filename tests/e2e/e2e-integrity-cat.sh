#!/usr/bin/env bash
# cdp cat and get of a file whose data lies in a damaged journal record
# fail with one line naming the segment, offset and points affected; get
# writes nothing of the damaged record (what it wrote before it stops is
# the file as it was, up to there).
source "$(dirname "$0")/functions.sh"
requires nbdcopy qemu-io python3 mkfs.ext4 debugfs

rx=$tmpdir/rx.sock
uri="nbd+unix:///disk0?socket=$rx"
cdp task create m --size 16M --listen "unix:$rx" --bp-interval 7d
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
qemu-io -f raw -c 'write -z 0 512' "$uri" >/dev/null
wait_for 30 "the first base point" grep -q '"file"' "$CDP_STORE/tasks/m/base/catalog.json"

mkdir -p "$tmpdir/tree"
head -c 300000 /dev/urandom >"$tmpdir/tree/data"
echo hello >"$tmpdir/tree/small"
mkfs.ext4 -q -b 4096 -d "$tmpdir/tree" "$tmpdir/fs.img" 16M
nbdcopy -- "$tmpdir/fs.img" "$uri"
after=$(now)
stop_cdp_serve

# The disk offset of the first block of /data, and the record holding it.
blk=$(debugfs -R 'bmap /data 0' "$tmpdir/fs.img" 2>/dev/null)
[ -n "$blk" ] || fail "debugfs found no block of /data"
off=$((blk * 4096 + 100))
read -r file seg roff seq doff len plen < <(python3 "$e2e_dir/journal-records.py" \
    "$CDP_STORE/tasks/m/journal" | awk -v o="$off" '$5 <= o && o < $5 + $6' | tail -n 1)
[ -n "${plen-}" ] || fail "no record holds disk offset $off"
python3 - "$file" $((roff + 64 + off - doff)) <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1)
    f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0x01]))
PY

expect_error 1 "cannot read /data in m/disk0 at .*segment $seg offset $roff .*record $seq.*points of disk0 from " \
    cdp cat m --at "$after" /data
expect_error 1 "segment $seg offset $roff" \
    cdp get m --at "$after" /data --output "$tmpdir/out"
if [ -e "$tmpdir/out" ]; then
    n=$(stat -c %s "$tmpdir/out")
    cmp -n "$n" "$tmpdir/out" "$tmpdir/tree/data" ||
        fail "get wrote bytes that are not the file's"
fi
