#!/usr/bin/env bash
# verify.sh: `cdp verify` of a whole task, in bytes of stored data
# checked per second, next to the disk's own read speed.
#
# A manual-mode task of SIZE (default 2048 MiB) gets SIZE of random data
# through its receiver (nbdcopy), folded into a base point (`cdp fold`),
# then random writes of 4 KiB-256 KiB (bench/nbd-bench rewrite, seeded)
# over PERCENT (default 50) of the disk that stay in the journal.  `cdp
# serve` is stopped, and `cdp verify` reads everything: every journal
# record (CRC32C), the index, and every base point (qemu-img check, and
# the CRC32C of every data cluster).  Bytes checked = journal bytes +
# base point data bytes, from `cdp verify --json`.
#
#   warm   the store's files in the page cache (read once before)
#   cold   the store's files dropped from the page cache first (dd
#          iflag=nocache on each file: only this store's pages)
#   disk   dd iflag=direct bs=4M of the same files: the disk's read speed
#
# Repetitions rotate the order; medians.  No timing assertion here.
set -euo pipefail
name=verify
. "$(dirname "$0")/functions.sh"

usage () {
  cat <<EOF2
usage: $0 [-c CDP] [-n NBD_BENCH] [-s SIZE_MIB] [-p PERCENT] [-r REPS] [-k] [DIR]
  -c  the cdp binary (default: the newest build*/cdp/cdp)
  -n  the nbd-bench binary (default: the newest build*/bench/nbd-bench)
  -s  disk size in MiB (default 2048)
  -p  percent of the disk rewritten into the journal (default 50)
  -r  repetitions (default 3)
  -k  keep the scratch directory
  DIR where the scratch directory goes (default /var/tmp); needs 3 x SIZE
EOF2
}

size_mib=2048
pct=50
reps=3
keep=0
bench_getopts c:n:s:p:r:kh "$@"
shift "$bench_nopt"
for t in nbdcopy jq bc dd; do requires "$t" "see README.md"; done
find_tools
make_work "${1:-/var/tmp}"
need_gib $(( (size_mib * 3 >> 10) + 1 ))

rx=$work/rx.sock
uri="nbd+unix:///disk0?socket=$rx"
"$cdp" task create v --size "${size_mib}M" --listen "unix:$rx" --bp-interval 7d >/dev/null
start_serve "$rx"
head -c "$((size_mib << 20))" /dev/urandom | nbdcopy -- - "$uri"
"$cdp" fold v >/dev/null
"$nbd_bench" rewrite --percent "$pct" --seed 3 "$uri" >/dev/null
stop_serve
files () { find "$CDP_STORE/tasks/v/journal" "$CDP_STORE/tasks/v/base" -type f -name '*.cdpj' -o -type f -name '*.qcow2' -o -type f -name '*.sums'; }
drop () { local f; for f in $(files); do dd if="$f" iflag=nocache count=0 status=none; done; }

verify_once () {
  "$cdp" verify v --json >"$work/v.json" || die "verify found damage: $(cat "$work/v.json")"
}

one () {
  local t
  case $1 in
    warm) verify_once; timed t verify_once ;;
    cold) drop; timed t verify_once ;;
    disk) drop; timed t eval 'for f in $(files); do dd if="$f" of=/dev/null bs=4M iflag=direct status=none; done' ;;
  esac
  rec all "$1" "$2" secs "$t"
}

verify_once
bytes=$(jq '.checked.journal_bytes + .checked.base_checked_bytes' "$work/v.json")
stored=$(du -cb $(files) | tail -n 1 | cut -f1)
echo "# verify: a $size_mib MiB disk in a base point + $pct% rewritten in the journal, $reps repetitions"
machine
echo "checked: $(jq -c .checked "$work/v.json")"
echo "stored files: $stored bytes; bytes checked: $bytes"
load "before: "
for rep in $(seq "$reps"); do
  echo "  rep $rep" >&2
  rotate "$rep" "one warm $rep" "one cold $rep" "one disk $rep"
done
load "after:  "
echo
echo "| run | seconds (min-max) | GiB/s of data checked (disk: of files read) |"
echo "|---|--:|--:|"
for side in warm cold disk; do
  s=$(med all "$side" secs)
  b=$bytes
  [ "$side" = disk ] && b=$stored
  printf "| %s | %.2f (%s) | %.2f |\n" "$side" "$s" "$(range all "$side" secs)" \
    "$(echo "$b / $s / 1073741824" | bc -l)"
done
