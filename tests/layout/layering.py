#!/usr/bin/env python3
"""The folders call each other only downwards (docs/ARCHITECTURE.md,
"The folders").

    layering.py SOURCE_ROOT

Reads every #include "..." of the product's sources (common/, journal/,
nbd-export/, recovery/, cdp/) and fails, naming file and include, where
a part includes a header of a part above it or of a sibling it may not
call, or another part's internal header (*internal.h); where a source
file lies in no part; and where a known exception below no longer
occurs (it was fixed: remove it from the list).
"""
import os
import re
import sys

# Each part and the parts it may include besides itself, lowest first.
LOWER = {
    'common': [],
    'journal': ['common'],
    'nbd-export': ['common'],
    'recovery/history': ['common', 'journal', 'nbd-export'],
    'recovery/files': ['common', 'journal', 'nbd-export'],
    'recovery/archive': ['common', 'journal', 'nbd-export', 'recovery/history'],
}
BELOW_TASK = list(LOWER)
MAY_INCLUDE = dict(LOWER)
MAY_INCLUDE['cdp/task'] = BELOW_TASK
# Side by side above the task: the drivers call neither of the other
# two; rapid recovery calls the drivers; the daemon calls both.
MAY_INCLUDE['cdp/hv'] = BELOW_TASK + ['cdp/task']
MAY_INCLUDE['cdp/rapid'] = BELOW_TASK + ['cdp/task', 'cdp/hv']
MAY_INCLUDE['cdp/daemon'] = BELOW_TASK + ['cdp/task', 'cdp/hv', 'cdp/rapid']
MAY_INCLUDE['cdp/cli'] = BELOW_TASK + ['cdp/task', 'cdp/hv', 'cdp/rapid',
                                       'cdp/daemon']

# Today's includes against the layering, each with why it is there.
EXCEPTIONS = {
    # serve refuses a task whose files it cannot read, recover.json
    # among them, and rapid recovery owns that file's reader.
    ('cdp/task/task-files.c', 'cdp/rapid/rapid.h'),
    # The protectors report through protect_* on struct served, both
    # defined by the daemon (cdp/daemon/serve.c), which holds the
    # receiver, maintenance and control of the task.
    ('cdp/hv/protect.h', 'cdp/daemon/daemon.h'),
    # The libvirt protector starts no copy of a disk whose in-place
    # rapid recovery is unfinished (rapid_holds).
    ('cdp/hv/libvirt/libvirt-protect.c', 'cdp/rapid/rapid.h'),
    # task.json names a task's mode; the drivers' table (hv_by_name) is
    # the one list of modes, so reading a task asks it.
    ('cdp/task/task.c', 'cdp/hv/hv.h'),
    # libvirt's recover steps (struct hv_recover) work on rapid
    # recovery's state and call back its export and overlay steps.
    ('cdp/hv/libvirt/libvirt-recover.c', 'cdp/rapid/rapid.h'),
}

TOP = ['common', 'journal', 'nbd-export', 'recovery', 'cdp']
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def part_of(path):
    """The part a file (relative to the root) belongs to, or None."""
    best = None
    for part in MAY_INCLUDE:
        if path.startswith(part + '/') and (best is None or
                                            len(part) > len(best)):
            best = part
    return best


def sources(root):
    for top in TOP:
        for d, dirs, names in os.walk(os.path.join(root, top)):
            dirs.sort()
            for n in sorted(names):
                if n.endswith(('.c', '.h')):
                    yield os.path.relpath(os.path.join(d, n), root)


def check(root):
    problems = []
    seen = set()
    for src in sources(root):
        part = part_of(src)
        if part is None:
            problems.append(f'{src}: in no part (docs/ARCHITECTURE.md, '
                            '"The folders", lists them)')
            continue
        with open(os.path.join(root, src), encoding='utf-8') as f:
            lines = f.read().splitlines()
        for no, line in enumerate(lines, 1):
            m = INCLUDE.match(line)
            if m is None:
                continue
            inc = m.group(1)
            # Without a folder, C looks beside the file first.
            target = inc if '/' in inc else os.path.join(
                os.path.dirname(src), inc)
            where = f'{src}:{no}: #include "{inc}"'
            if not os.path.isfile(os.path.join(root, target)):
                problems.append(f'{where}: no such file in the source tree')
                continue
            tpart = part_of(target)
            if tpart is None:
                problems.append(f'{where}: the header is in no part')
                continue
            if (os.path.basename(target).endswith('internal.h') and
                    os.path.dirname(target) != os.path.dirname(src)):
                problems.append(f'{where}: another folder\'s internal header')
                continue
            if tpart == part or tpart in MAY_INCLUDE[part]:
                continue
            if (src, target) in EXCEPTIONS:
                seen.add((src, target))
                continue
            problems.append(f'{where}: {part} may not include {tpart}')
    for src, target in sorted(EXCEPTIONS - seen):
        problems.append(f'{src}: no longer includes "{target}": remove the '
                        'exception from tests/layout/layering.py')
    return problems


def main():
    if len(sys.argv) != 2:
        print('usage: layering.py SOURCE_ROOT', file=sys.stderr)
        return 2
    problems = check(sys.argv[1])
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
