"""The user's mount options, checked before anything starts.

Used by the mount stage (stages/mount.py, build_plan) for -v/--volume and
--tmpfs: a bad value is one clear error and exit 125, before any namespace
exists.
"""

import os

from core import Fail


def parse_volume(spec):
    """SRC:DST[:ro|:rw] -> (SRC, DST, readonly). Both paths absolute."""
    parts = spec.split(":")
    if len(parts) == 3 and parts[2] in ("ro", "rw"):
        source, dest, mode = parts
    elif len(parts) == 2:
        (source, dest), mode = parts, "rw"
    else:
        raise Fail(f"invalid --volume {spec!r}: use SRC:DST, SRC:DST:ro or SRC:DST:rw")
    for what, path in (("source", source), ("destination", dest)):
        if not path.startswith("/"):
            raise Fail(f"invalid --volume {spec!r}: the {what} must be an absolute path")
    if not os.path.exists(source):
        raise Fail(f"invalid --volume {spec!r}: the source {source} does not exist")
    check_dest("--volume", dest)
    return source, dest, mode == "ro"


def check_dest(option, dest):
    """A destination inside the container: absolute, and not the root."""
    if not dest.startswith("/"):
        raise Fail(f"invalid {option} {dest!r}: the destination must be an absolute path")
    if not os.path.normpath(dest).strip("/") or "\0" in dest:
        raise Fail(f"invalid {option} {dest!r}: cannot mount over the root")


def depth(path):
    """How many components deep `path` is: parents mount before children."""
    return len([p for p in os.path.normpath(path).split("/") if p])
