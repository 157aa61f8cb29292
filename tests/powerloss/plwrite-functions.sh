# plwrite's helpers, sourced by the power-loss tests after
# tests/e2e/functions.sh: plwrite writing a known pattern into disk0 of a
# manual-mode task, what it acknowledged, and the points cdp offers.
#
#   start_writer SOCK [COUNT]  plwrite into SOCK's disk0, in the
#                              background ($writer_pid, log $wlog), with
#                              request ids of its own for each cycle
#   acked N                    $wlog has N acknowledgements or more
#   points TASK                "EPOCH.NS NS KIND LOCKED" per point offered
: "${PLWRITE:?PLWRITE must name plwrite}"

blocks=1024                     # 4 MiB disk, plwrite's blocks of 4 KiB
cycle=0
wlog=

start_writer ()
{
    cycle=$((cycle + 1))
    wlog=$tmpdir/w-$cycle.log
    "$PLWRITE" "nbd+unix:///disk0?socket=$1" "$cycle" 8 "$blocks" \
        "$((cycle * 1000000))" "${2-0}" 50 >"$wlog" 2>>"$tmpdir/writer.err" &
    writer_pid=$!
    pids+=("$writer_pid")
}

acked ()
{
    [ "$(grep -c '^A' "$wlog")" -ge "$1" ]
}

points ()
{
    cdp points "$1" --json | python3 -c '
import calendar, json, sys, time
for p in json.load(sys.stdin)["points"]:
    s = p["time"]
    frac = s[20:-1] if s[19] == "." else ""
    sec = calendar.timegm(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S"))
    ns = int((frac + "000000000")[:9])
    print("%d.%09d %d %s %s" % (sec, ns, sec * 10**9 + ns, p["kind"],
                                str(p["locked"]).lower()))'
}
