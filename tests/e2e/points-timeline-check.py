#!/usr/bin/env python3
"""Check a timeline (cdp points --bucket DUR --json) against the list
(cdp points --json, same --disk, a range at least as wide):

  points-timeline-check.py TIMELINE.json LIST.json [LOCKS.json]

- counts: one per bucket, each the number of listed points whose time is
  in the bucket, and nothing listed in [from, to] left uncounted;
- points: the listed base points and bookmarks in [from, to], in order,
  with the same kind, locked and label;
- locks (with LOCKS.json, the task's locks.json): those in [from, to];
- gaps: no listed point inside one.
Prints one line saying what differs and exits 1, or prints a summary."""
import json
import re
import sys
from datetime import datetime, timezone


def ns(s):
    """RFC 3339 UTC with nanoseconds to ns since the epoch."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{9})Z", s)
    if not m:
        sys.exit(f"not a time as cdp prints them: {s!r}")
    t = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")
    t = t.replace(tzinfo=timezone.utc)
    return int(t.timestamp()) * 10**9 + int(m.group(2))


def fail(msg):
    print("points-timeline-check: " + msg)
    sys.exit(1)


tl = json.load(open(sys.argv[1]))
lst = json.load(open(sys.argv[2]))["points"]
if tl.get("version") != 1:
    fail(f"version {tl.get('version')!r}")
f, t, b = ns(tl["from"]), ns(tl["to"]), tl["bucket_ns"]
n = (t - f) // b + 1
if tl["buckets"] != n or len(tl["counts"]) != n:
    fail(f"{n} buckets expected, buckets {tl['buckets']}, "
         f"{len(tl['counts'])} counts")
if abs(tl["bucket_s"] * 10**9 - b) > 1:
    fail(f"bucket_s {tl['bucket_s']} is not bucket_ns {b}")
inside = [p for p in lst if f <= ns(p["time"]) <= t]
want = [0] * n
for p in inside:
    want[(ns(p["time"]) - f) // b] += 1
if want != tl["counts"]:
    i = next(i for i in range(n) if want[i] != tl["counts"][i])
    fail(f"bucket {i} (from {f + i * b} ns) counts {tl['counts'][i]}, "
         f"the list has {want[i]} points there")
others = [p for p in inside if p["kind"] != "second"]
if [ns(p["time"]) for p in tl["points"]] != \
        sorted(ns(p["time"]) for p in tl["points"]):
    fail(f"points {tl['points']} are not in time order")


def order(ps):
    return sorted(ps, key=lambda p: (ns(p["time"]), p["kind"],
                                     p.get("label", "")))


if order(others) != order(tl["points"]):
    fail(f"points {tl['points']} are not the list's {others}")
for g in tl["gaps"]:
    lo = ns(g["from"])
    hi = ns(g["to"]) if g["to"] is not None else None
    if (hi is not None and hi < f) or lo > t:
        fail(f"gap {g} is outside [{tl['from']}, {tl['to']}]")
    for p in inside:
        if p["kind"] == "second" and lo <= ns(p["time"]) and \
                (hi is None or ns(p["time"]) < hi):
            fail(f"second point {p['time']} inside gap {g}")
if len(sys.argv) > 3:
    locks = json.load(open(sys.argv[3])).get("locks", [])
    lt = sorted(x["time_ns"] for x in locks if f <= x["time_ns"] <= t)
    got = [ns(x["time"]) for x in tl["locks"]]
    if lt != got:
        fail(f"locks {got} are not locks.json's {lt} in range")
print(f"{n} buckets, {sum(want)} points, {len(others)} base points and "
      f"bookmarks, {len(tl['locks'])} locks, {len(tl['gaps'])} gaps")
