#!/usr/bin/env bash
# A revocation list (ca-crl.pem) in the --tls-creds directory that the
# user cdp runs as cannot read is an error naming it, never taken as no
# list: revoked client certificates would be let in.  (A directory
# without ca-crl.pem is still served: the list is optional.)
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/tls.sh"
requires setpriv certtool

# Readable by nobody, but for the revocation list.
creds=$(mktemp -d /tmp/cdp-crl-XXXXXX)
pids_cleanup ()
{
    local status=$?
    rm -rf "$creds"
    (exit "$status")
    cleanup
}
trap pids_cleanup EXIT
make_x509 "$creds"
mkdir "$creds/store"
chmod 755 "$creds" "$creds/store"
chmod 644 "$creds"/*.pem
as_nobody ()
{
    (cd / && exec setpriv --reuid=nobody --regid=nogroup --clear-groups \
         env CDP_STORE="$creds/store" "$@")
}

# Without a list: the credentials load; the export fails only later, at
# the task, which does not exist.
expect_error 1 "no task 'none'" \
    as_nobody "$CDP" export none --at now --listen tcp:127.0.0.1:0 \
    --tls-creds "$creds" --run true

touch "$creds/ca-crl.pem"
chmod 600 "$creds/ca-crl.pem"
expect_error 1 "tls-creds: .*ca-crl.pem: Permission denied" \
    as_nobody "$CDP" export none --at now --listen tcp:127.0.0.1:0 \
    --tls-creds "$creds" --run true
