"""Thin wrappers around the Linux system calls unc needs and Python 3.11 lacks.

Each wrapper is named like the kernel's call, takes the kernel's arguments and
raises OSError(errno, "<syscall>: <strerror>") on failure, so an error message
always says which call the kernel refused. Constants keep their header names.

Only ctypes, os and _signal are imported: this module is on the start-up path
of every container.
"""

import ctypes
import os

# What the signal module wraps, as plain ints: signal.py makes enums of them,
# and importing enum costs about 3.5 ms of every start (bench/README.md).
import _signal

# <linux/sched.h>
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

CLONE_NAMES = {
    CLONE_NEWUSER: "CLONE_NEWUSER",
    CLONE_NEWPID: "CLONE_NEWPID",
    CLONE_NEWUTS: "CLONE_NEWUTS",
    CLONE_NEWNS: "CLONE_NEWNS",
    CLONE_NEWIPC: "CLONE_NEWIPC",
    CLONE_NEWNET: "CLONE_NEWNET",
    CLONE_NEWCGROUP: "CLONE_NEWCGROUP",
}


def signal_name(signum):
    """SIGTERM for 15, as signal.Signals names it; "signal 40" for a
    real-time signal between SIGRTMIN and SIGRTMAX, which has no name. Of
    two names for a number (SIGABRT, SIGIOT), the first in alphabetical
    order, as signal.Signals does."""
    names = sorted(name for name, value in vars(_signal).items()
                   if value == signum and name.startswith("SIG") and not name.startswith("SIG_"))
    return names[0] if names else f"signal {signum}"


# <linux/mount.h>
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_SILENT = 32768
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MNT_DETACH = 2

MS_NAMES = [
    (MS_RDONLY, "MS_RDONLY"), (MS_NOSUID, "MS_NOSUID"), (MS_NODEV, "MS_NODEV"),
    (MS_NOEXEC, "MS_NOEXEC"), (MS_REMOUNT, "MS_REMOUNT"),
    (MS_NOATIME, "MS_NOATIME"), (MS_NODIRATIME, "MS_NODIRATIME"),
    (MS_BIND, "MS_BIND"), (MS_MOVE, "MS_MOVE"), (MS_REC, "MS_REC"),
    (MS_SILENT, "MS_SILENT"), (MS_PRIVATE, "MS_PRIVATE"), (MS_SLAVE, "MS_SLAVE"),
    (MS_RELATIME, "MS_RELATIME"), (MS_STRICTATIME, "MS_STRICTATIME"),
]

# statvfs f_flag bits (<sys/statvfs.h>) that the kernel locks on a mount
# inherited by a less privileged user namespace, and the MS_ flag each needs.
ST_LOCKED = [
    (os.ST_RDONLY, MS_RDONLY), (os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV),
    (os.ST_NOEXEC, MS_NOEXEC), (os.ST_NOATIME, MS_NOATIME),
    (os.ST_NODIRATIME, MS_NODIRATIME), (os.ST_RELATIME, MS_RELATIME),
]

# <linux/prctl.h>
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_SET_NAME = 15
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

# <linux/capability.h>
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

# <linux/seccomp.h>
SECCOMP_SET_MODE_FILTER = 1
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2

# <linux/close_range.h> (Linux 5.11+)
CLOSE_RANGE_CLOEXEC = 1 << 2

# <linux/mount.h>, newer mount API (Linux 5.12+)
MOUNT_ATTR_RDONLY = 0x00000001
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000

# <linux/openat2.h> (Linux 5.6+)
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_IN_ROOT = 0x10

# Calls that glibc may lack (openat2 in every glibc so far; mount_setattr
# before 2.36) are made with syscall(2). Their numbers come from the table
# that every architecture shares for calls added since Linux 5.1 (alpha,
# ia64 and mips aside), so no per-architecture table is needed.
_NR_UNIFIED = {"openat2": 437, "mount_setattr": 442, "close_range": 436, "pidfd_open": 434}

# Older calls that glibc lacks have a number of their own per architecture.
_NR_OWN = {"x86_64": {"capget": 125, "capset": 126, "seccomp": 317},
           "aarch64": {"capget": 90, "capset": 91, "seccomp": 277}}

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                        ctypes.c_ulong, ctypes.c_char_p)
_libc.umount2.argtypes = (ctypes.c_char_p, ctypes.c_int)
_libc.unshare.argtypes = (ctypes.c_int,)
_libc.setns.argtypes = (ctypes.c_int, ctypes.c_int)
_libc.prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong,
                        ctypes.c_ulong, ctypes.c_ulong)
_libc.sethostname.argtypes = (ctypes.c_char_p, ctypes.c_size_t)
_libc.pivot_root.argtypes = (ctypes.c_char_p, ctypes.c_char_p)
_libc.syscall.restype = ctypes.c_long
_libc.setns.argtypes = (ctypes.c_int, ctypes.c_int)


def _check(result, name, path=None):
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{name}: {os.strerror(err)}", path)
    return result


def _b(path):
    return None if path is None else os.fsencode(path)


def flag_names(flags, names):
    """'CLONE_NEWUSER|CLONE_NEWPID' for a bit mask, for --trace."""
    table = names.items() if isinstance(names, dict) else names
    parts = [name for bit, name in table if flags & bit]
    return "|".join(parts) or "0"


def unshare(flags):
    _check(_libc.unshare(flags), "unshare")


def setns(fd, nstype):
    _check(_libc.setns(fd, nstype), "setns")


def mount(source, target, fstype, flags, data=None):
    _check(_libc.mount(_b(source), _b(target), _b(fstype), flags, _b(data)),
           "mount", target)


def umount2(target, flags):
    _check(_libc.umount2(_b(target), flags), "umount2", target)


def pivot_root(new_root, put_old):
    # glibc has exported pivot_root since 2.2.5, though no header declares it.
    _check(_libc.pivot_root(_b(new_root), _b(put_old)), "pivot_root", new_root)


_lacks = set()                    # what this glibc has no function for


def _glibc_or_syscall(name, *args):
    """glibc's function `name` where this glibc has it, else syscall(2).

    A name glibc lacks is remembered: each look-up of a missing symbol is a
    failed dlsym(3) through every loaded library, and an AttributeError
    with a traceback, about 0.3M instructions (the mount plan opens each
    destination with openat2, which no glibc has)."""
    if name not in _lacks:
        function = getattr(_libc, name, None)
        if function is not None:
            return function(*args)
        _lacks.add(name)
    return _libc.syscall(ctypes.c_long(_NR_UNIFIED[name]), *args)


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def mount_setattr(dirfd, path, flags, attr_set, attr_clr=0):
    attr = _MountAttr(attr_set, attr_clr, 0, 0)
    _check(_glibc_or_syscall("mount_setattr", ctypes.c_int(dirfd), ctypes.c_char_p(_b(path)),
                             ctypes.c_uint(flags), ctypes.byref(attr),
                             ctypes.c_size_t(ctypes.sizeof(attr))),
           "mount_setattr", path)


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64),
                ("resolve", ctypes.c_uint64)]


def openat2(dirfd, path, flags, resolve, mode=0):
    how = _OpenHow(flags, mode, resolve)
    return _check(_glibc_or_syscall("openat2", ctypes.c_int(dirfd), ctypes.c_char_p(_b(path)),
                                    ctypes.byref(how), ctypes.c_size_t(ctypes.sizeof(how))),
                  "openat2", path)


def locked_flags(path):
    """The MS_ flags of the mount holding `path` that a remount must restate.

    In a user namespace, a mount inherited from a more privileged namespace
    keeps these flags locked: a remount that omits one fails with EPERM.
    """
    f_flag = os.statvfs(path).f_flag
    return sum(ms for st, ms in ST_LOCKED if f_flag & st)


def prctl(option, arg2=0, arg3=0, arg4=0, arg5=0):
    return _check(_libc.prctl(option, arg2, arg3, arg4, arg5), "prctl")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _own_syscall(name, *args):
    """syscall(2) for a call glibc has no function for (capset: libcap's)."""
    return _libc.syscall(ctypes.c_long(_NR_OWN[os.uname().machine][name]), *args)


def capget():
    """(effective, permitted, inheritable) of this thread, as 64-bit masks."""
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_own_syscall("capget", ctypes.byref(header), data), "capget")
    return tuple(getattr(data[0], f) | getattr(data[1], f) << 32
                 for f in ("effective", "permitted", "inheritable"))


def capset(effective, permitted, inheritable):
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    for i in (0, 1):
        data[i].effective = effective >> (32 * i) & 0xFFFFFFFF
        data[i].permitted = permitted >> (32 * i) & 0xFFFFFFFF
        data[i].inheritable = inheritable >> (32 * i) & 0xFFFFFFFF
    _check(_own_syscall("capset", ctypes.byref(header), data), "capset")


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]


def seccomp_set_mode_filter(program):
    """Load a classic BPF program (8 bytes an instruction, struct
    sock_filter) as this thread's seccomp filter. seccomp(2) where the
    kernel has it (3.17+), else prctl(PR_SET_SECCOMP)."""
    prog = _SockFprog(len(program) // 8, program)
    result = _own_syscall("seccomp", ctypes.c_uint(SECCOMP_SET_MODE_FILTER), ctypes.c_uint(0),
                          ctypes.byref(prog))
    if result < 0 and ctypes.get_errno() == 38:                       # ENOSYS
        result = _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER,
                             ctypes.cast(ctypes.byref(prog), ctypes.c_void_p).value, 0, 0)
        _check(result, "prctl(PR_SET_SECCOMP)")
    _check(result, "seccomp")


class _Rlimit(ctypes.Structure):
    _fields_ = [("rlim_cur", ctypes.c_ulong), ("rlim_max", ctypes.c_ulong)]


RLIM_INFINITY = (1 << 64) - 1


def getrlimit(resource):
    limit = _Rlimit()
    _check(_libc.getrlimit(ctypes.c_int(resource), ctypes.byref(limit)), "getrlimit")
    return limit.rlim_cur, limit.rlim_max


def setrlimit(resource, soft, hard):
    limit = _Rlimit(soft, hard)
    _check(_libc.setrlimit(ctypes.c_int(resource), ctypes.byref(limit)), "setrlimit")


def close_range(first, last, flags):
    _check(_glibc_or_syscall("close_range", ctypes.c_uint(first), ctypes.c_uint(last),
                             ctypes.c_int(flags)), "close_range")


def setns(fd, nstype=0):
    _check(_libc.setns(fd, nstype), "setns")


def pidfd_open(pid):
    """A pidfd for `pid` (Linux 5.3): setns(2) takes one since Linux 5.8
    to enter several of its namespaces at once."""
    return _check(_glibc_or_syscall("pidfd_open", ctypes.c_int(pid), ctypes.c_uint(0)),
                  "pidfd_open")


def sethostname(name):
    data = name.encode()
    _check(_libc.sethostname(data, len(data)), "sethostname")


def sysctl(name):
    """The kernel setting `name` (sysctl(8)'s dotted name, or its path below
    /proc/sys) as text, or None where this kernel has no such setting
    (unprivileged_userns_clone is Debian's, apparmor_restrict_unprivileged_userns
    Ubuntu's)."""
    try:
        with open("/proc/sys/" + name.replace(".", "/")) as f:
            return f.read().strip()
    except OSError:
        return None
