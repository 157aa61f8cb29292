#!/usr/bin/env bash
# cdp cat --offset/--length writes a byte range of a file of a point:
# at the start, across the middle, cut at the end, at and beyond the end
# of the file (nothing), of zero length (nothing), in inline data and
# far into a sparse 6 GiB file; each compared with the guest's bytes.
# Only the range is read: with a journal record in the middle of the
# file damaged (a byte flipped in the segment), ranges before and after
# it still read, while the whole file and a range over it fail.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/../files/functions.sh"
requires debugfs

rx=$tmpdir/rx.sock
uri="nbd+unix:///disk0?socket=$rx"
cdp task create c --size 256M --listen "unix:$rx" --bp-interval 7d >/dev/null
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
qemu-io -f raw -c 'write -z 0 512' "$uri" >/dev/null
wait_for 30 "the first base point" grep -q '"file"' "$CDP_STORE/tasks/c/base/catalog.json"

src=$tmpdir/src
mkdir -p "$src"
head -c $((8 << 20)) /dev/urandom >"$src/big"
echo "a small file in its inode" >"$src/small"
truncate -s 6G "$src/large"
echo "three GiB in" | dd of="$src/large" bs=1M seek=3072 conv=notrunc status=none
printf 'the last bytes' | dd of="$src/large" bs=1 seek=$(((6 << 30) - 14)) \
    conv=notrunc status=none
ext4_image "$tmpdir/fs.img" "$src" 200M
at=$(put_disk c "$tmpdir/fs.img")
stop_cdp_serve

# range FILE OFF LEN [ARGS]: cdp cat's range equals the source's bytes.
range ()
{
    local f=$1 off=$2 len=$3
    shift 3
    cdp cat c --at "$at" "/$f" "$@" >"$tmpdir/got" || fail "cat /$f $*"
    python3 - "$src/$f" "$off" "$len" "$tmpdir/got" <<'PY' || fail "cat /$f $*: wrong bytes"
import sys
f, off, n, got = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
with open(f, "rb") as fh:
    fh.seek(off)
    want = fh.read(n) if n >= 0 else fh.read()
have = open(got, "rb").read()
if want != have:
    sys.exit("%d bytes expected, %d got" % (len(want), len(have)))
PY
}

M=$((1 << 20))
range big 0 100 --offset 0 --length 100
range big $((4 * M - 7)) $((M + 13)) --offset $((4 * M - 7)) --length $((M + 13))
range big $((8 * M - 10)) 10 --offset $((8 * M - 10)) --length 100
range big $((8 * M)) 0 --offset $((8 * M)) --length 10
range big $((8 * M + 1000)) 0 --offset $((8 * M + 1000))
range big 123 0 --offset 123 --length 0
range big $((5 * M)) -1 --offset 5M
range big 0 1024 --length 1K
range big 1024 2048 --offset 1K --length 2K
range small 2 5 --offset 2 --length 5
range small 20 100 --offset 20 --length 100
range large $((3 << 30)) 13 --offset 3G --length 13
range large $(((6 << 30) - 14)) 14 --offset $(((6 << 30) - 14))
range large $((1 << 30)) 4096 --offset 1G --length 4K

expect_error 2 '--offset takes a number of bytes' cdp cat c --at "$at" /big --offset -1
expect_error 2 '--length takes a number of bytes' cdp cat c --at "$at" /big --length x
expect_error 2 'unknown option --offset' cdp get c --at "$at" /big --offset 1 --output "$tmpdir/o"
expect_error 2 'unknown option --length' cdp ls c --at "$at" / --length 1

# Damage the journal record that holds the file's bytes at 4 MiB.
blk=$(debugfs -R 'bmap /big 1024' "$tmpdir/fs.img" 2>/dev/null)
[ -n "$blk" ] || fail "debugfs found no block of /big"
off=$((blk * 4096 + 100))
read -r file seg roff seq doff len plen < <(python3 "$e2e_dir/journal-records.py" \
    "$CDP_STORE/tasks/c/journal" | awk -v o="$off" '$5 <= o && o < $5 + $6' | tail -n 1)
[ -n "${plen-}" ] || fail "no record holds disk offset $off"
[ "$plen" = "$len" ] || fail "the record is not stored plain ($plen of $len bytes)"
python3 - "$file" $((roff + 64 + off - doff)) <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1)
    f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0x01]))
PY
# The record's bytes of the file (its blocks are contiguous there).
first=$(( (doff - blk * 4096) + 4 * M ))
last=$(( first + len ))
[ "$first" -gt 0 ] && [ "$last" -lt $((8 * M)) ] ||
    fail "the record [$first, $last) does not lie inside the file"
expect_error 1 "segment $seg offset $roff" cdp cat c --at "$at" /big
expect_error 1 "segment $seg offset $roff" \
    cdp cat c --at "$at" /big --offset $((first - 10)) --length 20
range big 0 "$first" --length "$first"
range big "$last" -1 --offset "$last"
