"""What `unc check` reports of user-mode networking: the tun device and
the helpers pasta and slirp4netns, with their versions.

Used by the net stage's facts hook (stages/net.py), for `unc check` and
its --json only; a run never imports it. Whether a helper works is not
guessed: the stage's check runs a container with --net=pasta and one with
--net=slirp4netns (attempt), and this module reports what they showed. The
version comes from the program itself (`--version`), else, where it says
none (Debian's pasta is a git snapshot that calls itself "unknown version"),
from its Debian package.
"""

import os

from network.host import PROGRAMS, TUN, mode_of, tun_problem

VERSION_TIMEOUT = 5          # seconds
DPKG_STATUS = "/var/lib/dpkg/status"


def tun():
    """The tun entry: the device both helpers open."""
    problem = tun_problem()
    exists = os.path.exists(TUN)
    info = {"path": TUN, "exists": exists, "mode": mode_of(TUN) if exists else None,
            "usable": problem is None, "problem": problem}
    info["summary"] = (f"{TUN} (mode {info['mode']}) can be opened" if problem is None
                       else f"{TUN}, {problem}")
    return info


def _output(argv):
    """What `argv` prints on stdout when it exits 0, else None. Killed after
    VERSION_TIMEOUT. posix_spawn, not subprocess: importing subprocess
    alone costs `unc check` more than running the program."""
    import select
    import sys
    import time

    from core.execvp import clean_environ
    r, w = os.pipe()                      # both close-on-exec (PEP 446)
    try:
        pid = os.posix_spawn(argv[0], argv, clean_environ(os.environ, getattr(
            sys, "frozen", False)), file_actions=[
                (os.POSIX_SPAWN_DUP2, w, 1),
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)])
    except OSError:
        os.close(r)
        return None
    finally:
        os.close(w)
    out, deadline = b"", time.monotonic() + VERSION_TIMEOUT
    while True:
        if not select.select([r], [], [], max(0, deadline - time.monotonic()))[0]:
            os.kill(pid, 9)                                  # SIGKILL
            break
        chunk = os.read(r, 4096)
        if not chunk:
            break
        out += chunk
    os.close(r)
    _, status = os.waitpid(pid, 0)
    return out.decode(errors="replace") if status == 0 else None


def version(program, path, package):
    """(version, where it came from: "program" or "dpkg"), or (None, None)."""
    first = (_output([path, "--version"]) or "").strip().split("\n")[0].split()
    # "slirp4netns version 1.2.0", "pasta 2023_05_09.96f8d55", "pasta unknown version"
    words = [w for w in first if w not in (program, "version")]
    if words and "unknown" not in words:
        return words[0], "program"
    found = package_version(package)
    if found:
        return found, "dpkg"
    return None, None


def package_version(package, status=DPKG_STATUS):
    """The version of the installed Debian package, from dpkg's status file
    (stanzas of "Field: value" lines, one a package, blank lines between):
    what `dpkg-query -W` says, 1 ms instead of 20."""
    try:
        with open(status, "rb") as f:
            data = f.read()
    except OSError:
        return None
    start = data.find(b"\nPackage: " + package.encode() + b"\n")
    if start < 0 and data.startswith(b"Package: " + package.encode() + b"\n"):
        start = 0
    if start < 0:
        return None
    end = data.find(b"\n\n", start + 1)
    for line in data[start:end if end >= 0 else len(data)].split(b"\n"):
        if line.startswith(b"Version: "):
            return line[9:].decode(errors="replace").strip()
    return None


def helper(mode, attempt):
    """The entry of helper `mode` (pasta or slirp4netns); attempt(OPTION)
    runs a container with --net=MODE (its status, or Fail)."""
    from core import Fail
    from core.execvp import which
    program, package = PROGRAMS[mode]
    path = which(program)
    info = {"path": path, "package": package, "version": None, "version_from": None,
            "works": False, "error": None}
    if path is not None:
        info["version"], info["version_from"] = version(program, path, package)
    try:
        status = attempt(f"--net={mode}")
        info["works"] = status == 0
        info["error"] = None if status == 0 else f"true exited {status}"
    except Fail as e:
        info["error"] = str(e)
    if path is None:
        info["summary"] = f"not installed (Debian package {package})"
    else:
        said = "works" if info["works"] else f"does not work: {info['error']}"
        shown = info["version"] or "version unknown"
        info["summary"] = f"{path} {shown}: {said}"
    return info


def facts(attempt, modes):
    """The entries tun and one per helper in `modes` (the net stage's
    AUTO_ORDER)."""
    return {"tun": tun(), **{mode: helper(mode, attempt) for mode in modes}}
