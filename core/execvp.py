"""The command: what it gets (its environment, working directory and
user), and finding and executing it as execvp(3) and a shell would.

Used by core/run.py: prepare() in unc before anything exists, so that a
bad -u, -e, --env-file or -w value fails there (125, nothing started);
start() in the container's PID 1 after every stage's setup, right before
execute(). The network helpers use which() and clean_environ() for the
programs they start on the host.

The order inside, and why: the environment first (HOME and SHELL checked
against the container's own files); then -w, created and entered while
unc is still root inside, so that a directory it creates can be given to
the user; then -u: setgroups, setgid, setuid, last of all, as each needs
capabilities that a non-root uid loses (capabilities(7), "Effect of user
ID changes on capabilities"). The work of the options is identity/'s
(environ.py, workdir.py, passwd.py), imported only when they are given.

The environment: dist/unc starts PyInstaller's one-dir bootloader from its
cache (launcher/launcher.c). The launcher, on the bootloader's behalf,
prepends the build's library directory to LD_LIBRARY_PATH, keeping the
caller's value in LD_LIBRARY_PATH_ORIG, and sets _PYI_* variables for it:
unc's own Python needs them, no program that unc starts may see them
(clean_environ).
"""

import errno
import os
import stat
import sys

from core import CANNOT_EXECUTE, NOT_FOUND, report

# The directories a root shell searches; the command runs as root inside.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def root_path(path):
    """The command's PATH: the caller's, then the standard directories it
    lacks. The command runs as root, whose PATH has the sbin directories a
    user's lacks (Debian gives users none; busybox keeps ip and httpd there)."""
    dirs = [d for d in (path or "").split(":") if d]
    return ":".join(dirs + [d for d in DEFAULT_PATH.split(":") if d not in dirs])


def clean_environ(environ, frozen):
    """The caller's environment without what the bootloader added, for
    every program unc starts (the command, network helpers). _MEI* names
    are PyInstaller's older ones."""
    env = dict(environ)
    original = env.pop("LD_LIBRARY_PATH_ORIG", None)
    if original is not None:
        env["LD_LIBRARY_PATH"] = original
    elif frozen:
        env.pop("LD_LIBRARY_PATH", None)
    for name in list(env):
        if name.startswith(("_PYI_", "_MEI")):
            del env[name]
    return env


class Settings:
    """The options of the command, checked on the host."""

    def __init__(self, opts):
        self.user = opts.get("--user")                  # USER[:GROUP] or None
        self.clearenv = bool(opts.get("--clearenv"))
        self.workdir = opts.get("--workdir")
        self.changes = []                               # (NAME, VALUE or None)
        self.caller = clean_environ(os.environ, getattr(sys, "frozen", False))
        self.entrypoint = self.cmd = ()                 # an image's (image_defaults)

    def image_defaults(self, env=(), workdir=None, user=None, entrypoint=None, cmd=None):
        """What an image's config says the command gets, set by the stage
        that runs the image, in its prepare (stages/__init__.py: run.process).
        The command line wins: -e after Env, -w over WorkingDir, -u over
        User, COMMAND over Cmd (Entrypoint stays in front, as in Podman)."""
        self.changes = [tuple(item.split("=", 1)) for item in env or ()
                        if "=" in item and not item.startswith("=")] + self.changes
        if self.workdir is None and workdir:
            from identity import workdir as workdirs
            self.workdir = workdirs.parse_workdir(workdir, "the image's WorkingDir")
        if self.user is None and user:
            from identity import passwd
            passwd.split_spec(user)
            self.user = user
        self.entrypoint, self.cmd = tuple(entrypoint or ()), tuple(cmd or ())
        if self.changes:
            # Loaded now, on the host: once the root has changed, the frozen
            # build cannot import (start() needs it for the changes).
            from identity import environ  # noqa: F401

    def command(self, argv):
        """COMMAND as it runs: an image's Entrypoint, then COMMAND or else
        the image's Cmd."""
        if not (self.entrypoint or self.cmd):
            return argv
        return list(self.entrypoint) + (list(argv) or list(self.cmd))


def prepare(opts):
    """The command's settings from the options; Fail on a bad value."""
    settings = Settings(opts)
    if settings.user is not None:
        from identity import passwd          # start() needs it, after the root changed
        passwd.split_spec(settings.user)
    if settings.workdir is not None:
        from identity import workdir
        settings.workdir = workdir.parse_workdir(settings.workdir)
    if opts.get("--env-file") or opts.get("--env") or settings.clearenv or settings.user:
        # Imported here, on the host: once the container's root has changed,
        # the frozen binary cannot import anything new (start() needs it).
        from identity import environ
        settings.changes = environ.parse_settings(settings.caller, opts.get("--env-file") or [],
                                                  opts.get("--env") or [])
    return settings


def start(run, settings):
    """In PID 1, after every stage's setup: the command's environment, and
    its working directory and user. Returns the environment."""
    user = None
    if settings.user is not None:
        from identity import passwd
        user = passwd.resolve(settings.user)
    if settings.changes or settings.clearenv or user is not None:
        from identity import environ
        env = environ.build(settings.caller, settings.changes, clearenv=settings.clearenv,
                            user=user, user_given=user is not None,
                            hostname=os.uname().nodename, trace=run.trace)
    else:
        env = plain_environment(settings.caller, run.trace)
    if settings.workdir is not None:
        from identity import workdir
        workdir.enter_workdir(settings.workdir, *((user.uid, user.gid) if user else (0, 0)),
                              trace=run.trace)
    if user is not None:
        passwd.switch_user(user, trace=run.trace)
    return env


def plain_environment(caller, trace):
    """The environment without -e, --env-file, --clearenv and -u (what
    identity/environ.py's build() gives then, without importing it): the
    caller's, with root's PATH, and no HOME or SHELL that the container
    lacks (HOME is then root's)."""
    env = dict(caller)
    env["PATH"] = root_path(env.get("PATH"))
    home = env.get("HOME")
    if not (home and os.path.exists(home)):
        env["HOME"] = "/root"
        if home:
            trace(f"HOME={home} does not exist in the container: HOME=/root (root's home)")
    shell = env.get("SHELL")
    if shell and not os.path.exists(shell):
        del env["SHELL"]
        trace(f"SHELL={shell} does not exist in the container: SHELL unset")
    return env


def which(name, path=None):
    """The full path of a program, as execvp(3) would find it, or None."""
    for directory in (path or os.environ.get("PATH") or DEFAULT_PATH).split(":"):
        candidate = os.path.join(directory or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def execute(run, argv, env, report_w, shell_fallback=False):
    """execve COMMAND as execvp(3) would, or report why it failed and exit.

    Status 127 when no candidate exists, 126 when one exists but cannot be
    executed (EACCES, ENOEXEC, ...), like a shell. With `shell_fallback`
    (COMMAND is the default $SHELL), /bin/sh is tried last.
    """
    command = argv[0]
    if not command:
        candidates = []
    elif "/" in command:
        candidates = [command]
    else:
        candidates = [os.path.join(d or ".", command)
                      for d in env.get("PATH", DEFAULT_PATH).split(":")]
    fallback = len(candidates) if shell_fallback and command != "/bin/sh" else None
    if fallback is not None:
        candidates.append("/bin/sh")
    found = None
    for number, path in enumerate(candidates):
        if number == fallback:
            run.trace(f"$SHELL ({command}) " + (f"cannot be executed ({found.strerror}): "
                      if found else "is not in the container: ") + "running /bin/sh")
        try:
            st = os.stat(path)
        except OSError:
            continue                                # not there, or not visible
        if "/" in command and stat.S_ISDIR(st.st_mode):
            # execve says EACCES; a shell says what it is.
            found = found or IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
            continue
        run.trace(f"execve {path}")
        args = [path if number == fallback else command] + argv[1:]
        try:
            os.execve(path, args, env)
        except OSError as e:
            if e.errno == errno.ENOEXEC:   # no #! line: execvp(3) hands it to sh
                run.trace(f"execve /bin/sh {path} (no #! line)")
                try:
                    os.execve("/bin/sh", ["/bin/sh", path] + argv[1:], env)
                except OSError:
                    pass
            found = found or e
    if found is None:
        where = ("" if not command or "/" in command
                 else f"'s PATH ({env.get('PATH', DEFAULT_PATH)})")
        hint = ("; no COMMAND was given and the container has no shell to run instead: "
                "give one" if shell_fallback else "")
        report(report_w, NOT_FOUND, f"{command!r}: command not found in the container{where}"
               if not command else f"{command}: command not found in the container{where}{hint}")
        os._exit(NOT_FOUND)
    if found.errno == errno.ENOENT:
        # The file is there, so what is missing is its #! interpreter or
        # its dynamic loader; a shell says 127 too.
        report(report_w, NOT_FOUND, f"{command}: cannot execute: its interpreter (#! line) "
               "or dynamic loader is missing in the container")
        os._exit(NOT_FOUND)
    why = found.strerror
    if found.errno == errno.EACCES and found.filename and _on_noexec(found.filename):
        why += (" (the filesystem holding it is mounted noexec: put the root "
                "filesystem or the program on one that allows executing programs)")
    report(report_w, CANNOT_EXECUTE, f"{command}: cannot execute: {why}")
    os._exit(CANNOT_EXECUTE)


def _on_noexec(path):
    """Whether `path` lies on a mount with MS_NOEXEC, where execve(2) says
    EACCES whatever the file's mode."""
    try:
        return bool(os.statvfs(path).f_flag & os.ST_NOEXEC)
    except OSError:
        return False
