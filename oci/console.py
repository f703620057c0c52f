"""--console-socket: the container's terminal, handed to the caller.

Used by container.py (PID 1 of a process.terminal container) and cli.py's
exec --tty. runc's protocol, which conmon speaks: the caller listens on a
unix socket and passes its path; the runtime connects to it (on the host,
before the container's root hides the path), creates a pseudo-terminal
inside the container, so that the slave is a node of the container's own
devpts, sends the master over the socket as SCM_RIGHTS ancillary data
(unix(7)) with the slave's name as the message, and makes the slave the
process's controlling terminal (TIOCSCTTY, which needs a session leader
without one: the process called setsid) and its stdin, stdout, stderr.
"""

import fcntl
import os
import socket
import struct
import termios

from core import Fail


def connect(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as e:
        sock.close()
        raise Fail(f"cannot connect to the console socket {path}: {e.strerror}") from None
    return sock


def hand_over(sock, size=None):
    """In the process that becomes the console's owner (a session leader)."""
    master, slave = os.openpty()
    if size:
        fcntl.ioctl(slave, termios.TIOCSWINSZ,
                    struct.pack("HHHH", size.get("height", 0), size.get("width", 0), 0, 0))
    socket.send_fds(sock, [os.ttyname(slave).encode()], [master])
    sock.close()
    os.close(master)
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    if slave > 2:
        os.close(slave)
