"""Stage 1, user_pid: a user namespace and a PID namespace.

What it adds
    The command runs as root (uid 0) and as process 1, yet unc needs no
    privilege at all: both are true only inside the new namespaces.

User namespace (user_namespaces(7))
    A user namespace has its own table of user and group ids. Any user may
    create one with unshare(CLONE_NEWUSER) and gets every capability inside
    it, but only over objects the namespace owns: the host's files still see
    the real uid. The namespace starts empty; until /proc/PID/uid_map and
    /proc/PID/gid_map are written, the process runs as the overflow user
    "nobody". The kernel allows an unprivileged writer exactly one line that
    maps its own id, so unc writes "0 <your uid> 1": you are root inside,
    yourself outside. Before gid_map, /proc/PID/setgroups must hold "deny"
    (Linux 3.19+), or a process could drop a group that was denying it
    access to a file. A side effect: your supplementary groups stay attached
    and cannot be changed inside. Root maps 0 to 0.

    unc writes the maps from the host, from outside the namespace. That is
    what newuidmap(1) does too, and it keeps the door open to wider maps.

    Creating user namespaces can be switched off: user.max_user_namespaces
    set to 0, Debian's kernel.unprivileged_userns_clone set to 0, or Ubuntu's
    kernel.apparmor_restrict_unprivileged_userns set to 1. unc names the
    setting when the kernel refuses.

PID namespace (pid_namespaces(7))
    A PID namespace numbers processes from 1 again. unshare(CLONE_NEWPID)
    does not move the caller: its next child becomes PID 1. So the core
    unshares, then forks; the child is PID 1 and runs the command. PID 1 is
    special: the kernel delivers it only the signals it has a handler for,
    orphans are re-parented to it, and when it exits the kernel kills every
    other process in the namespace. unc makes up for the first rule when it
    passes signals on (core/signals.py, forward_signals); --init puts a
    small init in front of the command for all three (core/init.py).

    All namespaces of all stages are unshared in one unshare(2) call: the
    user namespace is created first and owns the others, which is why no
    stage after this one needs any privilege either.

Try it
    unc --stage=user_pid --trace sh -c 'id; echo $$'
"""

import errno
import os

from core.errors import Fail
from kernel import CLONE_NEWPID, CLONE_NEWUSER

NAME = "user_pid"
SUMMARY = "run as root and PID 1 in new user and PID namespaces"
CLONE_FLAGS = CLONE_NEWUSER | CLONE_NEWPID


class State:
    """The id maps to write: uid_map and gid_map lines."""

    def __init__(self):
        self.uid_map = self.gid_map = None


def id_map(inside, outside, count=1):
    """One line of a uid_map/gid_map file: inside id, outside id, range size."""
    return f"{inside} {outside} {count}\n"


def prepare(run, me):
    me.uid_map = id_map(0, os.geteuid())
    me.gid_map = id_map(0, os.getegid())


def host_setup(run, me):
    proc = f"/proc/{run.pid}"
    _write(run, f"{proc}/uid_map", me.uid_map)
    # The kernel refuses gid_map until setgroups is denied (Linux 3.19+).
    _write(run, f"{proc}/setgroups", "deny")
    _write(run, f"{proc}/gid_map", me.gid_map)


def _write(run, path, text):
    run.trace(f'write {path} "{text.strip()}"')
    try:
        with open(path, "w") as f:
            f.write(text)
    except OSError as e:
        raise Fail(f"cannot write {path}: {e.strerror}; {_why_maps_fail()}")


def _why_maps_fail():
    if _sysctl("kernel/apparmor_restrict_unprivileged_userns") == "1":
        return ("AppArmor restricts unprivileged user namespaces "
                "(sysctl kernel.apparmor_restrict_unprivileged_userns=1); "
                "set it to 0 or give unc an AppArmor profile that allows userns")
    return "the kernel refused the id map; check that unc is not setuid or setgid"


def _sysctl(name):
    try:
        with open(f"/proc/sys/{name}") as f:
            return f.read().strip()
    except OSError:
        return None


def unshare_refused(err):
    """Explain a refused unshare(CLONE_NEWUSER...) by the setting behind it:
    a user namespace is created first and owns the others, so it is the
    usual cause."""
    limit = _sysctl("user/max_user_namespaces")
    if limit == "0":
        return ("user namespaces are disabled: sysctl user.max_user_namespaces is 0; "
                "as root, set it: sysctl -w user.max_user_namespaces=15000")
    if _sysctl("kernel/unprivileged_userns_clone") == "0":
        return ("unprivileged user namespaces are disabled: sysctl "
                "kernel.unprivileged_userns_clone is 0; as root, set it: "
                "sysctl -w kernel.unprivileged_userns_clone=1")
    if err.errno == errno.ENOSPC:        # a namespace count limit is reached
        return (f"too many user namespaces exist (user.max_user_namespaces={limit}); "
                "end some containers or raise the limit")
    if err.errno == errno.EINVAL:        # threads, or not supported
        return ("the kernel does not support these namespaces "
                "(CONFIG_USER_NS/CONFIG_PID_NS) or the process has threads")
    return (f"{err.strerror}; a seccomp filter may block unshare(2) "
            "(are you inside another container? allow user namespaces there)")
