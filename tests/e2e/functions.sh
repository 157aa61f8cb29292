# Helpers for cdp's end-to-end tests, sourced by each test (in the
# manner of nbdkit's tests/functions.sh).  Every test gets its own
# scratch directory, store and sockets; everything it starts is killed
# and the directory removed when it exits, however it exits.
#
#   requires TOOL...          fail (never skip) when a tool is missing
#   fail MSG                  fail the test with MSG
#   $tmpdir, $CDP_STORE       scratch directory; the store inside it
#   cdp ARGS...               run the cdp under test
#   expect_error CODE RE CMD  CMD must exit CODE with one stderr line ~ RE
#   wait_for SECS WHAT CMD... poll CMD until it succeeds, or fail
#   make_disk IMG SIZE        a qcow2 image
#   start_qemu IMG [--throttle-read BPS]
#                             paused QEMU, qcow2 disk node disk0 on
#                             virtio-blk device vd0; monitors $qmp_sock
#                             (the test's) and $cdp_qmp_sock (cdp's)
#   kill_qemu                 SIGKILL it
#   qmp CMD [JSON]            run a QMP command; prints the return value
#   hmp LINE                  run an HMP command; prints its reply
#   guest_io 'CMD'            qemu-io CMD through the guest device vd0,
#                             so that the I/O passes the mirror filter
#   source_image OUT          QEMU's own disk, flushed, as raw OUT
#   start_cdp_serve [NAME...] / stop_cdp_serve / kill_cdp_serve
#   serve_once LOG [NAME...]  a cdp serve that looks at the store once
#                             (what it serves and refuses is in LOG)
#   disk_state TASK [DISK]    the disk's state in 'cdp status --json'
#   wait_protected TASK [DISK] [SECS]
#   now                       the time as @EPOCH.NANOSECONDS
#   export_to TASK T OUT      the point of TASK at T copied to OUT by
#                             nbdcopy through 'cdp export --run'
#   start_export TASK T SOCK [ARGS]  a background export; sets $export_uri
#   ref_apply IN OUT 'CMD'...  OUT = IN with qemu-io CMDs applied (raw)
#   same FILE1 FILE2 WHAT      fail unless the files are byte-identical
#   reap PID                  wait for a process started here; its status

set -euo pipefail

: "${CDP:?CDP must name the cdp binary under test}"
e2e_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

fail ()
{
    echo "$0: FAIL: $*" >&2
    exit 1
}

requires ()
{
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 ||
            fail "required tool '$t' is not installed"
    done
}

requires python3 qemu-system-x86_64 qemu-img qemu-io nbdcopy timeout

# Short paths: unix socket names must stay under 108 bytes.
tmpdir=$(mktemp -d /tmp/cdp-e2e-XXXXXX)
export CDP_STORE=$tmpdir/store
qmp_sock=$tmpdir/qmp.sock
cdp_qmp_sock=$tmpdir/cdp-qmp.sock
qemu_log=$tmpdir/qemu.log
serve_log=$tmpdir/serve.log
qemu_pid=
serve_pid=
pids=()

cleanup ()
{
    local status=$? p i
    set +e
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do
        for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    # Background processes (serve, exports) report sanitizer errors only
    # in their logs.
    if [ "$status" -eq 0 ] &&
       grep -qsE 'ERROR: (Address|Leak)Sanitizer|runtime error:' \
           "$serve_log" "$tmpdir"/export-*.err; then
        echo "$0: FAIL: sanitizer report from a background cdp" >&2
        grep -hsE -A20 'ERROR: (Address|Leak)Sanitizer|runtime error:' \
            "$serve_log" "$tmpdir"/export-*.err >&2
        status=1
    fi
    if [ "$status" -ne 0 ]; then
        for f in "$serve_log" "$qemu_log"; do
            [ -s "$f" ] && { echo "--- $(basename "$f") (last 40 lines)"; tail -n 40 "$f"; }
        done >&2
    fi
    rm -rf "$tmpdir"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# reap PID: wait for a process this test started and forget it, so that
# the cleanup never signals a recycled pid.  Returns its exit status.
reap ()
{
    local rc=0 p keep=()
    wait "$1" 2>/dev/null || rc=$?
    for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    pids=("${keep[@]}")
    return "$rc"
}

cdp ()
{
    "$CDP" "$@"
}

# expect_error CODE REGEX CMD...: CMD exits with CODE and says why in
# exactly one line on stderr, matching REGEX.
expect_error ()
{
    local code=$1 re=$2 rc=0 err
    shift 2
    "$@" >"$tmpdir/expect.out" 2>"$tmpdir/expect.err" || rc=$?
    err=$(cat "$tmpdir/expect.err")
    [ "$rc" -eq "$code" ] ||
        fail "'$*' exited $rc, expected $code; stderr: $err"
    [ "$(wc -l <"$tmpdir/expect.err")" -eq 1 ] ||
        fail "'$*' should say what went wrong in one line, said: $err"
    [[ $err =~ $re ]] || fail "'$*': error '$err' does not match /$re/"
    echo "expected error (exit $rc): $err"
}

wait_for ()
{
    local secs=$1 what=$2 deadline
    shift 2
    deadline=$(( $(date +%s) + secs ))
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$deadline" ] ||
            fail "timed out after ${secs}s waiting for $what"
        sleep 0.1
    done
}

now ()
{
    echo "@$(date +%s.%N)"
}

# ---- QEMU -------------------------------------------------------------

make_disk ()
{
    qemu-img create -q -f qcow2 "$1" "$2"
}

start_qemu ()
{
    local img=$1 blockdev
    shift
    blockdev=(-blockdev "driver=qcow2,node-name=disk0,file.driver=file,file.filename=$img")
    if [ "${1-}" = --throttle-read ]; then
        # Reads of the image file (the mirror's initial copy) at BPS.
        blockdev=(-object "throttle-group,id=tg0,x-bps-read=$2"
                  -blockdev "driver=file,node-name=file0,filename=$img"
                  -blockdev "driver=throttle,node-name=thr0,throttle-group=tg0,file=file0"
                  -blockdev "driver=qcow2,node-name=disk0,file=thr0")
        shift 2
    fi
    rm -f "$qmp_sock" "$cdp_qmp_sock"
    qemu-system-x86_64 -M pc -S -nodefaults -display none \
        -qmp "unix:$qmp_sock,server=on,wait=off" \
        -qmp "unix:$cdp_qmp_sock,server=on,wait=off" \
        "${blockdev[@]}" \
        -device virtio-blk-pci,drive=disk0,id=vd0 \
        "$@" >>"$qemu_log" 2>&1 &
    qemu_pid=$!
    pids+=("$qemu_pid")
    wait_for 20 "QEMU's QMP socket" test -S "$qmp_sock"
    wait_for 20 "QEMU to answer QMP" qmp query-status
}

kill_qemu ()
{
    kill -KILL "$qemu_pid"
    reap "$qemu_pid" || :
}

qmp ()
{
    python3 "$e2e_dir/qmp.py" "$qmp_sock" "$@"
}

hmp ()
{
    python3 "$e2e_dir/qmp.py" "$qmp_sock" --hmp "$1"
}

# qemu-io prints its results on QEMU's stdout, not in the HMP reply:
# look there for failures.
guest_io ()
{
    local reply
    reply=$(hmp "qemu-io -d vd0/virtio-backend \"$1\"")
    [ -z "$reply" ] || fail "qemu-io '$1': $reply"
    if grep -q 'failed:' "$qemu_log"; then
        fail "qemu-io '$1': $(grep 'failed:' "$qemu_log" | tail -n 1)"
    fi
}

# The guest device's view flushed to the image, then read beside the
# running QEMU (-U: QEMU holds the image lock).
source_image ()
{
    guest_io flush
    qemu-img convert -U -f qcow2 -O raw "$(qemu_image)" "$1"
}

qemu_image ()
{
    qmp query-named-block-nodes | python3 -c '
import json, sys
for n in json.load(sys.stdin):
    if n.get("node-name") == "disk0":
        print(n["image"]["filename"])'
}

# ---- cdp serve ----------------------------------------------------------

start_cdp_serve ()
{
    local lines=0
    [ -f "$serve_log" ] && lines=$(wc -l <"$serve_log")
    "$CDP" serve "$@" >>"$serve_log" 2>&1 &
    serve_pid=$!
    pids+=("$serve_pid")
    wait_for 20 "cdp serve to start" \
        eval "tail -n +$((lines + 1)) '$serve_log' | grep -q 'cdp: serving'"
}

stop_cdp_serve ()
{
    local rc=0
    kill -TERM "$serve_pid"
    reap "$serve_pid" || rc=$?
    [ "$rc" -eq 0 ] || fail "cdp serve exited $rc on SIGTERM"
}

kill_cdp_serve ()
{
    kill -KILL "$serve_pid"
    reap "$serve_pid" || :
}

# serve_once LOG [NAME...]: cdp serve, its output in LOG, stopped
# (SIGTERM) once it has looked at every task (it says what it serves):
# the tasks it refused are named in LOG.  It must stop cleanly.
serve_once ()
{
    local log=$1 pid rc=0
    shift
    "$CDP" serve "$@" >"$log" 2>&1 &
    pid=$!
    pids+=("$pid")
    wait_for 30 "cdp serve to start" grep -q 'cdp: serving' "$log"
    kill -TERM "$pid"
    reap "$pid" || rc=$?
    [ "$rc" -eq 0 ] || fail "cdp serve exited $rc: $(tail -n 5 "$log")"
}

# disk_state TASK [DISK]: "protected", "copying", "not protected", ...
disk_state ()
{
    "$CDP" status "$1" --json | python3 -c '
import json, sys
disk = sys.argv[1]
for t in json.load(sys.stdin)["tasks"]:
    for d in t["disks"]:
        if d["name"] == disk:
            print(d["state"])' "${2-disk0}"
}

state_is ()
{
    [ "$(disk_state "$1" "$2")" = "$3" ]
}

wait_protected ()
{
    wait_for "${3-30}" "disk ${2-disk0} of task $1 to be protected" \
        state_is "$1" "${2-disk0}" protected
}

# ---- reading points -----------------------------------------------------

export_count=0

export_to ()
{
    local task=$1 at=$2 out=$3
    export_count=$((export_count + 1))
    rm -f "$out"
    out=$out "$CDP" export "$task" --at "$at" \
        --listen "unix:$tmpdir/export-$export_count.sock" \
        --run 'nbdcopy -- "$uri" "$out"'
}

# start_export TASK T SOCKET [ARGS...]: serve the point in the background
# until the test ends; $export_uri and $export_pid are its URI and pid.
start_export ()
{
    local task=$1 at=$2 sock=$3 out
    shift 3
    export_count=$((export_count + 1))
    out=$tmpdir/export-$export_count.out
    "$CDP" export "$task" --at "$at" --listen "unix:$sock" "$@" \
        >"$out" 2>"$tmpdir/export-$export_count.err" &
    export_pid=$!
    pids+=("$export_pid")
    wait_for 20 "cdp export to print its URI" test -s "$out"
    export_uri=$(head -n 1 "$out")
}

# ref_apply IN OUT CMD...: the reference image OUT is IN with the qemu-io
# commands applied in order.
ref_apply ()
{
    local in=$1 out=$2 args=() c
    shift 2
    for c in "$@"; do args+=(-c "$c"); done
    cp --sparse=always "$in" "$out"
    qemu-io -f raw "$out" "${args[@]}" >"$tmpdir/ref.log" ||
        fail "qemu-io on the reference: $(cat "$tmpdir/ref.log")"
    if grep -q 'failed' "$tmpdir/ref.log"; then
        fail "qemu-io on the reference: $(cat "$tmpdir/ref.log")"
    fi
}

same ()
{
    cmp "$1" "$2" >/dev/null ||
        fail "$3: $(cmp "$1" "$2" 2>&1 | sed -n 1p)"
}
