"""Paths inside the new root, resolved as if it were / and never outside it.

Used by the mount operations (plan.py) for every mount destination and
symlink. A root filesystem is the user's (or anyone's) to fill: a symlink
in it, absolute or full of "..", must never send a mount to the host, and
nothing may swap a path between its check and the mount (runc's
CVE-2021-30465). So a destination is opened with openat2(2) and
RESOLVE_IN_ROOT (walked component by component before Linux 5.6), and the
mount goes onto /proc/self/fd/N of what was opened.
"""

import errno
import os
import stat

import kernel

MAX_LINKS = 40                   # as the kernel's MAXSYMLINKS


def resolve(ctx, path, create=False, directory=True, links=0):
    """An O_PATH fd of `path` resolved inside the new root; creates it (and
    its parents) when missing and `create` is set."""
    try:
        return open_in_root(ctx.root, path)
    except FileNotFoundError:
        if not create:
            raise
    parent, name = os.path.split(os.path.normpath(path))
    if not name or name == "..":
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
    pfd = resolve(ctx, parent, create=True, directory=True, links=links)
    try:
        link = _create(pfd, name, directory)
    finally:
        os.close(pfd)
    if link is None:
        ctx.run.trace(f"  created {'directory' if directory else 'file'} {path} in the new root")
        return open_in_root(ctx.root, path)
    if link == "":
        return open_in_root(ctx.root, path)          # made by someone else meanwhile
    # A dangling symlink: create what it points to, inside the root.
    if links >= MAX_LINKS:
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
    return resolve(ctx, link if link.startswith("/") else os.path.join(parent, link),
                   create=True, directory=directory, links=links + 1)


def target(ctx, dest, directory=True):
    """The mount target for `dest`: /proc/self/fd/N of the resolved path.

    The fd stays open until the plan ends; the kernel resolves the magic
    link to exactly the directory openat2 found.
    """
    fd = resolve(ctx, dest, create=True, directory=directory)
    ctx.fds[f"target:{fd}"] = fd
    return f"/proc/self/fd/{fd}"


def _create(pfd, name, directory):
    """Create `name` in the directory pfd. None when created; else what is
    in the way: a symlink's target, or "" when something else exists there
    (another container on the same rootfs created it since we looked)."""
    try:
        if directory:
            os.mkdir(name, 0o755, dir_fd=pfd)
        else:
            os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                             | os.O_CLOEXEC, 0o644, dir_fd=pfd))
        return None
    except FileExistsError:
        try:
            return os.readlink(name, dir_fd=pfd)
        except OSError:
            return ""


def open_in_root(root, path):
    """openat2(RESOLVE_IN_ROOT): symlinks and '..' cannot leave the root."""
    try:
        return kernel.openat2(root, path.lstrip("/") or ".", os.O_PATH | os.O_CLOEXEC,
                              kernel.RESOLVE_IN_ROOT | kernel.RESOLVE_NO_MAGICLINKS)
    except OSError as e:
        if e.errno == errno.ENOSYS:               # Linux before 5.6
            return walk_in_root(root, path)
        if e.errno == errno.ENOENT:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path) from None
        raise


def walk_in_root(root, path):
    """What RESOLVE_IN_ROOT does, one component at a time, for old kernels.

    Each component is opened O_PATH|O_NOFOLLOW relative to the directory
    before it; a symlink is read and its target walked instead, an absolute
    one from `root`; '..' never climbs above `root`.
    """
    parts = [p for p in path.split("/") if p not in ("", ".")]
    stack = [os.dup(root)]                  # the directories walked so far
    links = 0
    try:
        while parts:
            name = parts.pop(0)
            if name == "..":
                if len(stack) > 1:
                    os.close(stack.pop())
                continue
            fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=stack[-1])
            if not stat.S_ISLNK(os.fstat(fd).st_mode):
                stack.append(fd)
                continue
            os.close(fd)
            links += 1
            if links > MAX_LINKS:
                raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
            link = os.readlink(name, dir_fd=stack[-1])
            if link.startswith("/"):
                while len(stack) > 1:
                    os.close(stack.pop())
            parts = [p for p in link.split("/") if p not in ("", ".")] + parts
        return os.dup(stack[-1])
    finally:
        for fd in stack:
            os.close(fd)
