#!/usr/bin/env bash
# qemu-nbd --list, QEMU's own client, lists exports, sizes and contexts.
source "$(dirname "$0")/functions.sh"
requires qemu-nbd

out=$(nbd_server --size 2M --export disk0=mirror --export disk1 \
        --run 'qemu-nbd --list -k "$sock"')
echo "$out"
grep -q "exports available: 2" <<<"$out" || fail "export count"
grep -q "export: 'disk0'" <<<"$out" || fail "disk0"
grep -q "description: mirror" <<<"$out" || fail "description"
grep -q "size:  2097152" <<<"$out" || fail "size"
grep -q "base:allocation" <<<"$out" || fail "meta context"
