#!/usr/bin/env bash
# qemu-img info sees the export's size through the NBD handshake.
source "$(dirname "$0")/functions.sh"
requires qemu-img

out=$(nbd_server --size 96M --run 'qemu-img info --output=json "$uri"')
echo "$out"
grep -q '"virtual-size": 100663296' <<<"$out" || fail "wrong virtual size"
