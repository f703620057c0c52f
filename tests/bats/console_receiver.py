#!/usr/bin/env python3
"""The receiving end of --console-socket, as conmon: listen on PATH, take
the pty master that the runtime sends with SCM_RIGHTS, then copy what the
container writes on its terminal to stdout until it closes.

    console_receiver.py PATH [INPUT]

Writes INPUT (if given) to the terminal once the container wrote its first
output (so that the terminal's echo of it comes after that). Prints
`name: NAME` (the message that came with the fd) on stderr.
"""
import os
import socket
import sys

path = sys.argv[1]
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(path)
server.listen(1)
# The runtime connects once create runs: tell the test we listen.
print("listening", file=sys.stderr, flush=True)
conn, _ = server.accept()
message, fds, _, _ = socket.recv_fds(conn, 1024, 1)
print(f"name: {message.decode()}", file=sys.stderr, flush=True)
master = fds[0]
pending = sys.argv[2] if len(sys.argv) > 2 else None
while True:
    try:
        data = os.read(master, 4096)
    except OSError:          # EIO: every slave fd closed
        break
    if not data:
        break
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
    if pending:
        os.write(master, pending.encode())
        pending = None
