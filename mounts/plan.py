"""The mount plan and its operations, run in order inside the container.

Used by the mount stage (stages/mount.py, build_plan), which makes one for
every run and puts it on run.plan, where later stages may add to it
(stages/__init__.py; the net stage adds /etc/resolv.conf through
network/dns.py); core/run.py never looks inside. Each operation opens the
host paths it needs first (open), then runs (execute), and can say what it
does (describe, the --trace line) and why the kernel refused it (explain).
Every destination is resolved inside the new root (resolve.py); every
read-only mount goes through readonly.py.
"""

import errno
import os

import kernel
from core import Fail
from kernel import (CLONE_NEWNET, MNT_DETACH, MS_BIND, MS_MOVE, MS_NAMES, MS_NODEV,
                    MS_NOEXEC, MS_NOSUID, MS_PRIVATE, MS_RDONLY, MS_REC, MS_REMOUNT,
                    flag_names)
from mounts.readonly import make_readonly, remount_readonly
from mounts.resolve import resolve, target

STAGING = "/tmp"                 # where the new root is assembled
NEWROOT = STAGING + "/newroot"


class Plan:
    """The operations in the order they run; `enter` holds those that
    change the root, which run after every other operation."""

    def __init__(self):
        self.ops = []
        self.enter = []
        self.user = []           # (option as given, destination) of the user's mounts

    def add(self, op, option=None):
        """Add `op`; `option`: the user's option it comes from (-v ...)."""
        self.ops.append(op)
        if option:
            self.user.append((option, op.dest))

    def __iter__(self):
        return iter(self.ops + self.enter)

    def describe(self):
        """What --trace prints, one line an operation."""
        return [op.describe() for op in self]

    def user_mount_over(self, path):
        """The user's option whose mount covers `path`, if any."""
        for option, dest in self.user:
            # normpath keeps a leading "//"; the mount lands on "/" + the rest.
            dest = "/" + os.path.normpath(dest).lstrip("/")
            if path == dest or path.startswith(dest.rstrip("/") + "/"):
                return option
        return None

    def execute(self, run):
        ctx = Context(run)
        try:
            for op in self:
                op.open(ctx)
            for op in self:
                run.trace(op.describe())
                try:
                    op.execute(ctx)
                except OSError as e:
                    raise Fail(op.explain(e)) from None
        finally:
            ctx.close()


class Context:
    """What operations share while the plan runs: the source fds and the
    new root's directory fd."""

    def __init__(self, run):
        self.run = run
        self.fds = {}
        self.root = None

    def source(self, path):
        return f"/proc/self/fd/{self.fds[path]}"

    def close(self):
        for fd in list(self.fds.values()) + ([self.root] if self.root else []):
            try:
                os.close(fd)
            except OSError:
                pass


class Op:
    """One step of the plan. `open` grabs host paths before the staging
    tmpfs hides /tmp; `execute` does the step; `describe` says it for
    --trace; `explain` turns a refusal into advice."""

    sources = ()
    dest = None

    def open(self, ctx):
        for path in self.sources:
            if path not in ctx.fds:
                try:
                    ctx.fds[path] = os.open(path, os.O_PATH | os.O_CLOEXEC)
                except OSError as e:
                    raise Fail(f"cannot open {path}: {e.strerror}") from None

    def execute(self, ctx):
        raise NotImplementedError

    def describe(self):
        raise NotImplementedError

    def explain(self, err):
        if err.errno in (errno.EACCES, errno.EROFS) and self.dest:
            return (f"cannot create the mount point {self.dest} in the container: "
                    f"{err.strerror}; create it in the root filesystem first (without "
                    "--rootfs the host's / is read-only: mount onto an existing path)")
        if err.errno == errno.ENOTDIR and self.dest:
            return (f"cannot mount on {self.dest} in the container: one of the source and "
                    "the destination is a directory and the other is not; use a "
                    "destination of the same kind as the source")
        # The staging directory means nothing to the user: show container
        # paths. A step inside this one (a remount of the fallback for
        # kernels before 5.12) names itself.
        step = getattr(err, "step", None) or self.describe()
        step = step.replace(f'"{NEWROOT}/', '"/').replace(f'"{NEWROOT}"', '"/"')
        return f"{step} failed: {os.strerror(err.errno)}"

    def __repr__(self):
        return f"<{self.describe()}>"


def mount_text(source, target, fstype, flags, data=None):
    """A mount(2) call as --trace shows it."""
    args = [f'"{source}"', f'"{target}"', f'"{fstype}"' if fstype else "NULL",
            flag_names(flags, MS_NAMES)]
    if data:
        args.append(f'"{data}"')
    return f"mount({', '.join(args)})"


# ---------------------------------------------------------- the operations

class MakePrivate(Op):
    """No mount of ours propagates back to the host."""

    def execute(self, ctx):
        kernel.mount(None, "/", None, MS_REC | MS_PRIVATE)

    def describe(self):
        return mount_text("none", "/", None, MS_REC | MS_PRIVATE)


class Staging(Op):
    """A private tmpfs on /tmp with an empty newroot/ to bind the root onto."""

    def execute(self, ctx):
        kernel.mount("tmpfs", STAGING, "tmpfs", MS_NOSUID | MS_NODEV, "mode=700")
        os.mkdir(NEWROOT, 0o755)

    def describe(self):
        return (mount_text("tmpfs", STAGING, "tmpfs", MS_NOSUID | MS_NODEV, "mode=700")
                + f"; mkdir {NEWROOT}")


class BindRoot(Op):
    """The new root: the rootfs directory, or the host's whole tree."""

    def __init__(self, source):
        self.sources = (source,)

    def execute(self, ctx):
        kernel.mount(ctx.source(self.sources[0]), NEWROOT, None, MS_BIND | MS_REC)
        if self.sources[0] == "/":
            # The recursive copy of the host's tree holds a copy of the
            # staging tmpfs on /tmp, which hides the copies of the host's
            # mounts below /tmp. It is unc's own (not locked): detach it.
            ctx.run.trace(f'  umount2("{NEWROOT}{STAGING}", MNT_DETACH): the copy of '
                          "the staging tmpfs")
            kernel.umount2(NEWROOT + STAGING, MNT_DETACH)
        ctx.root = os.open(NEWROOT, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)

    def describe(self):
        return mount_text(self.sources[0], NEWROOT, None, MS_BIND | MS_REC)


class OverlayRoot(Op):
    """The new root from an image's layers (--image): an overlayfs with the
    layers as its read-only lower part, top first, and a writable upper
    layer: a fresh directory of the staging tmpfs (gone with the mount
    namespace, so with the run, however unc ends), or --persist's DIR/upper;
    none with --read-only.

    Linux 5.11 and later let a user namespace mount overlayfs when it says
    `userxattr`: overlayfs then keeps its own metadata (opaque directories,
    images/unpack.py) in user.overlay.* xattrs instead of trusted.*, which
    only the host's root may set. The layer directories go in as
    /proc/self/fd/N, opened before the staging tmpfs hides the host's /tmp:
    short, and safe from a path swapped in between."""

    def __init__(self, lowers, persist=None, readonly=False):
        self.lowers, self.persist, self.readonly = list(lowers), persist, readonly
        self.sources = tuple(self.lowers) + ((persist,) if persist else ())

    def options(self, ctx):
        lower = ":".join(ctx.source(path) for path in self.lowers)
        if self.readonly:
            return f"lowerdir={lower},userxattr"
        if self.persist:
            upper = ctx.source(self.persist)
        else:
            upper = STAGING + "/overlay"
        return f"lowerdir={lower},upperdir={upper}/upper,workdir={upper}/work,userxattr"

    def execute(self, ctx):
        if not self.readonly and not self.persist:
            os.mkdir(STAGING + "/overlay", 0o755)
            os.mkdir(STAGING + "/overlay/upper", 0o755)
            os.mkdir(STAGING + "/overlay/work", 0o700)
        if self.readonly and len(self.lowers) == 1:
            # One layer and nothing to write: the layer itself, read-only
            # later (ReadOnly in enter), as for --rootfs --read-only.
            kernel.mount(ctx.source(self.lowers[0]), NEWROOT, None, MS_BIND)
        else:
            kernel.mount("overlay", NEWROOT, "overlay", MS_NOSUID, self.options(ctx))
        ctx.root = os.open(NEWROOT, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)

    def describe(self):
        if self.readonly and len(self.lowers) == 1:
            return mount_text(self.lowers[0], NEWROOT, None, MS_BIND)
        upper = ("" if self.readonly else
                 f",upperdir={self.persist or STAGING + '/overlay'}/upper,workdir=.../work")
        return mount_text("overlay", NEWROOT, "overlay", MS_NOSUID,
                          f"lowerdir={len(self.lowers)} layers{upper},userxattr")

    def explain(self, err):
        if err.errno in (errno.EPERM, errno.EINVAL, errno.ENODEV, errno.EOPNOTSUPP):
            return (f"cannot mount the image's layers with overlayfs ({err.strerror}): the "
                    "kernel does not let this user namespace mount it (it needs Linux 5.11 "
                    "or later, userxattr, and layers on a filesystem with user xattrs); run a "
                    "copy of the image instead: mkdir -p DIR/root and pass --persist=DIR "
                    "(unc copies the image into DIR/root once and runs it from there)")
        return super().explain(err)


class ReadOnly(Op):
    """Make a mount (and, if recursive, every mount below it) read-only."""

    def __init__(self, dest, recursive):
        self.dest, self.recursive = dest, recursive

    def execute(self, ctx):
        make_readonly(target(ctx, self.dest), self.recursive, ctx.run.trace)

    def describe(self):
        how = "AT_RECURSIVE" if self.recursive else "0"
        return f'mount_setattr("{NEWROOT}{self.dest}", {how}, MOUNT_ATTR_RDONLY)'

    def explain(self, err):
        text = super().explain(err)
        if self.dest == "/" and self.recursive:
            text += ("; the host's / cannot be made read-only here: pass --rootfs=DIR "
                     "to use a root filesystem of your own")
        return text


class Mount(Op):
    """A new filesystem instance (proc, tmpfs, devpts, sysfs) at `dest`."""

    def __init__(self, fstype, dest, flags=0, data=None, source=None):
        self.fstype, self.dest, self.flags, self.data = fstype, dest, flags, data
        self.source = source or fstype

    def execute(self, ctx):
        kernel.mount(self.source, target(ctx, self.dest, directory=True),
                     self.fstype, self.flags, self.data)

    def describe(self):
        return mount_text(self.source, NEWROOT + self.dest, self.fstype, self.flags, self.data)


class Proc(Mount):
    """A fresh procfs, or with --bind-proc the host's."""

    def __init__(self, bind_host):
        super().__init__("proc", "/proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        self.bind_host = bind_host
        if bind_host:
            self.sources = ("/proc",)

    def execute(self, ctx):
        if self.bind_host:
            kernel.mount(ctx.source("/proc"), target(ctx, "/proc", directory=True),
                         None, MS_BIND | MS_REC)
        else:
            super().execute(ctx)

    def describe(self):
        if self.bind_host:
            return mount_text("/proc", NEWROOT + "/proc", None, MS_BIND | MS_REC)
        return super().describe()

    def explain(self, err):
        if err.errno == errno.EPERM and not self.bind_host:
            return ("cannot mount a fresh /proc: the kernel refuses it because parts "
                    "of the host's /proc are covered by other mounts (its "
                    "mount_too_revealing check, usual inside other containers); pass "
                    "--bind-proc to bind the host's /proc instead")
        return super().explain(err)


class Sysfs(Mount):
    """A fresh sysfs where the kernel allows it, else the host's, read-only.

    The kernel allows a fresh sysfs only to a user namespace that owns the
    network namespace, so whether to try is read from run.flags, final
    once every stage has prepared (net may drop CLONE_NEWNET)."""

    def __init__(self):
        super().__init__("sysfs", "/sys", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
        self.sources = ("/sys",)
        self.own_netns = False

    def open(self, ctx):
        super().open(ctx)
        self.own_netns = bool(ctx.run.flags & CLONE_NEWNET)

    def execute(self, ctx):
        if self.own_netns:
            try:
                return super().execute(ctx)
            except OSError as e:
                if e.errno != errno.EPERM:
                    raise
                ctx.run.trace("  fresh sysfs refused (EPERM): binding the host's /sys")
        kernel.mount(ctx.source("/sys"), target(ctx, "/sys"), None, MS_BIND | MS_REC)
        # The fd resolved before the bind names the directory underneath.
        make_readonly(target(ctx, "/sys"), recursive=True, trace=ctx.run.trace)

    def describe(self):
        if self.own_netns:
            return super().describe()
        return (mount_text("/sys", NEWROOT + "/sys", None, MS_BIND | MS_REC)
                + "; made read-only (AT_RECURSIVE)")


class Bind(Op):
    """Bind a host path (a file or a directory) onto `dest` in the new root."""

    def __init__(self, source, dest, readonly=False):
        self.sources = (source,)
        self.dest, self.readonly = dest, readonly

    def execute(self, ctx):
        source = ctx.source(self.sources[0])
        is_dir = os.path.isdir(source)
        kernel.mount(source, target(ctx, self.dest, directory=is_dir), None, MS_BIND | MS_REC)
        if self.readonly:
            # Re-resolve: the target is now the new mount on top.
            remount_readonly(target(ctx, self.dest, directory=is_dir))

    def describe(self):
        text = mount_text(self.sources[0], NEWROOT + self.dest, None, MS_BIND | MS_REC)
        if self.readonly:
            text += "; " + mount_text("none", NEWROOT + self.dest, None,
                                      MS_REMOUNT | MS_BIND | MS_RDONLY) + " + locked flags"
        return text


class Console(Bind):
    """Bind the caller's terminal on /dev/console: a convenience for
    ttyname(3), so a terminal that cannot be opened or bound leaves the
    container without a /dev/console rather than unstarted."""

    def __init__(self, tty):
        super().__init__(tty, "/dev/console")
        self.missed = None

    def open(self, ctx):
        try:
            super().open(ctx)
        except Fail as e:
            self.missed = str(e)

    def execute(self, ctx):
        if self.missed is None:
            try:
                return super().execute(ctx)
            except OSError as e:
                self.missed = e.strerror
        ctx.run.trace(f"  no /dev/console: {self.missed}")


class Symlink(Op):
    def __init__(self, link, dest):
        self.link, self.dest = link, dest

    def execute(self, ctx):
        parent, name = os.path.split(self.dest)
        fd = resolve(ctx, parent, create=True, directory=True)
        try:
            os.symlink(self.link, name, dir_fd=fd)
        finally:
            os.close(fd)

    def describe(self):
        return f'symlink("{self.link}", "{NEWROOT}{self.dest}")'


class PivotRoot(Op):
    """Enter the new root and detach the old one."""

    def execute(self, ctx):
        os.chdir(NEWROOT)
        try:
            kernel.pivot_root(".", ".")
        except OSError as e:
            if e.errno != errno.EINVAL:            # / is not a mount point
                raise
            ctx.run.trace("pivot_root refused (EINVAL: the current root is not a mount "
                          'point, as in an initramfs): mount(".", "/", MS_MOVE); chroot(".")')
            kernel.mount(".", "/", None, MS_MOVE)
            os.chroot(".")
        else:
            # The old root now sits under the new one, on the same directory.
            kernel.umount2(".", MNT_DETACH)
        os.chdir("/")

    def describe(self):
        return (f'chdir("{NEWROOT}"); pivot_root(".", "."); '
                'umount2(".", MNT_DETACH); chdir("/")')


class Chdir(Op):
    """The working directory inside: the caller's where it exists, else /."""

    def __init__(self, path):
        self.path = path

    def execute(self, ctx):
        try:
            os.chdir(self.path)
        except OSError:
            ctx.run.trace(f'  {self.path} does not exist inside: staying in "/"')

    def describe(self):
        return f'chdir("{self.path}")'
