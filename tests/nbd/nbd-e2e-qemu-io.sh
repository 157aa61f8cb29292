#!/usr/bin/env bash
# qemu-io reads, writes, zeroes and discards through the export, and
# what it wrote is what the file holds afterwards.
source "$(dirname "$0")/functions.sh"
requires qemu-io od truncate

disk=$tmpdir/disk.img
truncate -s 16M "$disk"
nbd_server --file "$disk" --run 'qemu-io -f raw "$uri" \
    -c "write -P 0x55 0 1M" \
    -c "write -P 0xaa 512 512" \
    -c "read -P 0x55 0 512" \
    -c "read -P 0xaa 512 512" \
    -c "read -P 0x55 1024 1047552" \
    -c "write -P 0x11 4M 1M" \
    -c "write -z 4M 64k" \
    -c "read -P 0 4M 64k" \
    -c "read -P 0x11 4259840 64k" \
    -c "discard 8M 1M" \
    -c "flush" \
    -c "aio_write -P 0x22 12M 64k" -c "aio_write -P 0x33 13M 64k" \
    -c "aio_flush" \
    -c "read -P 0x22 12M 64k" -c "read -P 0x33 13M 64k"' \
    > "$tmpdir/log" 2>&1 || { cat "$tmpdir/log"; fail "qemu-io"; }
cat "$tmpdir/log"
grep -q "Pattern verification failed" "$tmpdir/log" && fail "pattern mismatch"

byte_at () { od -An -tx1 -j "$1" -N1 "$disk" | tr -d ' '; }
[ "$(byte_at 0)" = 55 ] || fail "offset 0"
[ "$(byte_at 600)" = aa ] || fail "offset 600"
[ "$(byte_at $((4 << 20)))" = 00 ] || fail "zeroed range"
[ "$(byte_at $(((4 << 20) + 65536)))" = 11 ] || fail "after zeroed range"
[ "$(byte_at $((13 << 20)))" = 33 ] || fail "aio write"
