"""-u/--user: the container's user database, and becoming that user.

The core calls resolve() in the container's PID 1 after its root changed,
right before exec (so /etc/passwd and /etc/group are the container's, not
the host's), then switch_user(). resolve() takes USER[:GROUP], each a name
or a number, as runc and Podman do: a name must exist in the container's
/etc/passwd (/etc/group); a number need not, and a user id without an entry
gets group 0 and home "/" (runc's defaults). Supplementary groups are the
primary group and, when no GROUP is given, every group of /etc/group that
lists the user as a member (what initgroups(3) would give).
"""

import errno
import os

from core import Fail

MAX_DB_SIZE = 1 << 24        # a passwd file larger than 16 MiB is a mistake
ID_LIMIT = 2**32 - 1         # (u32)-1 is the kernel's "no id"


class User:
    """Who the command runs as.

    name    the passwd name, or None for a number without an entry
    uid, gid
    groups  supplementary gids for setgroups(2), the primary gid first
    home    the passwd home ("/root" for root without an entry, else "/")
    shell   the passwd shell, or None
    """

    __slots__ = ("name", "uid", "gid", "groups", "home", "shell")

    def __init__(self, name, uid, gid, groups, home, shell):
        self.name, self.uid, self.gid = name, uid, gid
        self.groups, self.home, self.shell = tuple(groups), home, shell

    def __eq__(self, other):
        return isinstance(other, User) and all(
            getattr(self, a) == getattr(other, a) for a in self.__slots__)

    def __repr__(self):
        return "User(" + ", ".join(f"{a}={getattr(self, a)!r}" for a in self.__slots__) + ")"


def _number(text):
    """A decimal id (ASCII digits only), or None when `text` is a name."""
    if text.isascii() and text.isdigit():
        return int(text)
    return None


def parse_passwd(text):
    """(name, uid, gid, home, shell) of each well-formed line, in order.
    Like glibc's files backend, a malformed line is skipped."""
    entries = []
    for line in text.split("\n"):
        fields = line.rstrip("\r").split(":")
        if len(fields) != 7 or not fields[0] or fields[0][0] in "#+-":
            continue
        uid, gid = _number(fields[2]), _number(fields[3])
        if uid is None or gid is None:
            continue
        entries.append((fields[0], uid, gid, fields[5], fields[6]))
    return entries


def parse_group(text):
    """(name, gid, members) of each well-formed line, in order."""
    entries = []
    for line in text.split("\n"):
        fields = line.rstrip("\r").split(":")
        if len(fields) != 4 or not fields[0] or fields[0][0] in "#+-":
            continue
        gid = _number(fields[2])
        if gid is None:
            continue
        members = [m.strip() for m in fields[3].split(",") if m.strip()]
        entries.append((fields[0], gid, members))
    return entries


def read_db(root, name):
    """The text of ROOT/etc/NAME, or None when there is none.

    Opened without blocking and refused unless a regular file: a FIFO or
    /dev/zero put there by the image must not hang or fill unc."""
    path = os.path.join(root, "etc", name)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise Fail(f"cannot read the container's /etc/{name}: {e.strerror}")
    try:
        import stat
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise Fail(f"the container's /etc/{name} is not a regular file")
        chunks, size = [], 0
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_DB_SIZE:
                raise Fail(f"the container's /etc/{name} is larger than "
                                f"{MAX_DB_SIZE >> 20} MiB")
    except OSError as e:
        raise Fail(f"cannot read the container's /etc/{name}: {e.strerror}")
    finally:
        os.close(fd)
    return b"".join(chunks).decode("utf-8", "surrogateescape")


def split_spec(spec, option="-u"):
    """USER[:GROUP] -> (USER, GROUP or None), refusing empty parts."""
    if "\0" in spec:
        raise Fail(f"{option}: the value holds a NUL byte")
    parts = spec.split(":")
    if len(parts) > 2 or not parts[0] or (len(parts) == 2 and not parts[1]):
        raise Fail(f"{option} {spec}: expected USER or USER:GROUP, each a name or "
                        "a number (such as -u 1000:1000 or -u postgres)")
    for part in parts:
        n = _number(part)
        if n is not None and n >= ID_LIMIT:
            raise Fail(f"{option} {spec}: {n} is beyond the largest id, {ID_LIMIT - 1}")
    return parts[0], parts[1] if len(parts) == 2 else None


def resolve(spec=None, root="/", passwd=None, group=None, option="-u"):
    """The User for `spec` (USER[:GROUP]; None: root, as without -u).

    root           read ROOT/etc/passwd and ROOT/etc/group: the container's
                   own "/" after its root changed. Another root is read as
                   the host sees it, symlinks and all: tests only.
    passwd, group  their text instead (tests)
    """
    if passwd is None:
        passwd = read_db(root, "passwd")
    if group is None:
        group = read_db(root, "group")
    users = parse_passwd(passwd or "")
    groups = parse_group(group or "")
    user_arg, group_arg = split_spec(spec, option) if spec is not None else ("0", None)

    uid = _number(user_arg)
    if uid is None:
        entry = next((e for e in users if e[0] == user_arg), None)
        if entry is None:
            where = ("the container has no /etc/passwd" if passwd is None else
                     f"no user {user_arg} in the container's /etc/passwd")
            raise Fail(f"{option} {spec}: {where}; give a number to run as an id "
                            "without an entry")
    else:
        entry = next((e for e in users if e[1] == uid), None)
    if entry is not None:
        name, uid, gid, home, shell = entry
        home = home or "/"
        shell = shell or None
    else:
        # runc's defaults for a number without an entry.
        name, gid, shell = None, 0, None
        home = "/root" if uid == 0 else "/"

    if group_arg is not None:
        gid = _number(group_arg)
        if gid is None:
            found = next((g for g in groups if g[0] == group_arg), None)
            if found is None:
                where = ("the container has no /etc/group" if group is None else
                         f"no group {group_arg} in the container's /etc/group")
                raise Fail(f"{option} {spec}: {where}; give a number to run with a "
                                "gid without an entry")
            gid = found[1]
        supplementary = [gid]
    else:
        supplementary = [gid]
        if name is not None:
            for _, member_gid, members in groups:
                if name in members and member_gid not in supplementary:
                    supplementary.append(member_gid)
    return User(name, uid, gid, supplementary, home, shell)


# ---------------------------------------------------------------- becoming

PR_SET_PDEATHSIG, PR_GET_PDEATHSIG = 1, 2


def _libc():
    import ctypes
    return ctypes, ctypes.CDLL(None, use_errno=True)


def setgroups_allowed(pid="self"):
    """Whether /proc/PID/setgroups says "allow"; None when unreadable."""
    try:
        with open(f"/proc/{pid}/setgroups") as f:
            return f.read().strip() == "allow"
    except OSError:
        return None


def switch_user(user, setgroups=None, trace=None, unmapped=None):
    """Become `user` (a User): supplementary groups, then gid, then uid.

    setgroups  whether setgroups(2) is allowed (stage user_pid knows: the
               value write_maps returned); None: read /proc/self/setgroups.
               When it is denied (the one-line gid map), the groups
               inherited from the host stay, and the user's are not set.
    unmapped   callable(kind, id) -> message for an id the maps lack
               (identity.subids.unmapped_message bound to the run's maps)

    The order is the kernel's: setgroups and setgid need CAP_SETGID, which
    setuid to a non-zero uid takes away. A parent-death signal is cleared
    by the kernel when the effective ids change (prctl(2)): it is set again.
    """
    trace = trace or (lambda message: None)
    ctypes, libc = _libc()
    signal_number = ctypes.c_int(0)
    libc.prctl(PR_GET_PDEATHSIG, ctypes.byref(signal_number), 0, 0, 0)

    if setgroups is None:
        setgroups = setgroups_allowed()
    if setgroups is not False:
        trace(f"setgroups {','.join(map(str, user.groups))}")
        try:
            os.setgroups(list(user.groups))
        except OSError as e:
            if e.errno == errno.EINVAL:                               # unmapped gid
                bad = next((g for g in user.groups if not _gid_ok(g)), user.groups[0])
                raise Fail(_unmapped("gid", bad, unmapped, user)) from None
            if e.errno != errno.EPERM or setgroups:                   # denied
                raise Fail(f"setgroups({list(user.groups)}) failed: "
                                f"{e.strerror}") from None
            trace("setgroups is denied here: the supplementary groups stay as inherited")
    else:
        trace("setgroups is denied (the gid map is one line): the supplementary "
              "groups stay as inherited")
    for kind, value, call in (("gid", user.gid, os.setgid), ("uid", user.uid, os.setuid)):
        trace(f"set{kind} {value}")
        try:
            call(value)
        except OSError as e:
            if e.errno == errno.EINVAL:                               # not mapped
                raise Fail(_unmapped(kind, value, unmapped, user)) from None
            raise Fail(f"set{kind}({value}) failed: {e.strerror}") from None
    if signal_number.value:
        libc.prctl(PR_SET_PDEATHSIG, signal_number.value, 0, 0, 0)


def _gid_ok(gid):
    """Whether gid is mapped in our user namespace (from /proc/self/gid_map)."""
    try:
        with open("/proc/self/gid_map") as f:
            for line in f:
                inner, _, count = (int(x) for x in line.split())
                if inner <= gid < inner + count:
                    return True
    except (OSError, ValueError):
        return True
    return False


def _unmapped(kind, value, unmapped, user):
    who = f"user {user.name}" if user.name else f"uid {user.uid}"
    if unmapped is not None:
        return unmapped(kind, value)
    return (f"{kind} {value} (of {who}) is not mapped in the container: its {kind} map "
            f"lacks it; use --map-auto, or --map-{'users' if kind == 'uid' else 'groups'}"
            f"={value}:OUTER:1")
