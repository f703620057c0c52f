"""unc exec -t: the command on a pseudo-terminal of its own, relayed.

Used by containers/cli.py. The monitor's handler opens the pty inside the
container (containers/enter.py), gives its slave to the command as stdin,
stdout, stderr and controlling terminal, so ^C typed on it signals the
command as on any terminal, and sends unc exec the master (SCM_RIGHTS). unc exec copies between its own stdin and
stdout and the master, with its own terminal in raw mode meanwhile (the
pty's line discipline does the echo and the editing, once), and passes its
window size on: the kernel sends the command SIGWINCH when the master's
size changes (tty_ioctl(4), TIOCSWINSZ).
"""

import fcntl
import json
import os
import select
import socket
import termios

# The signal module's functions and constants as plain ints (kernel.py).
import _signal as signal

from core import Fail


def relay(sock, request):
    """Send the request, take the pty's master, relay until the command
    ends and its output is read; return its status."""
    from containers import cli
    terminal = os.isatty(0)
    if terminal:
        request["size"] = list(fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8))
    socket.send_fds(sock, [(json.dumps(request) + "\n").encode()], [0, 1, 2])
    data, fds, _, _ = socket.recv_fds(sock, 4096, 1)
    if not fds:
        return cli.parse_answer(data.partition(b"\n")[0].decode(errors="replace"))
    master = fds[0]
    modes = None
    if terminal:
        import tty
        modes = termios.tcgetattr(0)
        tty.setraw(0, termios.TCSANOW)
        signal.signal(signal.SIGWINCH, lambda signum, frame: _copy_size(master))
    try:
        cli.forward_signals(sock, own=(signal.SIGWINCH,) if terminal else ())
        line = _copy(master, sock, data.partition(b"\n")[2])
    finally:
        if modes is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, modes)
    return cli.parse_answer(line)


def _copy(master, sock, answer):
    """Copy until the monitor's answer has come and the master says no more."""
    poll = select.poll()
    for fd in (0, master, sock.fileno()):
        poll.register(fd, select.POLLIN)
    while b"\n" not in answer:
        for fd, _ in poll.poll():
            if fd == master:
                if not _out(master):
                    poll.unregister(master)
            elif fd == 0:
                data = os.read(0, 1 << 16)
                if data:
                    _write(master, data)
                else:
                    poll.unregister(0)
                    _write(master, b"\x04")     # end of input: ^D, as typed
            else:
                data = sock.recv(4096)
                if not data:
                    raise Fail("the container's monitor went away before the command ended")
                answer += data
    # The command has ended: what it wrote is still in the master's buffer.
    os.set_blocking(master, False)
    while _out(master):
        pass
    return answer.partition(b"\n")[0].decode(errors="replace")


def _out(master):
    """Copy one read of the master to stdout; False when it has no more."""
    try:
        data = os.read(master, 1 << 16)
    except (BlockingIOError, OSError):
        return False             # EAGAIN: empty; EIO: no slave open anymore
    if data:
        _write(1, data)
    return bool(data)


def _write(fd, data):
    while data:
        data = data[os.write(fd, data):]


def _copy_size(fd):
    try:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8))
    except OSError:
        pass
