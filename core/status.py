"""--json-status-fd=FD: the container's state, for supervisors, as JSON lines.

Used by core/run.py, and imported only when the option is given. As with
bubblewrap's option of the same name, unc writes one JSON object per line
to FD, an open file descriptor it inherited (a pipe to a supervisor, a
file):

    once the command runs (it has been executed in the container):
      {"pid": 12345, "stage": "net", "hostname": "unc", "net": "pasta",
       "ports": [{"host-ip": "127.0.0.1", "host-port": 8080,
                  "container-port": 80, "protocol": "tcp"}]}
    when it has ended, and every helper with it:
      {"exit-status": 143, "signal": 15, "signal-name": "SIGTERM"}
    or when unc failed (before or after the start, its own bugs included):
      {"exit-status": 125, "error": "unc's message, as on stderr"}

"pid" is the container's PID 1 as the host sees it. "stage" is the last
stage of the run; the keys after it come from the stages' status hooks
(stages/__init__.py), so a run that stops at --stage=uts has no "net". The
end object's "exit-status" is unc's own exit status; "signal" is there
when the command (PID 1) died from a signal (with --init, the init exits
with 128+N instead and only "exit-status" says it). A supervisor that
closes its end early does not disturb the container: what cannot be
written is dropped. The container's command does not inherit FD.
"""

import fcntl
import os

from core import Fail


class StatusFd:
    """The descriptor --json-status-fd names, checked before anything starts."""

    def __init__(self, text):
        if not (text.isascii() and text.isdigit()):
            raise Fail(f"invalid --json-status-fd {text!r}: give a file descriptor number")
        self.fd = int(text)
        try:
            flags = fcntl.fcntl(self.fd, fcntl.F_GETFD)
        except OSError:
            raise Fail(f"--json-status-fd {self.fd}: it is not an open file descriptor "
                       f"(open it for unc, e.g. {self.fd}>FILE)") from None
        if fcntl.fcntl(self.fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY:
            raise Fail(f"--json-status-fd {self.fd}: it is open for reading only")
        if self.fd > 2:
            # Only unc writes to it: close-on-exec keeps it from the
            # container's command (and from the helpers unc starts).
            fcntl.fcntl(self.fd, fcntl.F_SETFD, flags | fcntl.FD_CLOEXEC)

    def write(self, obj):
        import json
        data = (json.dumps(obj) + "\n").encode()
        try:
            while data:
                data = data[os.write(self.fd, data):]
        except OSError:
            pass          # the reader went away (EPIPE): the container goes on

    def running(self, pid, stage, reported):
        """The object for a command that runs; `reported`: the stages' keys."""
        self.write({"pid": pid, "stage": stage, **reported})

    def ended(self, status, signaled=False, error=None):
        end = {"exit-status": status}
        if signaled and status > 128:
            from kernel import signal_name
            end.update({"signal": status - 128, "signal-name": signal_name(status - 128)})
        if error is not None:
            end["error"] = error
        self.write(end)
