"""config.json's mounts, devices, sysctl, masked and read-only paths as
operations of unc's mount plan (mounts/plan.py).

Used by container.py, which builds the plan: the bundle's root bound on
the staging directory, then these operations in config.json's order, then
the default devices and /dev links runc gives every container, sysctl,
masked and read-only paths, and the pivot. Every destination is resolved
inside the new root (mounts/resolve.py), as for unc's own mounts.

The options of a mount (mount(8)'s words) become mount(2) flags, a
propagation change after the mount, and the filesystem's data string. In
a user namespace some filesystems are refused where runc, as root, would
mount them: a fresh sysfs needs a network namespace the user namespace
owns, mqueue an IPC namespace it owns, and cgroup (v1, on this hybrid
layout) is never the container's to mount. Each then gets the host's own
tree bound, read-only where the mount asked for `ro`, as runc's rootless
mode does.
"""

import errno
import os

import kernel
from kernel import (MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_PRIVATE, MS_RDONLY, MS_REC,
                    MS_REMOUNT, MS_SLAVE)
from mounts.plan import Op, mount_text
from mounts.readonly import make_readonly
from mounts.resolve import resolve, target

MS_SHARED = 1 << 20
MS_UNBINDABLE = 1 << 17
MS_NOATIME, MS_NODIRATIME, MS_RELATIME, MS_STRICTATIME = 1024, 2048, 1 << 21, 1 << 24
MS_SYNCHRONOUS, MS_DIRSYNC, MS_MANDLOCK = 16, 128, 64

FLAGS = {"ro": (MS_RDONLY, True), "rw": (MS_RDONLY, False), "nosuid": (MS_NOSUID, True),
         "suid": (MS_NOSUID, False), "nodev": (MS_NODEV, True), "dev": (MS_NODEV, False),
         "noexec": (MS_NOEXEC, True), "exec": (MS_NOEXEC, False),
         "noatime": (MS_NOATIME, True), "atime": (MS_NOATIME, False),
         "nodiratime": (MS_NODIRATIME, True), "diratime": (MS_NODIRATIME, False),
         "relatime": (MS_RELATIME, True), "norelatime": (MS_RELATIME, False),
         "strictatime": (MS_STRICTATIME, True), "nostrictatime": (MS_STRICTATIME, False),
         "sync": (MS_SYNCHRONOUS, True), "async": (MS_SYNCHRONOUS, False),
         "dirsync": (MS_DIRSYNC, True), "mand": (MS_MANDLOCK, True),
         "nomand": (MS_MANDLOCK, False), "defaults": (0, True)}
PROPAGATION = {"private": MS_PRIVATE, "rprivate": MS_PRIVATE | MS_REC,
               "slave": MS_SLAVE, "rslave": MS_SLAVE | MS_REC,
               "shared": MS_SHARED, "rshared": MS_SHARED | MS_REC,
               "unbindable": MS_UNBINDABLE, "runbindable": MS_UNBINDABLE | MS_REC}
# Filesystems the container's user namespace may be refused, and the host
# tree bound in their place.
HOST_TREE = {"sysfs": "/sys", "mqueue": "/dev/mqueue", "cgroup": "/sys/fs/cgroup",
             "cgroup2": "/sys/fs/cgroup"}
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty")
DEV_LINKS = (("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"),
             ("/proc/self/fd/1", "/dev/stdout"), ("/proc/self/fd/2", "/dev/stderr"),
             ("/proc/kcore", "/dev/core"))


def parse_options(options):
    """(flags, propagation, data, bind, recursive) of a mount's options."""
    flags = propagation = 0
    data, bind, recursive = [], False, False
    for option in options or []:
        if option in ("bind", "rbind"):
            bind, recursive = True, recursive or option == "rbind"
        elif option in FLAGS:
            bit, on = FLAGS[option]
            flags = flags | bit if on else flags & ~bit
        elif option in PROPAGATION:
            propagation = PROPAGATION[option]
        elif option in ("tmpcopyup", "idmap", "ridmap", "copy-symlink"):
            from core import Fail
            raise Fail(f"config.json: mount option {option!r} is not supported: remove it")
        else:
            data.append(option)
    return flags, propagation, ",".join(data), bind, recursive


class OciMount(Op):
    """One entry of config.json's mounts."""

    def __init__(self, mount, bundle):
        self.dest = mount["destination"]
        self.fstype = mount.get("type") or "none"
        self.source = mount.get("source") or self.fstype
        options = list(mount.get("options") or [])
        if self.fstype == "bind" and not {"bind", "rbind"} & set(options):
            options.append("rbind")
        self.flags, self.propagation, self.data, self.bind, self.recursive = \
            parse_options(options)
        if self.bind:
            if not self.source.startswith("/"):
                self.source = os.path.join(bundle, self.source)
            self.sources = (self.source,)
        self.fallback = HOST_TREE.get(self.fstype) if not self.bind else None

    def open(self, ctx):
        super().open(ctx)
        if self.fallback and self.fallback not in ctx.fds:
            try:
                ctx.fds[self.fallback] = os.open(self.fallback, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                pass                      # no such tree on this host: no fallback

    def execute(self, ctx):
        if self.bind:
            source = ctx.source(self.source)
            kernel.mount(source, target(ctx, self.dest, directory=os.path.isdir(source)), None,
                         MS_BIND | (MS_REC if self.recursive else 0))
            self.restate(ctx, os.path.isdir(source))
        elif self.fstype in ("cgroup", "cgroup2"):
            self.bind_host(ctx)
        else:
            try:
                self.fresh(ctx)
            except OSError as e:
                if e.errno != errno.EPERM or self.fallback not in ctx.fds:
                    raise
                ctx.run.trace(f"  {self.fstype} refused (EPERM): binding the host's "
                              f"{self.fallback}")
                self.bind_host(ctx)
        if self.propagation:
            kernel.mount(None, target(ctx, self.dest), None, self.propagation)

    def fresh(self, ctx):
        try:
            kernel.mount(self.source, target(ctx, self.dest), self.fstype, self.flags,
                         self.data or None)
        except OSError as e:
            # gid=5 (tty) where the user namespace has no such group.
            if e.errno != errno.EINVAL or self.fstype != "devpts" or "gid=" not in self.data:
                raise
            data = ",".join(o for o in self.data.split(",") if not o.startswith("gid="))
            ctx.run.trace(f"  devpts refused {self.data!r} (EINVAL): without gid=")
            kernel.mount(self.source, target(ctx, self.dest), self.fstype, self.flags, data)

    def bind_host(self, ctx):
        if self.fallback not in ctx.fds:
            raise OSError(errno.ENOENT, f"the host has no {self.fallback}", self.fallback)
        kernel.mount(ctx.source(self.fallback), target(ctx, self.dest), None, MS_BIND | MS_REC)
        if self.flags & MS_RDONLY:
            make_readonly(target(ctx, self.dest), recursive=True, trace=ctx.run.trace)

    def restate(self, ctx, directory):
        """A bind mount takes no flags of its own: they come with a remount,
        which must also restate the flags the kernel locked on its source."""
        flags = self.flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME
                              | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME)
        if not flags:
            return
        path = target(ctx, self.dest, directory=directory)
        flags |= kernel.locked_flags(path)
        kernel.mount(None, path, None, MS_REMOUNT | MS_BIND | flags)

    def describe(self):
        if self.bind:
            return mount_text(self.source, self.dest, None,
                              MS_BIND | (MS_REC if self.recursive else 0)) + (
                                  " + remount" if self.flags else "")
        return mount_text(self.source, self.dest, self.fstype, self.flags, self.data)


class Device(Op):
    """A device node of the host bound in (no mknod in a user namespace)."""

    def __init__(self, path, required=True):
        self.dest = path
        self.required = required
        self.sources = (path,)

    def open(self, ctx):
        try:
            super().open(ctx)
        except Exception:
            if self.required:
                raise
            self.sources = ()

    def execute(self, ctx):
        if self.sources:
            kernel.mount(ctx.source(self.dest), target(ctx, self.dest, directory=False),
                         None, MS_BIND)

    def describe(self):
        return mount_text(self.dest, self.dest, None, MS_BIND)


class Link(Op):
    """A /dev symlink runc makes, unless the bundle has that name already."""

    def __init__(self, link, dest):
        self.link, self.dest = link, dest

    def execute(self, ctx):
        parent, name = os.path.split(self.dest)
        fd = resolve(ctx, parent, create=True)
        try:
            os.symlink(self.link, name, dir_fd=fd)
        except FileExistsError:
            pass
        finally:
            os.close(fd)

    def describe(self):
        return f'symlink("{self.link}", "{self.dest}")'


class Sysctl(Op):
    """linux.sysctl: written through the container's own /proc/sys."""

    def __init__(self, name, value):
        self.name, self.value = name, value
        self.dest = "/proc/sys/" + name.replace(".", "/")

    def execute(self, ctx):
        def write(path):
            with open(path, "w") as f:
                f.write(self.value)
        if not if_present(ctx, self.dest, write):
            raise OSError(errno.ENOENT, f"this kernel has no sysctl {self.name}", self.dest)

    def describe(self):
        return f'write {self.dest} "{self.value}"'


def if_present(ctx, path, action):
    """action(magic link of `path` in the new root), if the root has it."""
    try:
        fd = resolve(ctx, path)
    except FileNotFoundError:
        return False
    try:
        action(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)
    return True


class Propagation(Op):
    """linux.rootfsPropagation, once the root is the container's."""

    def __init__(self, name):
        self.name = name

    def execute(self, ctx):
        kernel.mount(None, "/", None, PROPAGATION[self.name])

    def describe(self):
        return f'mount("none", "/", NULL, {self.name})'
