#!/bin/bash
# store.h's semantics on the S3 store against a real Ceph radosgw
# (store-conform.c), with the checks only S3 has: wrong keys, a missing
# bucket, prefixes, a damaged body, 503 SlowDown, the credentials file,
# endpoints that refuse or never answer.
set -euo pipefail
: "${STORE_CONFORM:?STORE_CONFORM must name the store-conform program}"
. "$(dirname "$0")/ceph.sh"
tmp=$(mktemp -d /tmp/cdp-store-s3-XXXXXX)
trap 'ceph_stop; rm -rf "$tmp"' EXIT
ceph_start "$tmp/ceph"
"$STORE_CONFORM" s3 "s3://$CEPH_BUCKET/conform" "$tmp"
