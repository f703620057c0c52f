"""The mount plan: small operations, run in order inside the container.

Used by the mount stage (stages/mount.py, build_plan), which makes one for
every run and puts it on run.plan, where later stages may add to it
(stages/__init__.py); core/run.py never looks inside. Each operation opens
the host paths it needs first (open), then runs (execute), and can say
what it does (describe, the --trace line) and why the kernel refused it
(explain). The operations themselves are in ops.py.
"""

import errno
import os

from core.errors import Fail
from kernel import MS_NAMES, flag_names

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
            dest = os.path.normpath(dest)
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
        # The staging directory means nothing to the user: show container paths.
        step = self.describe().replace(f'"{NEWROOT}/', '"/').replace(f'"{NEWROOT}"', '"/"')
        return f"{step} failed: {err.strerror}"

    def __repr__(self):
        return f"<{self.describe()}>"


def mount_text(source, target, fstype, flags, data=None):
    """A mount(2) call as --trace shows it."""
    args = [f'"{source}"', f'"{target}"', f'"{fstype}"' if fstype else "NULL",
            flag_names(flags, MS_NAMES)]
    if data:
        args.append(f'"{data}"')
    return f"mount({', '.join(args)})"
