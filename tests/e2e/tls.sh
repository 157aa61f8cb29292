# TLS material for the tests, made with GnuTLS's certtool and psktool
# (sourced after functions.sh).
#
#   make_x509 DIR [CN]        a CA and, signed by it, a server certificate
#                             (127.0.0.1, ::1, localhost) and a client
#                             certificate CN: ca-cert.pem, server-cert.pem,
#                             server-key.pem, client-cert.pem,
#                             client-key.pem (the directory layout of
#                             QEMU's tls-creds-x509 for either endpoint
#                             and of libnbd's tls-certificates)
#   make_psk FILE USER        a key for USER, as "USER:HEXKEY"

requires certtool psktool

_certtool ()
{
    certtool "$@" >/dev/null 2>&1 || fail "certtool $*: failed"
}

make_x509 ()
{
    local dir=$1 cn=${2-cdp-test-client}
    mkdir -p "$dir"
    cat >"$dir/ca.info" <<INFO
cn = cdp test CA $(basename "$dir")
ca
cert_signing_key
expiration_days = 3650
INFO
    cat >"$dir/server.info" <<INFO
organization = cdp tests
cn = localhost
dns_name = localhost
ip_address = 127.0.0.1
ip_address = ::1
tls_www_server
encryption_key
signing_key
expiration_days = 3650
INFO
    cat >"$dir/client.info" <<INFO
organization = cdp tests
cn = $cn
tls_www_client
encryption_key
signing_key
expiration_days = 3650
INFO
    _certtool --generate-privkey --key-type=ecdsa --outfile "$dir/ca-key.pem"
    _certtool --generate-self-signed --load-privkey "$dir/ca-key.pem" \
        --template "$dir/ca.info" --outfile "$dir/ca-cert.pem"
    local who
    for who in server client; do
        _certtool --generate-privkey --key-type=ecdsa \
            --outfile "$dir/$who-key.pem"
        _certtool --generate-certificate --load-privkey "$dir/$who-key.pem" \
            --load-ca-certificate "$dir/ca-cert.pem" \
            --load-ca-privkey "$dir/ca-key.pem" \
            --template "$dir/$who.info" --outfile "$dir/$who-cert.pem"
    done
    rm -f "$dir"/*.info
}

make_psk ()
{
    rm -f "$1"
    psktool -u "$2" -p "$1" >/dev/null 2>&1 || fail "psktool -u $2 -p $1: failed"
}

# libvirt_nbd_certs: libvirt's NBD client certificate directory
# (nbd_tls_x509_cert_dir, set by scripts/start-libvirtd) filled once
# with make_x509 material, shared by every test and kept (QEMU runs as
# libvirt-qemu and reads the client key).  Prints the directory, which
# serves as the receiver's --tls-creds as well.  Fails when libvirtd
# runs with a qemu.conf older than that setting.
libvirt_nbd_dir=/etc/pki/libvirt-nbd

libvirt_nbd_certs ()
{
    local conf=/etc/libvirt/qemu.conf pid
    grep -q "^[[:space:]]*nbd_tls_x509_cert_dir = \"$libvirt_nbd_dir\"" "$conf" ||
        fail "$conf does not set nbd_tls_x509_cert_dir = \"$libvirt_nbd_dir\" (scripts/start-libvirtd does)"
    pid=$(cat /run/libvirtd.pid 2>/dev/null || pgrep -xo libvirtd) ||
        fail "libvirtd does not run"
    [ "$(stat -c %Y "/proc/$pid")" -ge "$(stat -c %Y "$conf")" ] ||
        fail "libvirtd started before $conf last changed: run scripts/start-libvirtd --restart once"
    mkdir -p "$libvirt_nbd_dir"
    (
        flock 9
        if [ ! -s "$libvirt_nbd_dir/client-key.pem" ]; then
            local new
            new=$(mktemp -d "$libvirt_nbd_dir.new-XXXXXX")
            make_x509 "$new" cdp-e2e-libvirt
            chmod 0600 "$new"/*-key.pem
            chgrp libvirt-qemu "$new/client-key.pem"
            chmod 0640 "$new/client-key.pem"
            chmod 0644 "$new"/*-cert.pem
            # The client key last: its presence says the rest is there.
            for f in ca-key ca-cert server-key server-cert client-cert client-key; do
                mv "$new/$f.pem" "$libvirt_nbd_dir/$f.pem"
            done
            rmdir "$new"
        fi
    ) 9>"$libvirt_nbd_dir.lock"
    echo "$libvirt_nbd_dir"
}
