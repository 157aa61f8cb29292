#!/usr/bin/env bash
# Clients nobody here wrote read a point through 'cdp export': qemu-img
# info, nbdinfo --list and --map (holes where nothing was written),
# qemu-io.  A --writable export takes writes and reads them back, while
# a read-only export of the same point, and the store, keep the original.
source "$(dirname "$0")/functions.sh"
requires qemu-img qemu-io nbdinfo nbdcopy cmp

rx=$tmpdir/rx.sock
cdp task create c --size 64M --listen "unix:$rx"
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
qemu-io -f raw "nbd+unix:///disk0?socket=$rx" \
    -c "write -P 0x61 0 1M" -c "write -P 0x62 32M 64k" \
    -c "write -P 0x63 40M 1M" -c "write -z 40M 1M" >/dev/null
at=$(now)

# qemu-io: fail on a pattern mismatch or any failed command.
qio ()
{
    qemu-io "$@" >"$tmpdir/qio.log" 2>&1 || fail "qemu-io $*: $(cat "$tmpdir/qio.log")"
    ! grep -Eq 'verification failed|failed:|[Ee]rror' "$tmpdir/qio.log" ||
        fail "qemu-io $*: $(cat "$tmpdir/qio.log")"
}

start_export c "$at" "$tmpdir/ro.sock"
ro=$export_uri
echo "read-only export: $ro"
[[ $ro == "nbd+unix:///disk0?socket=$tmpdir/ro.sock" ]] || fail "URI $ro"

qemu-img info --output=json "$ro" >"$tmpdir/info.json"
grep -q '"virtual-size": 67108864' "$tmpdir/info.json" ||
    fail "qemu-img info: $(cat "$tmpdir/info.json")"

nbdinfo --list "$ro" >"$tmpdir/list"
grep -q 'export="disk0"' "$tmpdir/list" || fail "nbdinfo --list: $(cat "$tmpdir/list")"
grep -q 'is_read_only: true' "$tmpdir/list" || fail "nbdinfo --list: not read-only"

# Data where written, holes elsewhere (also where zeroes were written).
nbdinfo --map "$ro" | awk '{ print $1, $2, $4 }' >"$tmpdir/map"
cat "$tmpdir/map"
python3 - "$tmpdir/map" <<'PY' || fail "nbdinfo --map is not what was written"
import sys
M = 1 << 20
ext = [l.split() for l in open(sys.argv[1])]
ext = [(int(o), int(n), k) for o, n, k in ext]
assert sum(n for _, n, _ in ext) == 64 * M, ext
def kind(off):
    return next(k for o, n, k in ext if o <= off < o + n)
for off in (0, M - 1, 32 * M, 32 * M + 65535):
    assert kind(off) == "data", (off, ext)
for off in (M, 16 * M, 32 * M + 65536, 40 * M, 41 * M - 1, 64 * M - 1):
    assert kind(off).startswith("hole"), (off, ext)
PY

qio -r -f raw "$ro" -c "read -P 0x61 0 1M" -c "read -P 0 1M 31M" \
    -c "read -P 0x62 32M 64k" -c "read -P 0 40M 1M"

# --writable: writes land in a throw-away overlay.
start_export c "$at" "$tmpdir/rw.sock" --writable
rw=$export_uri
writable_pid=$export_pid
qio -f raw "$rw" -c "write -P 0x77 4096 8192" -c "write -P 0x78 1536 1024" \
    -c "write -z 32M 4096" -c "write -P 0x79 63M 1M"
qio -r -f raw "$rw" -c "read -P 0x61 0 1536" -c "read -P 0x78 1536 1024" \
    -c "read -P 0x61 2560 1536" -c "read -P 0x77 4096 8192" \
    -c "read -P 0x61 12288 1036288" -c "read -P 0 32M 4096" \
    -c "read -P 0x62 33558528 61440" -c "read -P 0x79 63M 1M"
qio -r -f raw "$ro" -c "read -P 0x61 0 1M" -c "read -P 0x62 32M 64k" \
    -c "read -P 0 63M 1M"

# Once the writable export is gone, the point is still what it was.
kill -TERM "$writable_pid"
reap "$writable_pid"
nbdcopy -- "$ro" "$tmpdir/ro.img"
export_to c "$at" "$tmpdir/again.img"
same "$tmpdir/again.img" "$tmpdir/ro.img" "the point after a writable export"

stop_cdp_serve
