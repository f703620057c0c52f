"""-w/--workdir: the command's working directory.

The core checks the value with parse_workdir() with the other options, and
calls enter_workdir() in the container's PID 1 after its root changed and
before it switches to the -u user (identity/passwd.py): a missing directory
is created there, as Podman does, and given to that user, so the command
can write where it starts. The working directory stays across setuid(2);
access is checked when a path is looked up, not for the directory a
process is already in.
"""

import errno
import os

from core import Fail


def parse_workdir(value, option="-w"):
    """The absolute, normalised path of a -w value."""
    if "\0" in value:
        raise Fail(f"{option}: the path holds a NUL byte")
    if not value.startswith("/"):
        shown = value or "''"
        raise Fail(f"{option} {shown}: the working directory must be an "
                           "absolute path inside the container, such as /src")
    return os.path.normpath(value).replace("//", "/")


def enter_workdir(path, uid=0, gid=0, trace=None, mode=0o755):
    """chdir to `path`, creating what is missing of it first (mode 0755,
    owned by uid:gid, the user the command will run as). Returns the
    directories created, outermost first."""
    trace = trace or (lambda message: None)
    created = []
    current = "/"
    for part in [p for p in path.split("/") if p]:
        current = os.path.join(current, part)
        try:
            os.mkdir(current, mode)
        except FileExistsError:
            if not os.path.isdir(current):
                raise Fail(f"-w {path}: {current} exists in the container and is "
                                   "not a directory") from None
            continue
        except OSError as e:
            hint = ("; without --rootfs the host's / is read-only: pick a directory that "
                    "exists, or one under a -v volume" if e.errno == errno.EROFS else "")
            raise Fail(f"-w {path}: cannot create {current} in the container: "
                               f"{e.strerror}{hint}") from None
        created.append(current)
        trace(f"mkdir {current}")
        if (uid, gid) != (0, 0):
            try:
                os.chown(current, uid, gid)
            except OSError as e:
                # EINVAL: the kernel has no host id for uid or gid, which
                # the container's maps lack.
                why = ("that user or group is not mapped in the container; map it "
                       "with --map-auto" if e.errno == errno.EINVAL else e.strerror)
                raise Fail(f"-w {path}: cannot give {current} to {uid}:{gid}: "
                           f"{why}") from None
    trace(f"chdir {path}")
    try:
        os.chdir(path)
    except OSError as e:
        raise Fail(f"-w {path}: cannot enter it in the container: "
                           f"{e.strerror}") from None
    return created
