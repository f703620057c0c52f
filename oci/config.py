"""config.json read and checked against what unc supports.

Used by cli.py's `create` (and process.py's checks for `exec --process`).
load() returns a Spec: the bundle's settings in the shapes that
container.py, mounts.py and process.py apply. A field unc does not
support fails `create` with one line naming it, before anything exists:
a container silently missing a setting its engine asked for (a seccomp
filter, a limit) would look safe and be otherwise. Fields that only say
what is already so pass (an empty `linux.resources`, a `cgroupsPath`
with no limit to apply, which runc's rootless mode also ignores).
linux.seccomp is compiled here, on the host (security/seccomp.py), and
process.capabilities are checked by name (security/caps.py).
"""

import json
import os

from core import Fail
from kernel import (CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID,
                    CLONE_NEWUSER, CLONE_NEWUTS)

NAMESPACES = {"pid": CLONE_NEWPID, "network": CLONE_NEWNET, "mount": CLONE_NEWNS,
              "ipc": CLONE_NEWIPC, "uts": CLONE_NEWUTS, "user": CLONE_NEWUSER,
              "cgroup": CLONE_NEWCGROUP}

# What unc applies, per object; a key outside these fails create.
TOP = {"ociVersion", "process", "root", "hostname", "mounts", "hooks", "annotations", "linux"}
PROCESS = {"terminal", "consoleSize", "user", "args", "env", "cwd", "capabilities",
           "rlimits", "noNewPrivileges", "oomScoreAdj", "apparmorProfile", "selinuxLabel"}
USER = {"uid", "gid", "umask", "additionalGids"}
LINUX = {"namespaces", "uidMappings", "gidMappings", "devices", "cgroupsPath", "resources",
         "sysctl", "maskedPaths", "readonlyPaths", "rootfsPropagation", "mountLabel",
         "seccomp"}
HOOKS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart",
         "poststop")
PROPAGATIONS = ("private", "rprivate", "slave", "rslave", "shared", "rshared",
                "unbindable", "runbindable")


def unsupported(field, why="unc does not support it"):
    return Fail(f"config.json: {field} is not supported: {why}; remove it from the bundle's "
                "config.json")


def check_keys(obj, allowed, where):
    if not isinstance(obj, dict):
        raise Fail(f"config.json: {where or 'the file'} must be an object")
    for key in obj:
        if key not in allowed:
            raise unsupported(f"{where}.{key}" if where else key)


def empty(value):
    """No setting at all: None, {}, [], "", or objects of only those."""
    if isinstance(value, dict):
        return all(empty(v) for v in value.values())
    return value in (None, [], "", {})


class Spec:
    """A bundle's config.json, checked."""

    def __init__(self, bundle, config):
        self.bundle, self.config = bundle, config
        root = config.get("root") or {}
        check_keys(root, {"path", "readonly"}, "root")
        path = root.get("path")
        if not path:
            raise Fail("config.json: root.path is missing: name the root filesystem")
        self.rootfs = os.path.normpath(os.path.join(bundle, path))
        if not os.path.isdir(self.rootfs):
            raise Fail(f"config.json: root.path {self.rootfs} is not a directory")
        self.readonly = bool(root.get("readonly"))
        self.hostname = config.get("hostname")
        self.annotations = config.get("annotations") or {}
        self.process = check_process(config.get("process"), "process")
        linux = config.get("linux") or {}
        check_keys(linux, LINUX, "linux")
        for key in ("mountLabel",):
            if linux.get(key):
                raise unsupported(f"linux.{key}", "unc has no SELinux support")
        self.seccomp = None
        if not empty(linux.get("seccomp")):
            self.seccomp = compile_seccomp(linux["seccomp"], self.process)
        resources = dict(linux.get("resources") or {})
        # 0 or -1: no limit (config-linux.md); a limit: oci/cgroups.py.
        self.pids_limit = (resources.pop("pids", None) or {}).get("limit", 0)
        # resources.devices: the container's /dev holds only the devices
        # bound in (runc's default ones and linux.devices); no cgroup rule
        # is needed to keep it from the host's others.
        resources.pop("devices", None)
        first = next((k for k, v in resources.items() if not empty(v)), None)
        if first:
            raise unsupported(f"linux.resources.{first}",
                              "unc applies no cgroup limit yet")
        self.flags, self.join = 0, []
        kinds = set()
        for ns in linux.get("namespaces") or []:
            check_keys(ns, {"type", "path"}, "linux.namespaces[]")
            kind = ns.get("type")
            if kind not in NAMESPACES:
                raise unsupported(f"linux.namespaces type {kind!r}")
            if kind in kinds:
                raise Fail(f"config.json: linux.namespaces names {kind} twice")
            kinds.add(kind)
            if ns.get("path"):
                self.join.append((kind, NAMESPACES[kind], ns["path"]))
            else:
                self.flags |= NAMESPACES[kind]
        if "mount" not in kinds:
            raise unsupported("linux.namespaces without a mount namespace",
                              "unc builds the root in a mount namespace of its own")
        self.uid_mappings = mappings(linux.get("uidMappings"), "linux.uidMappings")
        self.gid_mappings = mappings(linux.get("gidMappings"), "linux.gidMappings")
        if (self.uid_mappings or self.gid_mappings) and not self.flags & CLONE_NEWUSER:
            raise Fail("config.json: linux.uidMappings need a new user namespace "
                       "(linux.namespaces type user, without a path)")
        if self.flags & CLONE_NEWUSER and not (self.uid_mappings and self.gid_mappings):
            raise Fail("config.json: a new user namespace needs linux.uidMappings and "
                       "linux.gidMappings")
        self.sysctl = linux.get("sysctl") or {}
        for name, value in self.sysctl.items():
            if not isinstance(value, str) or "/" in name or name.startswith("."):
                raise Fail(f"config.json: invalid linux.sysctl {name!r}")
        self.masked = list(linux.get("maskedPaths") or [])
        self.readonly_paths = list(linux.get("readonlyPaths") or [])
        self.devices = []
        for device in linux.get("devices") or []:
            if not device.get("path", "").startswith("/dev/"):
                raise Fail(f"config.json: linux.devices path {device.get('path')!r} "
                           "must be below /dev")
            check_device(device)
            self.devices.append(device["path"])
        self.propagation = linux.get("rootfsPropagation")
        if self.propagation and self.propagation not in PROPAGATIONS:
            raise Fail(f"config.json: invalid linux.rootfsPropagation {self.propagation!r}")
        self.cgroups_path = linux.get("cgroupsPath")
        self.mounts = []
        for mount in config.get("mounts") or []:
            check_keys(mount, {"destination", "type", "source", "options", "uidMappings",
                               "gidMappings"}, "mounts[]")
            if mount.get("uidMappings") or mount.get("gidMappings"):
                raise unsupported("mounts[].uidMappings", "unc makes no id-mapped mounts")
            if not str(mount.get("destination", "")).startswith("/"):
                raise Fail(f"config.json: mount destination {mount.get('destination')!r} "
                           "must be an absolute path")
            self.mounts.append(mount)
        self.hooks = config.get("hooks") or {}
        check_keys(self.hooks, set(HOOKS), "hooks")
        check_keys(config, TOP, "")


def compile_seccomp(profile, process):
    """linux.seccomp compiled now, on the host (security/seccomp.py): a bad
    profile fails create, and the container only loads the bytes. Rules
    that depend on capabilities ("includes": {"caps": ...}) see the
    process's bounding set (every capability when it names none)."""
    from security import caps as capabilities
    from security import seccomp
    bounding = (process.get("capabilities") or {}).get("bounding")
    held = (capabilities.parse(bounding) if bounding is not None
            else set(range(len(capabilities.NAMES))))
    # runc and crun pass over the calls libseccomp does not know (Podman's
    # profile names bdflush, which x86_64 never had): so does unc.
    from security import syscalls
    known = set(syscalls.X86_64) | set(syscalls.AARCH64)
    profile = dict(profile, syscalls=[
        dict(rule, names=[n for n in rule.get("names") or [] if n in known])
        for rule in profile.get("syscalls") or [] if isinstance(rule, dict)
        and (rule.get("name") or any(n in known for n in rule.get("names") or []))])
    try:
        return seccomp.compile(profile, caps=held)
    except Fail as e:
        raise Fail(f"config.json: linux.seccomp: {e}") from None


def check_device(device):
    """A user namespace may not mknod(2): unc binds the host's node of that
    path, which must then be the device config.json asks for."""
    import stat
    path = device["path"]
    try:
        st = os.stat(path)
    except OSError:
        raise Fail(f"config.json: linux.devices {path}: the host has no such device to bind "
                   "(unc makes no device nodes)") from None
    kind = {"c": stat.S_ISCHR, "u": stat.S_ISCHR, "b": stat.S_ISBLK, "p": stat.S_ISFIFO}
    wanted = device.get("type")
    if (wanted in kind and not kind[wanted](st.st_mode)) or (
            "major" in device and (os.major(st.st_rdev), os.minor(st.st_rdev))
            != (device["major"], device.get("minor", 0))):
        raise Fail(f"config.json: linux.devices {path}: the host's node is another device "
                   "than asked (unc binds the host's, it makes no device nodes)")


def mappings(items, where):
    lines = []
    for item in items or []:
        check_keys(item, {"containerID", "hostID", "size"}, where + "[]")
        try:
            lines.append(f"{int(item['containerID'])}:{int(item['hostID'])}:{int(item['size'])}")
        except (KeyError, TypeError, ValueError):
            raise Fail(f"config.json: {where} entries need containerID, hostID and size") \
                from None
    return lines


def check_process(process, where):
    """The process object of config.json or of `exec --process`, checked."""
    if not isinstance(process, dict):
        raise Fail(f"{where}: the process object is missing")
    check_keys(process, PROCESS, where)
    for key in ("apparmorProfile", "selinuxLabel"):
        if process.get(key):
            raise unsupported(f"{where}.{key}", "unc has no AppArmor or SELinux support")
    user = process.get("user") or {}
    check_keys(user, USER, where + ".user")
    args = process.get("args")
    if not args or not all(isinstance(a, str) for a in args):
        raise Fail(f"{where}.args must be a non-empty list of strings")
    if not str(process.get("cwd", "/")).startswith("/"):
        raise Fail(f"{where}.cwd must be an absolute path")
    caps = process.get("capabilities") or {}
    check_keys(caps, {"bounding", "effective", "permitted", "inheritable", "ambient"},
               where + ".capabilities")
    from oci import process as processes
    from security import caps as capabilities
    for kind, names in caps.items():
        for name in names or []:
            capabilities.number(name, f"{where}.capabilities.{kind} entry")
    for limit in process.get("rlimits") or []:
        if processes.rlimit_number(limit.get("type")) is None:
            raise Fail(f"{where}.rlimits: unknown type {limit.get('type')!r}")
    return process


def load(bundle):
    bundle = os.path.abspath(bundle)
    try:
        with open(os.path.join(bundle, "config.json")) as f:
            config = json.load(f)
    except FileNotFoundError:
        raise Fail(f"no config.json in the bundle {bundle}: pass the bundle with "
                   "--bundle DIR or run in it") from None
    except (OSError, ValueError) as e:
        raise Fail(f"cannot read {bundle}/config.json: {e}") from None
    return Spec(bundle, config)
