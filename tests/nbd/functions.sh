# Helpers for the NBD server's end-to-end tests, sourced by each test.
#
#   requires TOOL...        fail (not skip) when a tool is missing
#   $tmpdir                 scratch directory, removed on exit
#   nbd_server ARGS...      run nbd-test-server (see nbd-test-server.c)
#   random_file PATH SIZE   PATH filled with SIZE random bytes
set -euo pipefail

: "${NBD_TEST_SERVER:?NBD_TEST_SERVER must name the nbd-test-server binary}"

requires ()
{
    local t
    for t in "$@"; do
        if ! command -v "$t" >/dev/null 2>&1; then
            echo "$0: FAIL: required tool '$t' is not installed" >&2
            exit 1
        fi
    done
}

tmpdir=$(mktemp -d "${TMPDIR:-/tmp}/nbd-e2e-XXXXXX")
cleanup_hooks=()
cleanup ()
{
    local h
    for h in "${cleanup_hooks[@]}"; do eval "$h" || :; done
    rm -rf "$tmpdir"
}
trap cleanup EXIT

nbd_server ()
{
    "$NBD_TEST_SERVER" "$@"
}

random_file ()
{
    head -c "$2" /dev/urandom > "$1"
}

fail ()
{
    echo "$0: FAIL: $*" >&2
    exit 1
}
