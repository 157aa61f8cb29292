#!/usr/bin/env bash
# Listening on tcp:127.0.0.1:0 binds a free port, and clients reach it.
source "$(dirname "$0")/functions.sh"
requires qemu-img nbdinfo

out=$(nbd_server --size 3M --tcp 127.0.0.1:0 \
        --run 'echo "addr=$addr port=$port"; qemu-img info "$uri" &&
               nbdinfo --size "nbd://127.0.0.1:$port"')
echo "$out"
grep -q "^addr=tcp:127.0.0.1:[1-9][0-9]* " <<<"$out" || fail "bound address"
grep -q "^3145728$" <<<"$out" || fail "size over tcp"
