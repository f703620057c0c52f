"""The state root and the state of each container (runtime.md, "State").

Used by cli.py for every verb. The root is --root, else /run/unc-oci for
the real root and $XDG_RUNTIME_DIR/unc-oci for anyone else, including
root of a user namespace (rootless Podman runs its runtime as uid 0 of its
own user namespace, where /run is not its to write). Each container has a
directory named by its id holding state.json (written to a temporary file,
then renamed over: a reader sees the old state or the new, never half),
exec.fifo while it waits for `start`, and a lock file that verbs hold while
they change it.

A container's status is computed, not stored: `stopped` once its PID 1 is
gone (a pid the kernel reused for another process is told apart by its
start time, field 22 of /proc/PID/stat), `created` while exec.fifo exists,
else `running`.
"""

import fcntl
import json
import os

from core import Fail

OCI_VERSION = "1.0.2"


def rootless():
    """Whether unc runs without the host's root: a euid other than 0, or
    uid 0 of a user namespace that does not map the whole id range (as
    runc tells it)."""
    if os.geteuid() != 0:
        return True
    try:
        with open("/proc/self/uid_map") as f:
            return f.read().split() != ["0", "0", "4294967295"]
    except OSError:
        return False


def default_root():
    if not rootless():
        return "/run/unc-oci"
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR")
    if runtime_dir:
        return os.path.join(runtime_dir, "unc-oci")
    return f"/tmp/unc-oci-{os.getuid()}"


def check_id(cid):
    if (not cid or cid in (".", "..") or len(cid) > 1024
            or not all(c.isalnum() or c in "_+-." for c in cid)):
        raise Fail(f"invalid container id {cid!r}: use letters, digits, '_', '+', '-' and '.'")
    return cid


def start_time(pid):
    """The start time of process `pid` (clock ticks since boot) and whether
    it is a zombie; None when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(b")") + 2:].split()
    # fields[0] is field 3 (state); field 22 is starttime.
    return int(fields[19]), fields[0] in (b"Z", b"X")


class Container:
    """One container's directory and record."""

    def __init__(self, root, cid):
        self.root, self.id = root, check_id(cid)
        self.dir = os.path.join(root, cid)
        self.fifo = os.path.join(self.dir, "exec.fifo")
        self.record = None
        self._lock = None

    def exists(self):
        return os.path.exists(os.path.join(self.dir, "state.json"))

    def load(self):
        try:
            with open(os.path.join(self.dir, "state.json")) as f:
                self.record = json.load(f)
        except FileNotFoundError:
            raise Fail(f"container {self.id} does not exist") from None
        except (OSError, ValueError) as e:
            raise Fail(f"cannot read the state of container {self.id}: {e}; "
                       f"remove {self.dir}") from None
        return self

    def save(self):
        tmp = os.path.join(self.dir, ".state.json.tmp")
        with open(tmp, "w") as f:
            json.dump(self.record, f)
        os.rename(tmp, os.path.join(self.dir, "state.json"))

    def abandoned(self):
        """A directory without state.json whose lock nobody holds: what a
        create killed halfway left (its PID 1 died with it)."""
        if self.exists():
            return False
        try:
            fd = os.open(os.path.join(self.dir, "lock"), os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False
        finally:
            os.close(fd)

    def lock(self):
        """Hold the container's lock until this process exits or unlock()."""
        self._lock = os.open(os.path.join(self.dir, "lock"),
                             os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        return self

    def alive(self):
        """PID 1 runs (not a zombie, not a reused pid)."""
        pid = self.record.get("pid")
        seen = start_time(pid) if pid else None
        return bool(seen) and not seen[1] and seen[0] == self.record.get("starttime")

    def status(self):
        if not self.alive():
            return "stopped"
        return "created" if os.path.exists(self.fifo) else "running"

    def state_of(self, pid, status):
        """The state JSON for a given pid and status (hooks during create)."""
        return {"ociVersion": OCI_VERSION, "id": self.id, "status": status, "pid": pid,
                "bundle": self.record["bundle"],
                "annotations": self.record.get("annotations") or {}}

    def state(self):
        """The state JSON of runtime.md."""
        status = self.status()
        record = self.record
        state = {"ociVersion": OCI_VERSION, "id": self.id, "status": status,
                 "pid": record["pid"] if status != "stopped" else 0,
                 "bundle": record["bundle"], "rootfs": record.get("rootfs", ""),
                 "created": record.get("created", ""),
                 "annotations": record.get("annotations") or {}}
        if record.get("owner") is not None:
            state["owner"] = record["owner"]
        return state


def all_ids(root):
    try:
        names = sorted(os.listdir(root))
    except FileNotFoundError:
        return []
    return [n for n in names if os.path.exists(os.path.join(root, n, "state.json"))]
