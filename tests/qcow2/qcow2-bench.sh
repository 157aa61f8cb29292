#!/bin/bash
# Read throughput of a 1 GiB image at the top of a chain of 16 overlays
# (each rewriting ~5% of the 64 KiB clusters at random) over a full base:
# cdp's qcow2 reader (4 threads, 1 MiB preads) against qemu-nbd -r of the
# same chain copied by nbdcopy to null:.  Page cache warm for both.
#
#   tests/qcow2/qcow2-bench.sh BUILD_DIR [WORK_DIR]
set -euo pipefail
build=$(realpath "$1")
work=${2:-$(mktemp -d /tmp/cdp-qcow2-bench-XXXXXX)}
size=$((1 << 30)); cluster=$((64 << 10)); overlays=16
clusters=$((size / cluster)); per=$((clusters * 5 / 100))
mkdir -p "$work"; cd "$work"

if [ ! -f bp-$overlays.qcow2 ]; then
    qemu-img create -q -f qcow2 bp-0.qcow2 $size
    qemu-io -c "write -P 0x5a 0 $size" bp-0.qcow2 > /dev/null
    for n in $(seq 1 $overlays); do
        qemu-img create -q -f qcow2 -b bp-$((n - 1)).qcow2 -F qcow2 bp-$n.qcow2
        awk -v n=$n -v per=$per -v clusters=$clusters -v cs=$cluster \
            'BEGIN { srand(n); for (i = 0; i < per; i++)
                       printf "write -P %d %d %d\n", n, int(rand() * clusters) * cs, cs }' \
            | qemu-io bp-$n.qcow2 > /dev/null
    done
fi
top=bp-$overlays.qcow2
cat bp-*.qcow2 > /dev/null                      # warm the page cache

echo "== cdp qcow2 reader: $build/tests/qcow2/qcow2-bench $top 4 1048576 5"
"$build/tests/qcow2/qcow2-bench" "$top" 4 1048576 5

sock=$work/nbd.sock
qemu-nbd -r -t -e 8 -k "$sock" -f qcow2 "$top" &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
for i in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
for opts in "" "--connections=4 --request-size=1048576"; do
    echo "== qemu-nbd -r -e 8 + nbdcopy $opts nbd+unix:///?socket=... null:"
    for pass in 1 2 3; do
        s=$(date +%s.%N)
        nbdcopy $opts "nbd+unix:///?socket=$sock" null:
        e=$(date +%s.%N)
        awk -v s=$s -v e=$e -v mib=$((size >> 20)) \
            'BEGIN { printf "pass: %d MiB in %.3f s: %.0f MiB/s\n", mib, e - s, mib / (e - s) }'
    done
done
