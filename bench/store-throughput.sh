#!/bin/bash
# PUT/GET throughput of 4 MiB objects to a local single-node Ceph
# (tests/archive/ceph.sh: memstore OSD, radosgw on 127.0.0.1) with 1, 4
# and 8 threads, and to a directory store in /var/tmp for comparison.
#
#   store-throughput.sh -t STORE_THROUGHPUT [-r ROUNDS] [-o OBJECTS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
prog= rounds=3 objects=64
while getopts t:r:o: o; do
    case $o in
        t) prog=$OPTARG ;;
        r) rounds=$OPTARG ;;
        o) objects=$OPTARG ;;
        *) exit 2 ;;
    esac
done
[ -x "$prog" ] || { echo "$0: -t names the store-throughput program" >&2; exit 2; }
. "$here/../tests/archive/ceph.sh"
tmp=$(mktemp -d /var/tmp/cdp-store-throughput-XXXXXX)
trap 'ceph_stop; rm -rf "$tmp"' EXIT
ceph_start "$tmp/ceph"
echo "ceph start: ${CEPH_START_SECONDS}s"
for n in 1 4 8; do
    for r in $(seq "$rounds"); do
        echo "s3 round $r: $("$prog" "s3://$CEPH_BUCKET/bench" "$n" "$objects")"
    done
done
for n in 1 4 8; do
    echo "dir: $("$prog" "$tmp/dir" "$n" "$objects")"
done
