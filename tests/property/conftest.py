"""The property suite's harness: the real binary, run with hostile input.

tests/run runs these files as the unprivileged test user, with UNC and
ROOTFS set as for the bats files (the binary under test, the busybox root),
in two processes that split the targets (PROPERTY_SHARD=0/2 and 1/2). Each
example is one run of unc; after it, unc must have left nothing behind
(Leftovers below). Run alone:

    UNC=dist/unc ROOTFS=/tmp/rootfs .venv/bin/python -m pytest -q tests/property

PROPERTY_EXAMPLES sets the examples per target (default 500).
"""

import ctypes
import os
import shutil
import subprocess
import tempfile

import pytest

PR_SET_CHILD_SUBREAPER = 36


class Leftovers:
    """What a run of unc may leave behind, and the check that it did not.

    This process is a child subreaper, so a container process that outlived
    unc comes to it; the mount table, unc's network interfaces and the private
    temporary and runtime directories are compared with how they were.
    """

    def __init__(self, scratch):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        self.scratch = scratch
        self.dirs = [os.path.join(scratch, d) for d in ("tmp", "runtime")]
        for d in self.dirs:
            os.mkdir(d, 0o700)
        self.mounts = self._mounts()
        self.links = self._links()

    @staticmethod
    def _links():
        """unc's interfaces on the host: the bridge unc0 and its veths
        uncvN (network/bridge.py). Only root's unc makes them (--net=bridge):
        a user's unc cannot add an interface to the host's network
        namespace, and another root's runs on a shared host would come and
        go in this list meanwhile."""
        if os.geteuid() != 0:
            return []
        return sorted(n for n in os.listdir("/sys/class/net") if n.startswith("unc"))

    @staticmethod
    def _mounts():
        with open("/proc/self/mountinfo") as f:
            return f.read()

    def children(self):
        """Our children: unc's orphans, since every unc run was reaped."""
        found = []
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
            if pid:
                found.append(pid)       # one that outlived unc, ended since
        except ChildProcessError:
            return []                   # none at all: the common case, cheap
        me = str(os.getpid())
        for pid in os.listdir("/proc"):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if fields[1] == me:
                found.append(int(pid))
        return found

    def check(self):
        problems = []
        orphans = self.children()
        for pid in orphans:
            try:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
            except OSError:
                pass
        if orphans:
            problems.append(f"processes left: {orphans}")
        if self._mounts() != self.mounts:
            problems.append("the mount table changed")
        if self._links() != self.links:
            problems.append("unc's network interfaces changed")
        for d in self.dirs:
            left = os.listdir(d)
            if left:
                problems.append(f"files left in {d}: {left[:5]}")
                for name in left:
                    path = os.path.join(d, name)
                    shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) \
                        else os.unlink(path)
        return problems


@pytest.fixture(scope="session")
def unc_env():
    """The binary, the root filesystem, and a session's scratch directory:
    a private TMPDIR, XDG_RUNTIME_DIR, an empty image store, and unc's
    cache, unpacked once."""
    unc = os.environ.get("UNC")
    rootfs = os.environ.get("ROOTFS")
    if not unc or not rootfs:
        pytest.fail("UNC and ROOTFS must name the binary and the busybox root (tests/run sets them)")
    scratch = tempfile.mkdtemp(prefix="unc-property.")
    os.chmod(scratch, 0o755)
    leftovers = Leftovers(scratch)
    env = dict(os.environ, TMPDIR=leftovers.dirs[0], XDG_RUNTIME_DIR=leftovers.dirs[1],
               XDG_DATA_HOME=os.path.join(scratch, "data"),
               UNC_CACHE_DIR=os.path.join(scratch, "cache"))
    os.mkdir(env["UNC_CACHE_DIR"], 0o700)
    os.mkdir(os.path.join(scratch, "vol"))
    subprocess.run([unc, "--stage=user_pid", "true"], env=env, check=True)
    yield {"unc": unc, "rootfs": rootfs, "env": env, "scratch": scratch,
           "leftovers": leftovers}
    shutil.rmtree(scratch, ignore_errors=True)
