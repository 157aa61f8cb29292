#!/usr/bin/env bash
# libvirt mode with the receiver on TCP (--listen tcp:HOST:PORT), as for
# a hypervisor on another host, over NBD TLS end to end: libvirt's block
# copy (destination tls='yes', QEMU's client certificate from libvirt's
# nbd_tls_x509_cert_dir) connects to HOST:PORT, the receiver checks that
# certificate against its CA, and the disk is protected and its points
# exact, as over a unix socket.  A client without TLS is refused.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/libvirt.sh"
source "$(dirname "$0")/tls.sh"
requires nbdcopy nbdinfo cmp

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
certs=$(libvirt_nbd_certs)
define_domain --blank 16M --paused
dom_image "$tmpdir/base.img"
expect_error 2 'tcp:HOST:PORT' cdp task create bad --domain "$dom" \
    --listen tcp:nowhere --no-tls
expect_error 2 'needs --tls-creds DIR, --tls-psk FILE or --no-tls' \
    cdp task create bad --domain "$dom" --listen "tcp:127.0.0.1:$port"
expect_error 2 'X.509 only' cdp task create bad --domain "$dom" \
    --listen "tcp:127.0.0.1:$port" --tls-psk /dev/null
cdp task create t --domain "$dom" --listen "tcp:127.0.0.1:$port" --tls-creds "$certs"
cdp task show t | grep -q "listen:     tcp:127.0.0.1:$port" || fail "task show: no listen address"
cdp task show t | grep -q "tls:        x509" || fail "task show: no TLS"
start_cdp_serve
wait_protected t vda 60
virsh dumpxml "$dom" >"$tmpdir/dom.xml"
grep -q "<host name='127.0.0.1' port='$port'/>" "$tmpdir/dom.xml" ||
    fail "the copy does not go to 127.0.0.1:$port"
grep -q "<source protocol='nbd' name='vda' tls='yes'" "$tmpdir/dom.xml" ||
    fail "the copy does not use TLS: $(grep -A3 '<mirror' "$tmpdir/dom.xml")"
vio "write -P 0x33 12k 20k"
t1=$(now)
ref_apply "$tmpdir/base.img" "$tmpdir/ref.img" "write -P 0x33 12k 20k"
export_to t "$t1" "$tmpdir/p.img"
same "$tmpdir/p.img" "$tmpdir/ref.img" "point over tcp with TLS"

# Without TLS the receiver answers nothing but TLS_REQD.
if nbdinfo "nbd://127.0.0.1:$port/vda" >"$tmpdir/plain.out" 2>&1; then
    fail "a client without TLS was served: $(cat "$tmpdir/plain.out")"
fi
wait_for 10 "the refusal in the log" grep -q "without TLS: refused" "$serve_log"
[ "$(disk_state t vda)" = protected ] || fail "the refused client disturbed protection"
stop_cdp_serve
