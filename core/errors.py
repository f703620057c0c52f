"""unc's own errors: Fail, and the one-line form every error takes.

Used by the core, the stages and the machinery beneath them: whatever
goes wrong in unc itself ends as one line on stderr that starts with
`unc: ` and an exit status (125 unless said otherwise). Shell scripts rely
on both (README, "For shell scripts").
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


def report(fd, status, message):
    """Send a failure from inside the container to unc: '<status> <message>'."""
    os.write(fd, f"{status} {one_line(message)}\n".encode())
