"""Capabilities: their names, Docker's default set, and applying the five sets.

API (for stages/harden.py, `unc exec` and the OCI runtime):

    parse(names, option)    a set of capability numbers from names as in
                            capabilities(7), with or without CAP_, any case,
                            or ALL; Fail naming an unknown one
    names(caps)             the sorted CAP_ names of a set, for --trace
    DEFAULT                 Docker's default 14, as numbers
    apply(bounding=None, effective=None, permitted=None, inheritable=None,
          ambient=None)     sets given as iterables of numbers or names;
                            None leaves a set as it is

Root in a user namespace holds every capability, but only over what that
namespace owns: its mounts, its network, its processes. Each is still a
lever against the kernel (a mount of a crafted filesystem image, a raw
socket's parser, ptrace of a sibling), so Docker keeps 14 that ordinary
programs need (chown, setuid for su and apt's sandbox, binding port 80,
ping's raw socket, chroot, mknod, ...) and drops the rest.

The order matters (capabilities(7)): dropping from the bounding set needs
CAP_SETPCAP, so it comes first, while the process is still full root; the
bounding set limits what any later execve(2) may grant, not what the
process holds now, so the command's -u/-w settings still work after it.
capset(2) then lowers effective and permitted, and empties inheritable:
a root's execve adds the inheritable set to the permitted one untouched by
the bounding set (CVE-2022-24769). After a switch to a non-root user the
kernel has cleared effective and permitted already; the ambient set is
cleared too, so a non-root command starts with no capability at all.
"""

import kernel
from core import Fail

NAMES = ("CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
         "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
         "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO",
         "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
         "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE",
         "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
         "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE")

DEFAULT = frozenset(NAMES.index(n) for n in (
    "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
    "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE"))


_last = []


def last_cap():
    """The highest capability this kernel knows (kernel.cap_last_cap); read
    once (stages/harden.py asks on the host, so the container's PID 1, a
    fork, has it already)."""
    if not _last:
        value = kernel.sysctl("kernel.cap_last_cap")
        _last.append(int(value) if value else len(NAMES) - 1)
    return _last[0]


def number(name, option="capability"):
    word = str(name).upper()
    if word.startswith("CAP_"):
        word = word[4:]
    if word not in NAMES:
        raise Fail(f"invalid {option} {name!r}: not a capability of capabilities(7) "
                   "(e.g. NET_ADMIN or CAP_NET_ADMIN, or ALL)")
    return NAMES.index(word)


def parse(names, option="capability"):
    """The set of numbers `names` say; ALL is every capability."""
    caps = set()
    for name in names:
        if str(name).upper() in ("ALL", "CAP_ALL"):
            caps.update(range(len(NAMES)))
        else:
            caps.add(number(name, option))
    return caps


def names(caps):
    return [f"CAP_{NAMES[c]}" for c in sorted(caps)]


def mask(caps):
    bits = 0
    for cap in caps:
        bits |= 1 << cap
    return bits


def _numbers(caps):
    return None if caps is None else {c if isinstance(c, int) else number(c) for c in caps}


def apply(bounding=None, effective=None, permitted=None, inheritable=None, ambient=None):
    """Set this process's capability sets; None leaves a set as it is.

    A set given without another that it needs keeps the kernel's rules:
    effective must lie within permitted, ambient within permitted and
    inheritable (the kernel refuses otherwise, and so does this)."""
    bounding, effective, permitted, inheritable, ambient = map(
        _numbers, (bounding, effective, permitted, inheritable, ambient))
    if bounding is not None:
        for cap in range(last_cap() + 1):
            if cap not in bounding:
                kernel.prctl(kernel.PR_CAPBSET_DROP, cap)
    if (effective, permitted, inheritable) != (None, None, None):
        now = kernel.capget()
        kernel.capset(*(now[i] if caps is None else mask(caps)
                        for i, caps in enumerate((effective, permitted, inheritable))))
    if ambient is not None:
        kernel.prctl(kernel.PR_CAP_AMBIENT, kernel.PR_CAP_AMBIENT_CLEAR_ALL)
        for cap in sorted(ambient):
            kernel.prctl(kernel.PR_CAP_AMBIENT, kernel.PR_CAP_AMBIENT_RAISE, cap)
