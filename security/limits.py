"""Resource limits: --ulimit (setrlimit) and the cgroup v2 limits --pids-limit, --memory, --cpus.

API (for stages/harden.py, and the OCI runtime's process.rlimits):

    parse_ulimit(spec) -> (resource number, soft, hard)  from NAME=SOFT[:HARD]
    RESOURCES          Docker's names (nofile, nproc, core, ...) -> RLIMIT_*
    apply_rlimits([(resource, soft, hard)])              setrlimit(2) each
    Cgroup(pids, memory, cpus)    check() on the host before anything
                       starts, create(pid) once the container's PID 1
                       exists, remove() at cleanup

rlimits are per process and inherited: set in the container's PID 1
before the command starts, they hold for everything it forks. Lowering
one is always allowed; raising a hard limit needs CAP_SYS_RESOURCE in the
host's user namespace, which a container's root does not have, so a hard
limit above the one unc was started with fails, and unc says so.

A cgroup limit holds for a whole group of processes, whatever they fork.
Its files belong to the host: a user may write them only in a part of the
cgroup v2 tree delegated to them, with the controllers enabled for it
(pids for --pids-limit, memory for --memory, cpu for --cpus). systemd
delegates one with `systemd-run --user --scope -p Delegate=yes unc ...`
(or Delegate=yes in a unit); a host with cgroup v1, or a hybrid layout
whose controllers v1 holds, cannot delegate them, and unc says what is
missing. Where they are, unc makes a cgroup for the container under its
own: since cgroup v2 lets processes live only in leaves once controllers
are enabled below a cgroup, unc first moves itself into a leaf of its
own, then enables the controllers and writes pids.max, memory.max and
cpu.max into the container's; both are removed, and unc moved back, at
cleanup.
"""

import os

from core import Fail

# <asm-generic/resource.h>, the same on x86_64 and aarch64; Docker's names.
RESOURCES = {"cpu": 0, "fsize": 1, "data": 2, "stack": 3, "core": 4, "rss": 5,
             "nproc": 6, "nofile": 7, "memlock": 8, "as": 9, "locks": 10,
             "sigpending": 11, "msgqueue": 12, "nice": 13, "rtprio": 14, "rttime": 15}
INFINITY = (1 << 64) - 1


def _limit(text, spec):
    if text in ("unlimited", "-1"):
        return INFINITY
    if text.isdigit() and int(text) < INFINITY:
        return int(text)
    raise Fail(f"invalid --ulimit {spec!r}: {text!r} is not a number or 'unlimited'")


def parse_ulimit(spec):
    """(resource, soft, hard) from Docker's NAME=SOFT[:HARD]."""
    name, sep, values = spec.partition("=")
    if not sep or not values:
        raise Fail(f"invalid --ulimit {spec!r}: use NAME=SOFT[:HARD], e.g. nofile=1024:2048")
    if name not in RESOURCES:
        raise Fail(f"invalid --ulimit {spec!r}: unknown limit {name!r}; use one of "
                   + ", ".join(sorted(RESOURCES)))
    soft, _, hard = values.partition(":")
    soft = _limit(soft, spec)
    hard = _limit(hard, spec) if hard else soft
    if soft > hard:
        raise Fail(f"invalid --ulimit {spec!r}: the soft limit is above the hard one")
    if name == "stack" and soft < STACK_FLOOR:
        # The limit binds unc's own setup in the container from setrlimit(2)
        # on, whose stack is already deeper: a smaller one kills it (SIGSEGV).
        raise Fail(f"invalid --ulimit {spec!r}: a stack below {STACK_FLOOR // 1024} KiB "
                   "would kill the container before COMMAND starts; ask for more")
    return RESOURCES[name], soft, hard


STACK_FLOOR = 1 << 20


def name_of(resource):
    return next(n for n, r in RESOURCES.items() if r == resource)


def shown(value):
    return "unlimited" if value == INFINITY else str(value)


def apply_rlimits(limits, trace=None):
    import kernel
    for resource, soft, hard in limits:
        if trace:
            trace(f"setrlimit(RLIMIT_{name_of(resource).upper()}, {shown(soft)}, {shown(hard)})")
        try:
            kernel.setrlimit(resource, soft, hard)
        except OSError as e:
            now = kernel.getrlimit(resource)[1]
            raise Fail(f"--ulimit {name_of(resource)}={shown(soft)}:{shown(hard)}: "
                       f"{e.strerror}: a container cannot raise a hard limit above the one unc "
                       f"was started with ({shown(now)}); ask for at most that, or raise it "
                       "on the host (ulimit -H, limits.conf)") from None


# ------------------------------------------------------------ cgroups

def parse_size(text, option):
    """Bytes from Docker's SIZE: a number with an optional b, k, m or g."""
    units = {"b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    number, unit = (text[:-1], text[-1].lower()) if text[-1:].isalpha() else (text, "b")
    if unit not in units or not number.isdigit() or int(number) == 0:
        raise Fail(f"invalid {option} {text!r}: use a size such as 512m or 2g")
    return int(number) * units[unit]


def cgroup_of_self():
    """(the cgroup v2 mount point, unc's cgroup directory) or (None, why)."""
    mount = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[sep + 1] == "cgroup2":
                mount = fields[4]
                break
    if mount is None:
        return None, "this host has no cgroup v2 hierarchy (cgroup v1 only)"
    path = None
    with open("/proc/self/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                path = line[3:].strip()
    if path is None:
        return None, "unc's process is in no cgroup v2 group"
    return mount, os.path.join(mount, path.lstrip("/"))


class Cgroup:
    """A cgroup v2 group for one container, with its limits."""

    CONTROLLER = {"pids.max": "pids", "memory.max": "memory", "cpu.max": "cpu"}

    def __init__(self, pids=None, memory=None, cpus=None):
        self.files = {}
        if pids is not None:
            self.files["pids.max"] = str(pids)
        if memory is not None:
            self.files["memory.max"] = str(memory)
        if cpus is not None:
            self.files["cpu.max"] = f"{int(cpus * 100000)} 100000"
        self.base = self.leaf = self.group = None
        self.enabled = []

    def needed(self):
        return sorted({self.CONTROLLER[f] for f in self.files})

    def check(self):
        """Fail, before anything starts, unless a delegated group can hold them."""
        mount, where = cgroup_of_self()
        options = ", ".join("--" + {"pids": "pids-limit", "memory": "memory",
                                    "cpu": "cpus"}[c] for c in self.needed())
        how = ("delegate a cgroup v2 group to your user with systemd: run unc under "
               "`systemd-run --user --scope -p Delegate=yes unc ...`, or set Delegate=yes in "
               "its unit (the host must boot with the unified cgroup v2 hierarchy, "
               "systemd.unified_cgroup_hierarchy=1)")
        if mount is None:
            raise Fail(f"{options} need cgroup v2: {where}; {how}")
        try:
            with open(os.path.join(where, "cgroup.controllers")) as f:
                available = f.read().split()
        except OSError as e:
            raise Fail(f"{options} need cgroup v2: cannot read {where}/cgroup.controllers "
                       f"({e.strerror}); {how}") from None
        missing = [c for c in self.needed() if c not in available]
        if missing:
            raise Fail(f"{options} need the cgroup v2 controller{'s' * (len(missing) > 1)} "
                       f"{' and '.join(missing)} in unc's cgroup {where}, which has "
                       f"{' '.join(available) or 'none'} (on a hybrid host, cgroup v1 holds "
                       f"them); {how}")
        if not os.access(where, os.W_OK) or not os.access(
                os.path.join(where, "cgroup.subtree_control"), os.W_OK):
            raise Fail(f"{options} need a cgroup delegated to you: you may not write "
                       f"{where}; {how}")
        self.base = where

    def create(self, pid, trace):
        """The container's group with its limits, PID 1 moved into it."""
        name = f"unc-{os.getpid()}"
        with open(os.path.join(self.base, "cgroup.subtree_control")) as f:
            enabled = f.read().split()
        todo = [c for c in self.needed() if c not in enabled]
        if todo:
            # Only leaves hold processes once a group enables controllers.
            self.leaf = os.path.join(self.base, name + ".unc")
            os.mkdir(self.leaf)
            trace(f"cgroup: mkdir {self.leaf}; move unc ({os.getpid()}) into it")
            _write(self.leaf, "cgroup.procs", str(os.getpid()))
            _write(self.base, "cgroup.subtree_control", " ".join("+" + c for c in todo))
            self.enabled = todo
        self.group = os.path.join(self.base, name)
        os.mkdir(self.group)
        for file, value in self.files.items():
            trace(f"cgroup: {self.group}/{file} = {value}")
            _write(self.group, file, value)
        _write(self.group, "cgroup.procs", str(pid))

    def remove(self):
        for path, undo in ((self.group, None), (self.leaf, self.enabled)):
            if not path:
                continue
            if undo:
                try:
                    _write(self.base, "cgroup.subtree_control",
                           " ".join("-" + c for c in undo))
                    _write(self.base, "cgroup.procs", str(os.getpid()))
                except OSError:
                    pass
            try:
                os.rmdir(path)
            except OSError:
                pass


def _write(directory, name, value):
    with open(os.path.join(directory, name), "w") as f:
        f.write(value)
