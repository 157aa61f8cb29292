#!/usr/bin/env bash
# archive.sh: `cdp archive push` of a point and `cdp restore --archive`
# of it, next to `restic backup` / `restic restore` of the same disk as
# a raw file and `qemu-img convert` of a local qcow2 of it, in one run.
#
# The disk: SIZE (default 1 GiB) made by bench/archive-image (seeded):
# extents of 64 KiB-8 MiB of text-like data (about 40% of the bytes;
# zstd -1 keeps about 37% of it), random data (35%: compressed files,
# media) and zeros (25%: free space, a hole in the raw file).  It becomes
# a task's base point the way an operator gets one: a manual-mode task
# gets it through its receiver (nbdcopy), then `cdp fold` (point 1).
# Then PERCENT (default 5) of the disk is rewritten with random data in
# runs of 64 KiB-1 MiB at random 4 KiB aligned offsets (bench/nbd-bench
# rewrite --min 64k --max 1m, seeded), into the task and into a copy of
# the raw file, and `cdp fold` again (point 2).  `cdp serve` is stopped
# before measuring.
#
# Each repetition, into a new archive and a new repository:
#
#   push 1   cdp archive push --at POINT1 --archive DIR: seconds, and
#            the bytes of the archive's files after it;
#            restic backup of the raw file (restic from Debian, a local
#            repository of format 2, --compression auto): the same
#   push 2   the same for point 2 / the rewritten raw file: seconds and
#            bytes added; for cdp also the chunks the push uploaded
#            (its "N new") next to the chunks the rewrite changed (the
#            disk's chunks whose bytes differ between the two raw files)
#   restore  cdp restore --archive DIR NAME --at POINT1 --output F
#            (raw); restic restore of the first snapshot + sync FILE;
#            qemu-img convert -O raw of a qcow2 made from the raw file
#            (qemu-img convert -O qcow2, once) + sync FILE.  Each output
#            is compared with the raw file byte for byte.
#
# With -S the same pushes and restores (cdp and restic) run against a
# Ceph S3 gateway (tests/archive/ceph.sh: one node, memstore OSD,
# radosgw on 127.0.0.1), the bucket emptied after each side, and are
# reported beside the directory's; the objects are the same as in the
# directory, so only times are given.
#
# The chunk size: an archive's is the one its manifest (cdp-archive.json)
# names, written by its first push with the build's ARCHIVE_CHUNK_SIZE
# (4 MiB).  For each other size of -z (default 1m), the same pushes and
# restores run into an archive whose manifest the script writes first
# with that size: its cost in time and its dedup of the rewrite, in the
# same run.
#
# Each measurement also gives the CPU time (user + system) of the side's
# own processes: radosgw's and the OSD's are not in it.
#
# Caches are not dropped: the task's base points, the raw files, the
# archive and the repository are read as warm as they are.  Each side
# runs back to back with the others, in an order that rotates with the
# repetition; the table gives medians, and a ratio is the median of the
# ratios of the same repetition.  No timing assertion: the exit status
# only says whether it ran (and that every output matched).
set -euo pipefail
name=archive
. "$(dirname "$0")/functions.sh"

usage () {
  cat <<EOF
usage: $0 [-c CDP] [-n NBD_BENCH] [-g ARCHIVE_IMAGE] [-z SIZES] [-S] [-s SIZE_MIB] [-p PERCENT] [-r REPS] [-k] [DIR]
  -c  the cdp binary (default: the newest build*/cdp/cdp)
  -n  the nbd-bench binary (default: the newest build*/bench/nbd-bench)
  -g  the archive-image binary (default: the newest build*/bench/archive-image)
  -z  other chunk sizes to measure, comma-separated (default 1m; '' none)
  -S  also against a Ceph S3 gateway (tests/archive/ceph.sh)
  -s  disk size in MiB (default 1024)
  -p  percent of the disk rewritten for point 2 (default 5)
  -r  repetitions (default 3)
  -k  keep the scratch directory
  DIR where the scratch directory goes (default /var/tmp); needs about
      7 x SIZE free
Takes about a minute per repetition with the defaults (2 with -S), after a minute of setup.
EOF
}

size_mib=1024
pct=5
reps=3
keep=0
s3=0
archive_image=
sizes=1m
bench_opt () {
  case $1 in
    g) archive_image=$(readlink -f "$2") ;;
    z) sizes=$2 ;;
    S) s3=1 ;;
    *) return 1 ;;
  esac
}
bench_getopts c:n:g:z:Ss:p:r:kh "$@"
shift "$bench_nopt"
for t in nbdcopy qemu-nbd qemu-img restic jq bc python3 cmp; do
  requires "$t" "see README.md"
done
find_tools
[ -n "$archive_image" ] || archive_image=$(find_bin bench/archive-image)
declare -A chunk_of                 # tool -> chunk size in bytes
tools=(cdp)
for z in ${sizes//,/ }; do
  case $z in
    *[kK]) b=$(( ${z%?} << 10 )) ;;
    *[mM]) b=$(( ${z%?} << 20 )) ;;
    *) b=$z ;;
  esac
  if [ "$b" -lt 4096 ] || [ $(( b & (b - 1) )) != 0 ]; then
    echo "$name: -z: $z is no power of 2 of at least 4k" >&2
    exit 2
  fi
  tools+=("cdp-$z")
  chunk_of[cdp-$z]=$b
done
make_work "${1:-/var/tmp}"
need_gib $(( (size_mib * 7 >> 10) + 1 ))

export RESTIC_PASSWORD=cdp-bench
export RESTIC_CACHE_DIR=$work/restic-cache
rx=$work/rx.sock
uri="nbd+unix:///disk0?socket=$rx"
img1=$work/disk1.raw
img2=$work/disk2.raw
qcow=$work/disk1.qcow2

# ---- the task and its two points ----------------------------------------

"$archive_image" --seed 1 "${size_mib}M" "$img1" >"$work/image.txt"
cp --sparse=always "$img1" "$img2"
start_qemu_nbd "$work/w.sock" -f raw "$img2"
"$nbd_bench" rewrite --percent "$pct" --min 64k --max 1m --seed 1000 \
  "nbd+unix:///?socket=$work/w.sock" >"$work/rewrite.txt"
stop_pid "$qemu_pid"
qemu-img convert -f raw -O qcow2 "$img1" "$qcow"

"$cdp" task create a --size "${size_mib}M" --listen "unix:$rx" --bp-interval 7d >/dev/null
start_serve "$rx"
nbdcopy -- "$img1" "$uri"
wait_base a
t1=$("$cdp" fold a --json | jq -r '.disks[0].base_point')
"$nbd_bench" rewrite --percent "$pct" --min 64k --max 1m --seed 1000 "$uri" >/dev/null
"$nbd_bench" first-byte "$uri" >/dev/null       # the index holds it all
t2=$("$cdp" fold a --json | jq -r '.disks[0].base_point')
stop_serve
if [ "$t1" = null ] || [ "$t2" = null ] || [ "$t1" = "$t2" ]; then
  die "fold made no new base point (point 1 $t1, point 2 $t2)"
fi
cat "$img1" "$img2" "$qcow" "$CDP_STORE"/tasks/a/base/*.qcow2 >/dev/null
sync

# changed CHUNK_SIZE: the chunks of the disk whose bytes differ between
# the two raw files.
changed () {
  python3 - "$img1" "$img2" "$1" <<'PY'
import sys
a, b, n = open(sys.argv[1], 'rb'), open(sys.argv[2], 'rb'), int(sys.argv[3])
changed = 0
while True:
    x, y = a.read(n), b.read(n)
    if not x and not y:
        break
    changed += x != y
print(changed)
PY
}

# ---- measurements ----------------------------------------------------------

files_bytes () {
  find "$1" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'
}

# CPU seconds (user + system) of this shell's finished children.
# (times runs in this shell: in a command substitution it would count
# the subshell's children only.)
children_cpu () {
  times >"$work/times"
  awk 'END { s = 0
    for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); s += a[1] * 60 + a[2] }
    printf "%.3f", s }' "$work/times"
}

# run_to OUT VAR CMD...: like timed, CMD's stdout and stderr into OUT;
# the CPU time CMD took (its processes, not the servers it talks to)
# into cpu.
run_to () {
  local out=$1 t0 t1 c0
  children_cpu >"$work/cpu0"
  c0=$(cat "$work/cpu0")
  t0=$(now)
  "${@:3}" >"$out" 2>&1 || { cat "$out" >&2; die "failed: ${*:3}"; }
  t1=$(now)
  printf -v "$2" %s "$(echo "$t1 - $t0" | bc -l)"
  children_cpu >"$work/cpu1"
  cpu=$(echo "$(cat "$work/cpu1") - $c0" | bc -l)
}

# The line `cdp archive push` prints: "archived TASK at TIME: C chunks,
# N new (X MiB stored), Z zero".
push_new () { sed -n 's/.*archived .* chunks, \([0-9]*\) new.*/\1/p' "$1" | tail -n 1; }

same () {
  cmp -s "$img1" "$1" || die "$2: the restored image differs from the raw file"
}

# manifest TOOL LOCATION: an archive of the tool's chunk size, made the
# way the first push makes it (cdp-archive.json).
manifest () {
  local m=$work/manifest.json
  [ "$1" != cdp ] || return 0
  printf '{\n  "format": 1,\n  "chunk_size": %s,\n  "created": %s\n}\n' \
    "${chunk_of[$1]}" "$(date +%s%N)" >"$m"
  case $2 in
    s3://*)
      curl -sf --max-time 30 -T "$m" --aws-sigv4 "aws:amz:us-east-1:s3" \
        --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
        -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
        "$AWS_ENDPOINT_URL/${2#s3://}/cdp-archive.json" ||
        die "cannot put the manifest into $2" ;;
    *) mkdir -p "$2" && cp "$m" "$2/cdp-archive.json" ;;
  esac
}

# cdp_side WHERE TOOL LOCATION REP: push both points, restore point 1.
cdp_side () {
  local where=$1 tool=$2 bin=$cdp loc=$3 rep=$4 t b0 b1 out=$work/out.raw
  manifest "$tool" "$loc"
  run_to "$work/push.log" t "$bin" archive push a --at "$t1" --archive "$loc"
  rec "$where-push1" "$tool" "$rep" secs "$t"
  rec "$where-push1" "$tool" "$rep" cpu "$cpu"
  [ "$where" = s3 ] || { b0=$(files_bytes "$loc"); rec dir-push1 "$tool" "$rep" bytes "$b0"; }
  run_to "$work/push.log" t "$bin" archive push a --at "$t2" --archive "$loc"
  rec "$where-push2" "$tool" "$rep" secs "$t"
  rec "$where-push2" "$tool" "$rep" cpu "$cpu"
  rec "$where-push2" "$tool" "$rep" new "$(push_new "$work/push.log")"
  if [ "$where" = dir ]; then
    b1=$(files_bytes "$loc")
    rec dir-push2 "$tool" "$rep" bytes "$((b1 - b0))"
    [ -n "${chunk_of[$tool]:-}" ] ||
      chunk_of[$tool]=$(jq -r .chunk_size "$loc/cdp-archive.json")
  fi
  rm -f "$out"
  sync
  run_to "$work/restore.log" t "$bin" restore --archive "$loc" a --at "$t1" \
    --output "$out" --format raw
  rec "$where-restore" "$tool" "$rep" secs "$t"
  rec "$where-restore" "$tool" "$rep" cpu "$cpu"
  same "$out" "$tool restore from $where"
  rm -f "$out"
}

restic_snap () { jq -r 'select(.message_type == "summary") | .snapshot_id' "$1"; }

# restic_side WHERE REPO REP
restic_side () {
  local where=$1 rep=$3 t b0 b1 s1 out=$work/restic-out
  export RESTIC_REPOSITORY=$2
  restic init -q --repository-version 2 >/dev/null
  run_to "$work/restic.log" t restic backup --json -q --compression auto "$img1"
  s1=$(restic_snap "$work/restic.log")
  rec "$where-push1" restic "$rep" secs "$t"
  rec "$where-push1" restic "$rep" cpu "$cpu"
  [ "$where" = s3 ] || { b0=$(files_bytes "$2"); rec dir-push1 restic "$rep" bytes "$b0"; }
  run_to "$work/restic.log" t restic backup --json -q --compression auto "$img2"
  rec "$where-push2" restic "$rep" secs "$t"
  rec "$where-push2" restic "$rep" cpu "$cpu"
  if [ "$where" = dir ]; then
    b1=$(files_bytes "$2")
    rec dir-push2 restic "$rep" bytes "$((b1 - b0))"
  fi
  rm -rf "$out"
  sync
  run_to "$work/restic.log" t restore_restic "$s1" "$out"
  rec "$where-restore" restic "$rep" secs "$t"
  rec "$where-restore" restic "$rep" cpu "$cpu"
  same "$out$img1" "restic restore from $where"
  rm -rf "$out"
  unset RESTIC_REPOSITORY
}

restore_restic () {
  restic restore -q "$1" --target "$2"
  sync "$2$img1"
}

convert_side () {
  local rep=$1 t out=$work/out.raw
  rm -f "$out"
  sync
  run_to "$work/convert.log" t convert_qcow2 "$out"
  rec dir-restore qemu-img "$rep" secs "$t"
  rec dir-restore qemu-img "$rep" cpu "$cpu"
  same "$out" "qemu-img convert"
  rm -f "$out"
}

convert_qcow2 () {
  qemu-img convert -f qcow2 -O raw "$qcow" "$1"
  sync "$1"
}

dir_rep () {
  local rep=$1 cmds=() tool
  for tool in "${tools[@]}"; do
    cmds+=("cdp_side dir $tool $work/archive.$tool.$rep $rep")
  done
  cmds+=("restic_side dir $work/restic.$rep $rep" "convert_side $rep")
  rotate "$rep" "${cmds[@]}"
  rm -rf "$work"/archive.*."$rep" "$work/restic.$rep"
}

# The OSD keeps its objects in memory (2 GiB): each side's objects are
# removed once it is measured, right away (not by radosgw's deferred
# collection), and the bucket made again.
# shellcheck disable=SC2154  # ceph_dir: set by ceph_start
s3_purge () {
  radosgw-admin -c "$ceph_dir/ceph.conf" -n client.admin bucket rm \
    --bucket "$CEPH_BUCKET" --purge-objects --bypass-gc >>"$work/ceph.log" 2>&1 ||
    die "cannot empty the bucket $CEPH_BUCKET (see $work/ceph.log)"
  _ceph_s3 PUT "/$CEPH_BUCKET" >/dev/null || die "cannot make the bucket $CEPH_BUCKET again"
}

s3_rep () {
  local rep=$1 cmds=() tool
  for tool in "${tools[@]}"; do
    cmds+=("cdp_side s3 $tool s3://$CEPH_BUCKET/$tool $rep; s3_purge")
  done
  cmds+=("restic_side s3 s3:$AWS_ENDPOINT_URL/$CEPH_BUCKET/restic $rep; s3_purge")
  rotate "$rep" "${cmds[@]}"
}

if [ "$s3" = 1 ]; then
  ceph_sh=$bench_dir/../tests/archive/ceph.sh
  [ -f "$ceph_sh" ] || die "-S needs $ceph_sh"
  # shellcheck source=/dev/null
  . "$ceph_sh"
  on_exit ceph_stop
  ceph_start "$work/ceph" >"$work/ceph.log" 2>&1 ||
    { cat "$work/ceph.log" >&2; die "the Ceph S3 gateway did not start"; }
fi

# ---- the run -------------------------------------------------------------

for c in $(printf '%s\n' 4194304 "${chunk_of[@]}" | sort -un); do
  rec changed cdp 1 "chunks$c" "$(changed "$c")"
done

echo "# archive: a $size_mib MiB point and a $pct% rewrite of it, $reps repetitions"
machine
echo "restic:  $(restic version | cut -d' ' -f1-2)"
echo "disk:    $(cat "$work/image.txt") (bytes); rewrite: $(cat "$work/rewrite.txt")"
load "before: "
for rep in $(seq "$reps"); do
  echo "  rep $rep" >&2
  dir_rep "$rep"
  [ "$s3" = 0 ] || s3_rep "$rep"
done
load "after:  "

mib () { awk -v x="$1" 'BEGIN { printf "%.1f", x / 1048576 }'; }
f2 () { [ -n "$1" ] && printf %.2f "$1" || printf -- -; }
changed_at () {
  local c=${chunk_of[$1]:-4194304} n
  n=$(med changed cdp "chunks$c")
  [ -n "$n" ] || n=$(changed "$c")
  echo "$n"
}
label () {
  case $1 in
    cdp*) echo "cdp, $(( ${chunk_of[$1]:-0} >> 10 )) KiB chunks" ;;
    *) echo "$1" ;;
  esac
}

echo
echo "| where | step | side | seconds (min-max) | CPU s | MiB/s | cdp speed / its speed | MiB stored (push2: added) | cdp size / its size |"
echo "|---|---|---|--:|--:|--:|--:|--:|--:|"
wheres=(dir)
[ "$s3" = 0 ] || wheres+=(s3)
for where in "${wheres[@]}"; do
  for step in push1 push2 restore; do
    for side in "${tools[@]}" restic qemu-img; do
      s=$(med "$where-$step" "$side" secs)
      [ -n "$s" ] || continue
      r=$(pratio "$where-$step" "$side" cdp secs)
      b=$(med "$where-$step" "$side" bytes)
      rb=$(pratio "$where-$step" cdp "$side" bytes)
      printf "| %s | %s | %s | %.2f (%s) | %.2f | %.0f | %s | %s | %s |\n" "$where" "$step" \
        "$(label "$side")" "$s" "$(range "$where-$step" "$side" secs)" \
        "$(med "$where-$step" "$side" cpu)" \
        "$(awk -v m="$size_mib" -v s="$s" 'BEGIN { print m / s }')" "$(f2 "$r")" \
        "$([ -n "$b" ] && mib "$b" || echo -)" "$(f2 "$rb")"
    done
  done
done
echo
echo "point 2: chunks the rewrite changed vs chunks the push uploaded (median):"
for tool in "${tools[@]}"; do
  for where in "${wheres[@]}"; do
    echo "  $where $(label "$tool"): changed $(changed_at "$tool"), uploaded $(med "$where-push2" "$tool" new)"
  done
done

goal () { awk -v x="$1" -v g="$2" -v d="$3" 'BEGIN { print (d == "ge" ? x >= g : x <= g) ? "met" : "missed" }'; }
for where in "${wheres[@]}"; do
  echo
  echo "goals ($where, cdp with its build's chunk size):"
  for step in push1 push2; do
    x=$(pratio "$where-$step" restic cdp secs)
    echo "  $step at least as fast as restic: cdp speed/restic $(f2 "$x") ($(goal "$x" 1 ge))"
  done
  if [ "$where" = dir ]; then
    x=$(pratio dir-push1 cdp restic bytes)
    echo "  push1 no larger than restic: cdp/restic size $(printf %.3f "$x") ($(goal "$x" 1 le))"
  fi
  x=$(med "$where-push2" cdp new); c=$(changed_at cdp)
  echo "  push2 uploads no more chunks than the rewrite changed: $x of $c ($(goal "$x" "$c" le))"
  x=$(pratio "$where-restore" restic cdp secs)
  echo "  restore >= 1.0x restic restore: $(f2 "$x") ($(goal "$x" 1 ge))"
  if [ "$where" = dir ]; then
    x=$(pratio dir-restore qemu-img cdp secs)
    echo "  restore >= 0.8x qemu-img convert of a local qcow2: $(f2 "$x") ($(goal "$x" 0.8 ge))"
  fi
done
echo
echo "no goal: what push2 adds, cdp/restic:" \
  "$(for tool in "${tools[@]}"; do printf '%s %s; ' "$(label "$tool")" "$(f2 "$(pratio dir-push2 "$tool" restic bytes)")"; done)"
