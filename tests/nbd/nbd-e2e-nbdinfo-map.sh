#!/usr/bin/env bash
# nbdinfo --map (NBD_CMD_BLOCK_STATUS, base:allocation) shows where the
# data of a sparse file is.
source "$(dirname "$0")/functions.sh"
requires nbdinfo truncate

disk=$tmpdir/disk.img
truncate -s 16M "$disk"
dd if=/dev/urandom of="$disk" bs=1M count=1 seek=2 conv=notrunc status=none
dd if=/dev/urandom of="$disk" bs=1M count=2 seek=10 conv=notrunc status=none
out=$(nbd_server --file "$disk" --read-only --run 'nbdinfo --map "$uri"')
echo "$out"
expected='0 2097152 3 hole,zero
2097152 1048576 0 data
3145728 7340032 3 hole,zero
10485760 2097152 0 data
12582912 4194304 3 hole,zero'
got=$(awk '{print $1, $2, $3, $4}' <<<"$out")
[ "$got" = "$expected" ] || fail "unexpected map"

# The totals add up to the export's size.
out1=$(nbd_server --file "$disk" --read-only \
         --run 'nbdinfo --map --totals "$uri"')
echo "$out1"
grep -Eq "^ *3145728 +18.8% +0 +data" <<<"$out1" || fail "data total"
grep -Eq "^ *13631488 +81.2% +3 +hole,zero" <<<"$out1" || fail "hole total"
