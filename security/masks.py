"""OCI's masked and read-only paths, as operations of the mount plan.

API: add(plan, masked=MASKED, readonly=READONLY) appends them to a mount
plan (mounts/plan.py), after the fresh /proc and /sys are mounted; MASKED
and READONLY are runtime-spec's defaults, as runc and crun apply them; the
OCI runtime passes its maskedPaths and readonlyPaths instead. Used by
stages/harden.py. Every path is resolved inside the new root (openat2 with
RESOLVE_IN_ROOT, mounts/resolve.py), so a path of a rootfs's own, as OCI
allows, cannot lead a mount out of it either.

Some files of /proc and /sys describe or steer the whole machine, not the
container: /proc/kcore is the kernel's memory as a core file,
/proc/timer_list and /proc/sched_debug list every timer and task of the
host, /proc/keys the keys of every keyring the reader may see,
/sys/firmware the firmware's tables; /proc/sys holds the kernel's
settings, /proc/sysrq-trigger reboots the machine with one byte. A fresh
procfs shows them, owned by the host's root, so a container's root reads
most of them and may write where the kernel checks only the capability in
the procfs's own user namespace. A masked file gets /dev/null bound over
it (it reads empty, a write goes nowhere); a masked directory an empty
read-only tmpfs; a read-only path a read-only bind of itself. A path this
kernel does not have is skipped (--trace says so), never created.
"""

import os
import stat

import kernel
from kernel import MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REC
from mounts.plan import Op
from mounts.readonly import make_readonly
from mounts.resolve import open_in_root

MASKED = ("/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
          "/sys/firmware", "/sys/devices/virtual/powercap")
READONLY = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")


def add(plan, masked=MASKED, readonly=READONLY):
    """Add the masks to `plan`, for the paths of /proc and /sys that need
    them (every other path as given)."""
    plan.add(Masks([p for p in masked if needed(p, os.R_OK)],
                   [p for p in readonly if needed(p, os.W_OK)]))


def needed(path, access):
    """Whether the container's root could read (os.R_OK) or write (os.W_OK)
    `path` of /proc or /sys, asked on the host before anything starts.

    The container's /proc and /sys show the host kernel's files, so a path
    the host lacks is not there either. And when unc runs as a user, the
    container's root is that user to the kernel for these files: they
    belong to the host's root, whom no user namespace of a user maps, so
    its capabilities do not override their modes (capabilities(7)), and
    access(2) on the host gives the container's answer. /proc/sys is the
    exception: the kernel gives the container's root the settings of its
    own namespaces there (net.*, user.*), which OCI makes read-only too.
    As root, unc's container root is the host's: every path is needed.
    Each path spared is a mount fewer at every start."""
    if not path.startswith(("/proc/", "/sys/")):
        return True
    if not os.path.lexists(path):
        return False
    return path == "/proc/sys" or os.geteuid() == 0 or os.access(path, access)


class Masks(Op):
    """Every masked and read-only path, in one operation: a start pays for
    the paths, not for an operation each (about 0.3 ms less)."""

    sources = ("/dev/null",)

    def __init__(self, masked=MASKED, readonly=READONLY):
        self.masked, self.readonly = tuple(masked), tuple(readonly)

    def execute(self, ctx):
        trace = ctx.run.trace if ctx.run.tracing else None
        for path in self.masked + self.readonly:
            try:
                # In the new root, as every mount destination (resolve.py).
                fd = open_in_root(ctx.root, path)
            except FileNotFoundError:
                if trace:
                    trace(f"  {path}: not in this kernel's /proc or /sys: nothing to do")
                continue
            try:
                where = f"/proc/self/fd/{fd}"
                if path in self.readonly:
                    kernel.mount(where, where, None, MS_BIND | MS_REC)
                    # Opened again: the name now leads to the new mount on top.
                    top = open_in_root(ctx.root, path)
                    try:
                        make_readonly(f"/proc/self/fd/{top}", recursive=True, trace=trace)
                    finally:
                        os.close(top)
                elif stat.S_ISDIR(os.fstat(fd).st_mode):
                    kernel.mount("tmpfs", where, "tmpfs",
                                 MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=555")
                else:
                    kernel.mount(ctx.source("/dev/null"), where, None, MS_BIND)
            except OSError as e:
                e.step = getattr(e, "step", None) or f"masking {path}"
                raise
            finally:
                os.close(fd)

    def describe(self):
        return (f"mask {' '.join(self.masked)}: /dev/null bound over a file, an empty "
                f"read-only tmpfs over a directory; read-only binds of "
                f"{' '.join(self.readonly)}")
