#!/usr/bin/env bash
# libvirt mode: a disk attached to a protected running domain (virsh
# attach-disk --live --config) is protected by a task that protects all
# the domain's disks (task create without --disk): cdp serve adds it to
# the task and copies it; its points hold what the guest wrote, none is
# offered from before it was added, and the history of the disk that was
# there already stays readable.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/libvirt.sh"
requires nbdcopy cmp

define_domain --blank 16M --paused
vio "write -P 0x11 0 256k"
cdp task create lv --domain "$dom"
start_cdp_serve
wait_protected lv vda 60
vio "write -P 0x12 1m 64k"
t0=$(now)
dom_image "$tmpdir/vda-t0.img"

attach_blank vdb 8M
# vdb is in the status only once serve has taken it up.
wait_for 90 "disk vdb to be protected" state_is lv vdb protected
wait_protected lv vda 90
grep -q "disk vdb (8388608 bytes) was added to domain" "$serve_log" ||
    fail "serve did not say it added vdb"
cdp task show lv >"$tmpdir/show.txt"
grep -q "disk:       vdb (8.0 MiB; added " "$tmpdir/show.txt" ||
    fail "task show: no disk vdb: $(cat "$tmpdir/show.txt")"

vdb=$(disk_device vdb)
vio_dev "$vdb" "write -P 0x21 0 64k"
vio_dev "$vdb" "write -P 0x22 7m 4k"
vio "write -P 0x13 2m 4k"
t1=$(now)
disk_image vdb "$tmpdir/vdb-t1.img"
dom_image "$tmpdir/vda-t1.img"

out=$tmpdir/p.img
rm -f "$out"
cdp export lv --at "$t1" --disk vdb --listen "unix:$tmpdir/e1.sock" \
    --run "nbdcopy -- \"\$uri\" $out"
same "$out" "$tmpdir/vdb-t1.img" "vdb at t1"
expect_error 1 "disk vdb was added to the task later" \
    cdp restore lv --at "$t0" --disk vdb --output "$tmpdir/r.img"
cdp points lv --disk vdb --json >"$tmpdir/points.json"
python3 - "$tmpdir/points.json" "${t0#@}" <<'PY' || fail "vdb points before it was added"
import json, sys, datetime
t0 = float(sys.argv[2])
for p in json.load(open(sys.argv[1]))["points"]:
    s = p["time"].rstrip("Z")
    whole, frac = s.split(".")
    t = datetime.datetime.fromisoformat(whole).replace(
        tzinfo=datetime.timezone.utc).timestamp() + float("0." + frac)
    assert t > t0, p
PY
rm -f "$out"
cdp export lv --at "$t0" --disk vda --listen "unix:$tmpdir/e2.sock" \
    --run "nbdcopy -- \"\$uri\" $out"
same "$out" "$tmpdir/vda-t0.img" "vda at t0, before vdb was added"
rm -f "$out"
cdp export lv --at "$t1" --disk vda --listen "unix:$tmpdir/e3.sock" \
    --run "nbdcopy -- \"\$uri\" $out"
same "$out" "$tmpdir/vda-t1.img" "vda at t1"
stop_cdp_serve
