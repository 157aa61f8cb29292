#!/usr/bin/env bash
# libvirt mode: a disk resized while no cdp serve protected it (virsh
# blockresize works then: no copy holds the disk) keeps its history: the
# next serve finds the new size, records it from then on and protects
# the disk at it.  cdp resize without a serve says what to do instead.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/libvirt.sh"
requires nbdcopy cmp

define_domain --blank 16M --paused
vio "write -P 0x11 0 256k"
cdp task create lv --domain "$dom"
start_cdp_serve
wait_protected lv vda 60
vio "write -P 0x12 15m 64k"
t0=$(now)
dom_image "$tmpdir/t0.img"
stop_cdp_serve

expect_error 1 "task lv is not served: .*virsh \(blockresize\)" cdp resize lv 32M
virsh blockresize "$dom" vda 32M >/dev/null
vio "write -P 0x21 30m 64k"
start_cdp_serve
wait_for 60 "serve to record the new size" \
    grep -q "disk vda: resized while not protected: 33554432 bytes" "$serve_log"
wait_for 60 "the disk to be protected at its new size" \
    eval "grep -A100 'resized while not protected' '$serve_log' | grep -q 'disk vda: protected'"
vio "write -P 0x22 31m 4k"
t1=$(now)
dom_image "$tmpdir/t1.img"

export_to lv "$t0" "$tmpdir/p0.img"
same "$tmpdir/p0.img" "$tmpdir/t0.img" "the point before the resize (16 MiB)"
export_to lv "$t1" "$tmpdir/p1.img"
same "$tmpdir/p1.img" "$tmpdir/t1.img" "the point after the resize (32 MiB)"
stop_cdp_serve
