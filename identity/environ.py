"""-e, --env-file, --clearenv: the command's environment.

Two steps, because the options are read on the host and the result depends
on the container's files. The core calls parse_settings() while it checks
the options (an env file is the caller's file, read before anything
exists), and build() in the container's PID 1 after its root changed and
the user is resolved (identity/passwd.py), right before exec: HOME and
SHELL are checked against the container's own filesystem there.

Rules, Podman's where it has one:
  - The base is the caller's environment (without what PyInstaller's
    bootloader adds: core.execvp.clean_environ) with a PATH that ends with the
    standard directories it lacks; with --clearenv, only PATH, HOME, TERM,
    HOSTNAME and container=unc.
  - --env-file lines, then -e values, in order, each NAME=VALUE or NAME
    (the caller's value; when the caller has none, NAME is unset).
  - HOME: as set by -e/--env-file; else with -u (or --clearenv) the user's
    home from the container's /etc/passwd (root: /root); else the caller's
    HOME where it exists inside, else root's. SHELL likewise, with the
    user's passwd shell, and only where it exists inside. What is dropped
    or replaced is said through trace().
"""

import os

from core import Fail
from core.execvp import DEFAULT_PATH, root_path
WHITESPACE = " \t\n\r\v\f"
MAX_ENV_FILE = 1 << 24


def parse_env(text, caller_env, where="-e"):
    """(NAME, VALUE) from NAME=VALUE; (NAME, caller's value or None) from NAME.

    `where` starts the message: "-e" or "--env-file FILE:LINE"."""
    if "\0" in text:
        raise Fail(f"{where} {_shown(text)}: a NUL byte cannot be passed in the "
                       "environment")
    name, eq, value = text.partition("=")
    if not name:
        raise Fail(f"{where} {_shown(text)}: expected NAME=VALUE or NAME"
                       + (" (the name is missing before '=')" if eq else ""))
    if any(c in WHITESPACE for c in name):
        raise Fail(f"{where} {_shown(text)}: the name {name!r} has white space")
    if eq:
        return name, value
    return name, caller_env.get(name)


def _shown(text):
    """A value as it may appear in a one-line message."""
    text = text if len(text) <= 60 else text[:57] + "..."
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text) or "''"


def read_env_file(path, caller_env, option="--env-file"):
    """The settings of an env file: NAME=VALUE lines, NAME alone for the
    caller's value, # comments and blank lines ignored; leading white space
    and a line's closing CR dropped (Podman reads it so). The value is
    taken as written: no quotes removed, nothing expanded."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_ENV_FILE + 1)
    except OSError as e:
        raise Fail(f"{option} {path}: cannot read it: {e.strerror}")
    if len(data) > MAX_ENV_FILE:
        raise Fail(f"{option} {path}: larger than {MAX_ENV_FILE >> 20} MiB")
    text = data.decode("utf-8", "surrogateescape")
    settings = []
    for lineno, line in enumerate(text.split("\n"), 1):
        line = line.lstrip(WHITESPACE)
        if line.endswith("\r"):
            line = line[:-1]
        if not line or line.startswith("#"):
            continue
        settings.append(parse_env(line, caller_env, f"{option} {path}:{lineno}:"))
    return settings


def parse_settings(caller_env, env_files=(), envs=()):
    """Every setting in the order it applies: the files' lines, then -e.
    A list of (NAME, VALUE or None); None unsets NAME."""
    settings = []
    for path in env_files:
        settings += read_env_file(path, caller_env)
    for text in envs:
        settings.append(parse_env(text, caller_env))
    return settings


def clearenv_base(caller_env, hostname=None):
    """--clearenv: PATH, TERM (when the caller has one), HOSTNAME (when the
    container has its own), container=unc. HOME is added by build()."""
    base = {"PATH": DEFAULT_PATH, "container": "unc"}
    if caller_env.get("TERM"):
        base["TERM"] = caller_env["TERM"]
    if hostname:
        base["HOSTNAME"] = hostname
    return base


def build(caller_env, settings=(), *, clearenv=False, user=None, user_given=False,
          hostname=None, exists=None, trace=None):
    """The command's environment, as a dict for execve.

    caller_env  the caller's environment, cleaned (core.execvp.clean_environ)
    settings    parse_settings()'s list
    user        the identity.passwd.User the command runs as (None: root
                without a passwd entry: home /root, no shell)
    user_given  -u was given: HOME and SHELL follow that user, not the caller
    hostname    the container's hostname, for --clearenv's HOSTNAME
    exists      callable(path) -> bool, inside the container (os.path.exists
                once the root has changed)
    trace       callable(str): what was dropped or replaced, and why
    """
    exists = exists or os.path.exists
    trace = trace or (lambda message: None)
    home = user.home if user is not None else "/root"
    shell = user.shell if user is not None else None
    who = f"user {user.name}" if user is not None and user.name else (
        f"uid {user.uid}" if user is not None else "root")

    if clearenv:
        env = clearenv_base(caller_env, hostname)
    else:
        env = dict(caller_env)
        env["PATH"] = root_path(env.get("PATH"))
    explicit = set()
    for name, value in settings:
        if value is None:
            env.pop(name, None)
            explicit.discard(name)
        else:
            env[name] = value
            explicit.add(name)

    for name in ("HOME", "SHELL"):
        if name in explicit:
            if env[name] and not exists(env[name]):
                trace(f"{name}={env[name]} (as set by -e) does not exist in the container")
    if "HOME" not in explicit:
        caller = env.get("HOME")
        if clearenv or user_given or not (caller and exists(caller)):
            # The user's home as passwd says, like login(1) and Podman,
            # even a directory that does not exist (/nonexistent of
            # daemons): that is the user's own setting.
            env["HOME"] = home
            if caller and not (clearenv or user_given):
                trace(f"HOME={caller} does not exist in the container: HOME={home} "
                      f"({who}'s home)")
    if "SHELL" not in explicit and not clearenv:
        caller = env.pop("SHELL", None)
        usable = shell if shell and exists(shell) else None
        if not user_given and caller and exists(caller):
            env["SHELL"] = caller                 # the caller's, present inside
        elif user_given and usable:
            env["SHELL"] = usable
        elif caller and usable:
            env["SHELL"] = usable
            trace(f"SHELL={caller} does not exist in the container: SHELL={usable} "
                  f"({who}'s shell)")
        elif caller:
            trace(f"SHELL={caller} " + ("does not exist in the container" if not user_given
                                        else f"is not {who}'s") + ", and "
                  f"{who}'s shell ({shell or 'none in /etc/passwd'}) does not exist "
                  "there: SHELL unset")

    for name, value in env.items():
        if "\0" in name or "\0" in value:
            raise Fail(f"the environment variable {_shown(name)} holds a NUL byte")
    return env
