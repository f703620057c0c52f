"""The core: how any container starts, whatever its stages put in it.

unc.py is the entry; these modules are the core it calls, one concern each:

    cli.py       the command line: the usage text (the core's options and
                 each stage's OPTIONS), parsing it, `unc stages`, main()
    run.py       one container run: compose the stages, unshare, fork
                 PID 1, hand over, wait, clean up (the hook protocol of
                 stages/__init__.py is called from here and nowhere else)
    signals.py   which signals reach the container and how; wait statuses
    terminal.py  the terminal's foreground and modes
    execvp.py    finding and executing COMMAND as execvp(3) would, and
                 the environment programs unc starts get
    check.py     `unc check`, and its --json (docs/check.md)
    hostinfo.py  what `unc check` says of the kernel, cgroups and seccomp
    init.py      the init of --init (PID 1 of the container)
    docopt_fast.py  docopt-ng's reading of the usage text, done at build time

No module here knows a particular stage: stages are found by name in
stages.ORDER and reached only through their declared hooks.

This file itself holds what every part of unc shares: Fail, unc's own
error, and the one-line form every error takes. Whatever goes wrong in unc
ends as one line on stderr that starts with `unc: ` and an exit status (125
unless said otherwise); shell scripts rely on both (README, "For shell
scripts"). It is here, not in a module of its own, because every start
imports the package anyway, and each module more costs a start about 0.1 ms.
"""

import os
import sys

# The exit statuses of the contract besides COMMAND's own and 128+N.
FAILED = 125           # unc itself failed
CANNOT_EXECUTE = 126   # COMMAND exists but cannot be executed
NOT_FOUND = 127        # COMMAND was not found


class Fail(Exception):
    """An error of unc itself: one line for the user, and an exit status.

    The message says what failed and what to do; main() prints it after
    'unc: ' and exits with `status`.
    """

    def __init__(self, message, status=FAILED):
        super().__init__(message)
        self.status = status


def one_line(text):
    """`text` fit for one line of a terminal: control characters (a newline
    in a file name) and bytes that are not UTF-8 come out escaped."""
    raw = text.encode(errors="surrogateescape").decode(errors="backslashreplace")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in raw)


def die(message, status=FAILED):
    """Print `unc: message` on stderr and exit with `status`."""
    try:
        os.write(2, b"unc: " + one_line(message).encode() + b"\n")
    except OSError:
        pass                              # stderr closed: the status must do
    sys.exit(status)


# -q: unc's own warnings are not printed (core/cli.py sets it).
quiet = False


def warn(message):
    """A warning of unc's own: `unc: warning: message` on stderr, unless -q.

    unc has none today: what it says on stderr is an error (die) or, with
    --trace, what it does. A warning added later goes through here, so -q,
    which scripts may pass already, silences it."""
    if not quiet:
        try:
            os.write(2, b"unc: warning: " + one_line(message).encode() + b"\n")
        except OSError:
            pass


def report(fd, status, message):
    """Send a failure from inside the container to unc: '<status> <message>'."""
    os.write(fd, f"{status} {one_line(message)}\n".encode())
