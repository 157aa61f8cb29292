# Helpers of the RPO tests, sourced after tests/e2e/functions.sh: plwrite
# writing into a manual-mode task and what it acknowledged, every point
# offered checked by check.py, the serve's heartbeat, plfs and its power
# cut, and cdp serve started as the host's next boot would start it.
#
#   start_writer, acked, points   see plwrite-functions.sh
#   check_points TASK LOG...   every point offered and "now" exported and
#                              checked against LOGs by check.py
#   status_of TASK KEY...      members of 'cdp status --json'
#   heartbeat TASK KEY...      members of the serve's run/state.json
#   mount_plfs [ARGS]          plfs on $mnt ($state), store inside
#   power_cut                  plfs drops what is not durable; every
#                              process started here dies; unmounted
#   start_serve_boot N [TASK...]  cdp serve as on boot N of the host
#   journal_records DIR        "SEQ TYPE TIME_NS" of every journal record
#   last_gap TASK              "NS REASON" of disk0's last gap
#   truncate_log C IN OUT      plwrite's log as if nothing came after C
: "${PLWRITE:?PLWRITE must name plwrite}" "${PLCHECK:?PLCHECK must name check.py}"
source "$(dirname "${BASH_SOURCE[0]}")/plfs-functions.sh"
source "$(dirname "${BASH_SOURCE[0]}")/plwrite-functions.sh"

# check_points TASK LOG...: each point offered holds exactly what the
# LOGs say was written up to it, "now" every write they say was
# acknowledged.  Sets $npoints.
check_points ()
{
    local task=$1 t ns kind locked args=()
    shift
    npoints=0
    points "$task" >"$tmpdir/points" ||
        fail "cdp points $task: cannot list its points"
    while read -r t ns kind locked; do
        export_to "$task" "@$t" "$tmpdir/pt-$npoints.img" ||
            fail "offered $kind point @$t cannot be exported"
        args+=("$ns" "$tmpdir/pt-$npoints.img")
        npoints=$((npoints + 1))
    done <"$tmpdir/points"
    export_to "$task" now "$tmpdir/now.img" ||
        fail "the point 'now' cannot be exported"
    python3 "$PLCHECK" "$blocks" "$@" -- "${args[@]}" newest "$tmpdir/now.img" ||
        fail "a point is not what was written up to it"
    rm -f "$tmpdir"/pt-*.img "$tmpdir/now.img"
}

# status_of TASK KEY...: members of the task in 'cdp status --json', one
# line; disk0's for disk0.KEY.
status_of ()
{
    cdp status "$1" --json | python3 -c '
import json, sys
t = json.load(sys.stdin)["tasks"][0]
v = []
for k in sys.argv[1:]:
    o = t["disks"][0] if k.startswith("disk0.") else t
    v.append(str(o[k.split(".", 1)[-1] if k.startswith("disk0.") else k]))
print(" ".join(v))' "${@:2}"
}

# heartbeat TASK KEY...: members of the task's run/state.json, read once,
# one line; durability_lag_ns is disk0's.
heartbeat ()
{
    python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))
print(" ".join(str(o["disks"][0][k] if k == "durability_lag_ns" else o[k])
               for k in sys.argv[2:]))' "$CDP_STORE/tasks/$1/run/state.json" "${@:2}"
}

# ---- another boot -------------------------------------------------------

# start_serve_boot N [TASK...]: cdp serve in a mount namespace of its own where
# /proc/sys/kernel/random/boot_id, the kernel's boot id that the journal
# writes into its "buffered" marker and compares at open, reads as the
# id of boot N.  Nothing in the store is touched: the serve finds the
# journal exactly as the power cut left it, the marker holding the id of
# the boot that wrote it, as the host's next boot would.
start_serve_boot ()
{
    local lines=0 id=$tmpdir/boot-$1
    shift
    [ -f "$id" ] || python3 -c 'import uuid; print(uuid.uuid4())' >"$id"
    [ -f "$serve_log" ] && lines=$(wc -l <"$serve_log")
    unshare -m sh -c 'mount --bind "$1" /proc/sys/kernel/random/boot_id &&
                      cdp=$2 && shift 2 && exec "$cdp" serve "$@"' \
        sh "$id" "$CDP" "$@" \
        >>"$serve_log" 2>&1 &
    serve_pid=$!
    pids+=("$serve_pid")
    wait_for 20 "cdp serve to start" \
        eval "tail -n +$((lines + 1)) '$serve_log' | grep -q 'cdp: serving'"
}

# ---- the journal and its gaps -------------------------------------------

# journal_records DIR: "SEQ TYPE TIME_NS" of every record of the journal
# in DIR, padding left out, and for a gap (type 5) or resume (6) "SINCE
# REASON" after it; each segment up to where its successor's header
# says it ends, the last one up to its first invalid record (the on-disk
# format of docs/ARCHITECTURE.md).
journal_records ()
{
    python3 - "$1" <<'PY'
import glob, os, struct, sys
segs = []
for path in sorted(glob.glob(os.path.join(sys.argv[1], "seg-*.cdpj"))):
    with open(path, "rb") as f:
        segs.append(f.read())
for i, data in enumerate(segs):
    number = struct.unpack_from("<Q", data, 32)[0]
    end = struct.unpack_from("<I", segs[i + 1], 56)[0] if i + 1 < len(segs) else len(data)
    pos = 4096
    while pos + 64 <= end:
        magic, _, seg, seq, t, typ = struct.unpack_from("<IIQQqH", data, pos)
        since = struct.unpack_from("<Q", data, pos + 40)[0]
        plen = struct.unpack_from("<I", data, pos + 56)[0]
        if magic != 0x4A504443 or seg != number:
            if i + 1 < len(segs):
                sys.exit("segment %d: no record at %d, before its end %d" % (number, pos, end))
            break
        if seq and typ in (5, 6):
            print(seq, typ, t, since, data[pos + 64:pos + 64 + plen].decode())
        elif seq:
            print(seq, typ, t)
        pos += 64 + (plen + 63) // 64 * 64
PY
}

# last_gap TASK: "NS REASON" of disk0's last gap in 'cdp status --json'.
last_gap ()
{
    cdp status "$1" --json | python3 -c '
import calendar, json, sys, time
g = json.load(sys.stdin)["tasks"][0]["disks"][0]["last_gap"]
s = g["time"]
frac = s[20:-1] if s[19] == "." else ""
ns = calendar.timegm(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S")) * 10**9 + \
     int((frac + "000000000")[:9])
print(ns, g["reason"])'
}

# truncate_log C IN OUT: what plwrite's log IN says, as it stands if
# nothing happened after C (ns): submissions and acknowledgements up to
# C; a write submitted by then and acknowledged later is one whose
# acknowledgement never came (check.py: it may be there or not).
truncate_log ()
{
    python3 -c '
import sys
c = int(sys.argv[1])
for line in open(sys.argv[2]):
    p = line.split()
    if (p[:1] == ["S"] and len(p) == 6 and int(p[5]) <= c) or \
       (p[:1] == ["A"] and len(p) == 3 and int(p[2]) <= c):
        sys.stdout.write(line)' "$1" "$2" >"$3"
}
