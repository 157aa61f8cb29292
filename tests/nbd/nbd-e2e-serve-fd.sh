#!/usr/bin/env bash
# --stdin serves one already-connected socket (nbd_server_serve_fd);
# libnbd's "[ CMD ]" syntax starts the server with socket activation,
# and the server hands the accepted connection to serve_fd.
source "$(dirname "$0")/functions.sh"
requires nbdinfo nbdcopy cmp

out=$(nbdinfo --size -- [ "$NBD_TEST_SERVER" --stdin --size 5M ])
[ "$out" = 5242880 ] || fail "size over an inherited socket: $out"

disk=$tmpdir/disk.img
random_file "$disk" 4M
nbdcopy -- [ "$NBD_TEST_SERVER" --stdin --file "$disk" --read-only ] \
    "$tmpdir/out.img"
cmp "$disk" "$tmpdir/out.img" || fail "copy over an inherited socket differs"
