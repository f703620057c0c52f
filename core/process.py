"""What the command gets: its environment, its working directory, its user.

Used by core/run.py: prepare() in unc before anything exists, so that a bad
-u, -e, --env-file or -w value fails there (125, nothing started), and
start() in the container's PID 1 after every stage's setup, right before
exec. The work itself is identity/'s (environ.py, workdir.py, passwd.py);
this module says in which order it happens, and why:

  1. the environment: the caller's (or --clearenv's), -e and --env-file,
     HOME and SHELL checked against the container's own files;
  2. -w: created and entered while unc is still root inside, so that a
     directory it creates can be given to the user;
  3. -u: setgroups, setgid, setuid, last of all: each needs capabilities
     that a non-root uid loses (capabilities(7), "Effect of user ID
     changes on capabilities").
"""

import os
import sys

from core import execvp


class Settings:
    """The options of the command, checked on the host."""

    def __init__(self, opts):
        self.user = opts.get("--user")                  # USER[:GROUP] or None
        self.clearenv = bool(opts.get("--clearenv"))
        self.workdir = opts.get("--workdir")
        self.changes = []                               # (NAME, VALUE or None)
        self.caller = execvp.clean_environ(os.environ, getattr(sys, "frozen", False))


def prepare(opts):
    """The command's settings from the options; Fail on a bad value."""
    from identity import environ
    settings = Settings(opts)
    if settings.user is not None:
        from identity import passwd
        passwd.split_spec(settings.user)
    if settings.workdir is not None:
        from identity import workdir
        settings.workdir = workdir.parse_workdir(settings.workdir)
    settings.changes = environ.parse_settings(settings.caller, opts.get("--env-file") or [],
                                              opts.get("--env") or [])
    return settings


def start(run, settings):
    """In PID 1, after every stage's setup: the command's environment, and
    its working directory and user. Returns the environment."""
    from identity import environ
    user = None
    if settings.user is not None:
        from identity import passwd
        user = passwd.resolve(settings.user)
    env = environ.build(settings.caller, settings.changes, clearenv=settings.clearenv,
                        user=user, user_given=user is not None,
                        hostname=os.uname().nodename, trace=run.trace)
    if settings.workdir is not None:
        from identity import workdir
        workdir.enter_workdir(settings.workdir, *((user.uid, user.gid) if user else (0, 0)),
                              trace=run.trace)
    if user is not None:
        passwd.switch_user(user, trace=run.trace)
    return env
