#!/usr/bin/env python3
"""Check what a `cdp ... --json` command printed (docs/JSON.md).

    json-doc.py FILE MEMBER...           FILE is one JSON document
    json-doc.py --stream FILE MEMBER...  FILE is JSON Lines: progress
                                         lines, then the result document

The document (the stream's last line) is an object whose first member
is "version" (1) and which has every MEMBER ("a.b" looks into member a,
"a[].b" into each element of array a).  A stream's other lines are
progress lines: "version" first, then event "progress", phase, done,
total (an integer or null) and unit; each phase starts at done 0 and
done never goes back within it.  Prints the document on one line;
exits 1 saying why otherwise.
"""
import json
import sys

UNITS = {"bytes", "files", "records", "steps"}


def die(msg):
    print(f"json-doc.py: {msg}", file=sys.stderr)
    sys.exit(1)


def has(doc, path):
    head, _, rest = path.partition(".")
    if head.endswith("[]"):
        arr = doc.get(head[:-2])
        if not isinstance(arr, list) or not arr:
            return False
        return all(has(x, rest) if rest else True for x in arr)
    if not isinstance(doc, dict) or head not in doc:
        return False
    return has(doc[head], rest) if rest else True


def check_doc(doc, members):
    if not isinstance(doc, dict):
        die(f"not an object: {doc!r}")
    if not doc or list(doc)[0] != "version" or doc["version"] != 1:
        die(f'"version": 1 is not the first member: {doc!r}')
    if "event" in doc:
        die(f"the result document has an event member: {doc!r}")
    for m in members:
        if not has(doc, m):
            die(f"member {m} missing: {doc!r}")


def check_progress(lines):
    phase, done = None, -1
    for line in lines:
        p = json.loads(line)
        keys = list(p)
        if keys != ["version", "event", "phase", "done", "total", "unit"]:
            die(f"a progress line's members: {line}")
        if p["version"] != 1 or p["event"] != "progress":
            die(f"not a progress line: {line}")
        if p["unit"] not in UNITS or not isinstance(p["done"], int):
            die(f"unit or done: {line}")
        if p["total"] is not None and not isinstance(p["total"], int):
            die(f"total: {line}")
        if p["phase"] != phase:
            if p["done"] != 0:
                die(f"phase {p['phase']} does not start at 0: {line}")
            phase, done = p["phase"], 0
        if p["done"] < done:
            die(f"done went back: {line}")
        done = p["done"]


def main():
    args = sys.argv[1:]
    stream = args and args[0] == "--stream"
    if stream:
        args = args[1:]
    if not args:
        die("usage: json-doc.py [--stream] FILE MEMBER...")
    text = open(args[0]).read()
    if stream:
        lines = text.splitlines()
        if not lines:
            die("nothing printed")
        try:
            check_progress(lines[:-1])
            doc = json.loads(lines[-1])
        except ValueError as e:
            die(f"not JSON Lines ({e}): {text}")
    else:
        try:
            doc = json.loads(text)
        except ValueError as e:
            die(f"not one JSON document ({e}): {text}")
    check_doc(doc, args[1:])
    print(json.dumps(doc))


main()
