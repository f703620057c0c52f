"""What the host offers the network modes: the tun device, a default
route, the helper programs.

Used by the net stage (stages/net.py) to choose a mode and to say why one
cannot work, and by the backends to explain a helper's failure.
"""

import errno
import os

from core import Fail
from core.execvp import which

TUN = "/dev/net/tun"

# The program each mode runs, and the Debian package that has it.
PROGRAMS = {"slirp4netns": ("slirp4netns", "slirp4netns"),
            "pasta": ("pasta", "passt"),
            "ip": ("ip", "iproute2"),
            "nsenter": ("nsenter", "util-linux")}

NO_ROUTE = ("pasta copies the host's address and default route, and the host has "
            "no default route")


def tun_problem():
    """Why this user cannot open /dev/net/tun ("which ..."), or None."""
    try:
        os.close(os.open(TUN, os.O_RDWR | os.O_CLOEXEC))
    except OSError as e:
        if e.errno in (errno.EACCES, errno.EPERM):
            return (f"which you may not open (it is mode {mode_of(TUN)}); as root, run "
                    f"chmod 666 {TUN}, as Debian's udev rules do on an ordinary host")
        if e.errno == errno.ENOENT:
            return ("which does not exist; as root, load the tun module (modprobe tun) "
                    f"or create it (mknod -m 666 {TUN} c 10 200)")
        return f"which cannot be opened: {e.strerror}"
    return None


def default_route():
    """Whether this network namespace has a default route, IPv4 or IPv6.

    pasta copies the host's address and default route into the container
    and refuses to start without one ("External interface not usable");
    slirp4netns has its own network and does not care.
    """
    try:
        with open("/proc/net/route") as f:
            for fields in (line.split() for line in f.readlines()[1:]):
                # Destination and Mask 0: the default route; flag RTF_UP.
                if (len(fields) > 7 and fields[1] == fields[7] == "00000000"
                        and int(fields[3], 16) & 0x1):
                    return True
        with open("/proc/net/ipv6_route") as f:
            for fields in (line.split() for line in f):
                # ::/0, not the "unreachable" one on lo (RTF_REJECT, 0x200).
                if (len(fields) > 9 and fields[0] == "0" * 32 and fields[1] == "00"
                        and fields[9] != "lo" and not int(fields[8], 16) & 0x200):
                    return True
    except (OSError, ValueError):
        pass
    return False


def mode_of(path):
    try:
        return oct(os.stat(path).st_mode & 0o7777)[2:].zfill(4)
    except OSError:
        return "unknown"


def need_program(mode, name):
    """The path of program `name` that --net=mode needs; Fail naming its
    Debian package when it is not installed."""
    program, package = PROGRAMS[name]
    path = which(program)
    if path is None:
        raise Fail(f"--net={mode} needs the program {program}, which is not installed; "
                   f"install the Debian package {package} (apt-get install {package})")
    return path
