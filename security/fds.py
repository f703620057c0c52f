"""Which file descriptors reach the command: 0, 1 and 2, and --preserve-fds=N more.

API: close_on_exec(keep) marks every descriptor from 3 + keep up
close-on-exec (stages/harden.py calls it last before execve; `unc exec`
and the OCI runtime's --preserve-fds may too).

A descriptor is a capability of its own: it names an open file, not a
path, and works whatever the root or the mounts of the process that holds
it. A directory the caller left open (`7</`) therefore reaches the host's
tree from inside a container, through openat(7, ...) or
/proc/self/fd/7/..., past every mount unc made (runc's CVE-2024-21626 was
its own such descriptor). So nothing the caller did not pass on purpose
may survive the execve(2).

They are marked close-on-exec rather than closed: unc's own descriptors
up to the execve, such as the pipe that reports an exec failure (127, 126)
to unc, must keep working until the execve succeeds, which then closes
them all at once. close_range(2) with CLOSE_RANGE_CLOEXEC does it in one
call (Linux 5.11); older kernels get fcntl(2) on each descriptor listed in
/proc/self/fd.
"""

import errno
import fcntl
import os

import kernel


def close_on_exec(keep=0):
    """Mark every fd from 3 + keep upwards close-on-exec."""
    first = 3 + keep
    try:
        kernel.close_range(first, 0xFFFFFFFF, kernel.CLOSE_RANGE_CLOEXEC)
        return
    except OSError as e:
        if e.errno not in (errno.ENOSYS, errno.EINVAL):
            raise
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd >= first:
            try:
                fcntl.fcntl(fd, fcntl.F_SETFD, fcntl.fcntl(fd, fcntl.F_GETFD) | fcntl.FD_CLOEXEC)
            except OSError:
                pass                        # the listing's own descriptor, closed since
