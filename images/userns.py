"""A helper process in a user namespace of its own, where the store's files
are written and removed.

Used by images/cli.py: every import, pull and rmi does its work on the
store in such a helper. Two kernel rules make it necessary:

  - An overlayfs whiteout is a character device 0/0. mknod(2) of a device
    needs CAP_MKNOD, which a user has only in a user namespace of its own;
    there the kernel allows exactly this device (Linux 5.8 and later).
  - Files of an image belong to many users (root, daemon, _apt...). Only a
    process whose user namespace maps those ids may chown(2) files to them
    and later remove them: with --map-auto the helper maps the caller's
    subordinate range (newuidmap/newgidmap, identity/idmap.py), as the
    container will, so inner id N is START+N-1 on the host. Without it, the
    one id mapped is the caller's, and every file belongs to the caller.

As in a container run, the child unshares and waits; the parent writes the
maps from outside (the kernel takes an unprivileged map only from there or
for the process itself) and lets it go on. The child dies with its parent
(PR_SET_PDEATHSIG); what it left half-written stays in the store's tmp/
directory, which nothing trusts and the next helper sweeps.
"""

import os

from core import FAILED, Fail, die


def run(function, map_auto=False, trace=None, debug=False):
    """Call function() in a new user namespace, as root there; return the
    child's exit status (function's return value, or 125 after it printed
    its one line; `debug`: with a traceback for an internal error)."""
    import kernel
    trace = trace or (lambda message: None)
    plans = _plan_maps(map_auto)
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        os.close(go_w)
        status = FAILED
        try:
            # Dies with unc; nothing setuid runs in this process.
            kernel.prctl(kernel.PR_SET_PDEATHSIG, 9)
            try:
                kernel.unshare(kernel.CLONE_NEWUSER)
            except OSError as e:
                die(f"cannot create a user namespace for the store: {e.strerror}; "
                    "see `unc check`")
            os.write(ready_w, b"u")
            if os.read(go_r, 1) != b"g":
                os._exit(FAILED)
            status = function() or 0
        except Fail as e:
            try:
                os.write(2, b"unc: " + _line(str(e)) + b"\n")
            except OSError:
                pass
            status = e.status
        except KeyboardInterrupt:
            status = 130
        except SystemExit as e:
            status = e.code if isinstance(e.code, int) else FAILED
        except BaseException as e:
            if debug:
                import traceback
                traceback.print_exc()
            os.write(2, b"unc: " + _line(f"internal error: {e.__class__.__name__}: {e}; "
                                         + ("please report it" if debug else
                                            "rerun with --debug and report it")) + b"\n")
            status = FAILED
        finally:
            try:
                import sys
                sys.stdout.flush()
            except Exception:
                pass
            os._exit(status)
    os.close(ready_w)
    os.close(go_r)
    try:
        if os.read(ready_r, 1) != b"u":
            _, status = os.waitpid(pid, 0)
            return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else FAILED
        _write_maps(pid, plans, trace)
        os.write(go_w, b"g")
    except BaseException:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        raise
    finally:
        os.close(ready_r)
        os.close(go_w)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except KeyboardInterrupt:
            continue                  # the child got the same SIGINT
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _line(text):
    from core import one_line
    return one_line(text).encode()


def _plan_maps(map_auto):
    """The maps for the helper: with map_auto the caller's first
    subordinate ranges (checked now, before anything starts)."""
    if not map_auto:
        return None
    import pwd

    from core.execvp import clean_environ
    from identity import idmap, subids
    try:
        user = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        user = None
    maps = [subids.plan(kind, own, user, privileged=os.geteuid() == 0, auto=True)
            for kind, own in (("uid", os.getuid()), ("gid", os.getgid()))]
    env = clean_environ(os.environ, False)
    helpers = idmap.require_helpers(*maps, env=env)
    return maps, helpers, env


def _write_maps(pid, plans, trace):
    if plans is not None:
        from identity import idmap
        maps, helpers, env = plans
        idmap.write_maps(pid, *maps, helpers=helpers, env=env, trace=trace)
        return
    proc = f"/proc/{pid}"
    for name, text in (("uid_map", f"0 {os.geteuid()} 1"), ("setgroups", "deny"),
                       ("gid_map", f"0 {os.getegid()} 1")):
        # gid_map only once setgroups is denied (Linux 3.19+, CVE-2014-8989).
        trace(f'write {proc}/{name} "{text}"')
        try:
            with open(f"{proc}/{name}", "w") as f:
                f.write(text)
        except OSError as e:
            raise Fail(f"cannot write {proc}/{name} for the store's helper: {e.strerror}")


def has_subordinate_ids():
    """Whether --map-auto can work for the caller (a range, and the helpers)."""
    try:
        _plan_maps(True)
    except Fail:
        return False
    return True
