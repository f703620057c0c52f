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


def make_readonly(target, recursive, trace=None):
    """Make the mount at `target` (and, if recursive, every one below it)
    read-only."""
    try:
        kernel.mount_setattr(-1, target, kernel.AT_RECURSIVE if recursive else 0,
                             kernel.MOUNT_ATTR_RDONLY)
        return
    except OSError as e:
        if e.errno != errno.ENOSYS:              # Linux before 5.12
            raise
    trace = trace or (lambda message: None)
    trace("  mount_setattr: ENOSYS (Linux before 5.12): each mount remounted read-only")
    if not recursive:
        return remount_readonly(target, trace=trace)
    for mount_id, path in mounts_below(target):
        # By its path, but only if the path leads to that very mount: one
        # that another mount covers (a locked host mount over it) has no
        # path, cannot be remounted, and cannot be revealed either.
        fd = reach(path, mount_id)
        if fd is None:
            trace(f"  {path}: no path reaches it (another mount covers it): skipped")
            continue
        try:
            remount_readonly(f"/proc/self/fd/{fd}", shown=path, trace=trace)
        finally:
            os.close(fd)


def remount_readonly(path, shown=None, trace=None):
    """Read-only bind remount that restates the flags the kernel locked.

    In a user namespace, a mount inherited from a more privileged namespace
    keeps MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC and its atime flags
    locked: a remount that omits one of them fails with EPERM. An error
    carries the call as `step` (with `shown`, the path to show for `path`),
    so that the message names what the kernel refused.
    """
    from mounts.plan import mount_text
    flags = MS_REMOUNT | MS_BIND | MS_RDONLY
    step = mount_text("none", shown or path, None, flags)
    try:
        flags |= kernel.locked_flags(path)
        step = mount_text("none", shown or path, None, flags)
        if trace:
            trace(f"  {step}")
        kernel.mount(None, path, None, flags)
    except OSError as e:
        e.step = step
        raise


def mounts_below(path):
    """(mount ID, mount point) of `path`'s mount and every mount below it,
    from /proc/self/mountinfo."""
    real = os.path.realpath(path)
    with open("/proc/self/mountinfo", errors="surrogateescape") as f:
        mounts = [(int(fields[0]), unescape(fields[4]))
                  for fields in (line.split() for line in f)]
    return [(i, p) for i, p in mounts if p == real or p.startswith(real.rstrip("/") + "/")]


def reach(path, mount_id):
    """An O_PATH fd of `path` if it lands on the mount `mount_id`, else None."""
    try:
        fd = os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        with open(f"/proc/self/fdinfo/{fd}") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        if int(fields["mnt_id"]) == mount_id:
            return fd
    except (OSError, KeyError, ValueError):
        pass
    os.close(fd)
    return None


def unescape(field):
    """A mountinfo path: the kernel writes space, tab, newline and backslash
    in it as \\ooo (three octal digits)."""
    head, *rest = field.split("\\")
    return head + "".join(chr(int(part[:3], 8)) + part[3:] for part in rest)
