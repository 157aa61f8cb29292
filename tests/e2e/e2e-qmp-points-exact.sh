#!/usr/bin/env bash
# QMP mode: writes injected through the guest device at known instants
# (overlapping, 512-byte aligned but not 4 KiB aligned, crossing index
# chunks, write-zeroes, a discard) are each exactly in the point at the
# instant after them and not before; the point "now" is QEMU's own disk.
source "$(dirname "$0")/functions.sh"
requires nbdcopy cmp

disk=$tmpdir/disk.qcow2
make_disk "$disk" 16M
# Data for the initial copy to carry.
qemu-io -f qcow2 "$disk" -c "write -P 0x11 0 1M" -c "write -P 0x12 5M 256k" >/dev/null
qemu-img convert -f qcow2 -O raw "$disk" "$tmpdir/ref0.img"

start_qemu "$disk"
cdp task create vm --qmp "$cdp_qmp_sock" --node disk0
start_cdp_serve
wait_protected vm

writes=(
    "write -P 0x41 4096 8192"
    "write -P 0x42 6656 1536"          # overlaps the last, 512-aligned
    "write -P 0x43 65024 1024"         # crosses the first 64 KiB chunk
    "write -z 512 7168"                # zeroes over data, unaligned
    "discard 0 65536"                  # QEMU 7.2's mirror drops it
    "write -P 0x44 1048064 1024"       # across the end of the old data
    "write -P 0x45 16776704 512"       # the last sector
    "write -z 5242880 131072"          # zeroes a part of the old data
    "write -P 0x46 2097664 300032"     # many chunks, odd sectors
    "write -P 0x47 2162688 4608"       # inside the last one
)

t[0]=$(now)
for i in "${!writes[@]}"; do
    guest_io "${writes[$i]}"
    t[$((i + 1))]=$(now)
done

# Reference images: the same writes applied to a plain copy.  A discard
# changes nothing here (the mirror never passes it on).
for i in "${!writes[@]}"; do
    cmd=${writes[$i]}
    [[ $cmd == discard* ]] && cmd="flush"
    ref_apply "$tmpdir/ref$i.img" "$tmpdir/ref$((i + 1)).img" "$cmd"
done

for i in "${!t[@]}"; do
    export_to vm "${t[$i]}" "$tmpdir/point.img"
    same "$tmpdir/point.img" "$tmpdir/ref$i.img" \
        "point at ${t[$i]} (after ${i} writes)"
    echo "point $i at ${t[$i]}: exact"
done

source_image "$tmpdir/source.img"
same "$tmpdir/source.img" "$tmpdir/ref${#writes[@]}.img" \
    "QEMU's disk against the reference (test model)"
export_to vm now "$tmpdir/now.img"
same "$tmpdir/now.img" "$tmpdir/source.img" "point 'now' against QEMU's disk"

stop_cdp_serve
