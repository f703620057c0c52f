"""The process of a container: config.json's `process`, or the one of
`exec --process FILE`, applied in the container right before execve.

Used by container.py (PID 1, once `start` lets it go) and cli.py's exec
(a process that joined the container's namespaces). The order, and the
kernel rule behind it (capabilities(7)):
    1. rlimits, while the capability to raise a hard limit is still held;
       oomScoreAdj likewise;
    2. PR_SET_KEEPCAPS, then the capabilities outside `bounding` dropped
       from the bounding set (PR_CAPBSET_DROP needs CAP_SETPCAP);
    3. setgroups, setgid, setuid: a uid other than 0 clears the effective
       set, and without KEEPCAPS the permitted set too;
    4. umask and the working directory;
    5. capset(2) to exactly the effective, permitted and inheritable sets
       asked, then the ambient ones raised (they must be permitted and
       inheritable);
    6. no_new_privs, which setuid files then cannot undo;
    7. execve with the process's own environment, the program found on
       that environment's PATH, as runc does.
"""

import errno
import os

import kernel
from core import CANNOT_EXECUTE, NOT_FOUND, Fail
from security import caps as capabilities
from security import fds, limits
from security import seccomp as filters


def rlimit_number(name):
    """RLIMIT_NOFILE -> its number; None for a name unc does not know."""
    name = str(name)
    return limits.RESOURCES.get(name[7:].lower()) if name.startswith("RLIMIT_") else None


def find(argv0, env):
    """The program's path, searched on the process's own PATH; Fail with
    127 when there is none, 126 when it cannot be executed."""
    if "/" in argv0:
        candidates = [argv0]
    else:
        path = next((e[5:] for e in env if e.startswith("PATH=")),
                    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        candidates = [os.path.join(d or ".", argv0) for d in path.split(":")]
    for candidate in candidates:
        if os.path.isfile(candidate):
            if os.access(candidate, os.X_OK):
                return candidate
            raise Fail(f"{argv0}: cannot execute: permission denied", CANNOT_EXECUTE)
    raise Fail(f"{argv0}: executable file not found in the container's $PATH", NOT_FOUND)


def prepare(process, cwd_check=True):
    """In the container, before it waits for `start`: what can fail is
    checked now, so that `create` reports it (runc finds the program then)."""
    env = process.get("env") or []
    return find(process["args"][0], env)


def apply(process, trace, seccomp=None):
    """Steps 1 to 6 above, in the container; `seccomp`: a compiled filter
    (security/seccomp.py) for the container, loaded last of all, or while
    the capability to load it is still held when no_new_privs is off."""
    try:
        limits.apply_rlimits([(rlimit_number(r["type"]), r["soft"], r["hard"])
                              for r in process.get("rlimits") or []], trace)
    except Fail as e:
        raise Fail(str(e).replace("--ulimit ", "process.rlimits ")) from None
    if process.get("oomScoreAdj") is not None:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(process["oomScoreAdj"]))
    caps = process.get("capabilities")
    if caps is not None:
        kernel.prctl(kernel.PR_SET_KEEPCAPS, 1)
        trace(f"capability bounding set: {' '.join(caps.get('bounding') or []) or 'empty'}")
        capabilities.apply(bounding=caps.get("bounding") or [])
    if seccomp and not process.get("noNewPrivileges"):
        # Without no_new_privs the kernel wants CAP_SYS_ADMIN to load a
        # filter, which the sets below may drop: loaded now, as runc does.
        trace("seccomp filter loaded")
        filters.load(seccomp)
    user = process.get("user") or {}
    uid, gid = int(user.get("uid", 0)), int(user.get("gid", 0))
    groups = [int(g) for g in user.get("additionalGids") or []]
    try:
        os.setgroups(groups)
    except PermissionError:
        if groups:
            raise Fail("cannot set process.user.additionalGids: setgroups(2) is denied in "
                       "this user namespace (map groups with newgidmap)") from None
    trace(f"setgid({gid}); setuid({uid})")
    os.setgid(gid)
    os.setuid(uid)
    if user.get("umask") is not None:
        os.umask(int(user["umask"]))
    cwd = process.get("cwd") or "/"
    try:
        os.chdir(cwd)
    except OSError as e:
        raise Fail(f"cannot enter the process's cwd {cwd}: {e.strerror}") from None
    if caps is not None:
        capabilities.apply(effective=set(caps.get("effective") or []) & set(
            caps.get("permitted") or []), permitted=caps.get("permitted") or [],
            inheritable=caps.get("inheritable") or [], ambient=caps.get("ambient") or [])
    if process.get("noNewPrivileges"):
        trace("prctl(PR_SET_NO_NEW_PRIVS, 1)")
        kernel.prctl(kernel.PR_SET_NO_NEW_PRIVS, 1)
        if seccomp:
            trace("seccomp filter loaded")
            filters.load(seccomp)


def execute(process, path, trace, preserve=0):
    """execve the process with fds 0-2 and `preserve` more (--preserve-fds);
    on failure say why on stderr and exit as a shell would (127 not found,
    126 cannot execute)."""
    # Whatever else is open, unc's or the caller's, must not reach the
    # container: an inherited directory fd leads past its root
    # (security/fds.py).
    fds.close_on_exec(preserve)
    trace(f"execve {path}")
    try:
        os.execve(path, process["args"], dict(e.split("=", 1) for e in process.get("env") or []
                                              if "=" in e))
    except OSError as e:
        status = NOT_FOUND if e.errno == errno.ENOENT else CANNOT_EXECUTE
        os.write(2, f"unc: {process['args'][0]}: cannot execute: {e.strerror}\n".encode())
        os._exit(status)
