#!/usr/bin/env bash
# libvirt mode: a task that named its disks (task create --disk) leaves a
# disk attached to the domain later alone: serve reports it (its log,
# cdp status) and keeps protecting the disks named, without a new gap.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/libvirt.sh"

define_domain --blank 16M --paused
cdp task create lv --domain "$dom" --disk vda
start_cdp_serve
wait_protected lv vda 60
gaps ()
{
    cdp status lv --json | python3 -c '
import json, sys
print(json.load(sys.stdin)["tasks"][0]["disks"][0]["gaps"])'
}
before=$(gaps)

attach_blank vdb 8M
wait_for 30 "serve to report vdb" \
    grep -q "disk vdb of domain $dom is not protected: the task protects the disks it named" "$serve_log"
unprotected ()
{
    cdp status lv --json | python3 -c '
import json, sys
assert json.load(sys.stdin)["tasks"][0].get("unprotected_disks") == ["vdb"]'
}
wait_for 30 "cdp status to report vdb" unprotected
cdp status lv >"$tmpdir/status.txt"
grep -q "vdb .*not protected (the task protects the disks it named" "$tmpdir/status.txt" ||
    fail "cdp status does not show vdb: $(cat "$tmpdir/status.txt")"
cdp task show lv --json >"$tmpdir/show.json"
python3 - "$tmpdir/show.json" <<'PY' || fail "task show: $(cat "$tmpdir/show.json")"
import json, sys
assert [d["name"] for d in json.load(open(sys.argv[1]))["disks"]] == ["vda"]
PY
virsh blockjob "$dom" vdb >"$tmpdir/job.txt" 2>&1
grep -q 'No current block job' "$tmpdir/job.txt" ||
    fail "cdp copies vdb: $(cat "$tmpdir/job.txt")"
state_is lv vda protected || fail "vda is no longer protected"
[ "$(gaps)" = "$before" ] || fail "vda got a gap: $before, now $(gaps)"
[ "$(grep -c 'a disk was added to it' "$serve_log")" -eq 0 ] ||
    fail "serve took the task up again"
stop_cdp_serve
