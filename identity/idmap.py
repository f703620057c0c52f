"""Writing the container's uid and gid maps from the host.

Stage user_pid calls write_maps() in its host_setup, while the container's
PID 1 waits for the go-ahead: the maps planned by identity/subids.py go into
/proc/PID/uid_map and gid_map. Which writer the kernel accepts
(user_namespaces(7)):

  - Root (CAP_SETUID/CAP_SETGID over the parent namespace) writes any map
    itself; /proc/PID/setgroups is left "allow".
  - Any other user may write exactly one line that maps their own id, and
    for gid_map only once setgroups holds "deny" (Linux 3.19+).
  - Every other map of an unprivileged user goes through the setuid helpers
    newuidmap/newgidmap (Debian package uidmap), which check the ranges
    against /etc/subuid and /etc/subgid. newgidmap leaves setgroups "allow"
    when a range came from /etc/subgid, and writes "deny" when the map is
    only the caller's own gid.

A failure becomes one Fail line that says what to do.
"""

import errno
import os

from core import Fail
from kernel import sysctl as _sysctl

HELPERS = {"uid": "newuidmap", "gid": "newgidmap"}
HELPER_DIRS = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")
APPARMOR_SYSCTL = "kernel/apparmor_restrict_unprivileged_userns"
HELPER_TIMEOUT = 30          # seconds; newuidmap may ask NSS for the user name


def find_helper(name, env=None, dirs=HELPER_DIRS):
    """newuidmap or newgidmap: on the caller's PATH, else in the standard
    sbin and bin directories (a user's PATH often has no sbin); None if
    nowhere."""
    path = (env if env is not None else os.environ).get("PATH", "")
    for d in [d for d in path.split(":") if d.startswith("/")] + list(dirs):
        candidate = os.path.join(d, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def missing_helper_message(name, dirs=HELPER_DIRS):
    return (f"{name} is not installed (not on PATH nor in {', '.join(dirs)}); it writes "
            "id ranges for users other than root: install the Debian package uidmap "
            "(apt-get install uidmap)")


def needs_helpers(uid_map, gid_map, privileged=None):
    """The helpers these maps need, by kind: none for root, none for a map
    that is only the caller's own id. `privileged` defaults to what the
    maps were planned for."""
    if uid_map.privileged if privileged is None else privileged:
        return []
    return [m.kind for m in (uid_map, gid_map) if not m.own_only]


def require_helpers(uid_map, gid_map, env=None, privileged=None, dirs=HELPER_DIRS):
    """Find the helpers the maps need before anything exists (stage
    prepare): {kind: path}. Raises Fail naming the package."""
    found = {}
    for kind in needs_helpers(uid_map, gid_map, privileged):
        path = find_helper(HELPERS[kind], env, dirs)
        if path is None:
            raise Fail(missing_helper_message(HELPERS[kind], dirs))
        found[kind] = path
    return found


def write_maps(pid, uid_map, gid_map, *, env=None, trace=None, privileged=None,
               helpers=None, dirs=HELPER_DIRS):
    """Write uid_map then gid_map of the waiting process `pid`.

    uid_map, gid_map  identity.subids.IdMap objects (subids.plan)
    env         the environment for newuidmap/newgidmap: the caller's, without
                what PyInstaller's bootloader adds (core.execvp.clean_environ);
                default: that of os.environ
    trace       callable(str) told each step: `newuidmap 1234 0 1000 1 1
                100000 65536` or `write /proc/1234/uid_map "0 1000 1"`
    privileged  the caller is root and writes the maps itself (default: as
                the maps were planned, subids.plan(privileged=...))
    helpers     {kind: path} from require_helpers(); found here otherwise

    Returns what /proc/PID/setgroups holds afterwards, "allow" or "deny"
    (None if unreadable): whether setgroups(2) will work inside.
    """
    trace = trace or (lambda message: None)
    if privileged is None:
        privileged = uid_map.privileged
    if env is None:
        import sys
        from core.execvp import clean_environ
        env = clean_environ(os.environ, getattr(sys, "frozen", False))
    if helpers is None:
        helpers = require_helpers(uid_map, gid_map, env, privileged, dirs)
    proc = f"/proc/{pid}"
    running = []
    try:
        for idmap in (uid_map, gid_map):
            if privileged:
                _write(f"{proc}/{idmap.kind}_map", idmap, trace, privileged)
            elif idmap.own_only:
                if idmap.kind == "gid":
                    # The kernel refuses an unprivileged gid_map until setgroups
                    # is denied: else dropping a group by setgroups(2) could gain
                    # access that the group was denying (CVE-2014-8989).
                    _write_text(f"{proc}/setgroups", "deny", trace)
                _write(f"{proc}/{idmap.kind}_map", idmap, trace, privileged)
            else:
                # The two maps are independent files: both helpers run at
                # once, and the start waits for the slower one only.
                running.append(start_helper(helpers[idmap.kind], pid, idmap, env, trace))
    finally:
        problems = [finish_helper(*started) for started in running]
    for problem in problems:
        if problem:
            raise Fail(problem)
    try:
        with open(f"{proc}/setgroups") as f:
            return f.read().strip()
    except OSError:
        return None


def _quoted(text):
    return '"' + text.strip().replace("\n", "\\n") + '"'


def _write_text(path, text, trace):
    trace(f"write {path} {_quoted(text)}")
    try:
        with open(path, "w") as f:
            f.write(text)
    except OSError as e:
        raise Fail(f"cannot write {path}: {e.strerror}; {why_write_failed()}")


def _write(path, idmap, trace, privileged):
    text = idmap.text()
    trace(f"write {path} {_quoted(text)}")
    try:
        # One write(2): the kernel takes a map in one go, and once only.
        with open(path, "w") as f:
            f.write(text)
    except OSError as e:
        why = why_write_failed()
        if privileged:
            outside = unmapped_outside(idmap)
            if outside:
                why = (f"host {idmap.kind}s {outside} are not mapped in unc's own user "
                       f"namespace (/proc/self/{idmap.kind}_map): root inside a "
                       "container can only pass on ids that container has")
            elif e.errno == errno.EINVAL:
                why = ("the kernel refused the map as invalid (overlapping ranges, "
                       "or more lines than it takes)")
        raise Fail(f"cannot write {path}: {e.strerror}; {why}")


def unmapped_outside(idmap, own_map=None):
    """Host ids of `idmap` that unc's own user namespace does not map (root
    in a container): "100000-165535", or "" when all are mapped."""
    if own_map is None:
        try:
            with open(f"/proc/self/{idmap.kind}_map") as f:
                own_map = f.read()
        except OSError:
            return ""
    ranges = []
    for line in own_map.splitlines():
        fields = line.split()
        if len(fields) == 3:
            ranges.append((int(fields[0]), int(fields[2])))
    from identity.subids import granted
    missing = [f"{e.outer}-{e.outer + e.count - 1}" if e.count > 1 else str(e.outer)
               for e in idmap.extents if not granted(ranges, e.outer, e.count)]
    return ", ".join(missing)


def why_write_failed():
    """The usual reason the kernel refuses a map written by an unprivileged user."""
    if _sysctl(APPARMOR_SYSCTL) == "1":
        return ("AppArmor restricts unprivileged user namespaces (sysctl "
                "kernel.apparmor_restrict_unprivileged_userns=1): as root, set it to 0 "
                "or give unc an AppArmor profile that allows userns")
    return "the kernel refused the id map; check that unc is not setuid or setgid"


def run_helper(path, pid, idmap, env, trace):
    """Run `newuidmap PID INNER OUTER COUNT...` (or newgidmap) and wait for
    it; Fail with its error, on one line."""
    problem = finish_helper(*start_helper(path, pid, idmap, env, trace))
    if problem:
        raise Fail(problem)


def start_helper(path, pid, idmap, env, trace):
    """Start the helper for `idmap`; returns what finish_helper() takes.

    Its stdout and stdin are /dev/null, its stderr a memory file read back
    only to explain a failure. posix_spawn(3) (a vfork) costs a parent as
    large as Python less than fork(2)."""
    name = os.path.basename(path)
    argv = [path, str(pid)] + idmap.args()
    trace(" ".join([name] + argv[1:]))
    log = os.memfd_create(f"unc-{name}", os.MFD_CLOEXEC)
    null = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
    # Nothing else of unc's leaks into the helper: an inherited fd (a bats
    # test's fd 3, which would keep its caller waiting) is closed for it;
    # unc's own fds are close-on-exec already.
    inherited = [int(fd) for fd in os.listdir("/proc/self/fd") if int(fd) > 2]
    actions = ([(os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, null, 1),
                (os.POSIX_SPAWN_DUP2, log, 2)]
               + [(os.POSIX_SPAWN_CLOSE, fd) for fd in inherited if fd not in (null, log)])
    try:
        child = os.posix_spawn(path, argv, env, file_actions=actions)
    except OSError as e:
        os.close(log)
        os.close(null)
        problem = explain_helper_failure(path, 127, f"{name}: cannot execute {path}: "
                                         f"{e.strerror}\n", idmap)
        return name, None, None, problem, path, idmap
    os.close(null)
    return name, child, log, None, path, idmap


def finish_helper(name, child, log, problem, path, idmap):
    """Wait for a started helper; its failure as one line, or None."""
    if child is None:
        return problem
    try:
        status = _wait(child, HELPER_TIMEOUT)
        text = os.pread(log, 65536, 0).decode(errors="replace")
    finally:
        os.close(log)
    if status is None:
        return (f"{name} did not finish within {HELPER_TIMEOUT} s (is the host's "
                "user database, NSS/LDAP, answering?)")
    if status != 0:
        return explain_helper_failure(path, status, text, idmap)
    return None


def _wait(pid, timeout):
    """The exit status of `pid`, or None after `timeout` seconds (then it is
    killed and reaped). A pidfd (Linux 5.3+) becomes readable when the
    process exits; older kernels are polled."""
    import select
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        try:
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            if poller.poll(timeout * 1000):
                return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        finally:
            os.close(fd)
    else:
        import time
        deadline, delay = time.monotonic() + timeout, 0.001
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status)
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return None


def _one_line(text, name):
    """A helper's stderr as one line, without its "newuidmap: " prefixes and
    the usage text it adds after a bad argument."""
    lines = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("usage:"):
            continue
        if line.startswith(name + ":"):
            line = line[len(name) + 1:].strip()
        lines.append("".join(c if c.isprintable() else "?" for c in line))
    return "; ".join(lines)


def explain_helper_failure(path, status, stderr, idmap, sysctl=_sysctl):
    """One line: what the helper said and what to do about it."""
    name = os.path.basename(path)
    said = _one_line(stderr, name) or (
        f"killed by signal {-status}" if status < 0 else f"exit status {status}")
    what = f"{name} failed: {said}"
    lower = said.lower()
    subid_file = "/etc/subuid" if idmap.kind == "uid" else "/etc/subgid"
    if "not allowed" in lower:
        return (f"{what}: {subid_file} does not grant you these host {idmap.kind}s "
                "(lines NAME:START:COUNT); ask root for a range")
    if "operation not permitted" in lower or "could not set caps" in lower \
            or "could not seteuid" in lower:
        return f"{what}; {why_helper_lacks_privilege(path, sysctl)}"
    if "owned by a different user" in lower:
        return (f"{what}; the container's process changed its ids or is not dumpable, "
                "so /proc shows it as another user's: an internal error of unc")
    if "cannot determine your user name" in lower:
        return (f"{what}; your uid {os.getuid()} has no entry in the host's user "
                f"database (getent passwd {os.getuid()}), which {name} needs")
    if "invalid argument" in lower:
        return f"{what}; the kernel refused the map (overlapping ranges or too many lines)"
    if "cannot execute" in lower:
        return f"{what}; reinstall the Debian package uidmap"
    return what


def why_helper_lacks_privilege(path, sysctl=_sysctl):
    """Why a setuid helper ran without its privilege, or was refused anyway."""
    import stat
    try:
        st = os.stat(path)
        vfs = os.statvfs(path)
    except OSError:
        return f"{path} cannot be examined"
    if sysctl(APPARMOR_SYSCTL) == "1":
        return ("AppArmor restricts unprivileged user namespaces (sysctl "
                "kernel.apparmor_restrict_unprivileged_userns=1): as root, set it to 0 "
                "or give unc an AppArmor profile that allows userns")
    setuid_root = st.st_uid == 0 and st.st_mode & stat.S_ISUID
    try:
        caps = "security.capability" in os.listxattr(path)
    except OSError:
        caps = False
    if not setuid_root and not caps:
        return (f"{path} is not setuid root: `ls -l {path}` must show -rwsr-xr-x "
                "owned by root; as root: apt-get install --reinstall uidmap (or "
                f"chmod u+s {path})")
    if vfs.f_flag & os.ST_NOSUID:
        return (f"{path} lies on a filesystem mounted nosuid, where it runs without "
                "its privilege (inside a container?): use the host's newuidmap")
    return ("the kernel refused the map: the maps of a process can be written once, "
            "and only while it lives")
