#!/bin/bash
# store.h's semantics on a directory store (store-conform.c).
set -euo pipefail
: "${STORE_CONFORM:?STORE_CONFORM must name the store-conform program}"
tmp=$(mktemp -d /tmp/cdp-store-dir-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
"$STORE_CONFORM" dir "$tmp/archive"
