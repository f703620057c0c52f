"""OCI's masked and read-only paths, as operations of the mount plan.

API: add(plan) appends them to a mount plan (mounts/plan.py), after the
fresh /proc and /sys are mounted; MASKED and READONLY are the lists
(runtime-spec's defaults, as runc and crun apply them), for the OCI
runtime's maskedPaths and readonlyPaths, with Mask(path) and
ReadOnlyPath(path) for paths of its own. Used by stages/harden.py.

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
from mounts.plan import NEWROOT, Op, mount_text
from mounts.readonly import make_readonly
from mounts.resolve import resolve

MASKED = ("/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
          "/sys/firmware", "/sys/devices/virtual/powercap")
READONLY = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")


def add(plan):
    for path in MASKED:
        plan.add(Mask(path))
    for path in READONLY:
        plan.add(ReadOnlyPath(path))


class _OnExisting(Op):
    """An operation on a path of /proc or /sys that this kernel may lack:
    skipped where it does, never created."""

    def __init__(self, dest):
        self.dest = dest

    def execute(self, ctx):
        try:
            fd = resolve(ctx, self.dest, create=False)
        except FileNotFoundError:
            ctx.run.trace(f"  {self.dest}: not in this kernel's /proc or /sys: nothing to do")
            return
        try:
            self.cover(ctx, fd, f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)


class Mask(_OnExisting):
    """/dev/null over a file, an empty read-only tmpfs over a directory."""

    sources = ("/dev/null",)

    def cover(self, ctx, fd, where):
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            kernel.mount("tmpfs", where, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                         "mode=555")
        else:
            kernel.mount(ctx.source("/dev/null"), where, None, MS_BIND)

    def describe(self):
        return (f"mask {self.dest}: " + mount_text("/dev/null", NEWROOT + self.dest, None,
                                                     MS_BIND)
                + " (a file), or an empty read-only tmpfs (a directory)")


class ReadOnlyPath(_OnExisting):
    """A read-only bind of a path onto itself."""

    def cover(self, ctx, fd, where):
        kernel.mount(where, where, None, MS_BIND | MS_REC)
        # Resolved again: the name now leads to the new mount on top.
        top = resolve(ctx, self.dest, create=False)
        try:
            make_readonly(f"/proc/self/fd/{top}", recursive=True, trace=ctx.run.trace)
        finally:
            os.close(top)

    def describe(self):
        return (mount_text(self.dest, NEWROOT + self.dest, None, MS_BIND | MS_REC)
                + "; made read-only (AT_RECURSIVE)")
