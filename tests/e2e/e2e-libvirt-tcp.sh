#!/usr/bin/env bash
# libvirt mode with the receiver on TCP (--listen tcp:HOST:PORT), as for
# a hypervisor on another host: libvirt's block copy connects to HOST:PORT
# and the disk is protected and its points exact, as over a unix socket.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/libvirt.sh"
requires nbdcopy cmp

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
define_domain --blank 16M --paused
dom_image "$tmpdir/base.img"
expect_error 2 'tcp:HOST:PORT' cdp task create bad --domain "$dom" --listen tcp:nowhere
cdp task create t --domain "$dom" --listen "tcp:127.0.0.1:$port"
cdp task show t | grep -q "listen:     tcp:127.0.0.1:$port" || fail "task show: no listen address"
start_cdp_serve
wait_protected t vda 60
virsh dumpxml "$dom" >"$tmpdir/dom.xml"
grep -q "<host name='127.0.0.1' port='$port'/>" "$tmpdir/dom.xml" ||
    fail "the copy does not go to 127.0.0.1:$port"
vio "write -P 0x33 12k 20k"
t1=$(now)
ref_apply "$tmpdir/base.img" "$tmpdir/ref.img" "write -P 0x33 12k 20k"
export_to t "$t1" "$tmpdir/p.img"
same "$tmpdir/p.img" "$tmpdir/ref.img" "point over tcp"
stop_cdp_serve
