#!/usr/bin/env bash
# The receiver takes every request up to the largest it advertises
# (NBD_INFO_BLOCK_SIZE), whatever the journal's segment size: on tasks
# with segments of 1, 4, 8 and 32 MiB, writes of 1 byte up to exactly the
# advertised maximum, at unaligned offsets, and a 32 MiB write (which
# QEMU splits at that maximum) all succeed, and each point reads back
# exactly what was written by then.
source "$(dirname "$0")/functions.sh"
requires nbdinfo qemu-io truncate cmp python3

M=$((1 << 20))
size=48M

# max_block URI: the maximum block size the server advertises.
max_block ()
{
    nbdinfo --json "$1" | python3 -c '
import json, sys
print(json.load(sys.stdin)["exports"][0]["block_size_maximum"])'
}

# write_ok URI CMD...: qemu-io CMDs on the receiver, none may fail.
write_ok ()
{
    local uri=$1 args=() c
    shift
    for c in "$@"; do args+=(-c "$c"); done
    qemu-io -f raw "$uri" "${args[@]}" >"$tmpdir/qio.log" 2>&1 ||
        fail "qemu-io $*: $(cat "$tmpdir/qio.log")"
    if grep -q 'failed' "$tmpdir/qio.log"; then
        fail "qemu-io $*: $(grep failed "$tmpdir/qio.log" | sed -n 1p)"
    fi
}

segs=(1 4 8 32)
for s in "${segs[@]}"; do
    cdp task create "s$s" --size "$size" --listen "unix:$tmpdir/rx$s.sock" \
        --segment-size "${s}M"
done
start_cdp_serve
for s in "${segs[@]}"; do
    wait_for 20 "the receiver of task s$s" test -S "$tmpdir/rx$s.sock"
done

empty=$tmpdir/empty.img
truncate -s "$size" "$empty"
for s in "${segs[@]}"; do
    uri="nbd+unix:///disk0?socket=$tmpdir/rx$s.sock"
    max=$(max_block "$uri")
    echo "segments of ${s} MiB: the receiver advertises requests up to $max bytes"
    [ "$max" -ge 4096 ] && [ "$max" -le $((32 * M)) ] ||
        fail "task s$s advertises a maximum request of $max bytes"
    [ $((max & (max - 1))) -eq 0 ] ||
        fail "task s$s: maximum request $max is not a power of two"

    # Each size up to the maximum, each at an unaligned offset of its own.
    ops=("write -P 0x01 1 1" "write -P 0x02 4097 511" "write -P 0x03 12289 4096"
         "write -P 0x04 $((M + 3)) 65537" "write -P 0x05 $((2 * M + 5)) $((max - 1))"
         "write -P 0x06 $((6 * M + 7)) $max")
    ref=$empty
    for i in "${!ops[@]}"; do
        write_ok "$uri" "${ops[$i]}"
        t=$(now)
        ref_apply "$ref" "$tmpdir/ref$i.img" "${ops[$i]}"
        ref=$tmpdir/ref$i.img
        # Every point for the 8 MiB segments; the last for the others.
        if [ "$s" = 8 ] || [ "$i" = $((${#ops[@]} - 1)) ]; then
            export_to "s$s" "$t" "$tmpdir/point.img"
            same "$tmpdir/point.img" "$ref" "task s$s, point after '${ops[$i]}'"
        fi
    done

    # What clients assume without the option: 32 MiB in one go.
    write_ok "$uri" "write -P 0x07 $((12 * M + 9)) 32M"
    t=$(now)
    ref_apply "$ref" "$tmpdir/ref-big.img" "write -P 0x07 $((12 * M + 9)) 32M"
    export_to "s$s" "$t" "$tmpdir/point.img"
    same "$tmpdir/point.img" "$tmpdir/ref-big.img" "task s$s, point after a 32 MiB write"
    rm -f "$tmpdir"/ref*.img "$tmpdir/point.img"
done

stop_cdp_serve
