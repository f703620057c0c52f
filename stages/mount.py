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
       with mount_setattr(2) and AT_RECURSIVE. That copy of the host's tree
       holds a copy of the staging tmpfs, over the host's mounts below
       /tmp: it is detached first. Before Linux 5.12 (no mount_setattr)
       each mount is remounted read-only by its path, and one that another
       mount covers, which no path reaches, is skipped.
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

Images (--image=NAME)
    An image from the store (`unc import`, `unc pull`: images/) is a stack
    of layer directories. Instead of binding one root, step 2 mounts an
    overlayfs on /tmp/newroot: the layers as its read-only lowerdirs, top
    first, and a writable upperdir (with its workdir) on the staging tmpfs,
    so a run's writes vanish with its mount namespace; --persist=DIR puts
    them in DIR instead, --read-only mounts none. Linux 5.11 and later let
    a user namespace mount overlayfs when it passes `userxattr`: overlayfs
    then reads and writes its metadata (opaque directories, redirects) as
    user.overlay.* xattrs, since trusted.* needs the host's root. Whiteouts
    are character devices 0/0, which the unpacking wrote in the store's own
    user namespace. Where overlayfs is refused, --persist=DIR with a
    DIR/root directory runs a copy of the image made there (images/copy.py).
    The image's config reaches the command through run.process (Env,
    WorkingDir, User, Entrypoint, Cmd; the command line wins).

Where the machinery is
    The plan and its operations: mounts/plan.py; resolving
    paths inside the root: mounts/resolve.py; read-only mounts and the
    locked flags: mounts/readonly.py. This file only says which operations
    a container gets, in which order (build_plan).

Try it
    unc --stage=mount --trace --rootfs=/path/to/busybox-root sh
"""

import os

from core import Fail
from kernel import CLONE_NEWIPC, CLONE_NEWNS, MS_NODEV, MS_NOEXEC, MS_NOSUID
from mounts.plan import (Bind, BindRoot, Chdir, Console, MakePrivate, Mount, OverlayRoot,
                         PivotRoot, Plan, Proc, ReadOnly, Staging, Symlink, Sysfs)

NAME = "mount"
SUMMARY = "own root filesystem, /proc, /dev and mounts (mount and IPC namespaces)"
CLONE_FLAGS = CLONE_NEWNS | CLONE_NEWIPC
OPTIONS = """
  --rootfs=DIR         Use DIR as the root filesystem (default: the host's /
                       read-only, with its own /proc, /dev, /tmp).
  -v SPEC, --volume=SPEC
                       Bind mount SRC:DST[:ro|:rw] (repeatable).
  --tmpfs=DST          Mount an empty tmpfs on DST (repeatable).
  --image=NAME         Use image NAME (`unc images`) as the root filesystem:
                       its layers under a fresh writable layer per run
                       (overlayfs); its Env, WorkingDir, User, Entrypoint
                       and Cmd apply, the command line wins.
  --persist=DIR        With --image: keep the writable layer in DIR
                       (DIR/upper, DIR/work) across runs.
  --read-only          Make the root filesystem read-only.
  --bind-proc          Bind the host's /proc when a fresh procfs is refused.
"""
REPEATABLE = ("-v SPEC", "--tmpfs=DST")

DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
DEV_LINKS = (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
             ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"),
             ("ptmx", "pts/ptmx"))


class State:
    """The root filesystem, as an absolute path (None: the host's /)."""

    def __init__(self):
        self.rootfs = None
        self.image = None        # with --image: (store, record, layers top first)


def build_plan(opts, rootfs, cwd, console=None, layers=None):
    """The mount plan for these options (no kernel is touched); `console`:
    the host path of the caller's terminal, if it has one; `layers`: an
    image's layer directories, top first (--image)."""
    plan = Plan()
    plan.add(MakePrivate())
    plan.add(Staging())
    if layers:
        plan.add(OverlayRoot(layers, opts.get("--persist"), bool(opts.get("--read-only"))))
        rootfs = True                     # a root of its own, as --rootfs
    elif rootfs:
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
    for name, link in DEV_LINKS:
        plan.add(Symlink(link, f"/dev/{name}"))
    plan.add(Sysfs())
    if not rootfs or opts.get("--read-only"):
        # A read-only root still needs somewhere to write, as with Podman.
        plan.add(Mount("tmpfs", "/tmp", MS_NOSUID | MS_NODEV, "mode=1777"))

    user = []
    if opts.get("--tmpfs") or opts.get("--volume"):
        from mounts.options import check_dest, depth, parse_volume
    for dest in opts.get("--tmpfs") or []:
        check_dest("--tmpfs", dest)
        user.append((f"--tmpfs {dest}", Mount("tmpfs", dest, MS_NOSUID | MS_NODEV, "mode=755")))
    for spec in opts.get("--volume") or []:
        source, dest, readonly = parse_volume(spec)
        user.append((f"--volume {spec}", Bind(source, dest, readonly)))
    # Parents before children, so -v /a:/x -v /b:/x/y stacks as written.
    for option, op in sorted(user, key=lambda pair: depth(pair[1].dest)):
        plan.add(op, option)

    if rootfs and opts.get("--read-only"):
        plan.enter.append(ReadOnly("/", recursive=False))
    plan.enter.append(PivotRoot())
    plan.enter.append(Chdir(cwd if not rootfs else "/"))
    return plan


def prepare(run, me):
    rootfs = run.opts.get("--rootfs")
    layers = None
    if run.opts.get("--image") is not None:
        from images import run as image_run       # only for --image
        me.image, image_root, layers = image_run.prepare(run)
        me.rootfs = image_root or me.rootfs
    elif run.opts.get("--persist") is not None:
        raise Fail("--persist needs --image: it keeps an image's writable layer")
    elif rootfs is not None:
        if not rootfs:
            raise Fail("invalid --rootfs '': give the directory to use as the root")
        if not os.path.exists(rootfs):
            raise Fail(f"invalid --rootfs {rootfs!r}: it does not exist")
        if not os.path.isdir(rootfs):
            raise Fail(f"invalid --rootfs {rootfs!r}: not a directory")
        me.rootfs = os.path.abspath(rootfs)
    elif run.opts.get("--read-only") and not layers:
        raise Fail("--read-only needs --rootfs: without it the host's / is read-only already")
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = "/"
    run.plan = build_plan(run.opts, me.rootfs, cwd, console=_terminal(), layers=layers)


def _terminal():
    """The host path of the terminal on unc's stdin, stdout or stderr."""
    for fd in (0, 1, 2):
        try:
            return os.ttyname(fd)
        except OSError:
            continue    # not a terminal, or one this /dev has no name for
    return None


def container_setup(run, me):
    run.plan.execute(run)


def facts(attempt):
    """What `unc check` reports of what this stage could use (docs/check.md):
    whether you may mount overlayfs, tried in namespaces of a child process."""
    from mounts import overlayfs
    return {"overlayfs": overlayfs.facts()}
