#!/usr/bin/env bash
# restore-vs-convert.sh: `cdp restore` of a point next to `qemu-img
# convert` of the same data, to raw and to qcow2, in one run.
#
# A manual-mode task of SIZE (default 1 GiB) gets SIZE of random data
# through its receiver (nbdcopy), then random writes of 4 KiB-256 KiB at
# 4 KiB-aligned offsets until REWRITE percent (default 30) of the disk
# was rewritten.  The point after that is restored to raw and to qcow2;
# a raw file with the same contents is converted by qemu-img to both.
# Every output is checked against that file.  Times are wall clock,
# the median of REPS runs (default 3), each after a `sync`; cdp restore
# ends with its image fsynced, so qemu-img convert is also timed
# followed by `sync FILE`.  Caches are not dropped: each side reads its
# input (journal and base point, or the raw file) as warm as it is.
# The first copy is folded into a base point (`cdp fold`), so the point
# is that base point (a qcow2 file) plus the rewrite in the journal.
#
# No timing assertion here: the exit status only says whether it ran.
set -euo pipefail

usage () {
  cat <<EOF
usage: $0 [-c CDP] [-s SIZE_MIB] [-p REWRITE_PERCENT] [-r REPS] [DIR]
  -c  the cdp binary (default: build/cdp/cdp)
  -s  disk size in MiB (default 1024)
  -p  percent of the disk rewritten after the first copy (default 30)
  -r  runs of each measurement; the median is shown (default 3)
  DIR scratch directory (default /var/tmp); needs about 6 x SIZE free
EOF
}

here=$(cd "$(dirname "$0")/.." && pwd)
cdp=$here/build/cdp/cdp
size_mib=1024
pct=30
reps=3
while getopts c:s:p:r:h opt; do
  case $opt in
    c) cdp=$(realpath "$OPTARG") ;;
    s) size_mib=$OPTARG ;;
    p) pct=$OPTARG ;;
    r) reps=$OPTARG ;;
    *) usage; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
base=${1:-/var/tmp}
for t in qemu-img nbdcopy python3 "$cdp"; do
  command -v "$t" >/dev/null || { echo "$0: $t not found" >&2; exit 1; }
done

dir=$(mktemp -d "$base/cdp-restore-bench-XXXXXX")
export CDP_STORE=$dir/store
serve_pid=
cleanup () {
  [ -n "$serve_pid" ] && { kill -TERM "$serve_pid"; wait "$serve_pid" || :; }
  rm -rf "$dir"
}
trap cleanup EXIT

rx=$dir/rx.sock
uri="nbd+unix:///disk0?socket=$rx"
"$cdp" task create b --size "${size_mib}M" --listen "unix:$rx" \
  --bp-interval 7d >/dev/null
"$cdp" serve >"$dir/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 100); do [ -S "$rx" ] && break; sleep 0.1; done

ref=$dir/ref.raw
head -c "$((size_mib << 20))" /dev/urandom >"$ref"
nbdcopy -- "$ref" "$uri"
"$cdp" fold b >/dev/null          # the first copy becomes a base point

# The rewrite: a sparse file holding only the rewritten extents, copied
# with --destination-is-zero so that nbdcopy writes just those; the
# same extents land in the reference.
python3 - "$ref" "$dir/rewrite.raw" "$size_mib" "$pct" <<'PY'
import os, random, sys
ref, rw, size, pct = sys.argv[1], sys.argv[2], int(sys.argv[3]) << 20, int(sys.argv[4])
random.seed(1)
covered = bytearray(size // 4096)
goal, done = len(covered) * pct // 100, 0
with open(ref, "r+b") as r, open(rw, "wb") as w:
    w.truncate(size)
    while done < goal:
        n = random.randint(1, 64)
        off = random.randrange(0, len(covered) - n)
        data = os.urandom(n * 4096)
        for f in (r, w):
            f.seek(off * 4096)
            f.write(data)
        done += n - sum(covered[off:off + n])
        covered[off:off + n] = b"\1" * n
PY
nbdcopy --destination-is-zero -- "$dir/rewrite.raw" "$uri"
at=@$(date +%s.%N)
rm -f "$dir/rewrite.raw"
sync

# median_secs CMD...: the median wall time of $reps runs of CMD.
median_secs () {
  local i t0 t1 times=()
  for i in $(seq "$reps"); do
    sync
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s.%N)
    times+=("$(echo "$t1 - $t0" | bc -l)")
  done
  printf "%s\n" "${times[@]}" | sort -g | sed -n "$(( (reps + 1) / 2 ))p"
}

row () {
  printf "%-36s %7.2f s  %7.0f MiB/s\n" "$1" "$2" "$(echo "$size_mib / $2" | bc -l)"
}

restore () {
  rm -f "$dir/cdp.$1"
  "$cdp" restore b --at "$at" --output "$dir/cdp.$1" --format "$1"
}

convert () {
  rm -f "$dir/conv.$1"
  qemu-img convert -f raw -O "$1" "$ref" "$dir/conv.$1"
}

convert_sync () {
  convert "$1" && sync "$dir/conv.$1"
}

echo "restore of a ${size_mib} MiB point (${pct}% rewritten in the journal), median of $reps runs"
echo "host: $(nproc) CPUs, $(qemu-img --version | head -n 1), $(df -T "$dir" | awk 'NR == 2 { print $2 }') on $(df "$dir" | awk 'NR == 2 { print $1 }')"
echo "store: $(grep -o 'base point at.*' "$dir/serve.log" | tail -n 1); journal $(du -sh "$CDP_STORE/tasks/b/journal" | cut -f1)"
for fmt in raw qcow2; do
  row "cdp restore -> $fmt" "$(median_secs restore "$fmt")"
  row "qemu-img convert -> $fmt" "$(median_secs convert "$fmt")"
  row "qemu-img convert -> $fmt + sync" "$(median_secs convert_sync "$fmt")"
  qemu-img compare -q -f raw -F "$fmt" "$ref" "$dir/cdp.$fmt" ||
    { echo "$0: cdp restore -> $fmt differs from the reference" >&2; exit 1; }
  qemu-img compare -q -f raw -F "$fmt" "$ref" "$dir/conv.$fmt" ||
    { echo "$0: qemu-img convert -> $fmt differs from the reference" >&2; exit 1; }
  rm -f "$dir/cdp.$fmt" "$dir/conv.$fmt"
done
