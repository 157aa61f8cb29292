#!/usr/bin/env bash
# cdp export on TCP speaks NBD TLS: with --tls-creds (X.509) nbdinfo,
# nbdcopy (nbds://, tls-certificates=) and qemu-img (tls-creds-x509)
# read the point, and the URI printed is nbds://; with --tls-psk libnbd
# (tls-psk-file=) and qemu-img (tls-creds-psk) do.  Refused: a client
# without TLS, a client certificate another CA signed, a wrong key.  A
# tcp listener needs one of --tls-creds, --tls-psk, --no-tls.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/tls.sh"
requires qemu-img nbdinfo nbdcopy cmp

rx=$tmpdir/rx.sock
cdp task create e --size 4M --listen "unix:$rx"
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
head -c 4M /dev/urandom >"$tmpdir/src.img"
nbdcopy -- "$tmpdir/src.img" "nbd+unix:///disk0?socket=$rx"
at=$(now)
stop_cdp_serve

make_x509 "$tmpdir/x509"
make_x509 "$tmpdir/other"
# A client that trusts the server but holds a certificate of another CA.
mkdir "$tmpdir/stranger"
cp "$tmpdir/x509/ca-cert.pem" "$tmpdir/stranger/"
cp "$tmpdir/other/client-cert.pem" "$tmpdir/other/client-key.pem" "$tmpdir/stranger/"
mkdir "$tmpdir/psk" "$tmpdir/wrongpsk"
make_psk "$tmpdir/psk/keys.psk" alice
make_psk "$tmpdir/wrongpsk/keys.psk" alice

expect_error 2 'needs --tls-creds DIR, --tls-psk FILE or --no-tls' \
    cdp export e --at "$at" --listen tcp:127.0.0.1:0 --run true
expect_error 2 'one of --tls-creds, --tls-psk and --no-tls' \
    cdp export e --at "$at" --listen tcp:127.0.0.1:0 --no-tls \
    --tls-creds "$tmpdir/x509" --run true
expect_error 2 'unix sockets are plain' \
    cdp export e --at "$at" --listen "unix:$tmpdir/u.sock" \
    --tls-creds "$tmpdir/x509" --run true
expect_error 1 'tls-creds: .*/psk/ca-cert.pem: No such file' \
    cdp export e --at "$at" --listen tcp:127.0.0.1:0 \
    --tls-creds "$tmpdir/psk" --run true

# X.509.
x=$tmpdir/x509 s=$tmpdir/stranger out=$tmpdir/x.img qout=$tmpdir/q.img \
cdp export e --at "$at" --listen tcp:127.0.0.1:0 --tls-creds "$tmpdir/x509" \
    --run '
set -e
echo "$uri" >"$out.uri"
nbdinfo --size "$uri?tls-certificates=$x" >"$out.size"
nbdcopy -- "$uri?tls-certificates=$x" "$out"
hp=${uri#nbds://}; hp=${hp%%/*}
qemu-img convert -O raw \
    --object "tls-creds-x509,id=tls0,dir=$x,endpoint=client" \
    --image-opts "driver=nbd,host=127.0.0.1,port=${hp##*:},export=disk0,tls-creds=tls0" \
    "$qout"
! nbdinfo --size "nbd://$hp/disk0" >"$out.plain" 2>&1
! nbdinfo --size "$uri?tls-certificates=$s" >"$out.stranger" 2>&1
' 2>"$tmpdir/x509.err" || fail "X.509 export: $(cat "$tmpdir/x509.err")"
grep -q '^nbds://127.0.0.1:[0-9]*/disk0$' "$tmpdir/x.img.uri" ||
    fail "URI: $(cat "$tmpdir/x.img.uri")"
[ "$(cat "$tmpdir/x.img.size")" = 4194304 ] || fail "nbdinfo --size over TLS"
same "$tmpdir/x.img" "$tmpdir/src.img" "nbdcopy over TLS"
same "$tmpdir/q.img" "$tmpdir/src.img" "qemu-img convert over TLS"
grep -q 'without TLS: refused' "$tmpdir/x509.err" ||
    fail "the plain client was not refused: $(cat "$tmpdir/x509.err")"
# GnuTLS clients send no certificate that the server's CA did not sign.
grep -Eq 'client certificate refused|TLS handshake: Certificate is required' \
    "$tmpdir/x509.err" ||
    fail "the stranger's certificate was not refused: $(cat "$tmpdir/x509.err")"

# PSK.
k=$tmpdir/psk w=$tmpdir/wrongpsk out=$tmpdir/k.img \
cdp export e --at "$at" --listen tcp:127.0.0.1:0 --tls-psk "$tmpdir/psk/keys.psk" \
    --run '
set -e
hp=${uri#nbds://}; hp=${hp%%/*}
nbdcopy -- "nbds://alice@$hp/disk0?tls-psk-file=$k/keys.psk" "$out"
qemu-img info --object "tls-creds-psk,id=tls0,dir=$k,username=alice,endpoint=client" \
    --image-opts "driver=nbd,host=127.0.0.1,port=${hp##*:},export=disk0,tls-creds=tls0" \
    >"$out.info"
! nbdinfo --size "nbds://alice@$hp/disk0?tls-psk-file=$w/keys.psk" >"$out.wrong" 2>&1
! qemu-img info --object "tls-creds-psk,id=tls0,dir=$w,username=alice,endpoint=client" \
    --image-opts "driver=nbd,host=127.0.0.1,port=${hp##*:},export=disk0,tls-creds=tls0" \
    >"$out.qwrong" 2>&1
' 2>"$tmpdir/psk.err" || fail "PSK export: $(cat "$tmpdir/psk.err")"
same "$tmpdir/k.img" "$tmpdir/src.img" "nbdcopy over TLS-PSK"
grep -q 'virtual size: 4 MiB' "$tmpdir/k.img.info" ||
    fail "qemu-img info over TLS-PSK: $(cat "$tmpdir/k.img.info")"
[ "$(grep -c 'TLS handshake' "$tmpdir/psk.err")" -ge 2 ] ||
    fail "the wrong keys were not refused: $(cat "$tmpdir/psk.err")"

# --no-tls: plain on purpose.
cdp export e --at "$at" --listen tcp:127.0.0.1:0 --no-tls \
    --run 'case $uri in nbd://*) nbdinfo --size "$uri";; *) exit 1;; esac' \
    >"$tmpdir/plain.out" || fail "--no-tls export"
[ "$(cat "$tmpdir/plain.out")" = 4194304 ] || fail "--no-tls: $(cat "$tmpdir/plain.out")"
