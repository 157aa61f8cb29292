#!/usr/bin/env bash
# fold.sh: how fast `cdp fold` turns journal into a base point, next to
# QEMU's tools writing the same data into a qcow2 image from a plain
# file, in one run.
#
# Each repetition takes a new manual-mode task of SIZE (default 1 GiB)
# under `cdp serve` and times two folds:
#
#   full     after SIZE of random data was copied in (nbdcopy): the
#            journal range is SIZE, every cluster changed
#   rewrite  after random writes of 4 KiB-256 KiB at 4 KiB aligned
#            offsets covering PERCENT (default 30) of the disk (bench/
#            nbd-bench rewrite): the journal range is the bytes written
#
# The first base point of a task is made by `cdp serve` itself at its
# first maintenance cycle; the script makes it happen on a disk holding
# one 512-byte write-zeroes, before the copy, so that both timed folds
# are overlays that copy their whole journal range.  `cdp fold` returns
# once the base point is durable and in the catalog.
#
# Peers, from a raw file holding the same data, each ending durable:
#   full     qemu-img convert -f raw -O qcow2 -o cluster_size=64k, then
#            sync of the file; and nbdcopy --flush into a qcow2 overlay
#            served by qemu-nbd --cache=none (what cdp's image writer
#            runs: recovery/history/imgwrite.c)
#   rewrite  nbdcopy --destination-is-zero --flush of a sparse file that
#            holds just the clusters the rewrite touched (the same
#            clusters, and bytes, the fold writes) into a new qcow2
#            overlay (on the peer's full image) served the same way
# Repetitions alternate which side goes first.
set -euo pipefail
name='fold'
. "$(dirname "$0")/functions.sh"

usage () {
  cat <<EOF
usage: $0 [-c CDP] [-n NBD_BENCH] [-s SIZE_MIB] [-p PERCENT] [-r REPS] [-k] [DIR]
  -c  the cdp binary (default: the newest build*/cdp/cdp)
  -n  the nbd-bench binary (default: the newest build*/bench/nbd-bench)
  -s  disk size in MiB (default 1024)
  -p  percent of the disk rewritten for the second fold (default 30)
  -r  repetitions (default 3)
  -k  keep the scratch directory
  DIR where the scratch directory goes (default /var/tmp); needs 6 x SIZE
Takes about 3 minutes with the defaults.
EOF
}

size_mib=1024
pct=30
reps=3
keep=0
bench_getopts c:n:s:p:r:kh "$@"
shift "$bench_nopt"
for t in nbdcopy qemu-nbd qemu-img jq bc; do requires "$t" "see README.md"; done
find_tools
make_work "${1:-/var/tmp}"
need_gib $(( (size_mib * 6 >> 10) + 1 ))

src=$work/src.raw
rx=$work/rx.sock
uri="nbd+unix:///disk0?socket=$rx"
head -c "$((size_mib << 20))" /dev/urandom >"$src"
cat "$src" >/dev/null

# The bytes of data the newest base point got, from serve's log line
# "base point at T (S of data)".
folded_data () {
  sed -n 's/.*base point at .* (\(.*\) of data)$/\1/p' "$work/serve.log" | tail -n 1
}

fold_cdp () {
  local kind=$1 rep=$2 t
  timed t "$cdp" fold f
  rec "$kind" cdp "$rep" secs "$t"
  rec "$kind" cdp "$rep" data "$(folded_data | tr -d ' ')"
}

# An overlay served by qemu-nbd as cdp's image writer serves it; durable
# at the end.
overlay_copy () {
  local img=$1 from=$2 s=$work/p.sock
  shift 2
  start_qemu_nbd "$s" -f qcow2 --cache=none --discard=unmap --detect-zeroes=unmap "$img"
  nbdcopy --flush "$@" -- "$from" "nbd+unix:///?socket=$s"
  stop_pid "$qemu_pid"
  sync "$img"
}

convert () {
  qemu-img convert -f raw -O qcow2 -o cluster_size=65536 "$src" "$work/conv.qcow2"
  sync "$work/conv.qcow2"
}

full_peers () {
  local rep=$1 t
  rm -f "$work/conv.qcow2" "$work/p0.qcow2" "$work/p1.qcow2"
  timed t convert
  rec full qemu-img-convert "$rep" secs "$t"
  rm -f "$work/conv.qcow2"
  qemu-img create -q -f qcow2 -o cluster_size=65536 "$work/p0.qcow2" "${size_mib}M"
  qemu-img create -q -f qcow2 -o cluster_size=65536 -b p0.qcow2 -F qcow2 \
    "$work/p1.qcow2" "${size_mib}M"
  timed t overlay_copy "$work/p1.qcow2" "$src"
  rec full nbdcopy-qemu-nbd "$rep" secs "$t"
}

# widen SPARSE SRC: make every 64 KiB cluster that SPARSE has data in
# whole, taking the rest of it from SRC.  SPARSE then holds the disk as
# it is after the rewrite, in exactly the clusters a fold writes.
widen () {
  python3 - "$1" "$2" <<'PY'
import os, sys
C, B = 65536, 4096
sp = os.open(sys.argv[1], os.O_RDWR)
src = os.open(sys.argv[2], os.O_RDONLY)
size = os.fstat(sp).st_size
data, off = set(), 0
while off < size:
    try:
        d = os.lseek(sp, off, os.SEEK_DATA)
    except OSError:
        break
    h = os.lseek(sp, d, os.SEEK_HOLE)
    data.update(range(d // B, (h + B - 1) // B))
    off = h
for c in sorted({b * B // C for b in data}):
    for b in range(c * C // B, (c + 1) * C // B):
        if b not in data:
            os.pwrite(sp, os.pread(src, B, b * B), b * B)
os.fsync(sp)
PY
}

rewrite_peer () {
  local rep=$1 t
  rm -f "$work/p2.qcow2"
  qemu-img create -q -f qcow2 -o cluster_size=65536 -b p1.qcow2 -F qcow2 \
    "$work/p2.qcow2" "${size_mib}M"
  timed t overlay_copy "$work/p2.qcow2" "$work/rw.raw" --destination-is-zero
  rec rewrite nbdcopy-qemu-nbd "$rep" secs "$t"
}

one_rep () {
  local rep=$1 out
  export CDP_STORE=$work/store.$rep
  "$cdp" task create f --size "${size_mib}M" --listen "unix:$rx" --bp-interval 7d >/dev/null
  start_serve "$rx"
  "$nbd_bench" write --zero --bs 512 --count 1 "$uri" >/dev/null
  wait_base f
  nbdcopy -- "$src" "$uri"
  "$nbd_bench" first-byte "$uri" >/dev/null       # the index holds it all
  rec full cdp "$rep" journal_mib "$size_mib"
  rotate "$rep" "fold_cdp full $rep" "full_peers $rep"

  # The rewrite, into the task and into a sparse file for the peer.
  out=$("$nbd_bench" rewrite --percent "$pct" --seed "$rep" "$uri")
  "$nbd_bench" first-byte "$uri" >/dev/null
  rm -f "$work/rw.raw"
  truncate -s "${size_mib}M" "$work/rw.raw"
  start_qemu_nbd "$work/w.sock" -f raw "$work/rw.raw"
  "$nbd_bench" rewrite --percent "$pct" --seed "$rep" "nbd+unix:///?socket=$work/w.sock" >/dev/null
  stop_pid "$qemu_pid"
  widen "$work/rw.raw" "$src"
  cat "$work/rw.raw" >/dev/null
  rec rewrite cdp "$rep" journal_mib "$(echo "$out" | sed -n 's/.*bytes=\([0-9]*\).*/\1/p' | awk '{ print $1 / 1048576 }')"
  rotate "$rep" "fold_cdp rewrite $rep" "rewrite_peer $rep"
  echo "  rep $rep: $(base_chain f) base points; $(grep -c 'base point at' "$work/serve.log") folds logged" >&2
  stop_serve
  rm -rf "$CDP_STORE" "$work"/p*.qcow2 "$work/rw.raw"
  : >"$work/serve.log"
}

echo "# fold: cdp fold of a $size_mib MiB disk's journal, $reps repetitions"
machine
load "before: "
for rep in $(seq "$reps"); do
  echo "  rep $rep" >&2
  one_rep "$rep"
done
load "after:  "

echo
echo "| fold | journal range MiB | side | seconds (min-max) | journal MiB/s | cdp speed / its speed |"
echo "|---|--:|---|--:|--:|--:|"
for kind in full rewrite; do
  j=$(med "$kind" cdp journal_mib)
  for t in cdp qemu-img-convert nbdcopy-qemu-nbd; do
    s=$(med "$kind" "$t" secs)
    [ -n "$s" ] || continue
    if [ "$t" = cdp ]; then r=1; else r=$(pratio "$kind" "$t" cdp secs); fi
    printf "| %s | %.0f | %s | %.2f (%s) | %.0f | %.2f |\n" "$kind" "$j" "$t" "$s" \
      "$(range "$kind" "$t" secs)" "$(echo "$j / $s" | bc -l)" "$r"
  done
done
echo
echo "data written into the base points (serve's log, last repetition):" \
     "$(awk '$1 == "full" && $2 == "cdp" && $4 == "data" { f = $5 }
             $1 == "rewrite" && $2 == "cdp" && $4 == "data" { r = $5 }
             END { print "full " f ", rewrite " r }' "$raw")"
