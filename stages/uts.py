"""Stage 2, uts: a UTS namespace with the container's own hostname.

What it adds
    `hostname` inside prints the container's name (default "unc", or
    --hostname=NAME), and changing it does not touch the host.

UTS namespace (uts_namespaces(7))
    UTS stands for "UNIX Time-sharing System", after the struct utsname that
    uname(2) fills in. The namespace holds two strings: the hostname and the
    NIS domain name. unshare(CLONE_NEWUTS) gives the container a copy of the
    host's; sethostname(2) then changes the copy. Setting it needs
    CAP_SYS_ADMIN in the user namespace that owns the UTS namespace, which
    the container's root has since stage 1 created that user namespace.

    The name is checked before anything starts: 1 to 64 bytes (the kernel's
    __NEW_UTS_LEN), made of letters, digits, '-' and '.', as RFC 1123 allows
    for host names, not starting or ending with '-' or '.', with no empty
    label ('..').

Try it
    unc --stage=uts --hostname=box --trace hostname
"""

from core import Fail
from kernel import CLONE_NEWUTS, sethostname

NAME = "uts"
SUMMARY = "own hostname in a new UTS namespace (--hostname)"
CLONE_FLAGS = CLONE_NEWUTS
OPTIONS = """
  --hostname=NAME      Hostname inside (default: unc).
"""


class State:
    """The hostname the container gets."""

    def __init__(self):
        self.hostname = "unc"


_ALLOWED = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.")


def valid_hostname(name):
    return (set(name) <= _ALLOWED and 0 < len(name) <= 64
            and name[0] not in "-." and name[-1] not in "-."
            and ".." not in name)


def prepare(run, me):
    name = run.opts.get("--hostname")
    if name is None:
        name = "unc"
    if not valid_hostname(name):
        raise Fail(f"invalid --hostname {name!r}: use 1 to 64 ASCII letters, digits, "
                   "'-' and '.', not starting or ending with '-' or '.', and no '..'")
    me.hostname = name


def container_setup(run, me):
    run.trace(f'sethostname("{me.hostname}")')
    sethostname(me.hostname)


def status(run, me):
    """What --json-status-fd reports of this stage once the command runs."""
    return {"hostname": me.hostname}
