#!/usr/bin/env python3
"""Run a cdp command whose standard output is a pipe this script holds,
so that the command is stopped at a known place, however fast it runs,
and cancel it there with SIGTERM (tests/e2e/e2e-files-get-cancel.sh).

hold.py lines FILE ERR -- CMD...   CMD writes JSON Lines (--json
    --progress): after its first line the pipe is filled, so that its
    next line blocks; once FILE exists and is not empty, SIGTERM.
hold.py bytes N ERR -- CMD...      CMD writes a stream: after N bytes of
    it are read (and the rest left in the pipe), SIGTERM.
Then the pipe is drained and the command waited for.  Prints its exit
status, then the lines it wrote (the data of a stream: its length);
its stderr goes to ERR."""
import fcntl
import os
import signal
import subprocess
import sys
import time

mode, arg, err = sys.argv[1:4]
cmd = sys.argv[sys.argv.index("--") + 1:]
r, w = os.pipe()
fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, 4096)
p = subprocess.Popen(cmd, stdout=w, stderr=open(err, "wb"))
got = bytearray()
count = 0
deadline = time.monotonic() + 120


def read_some():
    global count
    data = os.read(r, 65536)
    if not data:
        sys.exit("the command ended its output early: %r" % bytes(got[-300:]))
    count += len(data)
    if mode == "lines":
        got.extend(data)


if mode == "lines":
    while b"\n" not in got:
        read_some()
    os.set_blocking(w, False)
    for chunk in (512, 1):              # full to the last byte
        try:
            while True:
                os.write(w, b" " * chunk)
        except BlockingIOError:
            pass
    while not (os.path.exists(arg) and os.path.getsize(arg) > 0):
        if p.poll() is not None or time.monotonic() > deadline:
            sys.exit("the command ended, or wrote nothing to %s" % arg)
        time.sleep(0.05)
else:
    while count < int(arg):
        read_some()
p.send_signal(signal.SIGTERM)
os.close(w)
fcntl.fcntl(r, fcntl.F_SETPIPE_SZ, 1 << 20)
while True:
    data = os.read(r, 1 << 20)
    if not data:
        break
    count += len(data)
    if mode == "lines":
        got.extend(data)
rc = p.wait()
print(rc)
if mode == "lines":
    for line in bytes(got).split(b"\n"):
        line = line.strip()
        if line:
            print(line.decode())
else:
    print(count)
