#!/usr/bin/env bash
# libvirt mode: a protected disk is resized with its history kept.  QEMU
# refuses virsh blockresize while cdp's copy runs; cdp resize ends the
# copy, resizes the disk and copies it again.  Points before a resize
# read back at the old size, points after at the new one (export,
# restore, on the journal and on base points), each exactly as the
# guest had the disk: a grow with writes past the old end, a shrink, and
# a grow again that reads zeroes where the shrink cut.  The task's other
# disk goes on protected through it all, without a gap.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/libvirt.sh"
requires nbdcopy cmp

define_domain --blank 16M --paused
vio "write -P 0x11 0 256k"
vio "write -P 0x12 15m 64k"
attach_blank vdb 8M
cdp task create lv --domain "$dom"
start_cdp_serve
wait_protected lv vda 60
wait_protected lv vdb 60
vdb_gaps ()
{
    cdp status lv --json | python3 -c '
import json, sys
print([d for d in json.load(sys.stdin)["tasks"][0]["disks"]
       if d["name"] == "vdb"][0]["gaps"])'
}
gaps_before=$(vdb_gaps)
vio "write -P 0x13 64k 64k"
t=("$(now)")
dom_image "$tmpdir/t0.img"

if virsh blockresize "$dom" vda 32M >"$tmpdir/br.out" 2>&1; then
    fail "QEMU resized a disk under cdp's copy: the design rests on its refusal"
fi
grep -q "block_resize.*is in use" "$tmpdir/br.out" ||
    fail "virsh blockresize: $(cat "$tmpdir/br.out")"

# resize SIZE [--json]: cdp resize, then wait until serve copied the disk
# again.
resize ()
{
    local lines
    lines=$(wc -l <"$serve_log")
    cdp resize lv --disk vda "$@" >"$tmpdir/resize.out"
    cat "$tmpdir/resize.out"
    wait_for 90 "the disk to be protected after the resize" \
        eval "tail -n +$((lines + 1)) '$serve_log' | grep -q 'disk vda: protected'"
}

resize 32M
[ "$(virsh domblkinfo "$dom" vda | awk '/Capacity/ { print $2 }')" = 33554432 ] ||
    fail "the domain's disk was not resized"
vio "write -P 0x21 20m 64k"
vio "write -P 0x22 100k 4k"
t+=("$(now)")
dom_image "$tmpdir/t1.img"
cdp fold lv >/dev/null

resize 8M
vio "write -P 0x31 8128k 64k"
t+=("$(now)")
dom_image "$tmpdir/t2.img"

resize 24M --json
python3 "$e2e_dir/json-doc.py" "$tmpdir/resize.out" task disk old_size size seq \
    >/dev/null || fail "resize --json: $(cat "$tmpdir/resize.out")"
python3 - "$tmpdir/resize.out" <<'PY' || fail "resize --json: $(cat "$tmpdir/resize.out")"
import json, sys
d = json.load(open(sys.argv[1]))
assert (d["task"], d["disk"], d["old_size"], d["size"]) == ("lv", "vda", 8388608, 25165824), d
PY
vio "write -P 0x41 16m 4k"
t+=("$(now)")
dom_image "$tmpdir/t3.img"

sizes=(16777216 33554432 8388608 25165824)
for k in 0 1 2 3; do
    [ "$(stat -c %s "$tmpdir/t$k.img")" = "${sizes[$k]}" ] ||
        fail "the guest's disk at t$k is $(stat -c %s "$tmpdir/t$k.img") bytes"
    rm -f "$tmpdir/p$k.img"
    cdp export lv --at "${t[$k]}" --disk vda --listen "unix:$tmpdir/e$k.sock" \
        --run "nbdcopy -- \"\$uri\" $tmpdir/p$k.img"
    same "$tmpdir/p$k.img" "$tmpdir/t$k.img" "export at t$k (${sizes[$k]} bytes)"
done
cdp task show lv --json >"$tmpdir/show.json"
python3 - "$tmpdir/show.json" <<'PY' || fail "task show: $(cat "$tmpdir/show.json")"
import json, sys
d = json.load(open(sys.argv[1]))["disks"][0]
assert d["name"] == "vda" and d["size"] == 25165824, d
assert [(r["old_size"], r["size"]) for r in d["resizes"]] == [
    (16777216, 33554432), (33554432, 8388608), (8388608, 25165824)], d
PY
python3 - "$CDP_STORE/tasks/lv/task.json" <<'PY' || fail "task.json: $(cat "$CDP_STORE/tasks/lv/task.json")"
import json, sys
t = json.load(open(sys.argv[1]))
assert t["version"] == 2, t
r = t["disks"][0]["resizes"]
assert [(x["old_size"], x["size"]) for x in r] == [
    (16777216, 33554432), (33554432, 8388608), (8388608, 25165824)], r
assert [x["seq"] for x in r] == sorted(x["seq"] for x in r), r
PY

state_is lv vdb protected || fail "vdb is no longer protected"
[ "$(vdb_gaps)" = "$gaps_before" ] ||
    fail "vdb got a gap from vda's resizes: $gaps_before, now $(vdb_gaps)"
grep -q "a disk was added to it" "$serve_log" && fail "serve took the task up again"

# The same points read through base points.
cdp fold lv >/dev/null
wait_for 60 "a base point after the last resize" \
    eval "cdp points lv --disk vda --json | grep -c '\"base\"' | grep -qv '^[0-2]$'"
for k in 0 1 2 3; do
    cdp restore lv --at "${t[$k]}" --disk vda --output "$tmpdir/r$k.img" \
        --format raw >/dev/null
    same "$tmpdir/r$k.img" "$tmpdir/t$k.img" "restore at t$k (${sizes[$k]} bytes)"
done
stop_cdp_serve
