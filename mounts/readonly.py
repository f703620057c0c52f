"""Read-only mounts, on every kernel unc runs on.

Used by the mount operations (plan.py): the host's / made read-only when
there is no --rootfs, `-v ...:ro`, --read-only, and the host's /sys.
mount_setattr(2) (Linux 5.12+) makes a whole tree read-only at once;
before it, each mount of the tree is remounted, restating the flags the
kernel locked on it.
"""

import errno
import os

import kernel
from kernel import MS_BIND, MS_RDONLY, MS_REMOUNT


def make_readonly(target, recursive):
    """Make the mount at `target` (and, if recursive, every one below it)
    read-only."""
    try:
        kernel.mount_setattr(-1, target, kernel.AT_RECURSIVE if recursive else 0,
                             kernel.MOUNT_ATTR_RDONLY)
    except OSError as e:
        if e.errno != errno.ENOSYS:              # Linux before 5.12
            raise
        for path in mounts_below(target) if recursive else [target]:
            remount_readonly(path)


def remount_readonly(path):
    """Read-only bind remount that restates the flags the kernel locked.

    In a user namespace, a mount inherited from a more privileged namespace
    keeps MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC and its atime flags
    locked: a remount that omits one of them fails with EPERM.
    """
    flags = MS_REMOUNT | MS_BIND | MS_RDONLY | kernel.locked_flags(path)
    kernel.mount(None, path, None, flags)


def mounts_below(path):
    """`path` and the mount points below it, from /proc/self/mountinfo."""
    real = os.path.realpath(path)
    with open("/proc/self/mountinfo", errors="surrogateescape") as f:
        points = [unescape(line.split()[4]) for line in f]
    return [p for p in points if p == real or p.startswith(real.rstrip("/") + "/")]


def unescape(field):
    """A mountinfo path: the kernel writes space, tab, newline and backslash
    in it as \\ooo (three octal digits)."""
    head, *rest = field.split("\\")
    return head + "".join(chr(int(part[:3], 8)) + part[3:] for part in rest)
