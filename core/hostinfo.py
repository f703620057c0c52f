"""What the host is, whatever the stages: its kernel, cgroups and seccomp.

Used by core/check.py only (`unc check`, and its --json), never by a run:
each function reads a few files of /proc and /sys and returns a dict of
JSON values with a "summary" for the human table; the keys are documented
in docs/check.md. What a stage needs of the host (user namespaces,
subordinate ids, overlayfs, the network helpers) each stage says itself,
through its facts hook (stages/__init__.py).
"""

import os

CGROUP_ROOT = "/sys/fs/cgroup"
CGROUP2 = "cgroup2"              # v2's filesystem type in /proc/self/mountinfo


def kernel():
    """The kernel's release and machine, as uname(2) gives them."""
    u = os.uname()
    return {"release": u.release, "machine": u.machine,
            "summary": f"Linux {u.release} ({u.machine})"}


def _mounts(path="/proc/self/mountinfo"):
    """(mount point, filesystem type, super options) of every mount."""
    found = []
    try:
        with open(path) as f:
            for line in f:
                # ID PARENT MAJ:MIN ROOT POINT OPTIONS [TAGS...] - TYPE SOURCE SUPER
                left, _, right = line.partition(" - ")
                fields, rest = left.split(), right.split()
                if len(fields) >= 5 and rest:
                    point = fields[4].replace("\\040", " ")
                    found.append((point, rest[0], rest[2] if len(rest) > 2 else ""))
    except OSError:
        pass
    return found


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def cgroup(mountinfo="/proc/self/mountinfo", proc_cgroup="/proc/self/cgroup"):
    """The cgroup layout and what of it is delegated to this user.

    cgroup v2 ("unified") is one hierarchy; v1 has one per controller, and
    a "hybrid" host has both (v1 controllers, a v2 tree without them, often
    at /sys/fs/cgroup/unified). A user may manage a v2 subtree the
    administrator delegated (systemd's Delegate=): the directory and its
    cgroup.procs are the user's to write. The controllers it may use there
    are those in cgroup.controllers; cgroup.subtree_control says which it
    hands to child cgroups.
    """
    mounts = _mounts(mountinfo)
    v2 = [point for point, fstype, _ in mounts if fstype == CGROUP2]
    v1 = [point for point, fstype, _ in mounts if fstype == "cgroup"]
    mount = CGROUP_ROOT if CGROUP_ROOT in v2 else (v2[0] if v2 else None)
    if mount and v1:
        version = "hybrid"
    elif mount:
        version = "v2"
    elif v1:
        version = "v1"
    else:
        version = None
    path = None
    for line in (_read(proc_cgroup) or "").splitlines():
        if line.startswith("0::"):
            path = line[3:]
    info = {"version": version, "mount": mount, "path": path, "controllers": [],
            "delegated": False, "delegated_controllers": []}
    if mount is None or path is None:
        info["summary"] = ({"v1": "v1 only: no cgroup v2 tree, nothing can be delegated"}
                           .get(version, "no cgroup filesystem is mounted"))
        return info
    directory = os.path.join(mount, path.lstrip("/"))
    info["controllers"] = (_read(os.path.join(directory, "cgroup.controllers")) or "").split()
    # Delegated: the user may create cgroups there and move processes in.
    info["delegated"] = (os.access(directory, os.W_OK)
                         and os.access(os.path.join(directory, "cgroup.procs"), os.W_OK))
    if info["delegated"]:
        info["delegated_controllers"] = info["controllers"]
    where = f"v2 at {mount}" if version == "v2" else f"hybrid: v1 and v2 at {mount}"
    if info["delegated"]:
        controllers = " ".join(info["controllers"]) or "no controllers"
        info["summary"] = f"{where}; {path} is delegated to you ({controllers})"
    else:
        info["summary"] = f"{where}; {path} is not delegated to you"
    return info


def seccomp(status="/proc/self/status", actions="/proc/sys/kernel/seccomp/actions_avail"):
    """Whether the kernel has seccomp and its filters (CONFIG_SECCOMP,
    CONFIG_SECCOMP_FILTER), and whether unc itself already runs under a
    filter (mode 2, e.g. inside another container: such a filter may be
    what refuses unshare(2))."""
    mode = filters = None
    for line in (_read(status) or "").splitlines():
        key, _, value = line.partition(":")
        if key == "Seccomp":
            mode = int(value)
        elif key == "Seccomp_filters":
            filters = int(value)
    # The Seccomp line is there only with CONFIG_SECCOMP.
    supported = mode is not None
    available = (_read(actions) or "").split()
    info = {"supported": supported, "filters": bool(available), "actions": available,
            "mode": mode, "filtered": mode == 2, "filter_count": filters}
    if not supported:
        info["summary"] = "not supported by this kernel (CONFIG_SECCOMP)"
    else:
        what = "filters supported" if available else "strict mode only, no filters"
        under = {0: "unc runs under no filter", 1: "unc runs in strict mode",
                 2: f"unc runs under {filters or 'a'} filter(s) already"}.get(mode, "")
        info["summary"] = f"{what}; {under}"
    return info


def try_in_child(steps):
    """Run steps(say) in a child process that exits after it, so that what
    it changes (namespaces, mounts) dies with the child; steps calls
    say(NAME) before each step. None when every step worked, else (NAME,
    OSError) of the step the kernel refused (errno 0 for another error, a
    bug of the probe, with its text). Used by the probes of `unc check`
    (identity/facts.py, mounts/overlayfs.py)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            current = ["start"]

            def say(name):
                current[0] = name
            try:
                steps(say)
            except OSError as e:
                os.write(w, f"{current[0]}\t{e.errno}\t{os.strerror(e.errno)}".encode())
            except Exception as e:
                os.write(w, f"{current[0]}\t0\t{e.__class__.__name__}: {e}".encode())
        finally:
            os._exit(0)
    os.close(w)
    said = b""
    while True:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        said += chunk
    os.close(r)
    os.waitpid(pid, 0)
    if not said:
        return None
    step, number, text = said.decode(errors="replace").split("\t", 2)
    return step, OSError(int(number), text)
