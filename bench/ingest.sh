#!/usr/bin/env bash
# ingest.sh: nbdcopy of SIZE of random data into cdp's receiver, next to
# the same copy into qemu-nbd and into nbdkit's file plugin, in one run.
#
#   cdp       a manual-mode task of SIZE, `cdp serve`; the receiver
#             acknowledges each write once it is durable in the journal
#   qemu-nbd  -f raw --cache=none --aio=io_uring -e 8, a fallocated file
#   nbdkit    file plugin (page cache), a fallocated file
#
# Each side starts fresh in every repetition: a new task (so a journal
# whose segments are newly fallocated files) and new fallocated files
# for the peers.  The copy is `nbdcopy --flush SRC URI`: when it returns,
# every write is durable on every side (cdp: each write was durable when
# acknowledged; the peers: by the final flush).  For cdp the script also
# times how long after that the index holds every write, which is when
# `cdp export --at now` would see it: a read from the receiver waits for
# exactly that (cdp/daemon/receiver.c indexer_wait).  The source file is read
# once beforehand, so it comes from the page cache.
set -euo pipefail
name=ingest
. "$(dirname "$0")/functions.sh"

usage () {
  cat <<EOF
usage: $0 [-c CDP] [-n NBD_BENCH] [-s SIZE_MIB] [-r REPS] [-k] [DIR]
  -c  the cdp binary (default: the newest build*/cdp/cdp)
  -n  the nbd-bench binary (default: the newest build*/bench/nbd-bench)
  -s  MiB copied (default 1024)
  -r  repetitions, in rotating order; medians are shown (default 5)
  -k  keep the scratch directory
  DIR where the scratch directory goes (default /var/tmp); needs 3 x SIZE
Takes about 2 minutes with the defaults.
EOF
}

size_mib=1024
reps=5
keep=0
bench_getopts c:n:s:r:kh "$@"
shift "$bench_nopt"
for t in nbdcopy qemu-nbd nbdkit fallocate bc; do requires "$t" "see README.md"; done
find_tools
make_work "${1:-/var/tmp}"
need_gib $(( (size_mib * 3 >> 10) + 1 ))

src=$work/src.raw
copy () { nbdcopy --flush -- "$src" "$1"; }

run_cdp () {
  local rep=$1 sock=$work/rx.sock t fb
  export CDP_STORE=$work/store.$rep
  "$cdp" task create b --size "${size_mib}M" --listen "unix:$sock" \
    --bp-interval 7d >/dev/null
  start_serve "$sock"
  t=$(secs copy "nbd+unix:///disk0?socket=$sock")
  fb=$("$nbd_bench" first-byte "nbd+unix:///disk0?socket=$sock" |
       sed 's/^ms=\([0-9.]*\).*/\1/')
  stop_serve
  # serve's first base point, made during the copy (its first cycle)
  sed -n 's/.*base point at .* (\(.*\) of data)$/\1/p' "$work/serve.log" |
    tail -n 1 | tr -d ' ' >>"$work/folds"
  rm -rf "$CDP_STORE"
  rec copy cdp "$rep" secs "$t"
  rec copy cdp "$rep" indexed_secs "$(echo "$t + $fb / 1000" | bc -l)"
}

run_qemu () {
  local rep=$1 sock=$work/q.sock t
  fallocate -l "${size_mib}M" "$work/q.raw"
  start_qemu_nbd "$sock" -f raw --cache=none --aio=io_uring "$work/q.raw"
  t=$(secs copy "nbd+unix:///?socket=$sock")
  stop_pid "$qemu_pid"
  rm -f "$work/q.raw"
  rec copy qemu-nbd "$rep" secs "$t"
}

run_nbdkit () {
  local rep=$1 sock=$work/k.sock t
  fallocate -l "${size_mib}M" "$work/k.raw"
  start_nbdkit "$sock" file "$work/k.raw"
  t=$(secs copy "nbd+unix:///?socket=$sock")
  stop_pid "$nbdkit_pid"
  rm -f "$work/k.raw"
  rec copy nbdkit "$rep" secs "$t"
}

head -c "$((size_mib << 20))" /dev/urandom >"$src"
cat "$src" >/dev/null

echo "# ingest: nbdcopy --flush of $size_mib MiB of random data, $reps repetitions"
machine
load "before: "
for rep in $(seq "$reps"); do
  echo "  rep $rep" >&2
  rotate "$rep" "run_cdp $rep" "run_qemu $rep" "run_nbdkit $rep"
  sync
done
load "after:  "
echo "data in cdp serve's first base point, made while the copy ran (per repetition): $(paste -sd' ' "$work/folds")"

mibs () { echo "$size_mib / $1" | bc -l; }
echo
echo "| target | MiB/s | seconds (min-max) | cdp speed / its speed |"
echo "|---|--:|--:|--:|"
for tool in cdp qemu-nbd nbdkit; do
  s=$(med copy "$tool" secs)
  if [ "$tool" = cdp ]; then r=1; else r=$(pratio copy "$tool" cdp secs); fi
  printf "| %s | %.0f | %.2f (%s) | %.2f |\n" "$tool" "$(mibs "$s")" "$s" \
    "$(range copy "$tool" secs)" "$r"
done
s=$(med copy cdp indexed_secs)
printf "| cdp, until indexed | %.0f | %.2f (%s) | %.2f vs qemu-nbd |\n" \
  "$(mibs "$s")" "$s" "$(range copy cdp indexed_secs)" \
  "$(pratio copy qemu-nbd cdp secs indexed_secs)"
echo
echo "goal: receiver at least as fast as qemu-nbd: cdp/qemu-nbd = $(printf %.2f "$(pratio copy qemu-nbd cdp secs)")"
