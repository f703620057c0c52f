"""Stage 1, user_pid: a user namespace and a PID namespace.

What it adds
    The command runs as root (uid 0) and as process 1, yet unc needs no
    privilege at all: both are true only inside the new namespaces.

User namespace (user_namespaces(7))
    A user namespace has its own table of user and group ids. Any user may
    create one with unshare(CLONE_NEWUSER) and gets every capability inside
    it, but only over objects the namespace owns: the host's files still see
    the real uid. The namespace starts empty; until /proc/PID/uid_map and
    /proc/PID/gid_map are written, the process runs as the overflow user
    "nobody". The kernel allows an unprivileged writer exactly one line that
    maps its own id, so unc writes "0 <your uid> 1": you are root inside,
    yourself outside. Before gid_map, /proc/PID/setgroups must hold "deny"
    (Linux 3.19+), or a process could drop a group that was denying it
    access to a file. A side effect: your supplementary groups stay attached
    and cannot be changed inside. Root maps 0 to 0.

    unc writes the maps from the host, from outside the namespace, while
    PID 1 waits for the go-ahead. That is what newuidmap(1) does too.

Many ids: subordinate ranges (--map-auto)
    One id is enough for `whoami`, not for a distribution: dpkg and apt
    chown files to other users, apt drops to its _apt user, su and useradd
    need ids besides root. The kernel lets a map hold up to 340 ranges
    (5 before Linux 4.15), but an unprivileged process may only map itself:
    which host ids a user may have is policy, kept by root in /etc/subuid
    and /etc/subgid (lines NAME:START:COUNT, e.g. alice:100000:65536;
    `usermod --add-subuids`). Only a program that is setuid root can check
    that policy and write a wider map for a user: newuidmap and newgidmap
    (Debian package uidmap), run from the host with the waiting PID 1's
    pid. With --map-auto, unc asks them for "0 <your uid> 1" and
    "1 <START> <COUNT>": root inside is you outside, id N inside is
    START+N-1 outside, an id nobody on the host uses. A gid map written by
    newgidmap from a subordinate range leaves setgroups "allow": su, apt
    and initgroups can set supplementary groups inside. As root, unc writes
    any map itself. --map-users/--map-groups give ranges by hand, and
    --map-user/--map-group choose which inner id you become (files you
    write to a volume then keep your own id, like Podman's keep-id). The
    machinery: identity/subids.py (the files and the maps) and
    identity/idmap.py (writing them, and what each refusal means).

    Creating user namespaces can be switched off: user.max_user_namespaces
    set to 0, Debian's kernel.unprivileged_userns_clone set to 0, or Ubuntu's
    kernel.apparmor_restrict_unprivileged_userns set to 1. unc names the
    setting when the kernel refuses.

PID namespace (pid_namespaces(7))
    A PID namespace numbers processes from 1 again. unshare(CLONE_NEWPID)
    does not move the caller: its next child becomes PID 1. So the core
    unshares, then forks; the child is PID 1 and runs the command. PID 1 is
    special: the kernel delivers it only the signals it has a handler for,
    orphans are re-parented to it, and when it exits the kernel kills every
    other process in the namespace. unc makes up for the first rule when it
    passes signals on (core/signals.py, forward_signals); --init puts a
    small init in front of the command for all three (core/init.py).

    All namespaces of all stages are unshared in one unshare(2) call: the
    user namespace is created first and owns the others, which is why no
    stage after this one needs any privilege either.

Try it
    unc --stage=user_pid --trace sh -c 'id; echo $$'
"""

import errno
import os

from core import Fail
from kernel import CLONE_NEWPID, CLONE_NEWUSER
from kernel import sysctl as _sysctl

NAME = "user_pid"
SUMMARY = "run as root and PID 1 in new user and PID namespaces"
CLONE_FLAGS = CLONE_NEWUSER | CLONE_NEWPID
OPTIONS = """
  --map-root-user      Map only yourself, as root inside (the default,
                       but for --image when you have subordinate ids:
                       then as with --map-auto).
  --map-auto           Also map ids 1 and up to your first range in
                       /etc/subuid and /etc/subgid (needs newuidmap and
                       newgidmap, Debian package uidmap).
  --map-users=MAP      Map user ids INNER:OUTER:COUNT (repeatable).
  --map-groups=MAP     Map group ids INNER:OUTER:COUNT (repeatable).
  --map-user=UID       The user id you are inside (default 0); alone, it
                       implies --map-auto.
  --map-group=GID      The group id you are inside (default 0); likewise.
"""
REPEATABLE = ("--map-users=MAP", "--map-groups=MAP")
RANGE_OPTIONS = ("--map-auto", "--map-users", "--map-groups", "--map-user", "--map-group")


class State:
    """The id maps to write: the tutorial's one line each (uid_map,
    gid_map), or with ranges the planned maps and their helpers."""

    def __init__(self):
        self.uid_map = self.gid_map = None
        self.ranges = None       # with ranges: the maps, helpers and their environment


def id_map(inside, outside, count=1):
    """One line of a uid_map/gid_map file: inside id, outside id, range size."""
    return f"{inside} {outside} {count}\n"


def prepare(run, me):
    asked = [o for o in RANGE_OPTIONS if run.opts.get(o) not in (None, False, [])]
    if not asked and run.opts.get("--image") and not run.opts.get("--map-root-user"):
        # A distribution image expects many ids (apt's _apt, daemons): an
        # image maps your subordinate range where you have one, as Podman.
        try:
            me.ranges = plan_ranges(dict(run.opts, **{"--map-auto": True}))
            return
        except Fail as e:
            run.trace(f"--image without subordinate ids ({e}): mapping only yourself")
    if not asked:
        me.uid_map = id_map(0, os.geteuid())
        me.gid_map = id_map(0, os.getegid())
        return
    if run.opts.get("--map-root-user"):
        raise Fail(f"--map-root-user maps only yourself; it cannot go with {asked[0]}")
    me.ranges = plan_ranges(run.opts)


def plan_ranges(opts):
    """The maps with subordinate ranges the options ask for, checked
    against /etc/subuid and /etc/subgid, and the helpers that will write
    them (found now, so that a missing one fails before anything exists)."""
    import pwd
    import sys

    from core.execvp import clean_environ
    from identity import idmap, subids
    try:
        user = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        user = None                      # no passwd entry: subuid lines by number
    auto = any(opts.get(o) not in (None, False) for o in ("--map-auto", "--map-user",
                                                           "--map-group"))
    maps = [subids.plan(kind, own, user, privileged=os.geteuid() == 0, auto=auto,
                        specs=opts.get(ranges) or (), inner_self=opts.get(inner))
            for kind, own, ranges, inner in (("uid", os.getuid(), "--map-users", "--map-user"),
                                             ("gid", os.getgid(), "--map-groups", "--map-group"))]
    env = clean_environ(os.environ, getattr(sys, "frozen", False))
    return {"uid_map": maps[0], "gid_map": maps[1], "env": env,
            "helpers": idmap.require_helpers(*maps, env=env)}


def host_setup(run, me):
    proc = f"/proc/{run.pid}"
    if me.ranges:
        from identity import idmap
        idmap.write_maps(run.pid, trace=run.trace, **me.ranges)
        return
    _write(run, f"{proc}/uid_map", me.uid_map)
    # The kernel refuses gid_map until setgroups is denied (Linux 3.19+).
    _write(run, f"{proc}/setgroups", "deny")
    _write(run, f"{proc}/gid_map", me.gid_map)


def checked(run, me, attempt):
    """What `unc check` says of this stage: whether subordinate ranges work
    here (a container with --map-auto). Optional: it never fails the stage."""
    try:
        status = attempt("--map-auto")
    except Fail as e:
        return f"--map-auto cannot work: {e}"
    return "--map-auto works" if status == 0 else f"--map-auto: true exited {status}"


def facts(attempt):
    """What `unc check` reports of what this stage needs (docs/check.md):
    whether you may create user namespaces, and when not the setting that
    forbids it, said in this stage's own words; your subordinate ids."""
    from identity import facts
    return {"userns": facts.userns(unshare_refused, _why_maps_fail),
            "subids": facts.subids(attempt)}


def _write(run, path, text):
    run.trace(f'write {path} "{text.strip()}"')
    try:
        with open(path, "w") as f:
            f.write(text)
    except OSError as e:
        raise Fail(f"cannot write {path}: {e.strerror}; {_why_maps_fail()}")


def _why_maps_fail():
    if _sysctl("kernel/apparmor_restrict_unprivileged_userns") == "1":
        return ("AppArmor restricts unprivileged user namespaces "
                "(sysctl kernel.apparmor_restrict_unprivileged_userns=1); "
                "set it to 0 or give unc an AppArmor profile that allows userns")
    return "the kernel refused the id map; check that unc is not setuid or setgid"


def unshare_refused(err):
    """Explain a refused unshare(CLONE_NEWUSER...) by the setting behind it:
    a user namespace is created first and owns the others, so it is the
    usual cause."""
    limit = _sysctl("user/max_user_namespaces")
    if limit == "0":
        return ("user namespaces are disabled: sysctl user.max_user_namespaces is 0; "
                "as root, set it: sysctl -w user.max_user_namespaces=15000")
    if _sysctl("kernel/unprivileged_userns_clone") == "0":
        return ("unprivileged user namespaces are disabled: sysctl "
                "kernel.unprivileged_userns_clone is 0; as root, set it: "
                "sysctl -w kernel.unprivileged_userns_clone=1")
    if err.errno == errno.ENOSPC:        # a namespace count limit is reached
        return (f"too many user namespaces exist (user.max_user_namespaces={limit}); "
                "end some containers or raise the limit")
    if err.errno == errno.EINVAL:        # threads, or not supported
        return ("the kernel does not support these namespaces "
                "(CONFIG_USER_NS/CONFIG_PID_NS) or the process has threads")
    return (f"{err.strerror}; a seccomp filter may block unshare(2) "
            "(are you inside another container? allow user namespaces there; inside unc, "
            "start the outer container with --privileged)")
