"""Where detached containers are kept, and whether their processes live.

Used by containers/monitor.py (which creates a container's directory and
records its state) and containers/cli.py (which reads and removes them).
The layout, below $XDG_RUNTIME_DIR/unc/containers (as root /run/unc/
containers; a user without XDG_RUNTIME_DIR gets ${TMPDIR:-/tmp}/unc-run-UID,
checked to be theirs alone):

    ID/              one container, named by its id (64 hex digits)
      state.json     what `unc ps` shows, replaced whole (write, rename)
      lock           flock(2)ed while state.json or the directory changes
      log            the container's stdout and stderr, and the monitor's
      exec.sock      the monitor's socket for `unc exec`
    names/NAME       a symlink to ID: the name index. symlink(2) either
                     creates it or fails with EEXIST, so two containers
                     started at once cannot both take a name.

The directory is not inside $XDG_RUNTIME_DIR/unc itself: that may be
unc's cache of its own build (README, "Deploying the binary").

A pid alone does not name a process for long: once the kernel has reaped
it, the number is given to the next process created. So each recorded pid
comes with its start time (field 22 of /proc/PID/stat, in clock ticks since
boot), and a process counts as alive only when both still match.
"""

import errno
import fcntl
import os

from core import Fail

STATE = "state.json"
NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def root(create=True):
    """The directory that holds the containers, created when missing; with
    `create` False, None when it is missing (a look-up makes nothing)."""
    uid = os.geteuid()
    if uid == 0:
        base = "/run/unc"
        top = os.path.join(base, "containers")
    elif os.environ.get("XDG_RUNTIME_DIR"):
        base = os.path.join(os.environ["XDG_RUNTIME_DIR"], "unc")
        top = os.path.join(base, "containers")
    else:
        base = os.path.join(os.environ.get("TMPDIR") or "/tmp", f"unc-run-{uid}")
        top = os.path.join(base, "containers")
    if not create and not os.path.isdir(os.path.join(top, "names")):
        return None
    for path in (base, top, os.path.join(top, "names")):
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        except OSError as e:
            raise Fail(f"cannot create {path} for the containers' state ({e.strerror}); "
                       "set XDG_RUNTIME_DIR to a directory of yours") from None
    st = os.lstat(base)
    if not (os.path.isdir(base) and not os.path.islink(base)) or st.st_uid != uid \
            or st.st_mode & 0o077:
        raise Fail(f"{base} is not a directory of yours that only you may use (mode 0700); "
                   "remove it, or set XDG_RUNTIME_DIR to one")
    return top


def check_name(name):
    """--name: what Docker and Podman accept, so that a name is also a file name."""
    if not name or len(name) > 128 or name[0] in "_.-" or not set(name) <= NAME_CHARS:
        raise Fail(f"invalid container name {name!r}: use 1 to 128 letters, digits, "
                   "'_', '.' and '-', starting with a letter or digit")


def start_time(pid):
    """Field 22 of /proc/PID/stat, or None when PID is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # comm (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = stat[stat.rindex(b")") + 2:].split()
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


def alive(pid, started):
    return pid is not None and started is not None and start_time(pid) == started


class Container:
    """One container's directory and its recorded state (a dict)."""

    def __init__(self, top, cid):
        self.top, self.id = top, cid
        self.dir = os.path.join(top, cid)
        self.state = {}

    def path(self, name):
        return os.path.join(self.dir, name)

    def load(self):
        import json
        try:
            with open(self.path(STATE)) as f:
                self.state = json.load(f)
        except (OSError, ValueError):
            self.state = {}              # being created, or being removed
        return self

    def save(self, **changes):
        """Change the recorded state: written to a new file, then renamed over
        the old one, so that a reader sees the old or the new, whole. Only
        the process that creates the container and then its monitor write
        it, one after the other: the state in memory is the whole state."""
        self.state.update(changes)
        with self.locked():
            temp = self.path(f".{STATE}.{os.getpid()}")
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            try:
                os.write(fd, _json(self.state).encode())
            finally:
                os.close(fd)
            os.replace(temp, self.path(STATE))

    def locked(self):
        return _Lock(self.path("lock"))

    @property
    def name(self):
        return self.state.get("name")

    def running(self):
        """Whether the command still runs: the monitor said so, and PID 1
        and the monitor are still the processes it recorded."""
        s = self.state
        return (s.get("status") == "running" and alive(s.get("pid"), s.get("pid-start"))
                and alive(s.get("monitor"), s.get("monitor-start")))

    def monitor_alive(self):
        return alive(self.state.get("monitor"), self.state.get("monitor-start"))

    def status(self):
        """'running', 'exited (N)', or 'exited (?)' when the monitor was
        killed before it could record the status; 'created' while starting."""
        if self.running():
            return "running"
        code = self.state.get("exit-status")
        if self.state.get("status") in (None, "created") and self.monitor_alive():
            return "created"
        return f"exited ({'?' if code is None else code})"

    def remove(self):
        """The directory and the name that points to it."""
        with self.locked():
            if self.name:
                link = os.path.join(self.top, "names", self.name)
                try:
                    if os.readlink(link) == self.id:
                        os.unlink(link)
                except OSError:
                    pass
            for entry in os.listdir(self.dir):
                os.unlink(self.path(entry))
            os.rmdir(self.dir)


def _json(value):
    """JSON of the state's values (str, int, float, None, bool, lists, a
    dict), without the json module: its encoder imports re, which costs a
    detached start several milliseconds. Strings as json.dumps writes
    them: ASCII, with \\uXXXX escapes (a lone surrogate too: a file name
    that is not UTF-8 comes back as it was)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_json(k)}: {_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_json(v) for v in value) + "]"
    if isinstance(value, str):
        return '"' + "".join(c if " " <= c <= "~" and c not in '"\\' else f"\\u{ord(c):04x}"
                             if ord(c) < 0x10000 else
                             "\\u{:04x}\\u{:04x}".format(0xd7c0 + (ord(c) >> 10),
                                                      0xdc00 + (ord(c) & 0x3ff))
                             for c in value) + '"'
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


class _Lock:
    def __init__(self, path):
        self.path = path

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc):
        os.close(self.fd)


def create(name, argv):
    """A new container's directory, with its name taken; Fail if it is not free."""
    top = root()
    cid = os.urandom(32).hex()
    container = Container(top, cid)
    os.mkdir(container.dir, 0o700)
    try:
        if name is not None:
            check_name(name)
            _take_name(top, name, cid)
        import time
        container.save(id=cid, name=name, command=list(argv), status="created",
                       created=time.time(), monitor=os.getpid(),
                       **{"monitor-start": start_time(os.getpid())})
    except BaseException:
        container.remove()
        raise
    return container


def _take_name(top, name, cid):
    link = os.path.join(top, "names", name)
    for _ in range(2):
        try:
            os.symlink(cid, link)
            return
        except FileExistsError:
            owner = os.readlink(link)
            if os.path.isdir(os.path.join(top, owner)):
                status = Container(top, owner).load().status()
                raise Fail(f"the name {name!r} is taken by container {owner[:12]} "
                           f"({status}); remove it with 'unc rm {name}' or choose another")
            os.unlink(link)              # its container's removal was cut short
    raise Fail(f"the name {name!r} is taken; choose another")


def find(ref):
    """The container named `ref`, or whose id is or begins with `ref`."""
    top = root(create=False)
    if top and ref and "/" not in ref and ref not in (".", ".."):
        try:
            cid = os.readlink(os.path.join(top, "names", ref))
            if os.path.isdir(os.path.join(top, cid)):
                return Container(top, cid).load()
        except OSError as e:
            if e.errno not in (errno.ENOENT, errno.EINVAL):
                raise
        if set(ref) <= set("0123456789abcdef"):
            ids = [cid for cid in _ids(top) if cid.startswith(ref)]
            if len(ids) == 1:
                return Container(top, ids[0]).load()
            if len(ids) > 1:
                raise Fail(f"{ref!r} begins more than one container's id; give more of it")
    raise Fail(f"no container {ref}; see 'unc ps -a'")


def _ids(top):
    return [e for e in os.listdir(top) if len(e) == 64]


def every():
    """Every container, oldest first."""
    top = root(create=False)
    if top is None:
        return []
    found = [Container(top, cid).load() for cid in _ids(top)]
    return sorted((c for c in found if c.state), key=lambda c: c.state.get("created", 0))
