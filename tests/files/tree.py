#!/usr/bin/env python3
"""Helpers for the file-level e2e tests.

tree.py same SRC GOT        GOT (written by 'cdp get') has SRC's names,
                            types, permission bits, sizes, mtimes (to the
                            second), symlink targets, contents and hard
                            link groups.
tree.py exact A B           A and B (two trees that cdp wrote, or tar
                            extracted) have the same names, types, modes,
                            owners, sizes, mtimes to the nanosecond (of
                            directories and symlinks too), symlink targets,
                            contents and hard link groups.
tree.py ls SRC JSON         'cdp ls --json' output JSON lists exactly the
                            entries of directory SRC, with their fields
                            (and lost+found, which mkfs adds).
"""
import hashlib
import json
import os
import stat
import sys


def describe(root):
    """path (bytes) -> (type, mode, size, mtime, target, digest), links."""
    out, inodes = {}, {}
    for dirpath, dirnames, filenames in os.walk(root.encode()):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root.encode())
            st = os.lstat(p)
            digest = target = None
            if stat.S_ISREG(st.st_mode):
                h = hashlib.sha256()
                with open(p, "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        h.update(block)
                digest = h.hexdigest()
                if st.st_nlink > 1:
                    inodes.setdefault(st.st_ino, []).append(rel)
            elif stat.S_ISLNK(st.st_mode):
                target = os.readlink(p)
            size = st.st_size if not stat.S_ISDIR(st.st_mode) else None
            mode = stat.S_IMODE(st.st_mode) & 0o1777
            mtime = int(st.st_mtime) if not stat.S_ISLNK(st.st_mode) else None
            out[rel] = (stat.S_IFMT(st.st_mode), mode, size, mtime, target, digest)
    links = sorted(sorted(v) for v in inodes.values())
    return out, links


def same(src, got):
    a, la = describe(src)
    b, lb = describe(got)
    bad = []
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k):
            bad.append("%r: source %s, got %s" % (k, a.get(k), b.get(k)))
    if la != lb:
        bad.append("hard links: source %s, got %s" % (la, lb))
    for line in bad[:20]:
        print(line, file=sys.stderr)
    return not bad


def exact(a, b):
    def full(root):
        out, _ = describe(root)
        for rel in list(out):
            st = os.lstat(os.path.join(root.encode(), rel))
            out[rel] = out[rel][:1] + (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
                                       st.st_mtime_ns) + out[rel][2:3] + out[rel][4:]
        return out
    x, y = full(a), full(b)
    bad = ["%r: %s, %s" % (k, x.get(k), y.get(k)) for k in sorted(set(x) | set(y))
           if x.get(k) != y.get(k)]
    if describe(a)[1] != describe(b)[1]:
        bad.append("hard links: %s, %s" % (describe(a)[1], describe(b)[1]))
    for line in bad[:20]:
        print(line, file=sys.stderr)
    return not bad


TYPES = {stat.S_IFREG: "file", stat.S_IFDIR: "dir", stat.S_IFLNK: "symlink",
         stat.S_IFIFO: "fifo", stat.S_IFCHR: "chardev", stat.S_IFBLK: "blockdev",
         stat.S_IFSOCK: "socket"}


def name_of(e):
    if "name_hex" in e:
        return bytes.fromhex(e["name_hex"])
    return e["name"].encode()


def ls(src, jsonfile):
    doc = json.load(open(jsonfile))
    entries = {name_of(e): e for e in doc["entries"]}
    entries.pop(b"lost+found", None)        # made by mkfs, not in the source
    names = set(os.listdir(src.encode()))
    bad = []
    if set(entries) != names:
        bad.append("names: source %s, listed %s" % (sorted(names), sorted(entries)))
    for n in names & set(entries):
        st = os.lstat(os.path.join(src.encode(), n))
        e = entries[n]
        want = {"type": TYPES[stat.S_IFMT(st.st_mode)], "mode": stat.S_IMODE(st.st_mode),
                "nlink": st.st_nlink, "uid": st.st_uid, "gid": st.st_gid}
        if not stat.S_ISDIR(st.st_mode):
            want["size"] = st.st_size
        for k, v in want.items():
            if e.get(k) != v:
                bad.append("%r %s: source %r, listed %r" % (n, k, v, e.get(k)))
        if e["mtime"][:19] != __import__("time").strftime(
                "%Y-%m-%dT%H:%M:%S", __import__("time").gmtime(int(st.st_mtime))):
            bad.append("%r mtime: source %s, listed %s" % (n, st.st_mtime, e["mtime"]))
        if stat.S_ISLNK(st.st_mode):
            t = os.readlink(os.path.join(src.encode(), n))
            lt = bytes.fromhex(e["target_hex"]) if "target_hex" in e else e["target"].encode()
            if t != lt:
                bad.append("%r target: source %r, listed %r" % (n, t, lt))
    for line in bad[:20]:
        print(line, file=sys.stderr)
    return not bad


if __name__ == "__main__":
    cmd = sys.argv[1]
    ok = {"same": same, "exact": exact, "ls": ls}[cmd](sys.argv[2], sys.argv[3])
    sys.exit(0 if ok else 1)
