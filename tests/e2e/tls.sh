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
expiration_days = 30
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
expiration_days = 30
INFO
    cat >"$dir/client.info" <<INFO
organization = cdp tests
cn = $cn
tls_www_client
encryption_key
signing_key
expiration_days = 30
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
