"""Stage 3, mount: a mount namespace, its own root filesystem, /proc and /dev.

What it adds
    Until now the container saw every file of the host and, in /proc, every
    host process. This stage gives it a root filesystem of its own, entered
    with pivot_root(2): --rootfs=DIR, or else the host's / read-only (so a
    script can use the host's tools without being able to change the host).
    On top: a fresh /proc that lists only the container's processes, a
    minimal /dev, /sys read-only, a tmpfs /tmp (without --rootfs, or with
    --read-only), and the
    user's own mounts (-v SRC:DST[:ro], --tmpfs=DST, --read-only). It also
    unshares the IPC namespace, so System V IPC objects and POSIX message
    queues are the container's own.

The mount namespace (mount_namespaces(7))
    unshare(CLONE_NEWNS) gives the container a copy of the host's mount
    table. Mounts made in the copy are invisible to the host, provided they
    do not propagate back: a "shared" mount forwards new mounts to its peers.
    In a user namespace the kernel already turns inherited shared mounts into
    slaves; the plan still starts with `mount --make-rprivate /` to say so.

How the new root is built
    1. Every host path the plan needs (the rootfs, volume sources, device
       nodes) is opened with O_PATH first and later used as /proc/self/fd/N,
       because the next step hides the host's /tmp.
    2. A tmpfs is mounted on /tmp as a staging area (bubblewrap does the
       same) and the new root is bind-mounted onto /tmp/newroot: the rootfs
       directory, or the whole host tree (MS_BIND|MS_REC) made read-only
       with mount_setattr(2) and AT_RECURSIVE.
    3. /proc, /dev, /sys, /tmp and the user's mounts go on top.
    4. pivot_root(".", ".") inside the new root stacks the old root under
       the new one; umount2(".", MNT_DETACH) then detaches the old root, so
       no path leads back to the host's tree.

Kernel rules that force these choices
    - pivot_root(new, old) wants `new` to be a mount point, not on the same
      mount as the current root, and its parent mount not shared. A bind
      mount of the rootfs onto a directory of a private tmpfs is all three.
      When / is not a mount point at all (an initramfs), pivot_root fails
      with EINVAL; then unc moves the new root onto / (MS_MOVE) and
      chroot(2)s into it, and --trace says so.
    - Mount destinations are resolved inside the new root with openat2(2)
      and RESOLVE_IN_ROOT, as if the rootfs were /: a symlink in a rootfs,
      absolute or full of "..", can never send a mount outside it. The mount
      then goes onto /proc/self/fd/N of the resolved directory, so nothing
      can swap the path in between (runc's CVE-2021-30465). Missing
      destinations are created inside the root, a directory or an empty
      file to match the source.
    - A fresh procfs may only be mounted where an instance is already fully
      visible (the kernel's mount_too_revealing check): inside some other
      containers parts of the host's /proc are covered, and the kernel says
      EPERM. unc stops with that explanation; --bind-proc binds the host's
      /proc instead (it then lists host processes).
    - Every filesystem mounted in a user namespace gets "nodev", and mknod(2)
      of a device is refused. /dev is therefore a tmpfs holding bind mounts
      of the host's null, zero, full, random, urandom and tty, which keep
      the host mount's flags; /dev/pts is a new devpts instance
      (newinstance,ptmxmode=0666) and /dev/ptmx a symlink into it.
    - The caller's terminal is a node of the host's devpts, which that new
      instance hides: ttyname(3), and so `tty`, would find no name for fd 0.
      It is bound on /dev/console, where ttyname finds it by its device
      number, as bwrap and LXC do; the container gets no access it did not
      have through the open fd already.
    - A fresh sysfs needs a network namespace owned by the container's user
      namespace; without the net stage unc binds the host's /sys read-only.
    - Mounts inherited from a more privileged namespace have their flags
      locked (MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, atime flags): a
      read-only remount of a bind (MS_REMOUNT|MS_BIND|MS_RDONLY) must
      restate each locked flag the source mount has, read with statvfs(3),
      or the kernel answers EPERM.
    - The frozen binary loads its modules from files on the host (its cache
      directory), out of view once the root changes: every module the
      container side needs is imported before pivot_root (this stage imports
      nothing later).

Try it
    unc --stage=mount --trace --rootfs=/path/to/busybox-root sh
"""

import os
import stat

import kernel
from kernel import (CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, MNT_DETACH, MS_BIND,
                    MS_MOVE, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_PRIVATE, MS_RDONLY,
                    MS_REC, MS_REMOUNT, flag_names, MS_NAMES)
from stages import Fail

NAME = "mount"
SUMMARY = "own root filesystem, /proc, /dev and mounts (mount and IPC namespaces)"
CLONE_FLAGS = CLONE_NEWNS | CLONE_NEWIPC
OPTIONS = ("--rootfs", "--volume", "--tmpfs", "--read-only", "--bind-proc")

STAGING = "/tmp"                 # where the new root is assembled
NEWROOT = STAGING + "/newroot"

DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
DEV_LINKS = (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
             ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"),
             ("ptmx", "pts/ptmx"))

O_PATH = 0o10000000


# ---------------------------------------------------------------- the plan

class Plan:
    """The mount setup: small operations, run in order inside the container.

    Later stages add their own operations with add(); they run before the
    root changes. `enter` holds the operations that change it.
    """

    def __init__(self):
        self.ops = []
        self.enter = []

    def add(self, op):
        self.ops.append(op)

    def __iter__(self):
        return iter(self.ops + self.enter)

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

    def open(self, ctx):
        for path in self.sources:
            if path not in ctx.fds:
                try:
                    ctx.fds[path] = os.open(path, O_PATH | os.O_CLOEXEC)
                except OSError as e:
                    raise Fail(f"cannot open {path}: {e.strerror}") from None

    def execute(self, ctx):
        raise NotImplementedError

    def describe(self):
        raise NotImplementedError

    def explain(self, err):
        dest = getattr(self, "dest", None)
        if err.errno in (13, 30) and dest:                              # EACCES, EROFS
            return (f"cannot create the mount point {dest} in the container: "
                    f"{err.strerror}; create it in the root filesystem first (without "
                    "--rootfs the host's / is read-only: mount onto an existing path)")
        if err.errno == 20 and dest:                                    # ENOTDIR
            return (f"cannot mount on {dest} in the container: one of the source and "
                    "the destination is a directory and the other is not; use a "
                    "destination of the same kind as the source")
        # The staging directory means nothing to the user: show container paths.
        step = self.describe().replace(f'"{NEWROOT}/', '"/').replace(f'"{NEWROOT}"', '"/"')
        return f"{step} failed: {err.strerror}"

    def __repr__(self):
        return f"<{self.describe()}>"


def _mount_text(source, target, fstype, flags, data=None):
    args = [f'"{source}"', f'"{target}"', f'"{fstype}"' if fstype else "NULL",
            flag_names(flags, MS_NAMES)]
    if data:
        args.append(f'"{data}"')
    return f"mount({', '.join(args)})"


class MakePrivate(Op):
    def execute(self, ctx):
        kernel.mount(None, "/", None, MS_REC | MS_PRIVATE)

    def describe(self):
        return _mount_text("none", "/", None, MS_REC | MS_PRIVATE)


class Staging(Op):
    """A private tmpfs on /tmp with an empty newroot/ to bind the root onto."""

    def execute(self, ctx):
        kernel.mount("tmpfs", STAGING, "tmpfs", MS_NOSUID | MS_NODEV, "mode=700")
        os.mkdir(NEWROOT, 0o755)

    def describe(self):
        return (_mount_text("tmpfs", STAGING, "tmpfs", MS_NOSUID | MS_NODEV, "mode=700")
                + f"; mkdir {NEWROOT}")


class BindRoot(Op):
    """The new root: the rootfs directory, or the host's whole tree."""

    def __init__(self, source):
        self.sources = (source,)

    def execute(self, ctx):
        kernel.mount(ctx.source(self.sources[0]), NEWROOT, None, MS_BIND | MS_REC)
        ctx.root = os.open(NEWROOT, O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)

    def describe(self):
        return _mount_text(self.sources[0], NEWROOT, None, MS_BIND | MS_REC)


class ReadOnly(Op):
    """Make a mount (and, if recursive, every mount below it) read-only."""

    def __init__(self, dest, recursive):
        self.dest, self.recursive = dest, recursive

    def execute(self, ctx):
        make_readonly(_target(ctx, self.dest), self.recursive)

    def describe(self):
        how = "AT_RECURSIVE" if self.recursive else "0"
        return f'mount_setattr("{NEWROOT}{self.dest}", {how}, MOUNT_ATTR_RDONLY)'


def make_readonly(target, recursive):
    try:
        kernel.mount_setattr(-1, target, kernel.AT_RECURSIVE if recursive else 0,
                             kernel.MOUNT_ATTR_RDONLY)
    except OSError as e:
        if e.errno != 38:                         # ENOSYS: Linux before 5.12
            raise
        for path in _mounts_below(target) if recursive else [target]:
            remount_readonly(path)


def remount_readonly(path):
    """Read-only bind remount that restates the flags the kernel locked."""
    flags = MS_REMOUNT | MS_BIND | MS_RDONLY | kernel.locked_flags(path)
    kernel.mount(None, path, None, flags)


def _mounts_below(path):
    real = os.path.realpath(path)
    with open("/proc/self/mountinfo", errors="surrogateescape") as f:
        points = [_unescape(line.split()[4]) for line in f]
    return [p for p in points if p == real or p.startswith(real.rstrip("/") + "/")]


def _unescape(field):
    """A mountinfo path: the kernel writes space, tab, newline and backslash
    in it as \\ooo (three octal digits)."""
    head, *rest = field.split("\\")
    return head + "".join(chr(int(part[:3], 8)) + part[3:] for part in rest)


class Mount(Op):
    """A new filesystem instance (proc, tmpfs, devpts, sysfs) at `dest`."""

    def __init__(self, fstype, dest, flags=0, data=None, source=None):
        self.fstype, self.dest, self.flags, self.data = fstype, dest, flags, data
        self.source = source or fstype

    def execute(self, ctx):
        kernel.mount(self.source, _target(ctx, self.dest, directory=True),
                     self.fstype, self.flags, self.data)

    def describe(self):
        return _mount_text(self.source, NEWROOT + self.dest, self.fstype, self.flags, self.data)


class Proc(Mount):
    def __init__(self, bind_host):
        super().__init__("proc", "/proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        self.bind_host = bind_host
        if bind_host:
            self.sources = ("/proc",)

    def execute(self, ctx):
        if self.bind_host:
            kernel.mount(ctx.source("/proc"), _target(ctx, "/proc", directory=True),
                         None, MS_BIND | MS_REC)
        else:
            super().execute(ctx)

    def describe(self):
        if self.bind_host:
            return _mount_text("/proc", NEWROOT + "/proc", None, MS_BIND | MS_REC)
        return super().describe()

    def explain(self, err):
        if err.errno == 1 and not self.bind_host:           # EPERM
            return ("cannot mount a fresh /proc: the kernel refuses it because parts "
                    "of the host's /proc are covered by other mounts (its "
                    "mount_too_revealing check, usual inside other containers); pass "
                    "--bind-proc to bind the host's /proc instead")
        return super().explain(err)


class Sysfs(Mount):
    """A fresh sysfs where the kernel allows it, else the host's, read-only."""

    def __init__(self):
        super().__init__("sysfs", "/sys", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
        self.sources = ("/sys",)
        self.own_netns = False

    def open(self, ctx):
        super().open(ctx)
        # Known only once every stage has prepared: net may drop CLONE_NEWNET.
        self.own_netns = bool(ctx.run.flags & CLONE_NEWNET)

    def execute(self, ctx):
        if self.own_netns:
            try:
                return super().execute(ctx)
            except OSError as e:
                if e.errno != 1:                                 # EPERM
                    raise
                ctx.run.trace("  fresh sysfs refused (EPERM): binding the host's /sys")
        kernel.mount(ctx.source("/sys"), _target(ctx, "/sys"), None, MS_BIND | MS_REC)
        # The fd resolved before the bind names the directory underneath.
        make_readonly(_target(ctx, "/sys"), recursive=True)

    def describe(self):
        if self.own_netns:
            return super().describe()
        return (_mount_text("/sys", NEWROOT + "/sys", None, MS_BIND | MS_REC)
                + "; made read-only (AT_RECURSIVE)")


class Bind(Op):
    """Bind a host path (a file or a directory) onto `dest` in the new root."""

    def __init__(self, source, dest, readonly=False):
        self.sources = (source,)
        self.dest, self.readonly = dest, readonly

    def execute(self, ctx):
        source = ctx.source(self.sources[0])
        is_dir = os.path.isdir(source)
        target = _target(ctx, self.dest, directory=is_dir)
        kernel.mount(source, target, None, MS_BIND | MS_REC)
        if self.readonly:
            # Re-resolve: the target is now the new mount on top.
            remount_readonly(_target(ctx, self.dest, directory=is_dir))

    def describe(self):
        text = _mount_text(self.sources[0], NEWROOT + self.dest, None, MS_BIND | MS_REC)
        if self.readonly:
            text += "; " + _mount_text("none", NEWROOT + self.dest, None,
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
    def __init__(self, target, dest):
        self.target, self.dest = target, dest

    def execute(self, ctx):
        parent, name = os.path.split(self.dest)
        fd = _resolve(ctx, parent, create=True, directory=True)
        try:
            os.symlink(self.target, name, dir_fd=fd)
        finally:
            os.close(fd)

    def describe(self):
        return f'symlink("{self.target}", "{NEWROOT}{self.dest}")'


class PivotRoot(Op):
    """Enter the new root and detach the old one."""

    def execute(self, ctx):
        os.chdir(NEWROOT)
        try:
            kernel.pivot_root(".", ".")
        except OSError as e:
            if e.errno != 22:                     # EINVAL: / is not a mount point
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


# ------------------------------------------------- paths inside the new root

def _resolve(ctx, path, create=False, directory=True, links=0):
    """An O_PATH fd of `path` resolved inside the new root; creates it (and
    its parents) when missing and `create` is set."""
    try:
        return _open_in_root(ctx.root, path)
    except FileNotFoundError:
        if not create:
            raise
    parent, name = os.path.split(os.path.normpath(path))
    if not name or name == "..":
        raise FileNotFoundError(2, "No such file or directory", path)
    pfd = _resolve(ctx, parent, create=True, directory=True, links=links)
    try:
        link = _create(ctx, pfd, name, directory)
    finally:
        os.close(pfd)
    if link is None:
        ctx.run.trace(f"  created {'directory' if directory else 'file'} {path} in the new root")
        return _open_in_root(ctx.root, path)
    if link == "":
        return _open_in_root(ctx.root, path)          # made by someone else meanwhile
    # A dangling symlink: create what it points to, inside the root.
    if links >= 40:
        raise OSError(40, "Too many levels of symbolic links", path)
    return _resolve(ctx, link if link.startswith("/") else os.path.join(parent, link),
                    create=True, directory=directory, links=links + 1)


def _create(ctx, pfd, name, directory):
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


def _open_in_root(root, path):
    """openat2(RESOLVE_IN_ROOT): symlinks and '..' cannot leave the root."""
    try:
        return kernel.openat2(root, path.lstrip("/") or ".", O_PATH | os.O_CLOEXEC,
                              kernel.RESOLVE_IN_ROOT | kernel.RESOLVE_NO_MAGICLINKS)
    except OSError as e:
        if e.errno == 38:                         # ENOSYS: Linux before 5.6
            return walk_in_root(root, path)
        if e.errno == 2:
            raise FileNotFoundError(2, "No such file or directory", path) from None
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
            fd = os.open(name, O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=stack[-1])
            if not stat.S_ISLNK(os.fstat(fd).st_mode):
                stack.append(fd)
                continue
            os.close(fd)
            links += 1
            if links > 40:
                raise OSError(40, "Too many levels of symbolic links", path)
            target = os.readlink(name, dir_fd=stack[-1])
            if target.startswith("/"):
                while len(stack) > 1:
                    os.close(stack.pop())
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
        return os.dup(stack[-1])
    finally:
        for fd in stack:
            os.close(fd)



def _target(ctx, dest, directory=True):
    """The mount target for `dest`: /proc/self/fd/N of the resolved path.

    The fd stays open until the plan ends; the kernel resolves the magic
    link to exactly the directory openat2 found.
    """
    fd = _resolve(ctx, dest, create=True, directory=directory)
    ctx.fds[f"target:{fd}"] = fd
    return f"/proc/self/fd/{fd}"


# ------------------------------------------------------------ the stage

def parse_volume(spec):
    """SRC:DST[:ro|:rw] -> (SRC, DST, readonly). Both paths absolute."""
    parts = spec.split(":")
    if len(parts) == 3 and parts[2] in ("ro", "rw"):
        source, dest, mode = parts
    elif len(parts) == 2:
        (source, dest), mode = parts, "rw"
    else:
        raise Fail(f"invalid --volume {spec!r}: use SRC:DST, SRC:DST:ro or SRC:DST:rw")
    for what, path in (("source", source), ("destination", dest)):
        if not path.startswith("/"):
            raise Fail(f"invalid --volume {spec!r}: the {what} must be an absolute path")
    if not os.path.exists(source):
        raise Fail(f"invalid --volume {spec!r}: the source {source} does not exist")
    return source, dest, mode == "ro"


def _check_dest(option, dest):
    if not dest.startswith("/"):
        raise Fail(f"invalid {option} {dest!r}: the destination must be an absolute path")
    if not os.path.normpath(dest).strip("/") or "\0" in dest:
        raise Fail(f"invalid {option} {dest!r}: cannot mount over the root")


def build_plan(opts, cwd, console=None):
    """The mount plan for these options (no kernel is touched); `console`:
    the host path of the caller's terminal, if it has one."""
    rootfs = opts.get("--rootfs")
    plan = Plan()
    plan.add(MakePrivate())
    plan.add(Staging())
    if rootfs:
        plan.add(BindRoot(rootfs))
    else:
        plan.add(BindRoot("/"))
        # Before anything is mounted on top: the host stays read-only.
        plan.add(ReadOnly("/", recursive=True))
    plan.add(Proc(bind_host=bool(opts.get("--bind-proc"))))
    plan.add(Mount("tmpfs", "/dev", MS_NOSUID | MS_NOEXEC, "mode=755,size=64k"))
    for name in DEVICES:
        plan.add(Bind(f"/dev/{name}", f"/dev/{name}"))
    if console:
        plan.add(Console(console))
    plan.add(Mount("devpts", "/dev/pts", MS_NOSUID | MS_NOEXEC,
                   "newinstance,ptmxmode=0666,mode=620"))
    plan.add(Mount("tmpfs", "/dev/shm", MS_NOSUID | MS_NODEV, "mode=1777"))
    for name, target in DEV_LINKS:
        plan.add(Symlink(target, f"/dev/{name}"))
    plan.add(Sysfs())
    if not rootfs or opts.get("--read-only"):
        # A read-only root still needs somewhere to write, as with Podman.
        plan.add(Mount("tmpfs", "/tmp", MS_NOSUID | MS_NODEV, "mode=1777"))

    user = []
    for dest in opts.get("--tmpfs") or []:
        _check_dest("--tmpfs", dest)
        user.append((dest, Mount("tmpfs", dest, MS_NOSUID | MS_NODEV, "mode=755")))
    for spec in opts.get("--volume") or []:
        source, dest, readonly = parse_volume(spec)
        _check_dest("--volume", dest)
        user.append((dest, Bind(source, dest, readonly)))
    # Parents before children, so -v /a:/x -v /b:/x/y stacks as written.
    for _, op in sorted(user, key=lambda pair: _depth(pair[0])):
        plan.add(op)

    if rootfs and opts.get("--read-only"):
        plan.enter.append(ReadOnly("/", recursive=False))
    plan.enter.append(PivotRoot())
    plan.enter.append(Chdir(cwd if not rootfs else "/"))
    return plan


def _depth(path):
    return len([p for p in os.path.normpath(path).split("/") if p])


def prepare(run):
    rootfs = given = run.opts.get("--rootfs")
    if rootfs is not None:
        if not rootfs:
            raise Fail("invalid --rootfs '': give the directory to use as the root")
        if not rootfs.startswith("/"):
            rootfs = os.path.abspath(rootfs)
            run.opts["--rootfs"] = rootfs
        if not os.path.exists(rootfs):
            raise Fail(f"invalid --rootfs {given!r}: it does not exist")
        if not os.path.isdir(rootfs):
            raise Fail(f"invalid --rootfs {given!r}: not a directory")
    elif run.opts.get("--read-only"):
        raise Fail("--read-only needs --rootfs: without it the host's / is read-only already")
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = "/"
    run.plan = build_plan(run.opts, cwd, console=_terminal())


def _terminal():
    """The host path of the terminal on unc's stdin, stdout or stderr."""
    for fd in (0, 1, 2):
        try:
            return os.ttyname(fd)
        except OSError:
            continue    # not a terminal, or one this /dev has no name for
    return None


def container_setup(run):
    run.plan.execute(run)
