#!/usr/bin/env python3
"""A tiny QMP client for the end-to-end tests.

    qmp.py SOCKET COMMAND [JSON-ARGUMENTS]
    qmp.py SOCKET --hmp 'HMP COMMAND LINE'

Connects, negotiates capabilities, runs one command and prints its
"return" value as JSON on one line; --hmp runs the line through
human-monitor-command and prints the monitor's reply as it is.  An error
reply is printed on stderr and exits 1.  Events are skipped.
"""
import json
import socket
import sys


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: qmp.py SOCKET COMMAND [JSON-ARGUMENTS]")
    path, command = sys.argv[1], sys.argv[2]
    hmp = command == "--hmp"
    if hmp:
        command = "human-monitor-command"
        args = {"command-line": sys.argv[3]}
    else:
        args = json.loads(sys.argv[3]) if len(sys.argv) == 4 else None

    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(path)
    f = s.makefile("rw")

    def send(cmd, arguments=None):
        msg = {"execute": cmd}
        if arguments is not None:
            msg["arguments"] = arguments
        f.write(json.dumps(msg) + "\n")
        f.flush()
        while True:
            line = f.readline()
            if not line:
                sys.exit("qmp.py: QEMU closed the connection")
            reply = json.loads(line)
            if "return" in reply or "error" in reply:
                return reply

    json.loads(f.readline())                       # the greeting
    send("qmp_capabilities")
    reply = send(command, args)
    if "error" in reply:
        print("qmp.py: %s: %s" % (command, reply["error"].get("desc")),
              file=sys.stderr)
        sys.exit(1)
    ret = reply["return"]
    if hmp:
        sys.stdout.write(ret)
    else:
        print(json.dumps(ret))


if __name__ == "__main__":
    main()
