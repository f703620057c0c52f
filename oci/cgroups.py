"""linux.cgroupsPath and the one cgroup limit unc applies there:
linux.resources.pids, as root.

Used by container.py (the container's PID 1 is moved into the cgroup from
the host, before it is let go, so that everything it forks counts) and
cli.py's delete (the empty cgroup removed). Rootful Podman asks for a
pids limit by default (2048). A cgroup's files belong to the host's root
unless a part of the tree was delegated: a rootless caller, or a limit
other than pids, fails `create` naming the field (config.py), never
silently. On cgroup v1 (and the hybrid layout, whose controllers v1
holds) the limit goes in the pids hierarchy; on v2 in the unified tree,
once every ancestor passes the pids controller down (cgroup.subtree_control).
Only cgroupfs paths ("/parent/name", Podman's cgroupfs manager) are
understood: the systemd form ("slice:prefix:name") is refused.
"""

import os

from core import Fail

ROOT = "/sys/fs/cgroup"


def hierarchy():
    """(directory of the hierarchy that has the pids controller, v2?)."""
    if os.path.exists(os.path.join(ROOT, "pids", "cgroup.procs")):
        return os.path.join(ROOT, "pids"), False
    try:
        with open(os.path.join(ROOT, "cgroup.controllers")) as f:
            if "pids" in f.read().split():
                return ROOT, True
    except OSError:
        pass
    return None, False


class Pids:
    """The container's cgroup with its pids.max."""

    def __init__(self, path, limit, rootless):
        if rootless:
            raise Fail("config.json: linux.resources.pids is not supported: unc applies "
                       "cgroup limits only as root; remove it (podman: --pids-limit=-1)")
        if ":" in path:
            raise Fail(f"config.json: linux.cgroupsPath {path!r} is in systemd's form, which "
                       "unc does not support: use the cgroupfs manager")
        self.base, self.v2 = hierarchy()
        if self.base is None:
            raise Fail("config.json: linux.resources.pids: this host has no pids controller "
                       "in its cgroups; remove the limit")
        self.dir = os.path.join(self.base, path.strip("/"))
        if os.path.commonpath([self.base, os.path.normpath(self.dir)]) != self.base:
            raise Fail(f"config.json: invalid linux.cgroupsPath {path!r}")
        self.limit = limit

    def create(self, pid, trace):
        try:
            self._create(pid, trace)
        except OSError as e:
            raise Fail(f"cannot set up the container's cgroup {self.dir}: {e.strerror}") \
                from None

    def _create(self, pid, trace):
        if self.v2:
            parts = os.path.relpath(self.dir, self.base).split(os.sep)
            for depth in range(len(parts)):
                parent = os.path.join(self.base, *parts[:depth])
                _write(os.path.join(parent, "cgroup.subtree_control"), "+pids")
                os.makedirs(os.path.join(parent, parts[depth]), exist_ok=True)
        os.makedirs(self.dir, exist_ok=True)
        trace(f"cgroup {self.dir}: pids.max {self.limit}, PID 1 moved in")
        _write(os.path.join(self.dir, "pids.max"), str(self.limit))
        _write(os.path.join(self.dir, "cgroup.procs"), str(pid))


def remove(directory):
    """rmdir of the container's cgroup once its processes are gone (a
    cgroup with processes cannot be removed)."""
    if directory:
        try:
            os.rmdir(directory)
        except OSError:
            pass


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)
