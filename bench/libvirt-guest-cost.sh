#!/usr/bin/env bash
# libvirt-guest-cost.sh [-c CDP] [-n WRITES] [-r REPS] [-m CACHE]: what protection
# costs the guest.  A libvirt domain (TCG, paused CPU) writes through its
# virtio-blk device with HMP qemu-io, as a guest would (the I/O passes the
# mirror filter), first unprotected, then protected by cdp (libvirt mode:
# a synchronous-writes block copy, every write journaled durably before
# it completes).  Measured, each in REPS alternating rounds:
#   - QD1 4 KiB write latency: WRITES writes, one at a time, over a
#     64 MiB region written before (no qcow2 allocation in the timing);
#     qemu-io's own timing of each write, median and p99
#   - sequential throughput: 64 MiB in 1 MiB writes, one at a time
# CACHE is the disk's libvirt cache mode (default: libvirt's, writeback,
# where an unprotected write completes in the host's page cache; with
# directsync it completes only once on the device, as cdp's do).
# Prints a table and the ratios protected/unprotected.  The timing is
# qemu-io's (in QEMU's log), so virsh's round trips are not counted.
# No assertion: the exit status says only whether it ran.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cdp=$root/build/cdp/cdp writes=400 reps=3 cache=
while getopts c:n:r:m: o; do
    case $o in
    c) cdp=$OPTARG ;; n) writes=$OPTARG ;; r) reps=$OPTARG ;; m) cache=$OPTARG ;;
    *) echo "usage: $0 [-c CDP] [-n WRITES] [-r REPS] [-m CACHE]" >&2; exit 2 ;;
    esac
done
"$root/scripts/start-libvirtd"
export LIBVIRT_DEFAULT_URI=qemu:///system
work=$(mktemp -d /var/tmp/cdp-bench-guest.XXXXXX)
chmod 0711 "$work"
export CDP_STORE=$work/store
dom=cdp-bench-${work##*.}
log=/var/log/libvirt/qemu/$dom.log
serve_pid=
cleanup () {
    [ -n "$serve_pid" ] && { kill "$serve_pid"; wait "$serve_pid" || true; }
    virsh destroy "$dom" >/dev/null 2>&1 || true
    virsh undefine "$dom" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

"$root/scripts/make-vm" "$work" "$dom" --blank 256M >/dev/null
[ -z "$cache" ] ||
    sed -i "s|<driver name='qemu' type='qcow2'/>|<driver name='qemu' type='qcow2' cache='$cache'/>|" "$work/$dom.xml"
virsh define "$work/$dom.xml" >/dev/null
virsh start --paused "$dom" >/dev/null

# run_io CMD...: qemu-io commands through the guest device, in one virsh
# session; prints qemu-io's ops/sec of each, from QEMU's log.
run_io () {
    local before c
    before=$(wc -l <"$log")
    for c in "$@"; do
        printf 'qemu-monitor-command %s --hmp %q\n' "$dom" \
            "qemu-io -d virtio-disk0/virtio-backend \"$c\""
    done | virsh >/dev/null
    tail -n +"$((before + 1))" "$log" |
        sed -n 's/.*ops; [0-9:.]* sec ([^)]* and \([0-9.]*\) ops\/sec)/\1/p'
}

latency_us () {   # median and p99 of 1e6/ops_per_sec
    awk '{ print 1e6 / $1 }' | sort -g |
        awk '{ v[NR] = $1 } END { printf "%.1f %.1f\n", v[int((NR + 1) / 2)], v[int(NR * 0.99 + 0.5)] }'
}

qd1 () {
    local cmds=() i
    for i in $(seq 0 $((writes - 1))); do
        cmds+=("write -P $((i % 250 + 1)) $(( (i * 37 % 16384) * 4096 )) 4k")
    done
    run_io "${cmds[@]}" | latency_us
}

seqmb () {       # MiB/s: 64 MiB in 1 MiB writes
    local cmds=() i
    for i in $(seq 0 63); do cmds+=("write -P 7 $((i << 20)) 1M"); done
    run_io "${cmds[@]}" | awk '{ t += 1 / $1 } END { printf "%.1f\n", 64 / t }'
}

run_io "write -P 1 0 64M" >/dev/null   # allocate the region once
"$cdp" task create bench --domain "$dom" >/dev/null
results=()
for rep in $(seq "$reps"); do
    read -r u50 u99 < <(qd1)
    useq=$(seqmb)
    "$cdp" serve 2>>"$work/serve.log" &
    serve_pid=$!
    # Protected, and the first base point (folded right after READY)
    # made: measure the steady state, not the fold.
    for _ in $(seq 300); do
        "$cdp" status bench --json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)["tasks"][0]["disks"][0]
sys.exit(0 if d["state"] == "protected" and d.get("base_point") else 1)' && break
        sleep 0.2
    done
    sleep 2
    read -r p50 p99 < <(qd1)
    pseq=$(seqmb)
    kill "$serve_pid"; wait "$serve_pid" || true; serve_pid=
    results+=("$rep $u50 $p50 $u99 $p99 $useq $pseq")
done

printf '%-4s %21s %21s %21s\n' rep "QD1 4k median (us)" "QD1 4k p99 (us)" "seq 1M (MiB/s)"
printf '%-4s %10s %10s %10s %10s %10s %10s\n' "" plain cdp plain cdp plain cdp
for r in "${results[@]}"; do
    set -- $r
    printf '%-4s %10s %10s %10s %10s %10s %10s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7"
done
printf '%s\n' "${results[@]}" | awk '
    { lat[NR] = $3 / $2; thr[NR] = $7 / $6 }
    END {
        n = asort(lat); asort(thr)
        printf "ratio protected/plain (median of %d rounds): QD1 latency %.2fx, sequential throughput %.2fx\n",
               n, lat[int((n + 1) / 2)], thr[int((n + 1) / 2)]
    }'
echo "machine: $(nproc) CPUs, $(uname -r); QEMU $(qemu-system-x86_64 --version | head -n 1 | awk '{ print $4 }') under libvirt $(virsh --version), TCG"
echo "store and VM disk: $(df -T "$work" | awk 'NR == 2 { print $2 " on " $1 }'), VM disk cache mode: ${cache:-libvirt default}"
