#!/usr/bin/env bash
# cdp get --json prints one document on stdout, "version" first, saying
# what was written (the path created, tree or tar, counts of files,
# directories, symlinks, bytes and skipped device nodes, the archive's
# size) and nothing on stderr; the combinations that cannot work (and
# an archive to a terminal) are refused in one line with exit 2 before
# anything is read or written.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/../files/functions.sh"
requires script

files_task j 64M
src=$tmpdir/src
mkdir -p "$src/tree/sub"
head -c 100000 /dev/urandom >"$src/tree/a"
echo hello >"$src/tree/sub/b"
ln -s a "$src/tree/link"
mknod "$src/tree/null" c 1 3
ext4_image "$tmpdir/fs.img" "$src" 32M
at=$(put_disk j "$tmpdir/fs.img")

# doc FILE FORMAT OUTPUT ARCHIVE: the document says what was written.
doc ()
{
    python3 - "$@" <<'PY' || fail "get --json: $(cat "$1")"
import json, sys
f, fmt, output, archive = sys.argv[1:5]
pairs = json.load(open(f), object_pairs_hook=lambda p: p)
assert pairs[0] == ("version", 1), pairs[0]
d = dict(pairs)
want = {"path": "/tree", "output": output, "format": fmt, "files": 2, "directories": 2,
        "symlinks": 1, "bytes": 100006, "skipped": 1, "reader": "cdp",
        "archive_bytes": None if archive == "null" else int(archive)}
for k, v in want.items():
    assert d[k] == v, (k, d[k], v)
assert d["point"].endswith("Z"), d["point"]
PY
}

mkdir "$tmpdir/into"
cdp get j --at "$at" /tree --output "$tmpdir/into" --json >"$tmpdir/tree.json" 2>"$tmpdir/err" ||
    fail "get --json: $(cat "$tmpdir/err")"
[ ! -s "$tmpdir/err" ] || fail "get --json said something on stderr: $(cat "$tmpdir/err")"
doc "$tmpdir/tree.json" tree "$tmpdir/into/tree" null
[ "$(cat "$tmpdir/into/tree/sub/b")" = hello ] || fail "get --json did not write the tree"

cdp get j --at "$at" /tree --tar --output "$tmpdir/t.tar" --json >"$tmpdir/tar.json" 2>"$tmpdir/err" ||
    fail "get --tar --json: $(cat "$tmpdir/err")"
[ ! -s "$tmpdir/err" ] || fail "get --tar --json said something on stderr: $(cat "$tmpdir/err")"
doc "$tmpdir/tar.json" tar "$tmpdir/t.tar" "$(stat -c %s "$tmpdir/t.tar")"
tar -tf "$tmpdir/t.tar" >/dev/null || fail "the archive of get --tar --json"

# Refused before anything is read: one line, exit 2.
expect_error 2 '--json cannot go with --tar --output -' \
    cdp get j --at "$at" /tree --tar --output - --json
expect_error 2 '--output - .* add --tar' cdp get j --at "$at" /tree --output -
expect_error 2 'unknown option --tar' cdp cat j --at "$at" /tree/a --tar
expect_error 2 'unknown option --tar' cdp ls j --at "$at" /tree --tar
expect_error 2 'unknown option --json' cdp cat j --at "$at" /tree/a --json
expect_error 2 'usage: cdp get' cdp get j --at "$at" /tree --tar
[ ! -e "$tmpdir/-" ] || fail "a file named '-' was made"
# An archive is not written to a terminal (script(1) gives it one).
rc=0
script -qec "$CDP get j --at $at /tree --tar --output -" /dev/null >"$tmpdir/tty" || rc=$?
[ "$rc" -eq 2 ] && grep -q 'refusing to write an archive to a terminal' "$tmpdir/tty" ||
    fail "get --tar --output - on a terminal: exit $rc, $(head -c 300 "$tmpdir/tty")"
stop_cdp_serve
