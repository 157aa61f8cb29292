#!/usr/bin/env bash
# cdp ls --json follows docs/JSON.md: "version" first, then what the
# listing is ("kind": the partitions of a disk, a directory, or a file),
# and entries that all have the same members, null where one does not
# apply: sizes as integers, times RFC 3339 UTC with nanoseconds, type,
# mode, symlink target, and for partitions their number and file system.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/../files/functions.sh"

files_task l 64M
src=$tmpdir/src
mkdir -p "$src/dir"
echo "some text" >"$src/file"
ln -s dir "$src/link-to-dir"
ln -s file "$src/link"
chmod 0640 "$src/file"
ext4_image "$tmpdir/fs.img" "$src" 32M
table_disk "$tmpdir/disk.img" 64M gpt "1:40::$tmpdir/fs.img" "42:8"
at=$(put_disk l "$tmpdir/disk.img")

check ()
{
    local path=$1 kind=$2
    cdp ls l --at "$at" "$path" --json >"$tmpdir/ls.json" || fail "ls --json $path"
    python3 - "$tmpdir/ls.json" "$path" "$kind" <<'PY' || fail "ls --json $path: $(cat "$tmpdir/ls.json")"
import json, re, sys
doc = json.load(open(sys.argv[1]), object_pairs_hook=lambda p: p)
assert doc[0] == ("version", 1), doc[0]
d = dict(doc)
assert d["path"] == sys.argv[2] and d["kind"] == sys.argv[3], (d["path"], d["kind"])
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", d["point"]), d["point"]
keys = ["name", "type", "mode", "mode_string", "uid", "gid", "size", "nlink", "ino",
        "mtime", "atime", "ctime", "target", "partition", "fs"]
rfc = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z"
for e in map(dict, d["entries"]):
    assert sorted(e) == sorted(keys), sorted(e)
    assert type(e["size"]) is int and type(e["mode"]) is int, e
    assert e["type"] in ("file", "dir", "symlink", "chardev", "blockdev", "fifo", "socket"), e
    if d["kind"] == "partitions":
        assert e["type"] == "dir" and e["partition"] == int(e["name"][1:]), e
        assert e["mtime"] is None and e["fs"] in ("ext4", "empty"), e
    else:
        assert e["partition"] is None and e["fs"] is None, e
        for t in ("mtime", "atime", "ctime"):
            assert re.fullmatch(rfc, e[t]), e
        assert (e["target"] is not None) == (e["type"] == "symlink"), e
ents = {dict(e)["name"]: dict(e) for e in d["entries"]}
if sys.argv[3] == "partitions":
    assert sorted(ents) == ["p1", "p2"], ents
    assert ents["p1"]["size"] == 40 << 20 and ents["p1"]["fs"] == "ext4", ents["p1"]
elif sys.argv[2] == "/p1":
    assert ents["link"]["target"] == "file" and ents["link-to-dir"]["target"] == "dir"
    assert ents["file"]["mode"] == 0o640 and ents["file"]["size"] == 10, ents["file"]
    assert ents["dir"]["type"] == "dir", ents["dir"]
elif sys.argv[3] == "file":       # its own entry, symlinks followed
    assert len(ents) == 1 and list(ents.values())[0]["type"] == "file", ents
PY
}

check / partitions
check /p1 directory
check /p1/link-to-dir directory
check /p1/file file
check /p1/link file
stop_cdp_serve
