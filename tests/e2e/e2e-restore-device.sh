#!/usr/bin/env bash
# cdp restore --output onto a block device (a loop device here) writes
# the point into the device, from its start, and leaves the device a
# device: raw (also through a symlink, as LVs are named), zeroes written
# over what the device held, bytes past the disk untouched; qcow2, which
# qemu-img reads back from the device and checks.  Without --force, or
# on a device too small for the image, it refuses in one line and the
# device is unchanged; any other special file is refused too.
source "$(dirname "$0")/functions.sh"
requires losetup qemu-io qemu-img truncate dd cmp head tail mkfifo

M=$((1 << 20))
loops=()
trap 'st=$?; for l in "${loops[@]}"; do losetup -d "$l"; done; (exit $st); cleanup' EXIT

# new_loop NAME MIB: a loop device over a file of random bytes.
new_loop ()
{
    dd if=/dev/urandom of="$tmpdir/$1.back" bs=1M count="$2" status=none
    dev=$(losetup -f --show "$tmpdir/$1.back") || fail "losetup"
    loops+=("$dev")
    cp "$tmpdir/$1.back" "$tmpdir/$1.orig"
}

rx=$tmpdir/rx.sock
uri="nbd+unix:///disk0?socket=$rx"
cdp task create r --size 24M --listen "unix:$rx"
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
ops=("write -P 0x5a 1M 3M" "write -P 0x33 $((9 * M + 512)) 1536"
     "write -z 2M 512k" "write -P 0x44 $((24 * M - 4096)) 4096")
args=()
for c in "${ops[@]}"; do args+=(-c "$c"); done
qemu-io -f raw "$uri" "${args[@]}" >"$tmpdir/qio.log" ||
    fail "qemu-io: $(cat "$tmpdir/qio.log")"
t=$(now)
truncate -s 24M "$tmpdir/empty.img"
ref_apply "$tmpdir/empty.img" "$tmpdir/ref.img" "${ops[@]}"
stop_cdp_serve

# raw into a 32 MiB device full of random bytes
new_loop big 32
big=$dev
expect_error 1 'block device.*--force' cdp restore r --at "$t" --output "$big"
cmp -s "$big" "$tmpdir/big.orig" || fail "a refused restore changed the device"
cdp restore r --at "$t" --output "$big" --force || fail "restore onto $big"
[ -b "$big" ] || fail "$big is no longer a block device"
head -c $((24 * M)) "$big" >"$tmpdir/got.img"
same "$tmpdir/got.img" "$tmpdir/ref.img" "the disk restored onto $big"
cmp -s <(tail -c $((8 * M)) "$big") <(tail -c $((8 * M)) "$tmpdir/big.orig") ||
    fail "the restore wrote past the disk's end on $big"

# the same through a symlink (as /dev/VG/LV): the link stays a link
ln -s "$big" "$tmpdir/lv"
dd if=/dev/urandom of="$big" bs=1M count=24 conv=notrunc status=none
cdp restore r --at "$t" --output "$tmpdir/lv" --force || fail "restore onto a link"
[ -L "$tmpdir/lv" ] && [ "$(readlink "$tmpdir/lv")" = "$big" ] ||
    fail "the symlink to $big was replaced"
head -c $((24 * M)) "$big" >"$tmpdir/got.img"
same "$tmpdir/got.img" "$tmpdir/ref.img" "the disk restored through a symlink"

# qcow2 onto the device: an image qemu-img reads from it
cdp restore r --at "$t" --output "$big" --format qcow2 --force ||
    fail "qcow2 restore onto $big"
[ -b "$big" ] || fail "$big is no longer a block device"
qemu-img check -q -f qcow2 "$big" || fail "qemu-img check of the qcow2 on $big"
qemu-img convert -f qcow2 -O raw "$big" "$tmpdir/got.img"
same "$tmpdir/got.img" "$tmpdir/ref.img" "the qcow2 restored onto $big"

# anything else that is not a file is not replaced either
mkfifo "$tmpdir/fifo"
expect_error 1 'neither a regular file nor a block device' \
    cdp restore r --at "$t" --output "$tmpdir/fifo" --force
[ -p "$tmpdir/fifo" ] || fail "the fifo was replaced"

# too small: 16 MiB for raw; exactly the disk's size for a qcow2, which
# needs room for its metadata too
new_loop small 16
expect_error 1 "$dev holds $((16 * M)) bytes" \
    cdp restore r --at "$t" --output "$dev" --force
cmp -s "$dev" "$tmpdir/small.orig" || fail "a refused restore changed $dev"
new_loop exact 24
cdp restore r --at "$t" --output "$dev" --force || fail "raw onto 24 MiB"
head -c $((24 * M)) "$dev" | cmp -s - "$tmpdir/ref.img" ||
    fail "the disk restored onto a device of its size"
cat "$dev" >"$tmpdir/exact.orig"
expect_error 1 'every cluster allocated' \
    cdp restore r --at "$t" --output "$dev" --format qcow2 --force
cmp -s "$dev" "$tmpdir/exact.orig" || fail "a refused restore changed $dev"
