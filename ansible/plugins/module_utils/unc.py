# -*- coding: utf-8 -*-
"""What the modules of unc.containers share: finding unc, unc's options as
module arguments, and unc's own error line.

Used by the modules unc_check and unc_run. It imports nothing of Ansible,
so that unc's own unit tests (tests/unit/test_ansible.py) can check it
against unc's usage text: every option of a run has an argument here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

# Where the role unc.containers.install puts unc, and where else to look.
DEFAULT_PATH = "/usr/local/bin/unc"
SEARCH = ("/usr/local/bin", "/usr/bin", "/bin")

# unc's exit statuses of its own (README.md, "For shell scripts").
FAILED, CANNOT_EXECUTE, NOT_FOUND = 125, 126, 127

# The module arguments of unc_run that are unc's options: argument name ->
# (unc's option, kind). Kinds: flag (a bool), value (one string), list (the
# option once for each item), env (a dict: -e NAME=VALUE).
OPTIONS = {
    "stage": ("--stage", "value"),
    "user": ("--user", "value"),
    "env": ("--env", "env"),
    "env_files": ("--env-file", "list"),
    "clearenv": ("--clearenv", "flag"),
    "workdir": ("--workdir", "value"),
    "init": ("--init", "flag"),
    "quiet": ("--quiet", "flag"),
    "trace": ("--trace", "flag"),
    "map_root_user": ("--map-root-user", "flag"),
    "map_auto": ("--map-auto", "flag"),
    "map_users": ("--map-users", "list"),
    "map_groups": ("--map-groups", "list"),
    "map_user": ("--map-user", "value"),
    "map_group": ("--map-group", "value"),
    "hostname": ("--hostname", "value"),
    "rootfs": ("--rootfs", "value"),
    "image": ("--image", "value"),
    "persist": ("--persist", "value"),
    "volumes": ("--volume", "list"),
    "tmpfs": ("--tmpfs", "list"),
    "read_only": ("--read-only", "flag"),
    "bind_proc": ("--bind-proc", "flag"),
    "net": ("--net", "value"),
    "publish": ("--publish", "list"),
    "cap_add": ("--cap-add", "list"),
    "cap_drop": ("--cap-drop", "list"),
    "seccomp": ("--seccomp", "value"),
    "ulimits": ("--ulimit", "list"),
    "pids_limit": ("--pids-limit", "value"),
    "memory": ("--memory", "value"),
    "cpus": ("--cpus", "value"),
    "preserve_fds": ("--preserve-fds", "value"),
    "privileged": ("--privileged", "flag"),
}
# unc's options that are not a container's: what they do is the module's.
# unc_run waits for its container and returns its output and status, so a
# detached one (-d, --name, --rm: `unc ps`, `unc exec`...) is not one of its runs.
NOT_ARGUMENTS = ("--json", "--json-status-fd", "--debug", "--help", "--version",
                 "--detach", "--name", "--rm")

# The argument_spec entries of OPTIONS, for AnsibleModule.
ARGUMENT_SPEC = {
    name: ({"type": "bool", "default": False} if kind == "flag"
           else {"type": "list", "elements": "str", "default": []} if kind == "list"
           else {"type": "dict", "default": {}} if kind == "env"
           else {"type": "str"})
    for name, (option, kind) in OPTIONS.items()
}
ARGUMENT_SPEC["stage"]["choices"] = ["user_pid", "uts", "mount", "net", "harden"]
ARGUMENT_SPEC["net"]["choices"] = ["auto", "none", "slirp4netns", "pasta", "bridge", "host"]
ARGUMENT_SPEC["rootfs"]["type"] = "path"
ARGUMENT_SPEC["persist"]["type"] = "path"
ARGUMENT_SPEC["workdir"]["type"] = "str"      # a path inside the container


def find_unc(path=None, environ=None):
    """The unc to run: `path` when it names a file (or a program on PATH),
    else DEFAULT_PATH, else unc on PATH or in SEARCH. None when none is."""
    environ = os.environ if environ is None else environ
    if path and "/" in path:
        return path if os.path.isfile(path) and os.access(path, os.X_OK) else None
    name = path or "unc"
    if not path and os.access(DEFAULT_PATH, os.X_OK):
        return DEFAULT_PATH
    dirs = [d for d in environ.get("PATH", "").split(":") if d] + list(SEARCH)
    for directory in dirs:
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def option_argv(params):
    """unc's options for the module arguments `params`, in OPTIONS' order."""
    argv = []
    for name, (option, kind) in OPTIONS.items():
        value = params.get(name)
        if kind == "flag":
            if value:
                argv.append(option)
        elif kind == "list":
            argv += ["%s=%s" % (option, item) for item in value or ()]
        elif kind == "env":
            for key in sorted(value or {}):
                item = value[key]
                argv.append("%s=%s" % (option, key) if item is None
                            else "%s=%s=%s" % (option, key, item))
        elif value is not None:
            argv.append("%s=%s" % (option, value))
    return argv


def unc_line(stderr):
    """unc's own error: the last line of stderr that starts with 'unc: '
    (unc prints exactly one), or None."""
    for line in reversed((stderr or "").splitlines()):
        if line.startswith("unc: "):
            return line
    return None


def failure_message(rc, stderr):
    """Why a run failed, in one line: unc's own line when unc failed (125),
    or could not execute or find the command (126, 127); else the command's
    status."""
    line = unc_line(stderr)
    if rc in (FAILED, CANNOT_EXECUTE, NOT_FOUND) and line:
        return line
    if rc > 128:
        return "the command died from signal %d (exit status %d)" % (rc - 128, rc)
    return "the command exited with status %d" % rc
