#!/usr/bin/env python3
"""Run a command on a new pseudo-terminal and drive it like a user would.

    pty_driver.py [--stdin-null] [--background] STEP... -- COMMAND [ARG...]

The command runs as the session leader of a new pty, in the terminal's
foreground, unless --background puts it in a process group of its own (a
job started with `&`), and with stdin from /dev/null with --stdin-null
(stdout and stderr stay on the terminal). The steps run in order:

    send=TEXT        type TEXT (backslash escapes as in Python: \\n, \\x03)
    intr             type the interrupt character (^C)
    expect=TEXT      wait until TEXT appears in the output after the previous
                     expect's match
    running=ARGV     wait until a process of the command's tree runs with this
                     command line (arguments joined by single spaces)
    gone=ARGV        wait until no process of the tree runs with it
    resize=ROWSxCOLS change the window size (the kernel sends SIGWINCH to the
                     terminal's foreground process group)
    fg=same|other    check whether the terminal's foreground process group is
                     the one it started with (the command's own; with
                     --background, the driver's) or another one
    echo=on|off      check whether the terminal echoes what is typed
    kill=SIGNAL      send SIGNAL (HUP, INT, TERM or USR1 with --background) to
                     the command
    exited           wait until the command has exited

Every wait gives up after 10 seconds. At the end the driver waits for the
command and exits with its status (128+N for signal N). A failed step prints
what happened and the output so far on stderr and exits 99.
"""

import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import time

LIMIT = 10.0


class Failed(Exception):
    pass


class Session:
    def __init__(self, argv, stdin_null, background):
        self.output = b""
        self.seen = 0
        self.status = None
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                if stdin_null:
                    null = os.open("/dev/null", os.O_RDONLY)
                    os.dup2(null, 0)
                if background:
                    self._run_in_background(argv)
                os.execvp(argv[0], argv)
            except BaseException as e:
                os.write(2, f"pty_driver: cannot run {argv[0]}: {e}\n".encode())
            os._exit(127)

    @staticmethod
    def _run_in_background(argv):
        # A session leader cannot change its process group: the job is a
        # child in a group of its own, as a shell does for `cmd &`. The
        # leader passes kill= signals on to it.
        job = os.fork()
        if job == 0:
            os.setpgid(0, 0)
            os.execvp(argv[0], argv)
        for signum in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGUSR1):
            signal.signal(signum, lambda signum, frame: os.kill(job, signum))
        code = os.waitstatus_to_exitcode(os.waitpid(job, 0)[1])
        os._exit(128 - code if code < 0 else code)

    def pump(self, timeout):
        """Read what the terminal shows; False once it is closed."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if ready:
            try:
                data = os.read(self.fd, 4096)
            except OSError:         # EIO: the last holder of the slave is gone
                data = b""
            if not data:
                return False
            self.output += data
        return True

    def until(self, what, check):
        deadline = time.monotonic() + LIMIT
        while not check():
            if time.monotonic() > deadline:
                raise Failed(f"gave up waiting for {what}")
            if not self.pump(0.05):
                time.sleep(0.05)    # closed: nothing more to read

    def expect(self, text):
        needle = text.encode()

        def found():
            at = self.output.find(needle, self.seen)
            if at >= 0:
                self.seen = at + len(needle)
                return True
            return False
        self.until(f"{text!r} in the output", found)

    def tree(self):
        """Command lines of the processes below the command (host view)."""
        children = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    stat = f.read()
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmdline = f.read()
            except OSError:
                continue
            ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
            args = cmdline.rstrip(b"\0").split(b"\0")
            children.setdefault(ppid, []).append((int(entry), b" ".join(args).decode(errors="replace")))
        found, todo = [], [self.pid]
        while todo:
            for pid, args in children.get(todo.pop(), []):
                found.append(args)
                todo.append(pid)
        return found

    def step(self, step):
        name, _, arg = step.partition("=")
        if name == "send":
            os.write(self.fd, arg.encode().decode("unicode_escape").encode("latin-1"))
        elif name == "intr":
            os.write(self.fd, termios.tcgetattr(self.fd)[6][termios.VINTR])
        elif name == "expect":
            self.expect(arg)
        elif name == "running":
            self.until(f"a process {arg!r}", lambda: arg in self.tree())
        elif name == "gone":
            self.until(f"no process {arg!r}", lambda: arg not in self.tree())
        elif name == "resize":
            rows, cols = (int(n) for n in arg.split("x"))
            fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        elif name == "fg":
            # On the master side TIOCGPGRP gives the slave's foreground group;
            # it starts as the session leader's.
            group = os.tcgetpgrp(self.fd)
            if (arg == "same") != (group == self.pid):
                raise Failed(f"the foreground process group is {group}, the first "
                             f"was {self.pid}; expected {arg}")
        elif name == "echo":
            on = bool(termios.tcgetattr(self.fd)[3] & termios.ECHO)
            if on != (arg == "on"):
                raise Failed(f"the terminal's echo is {'on' if on else 'off'}")
        elif name == "kill":
            os.kill(self.pid, signal.Signals["SIG" + arg])
        elif name == "exited":
            self.until("the command to exit", self.ended)
        else:
            raise Failed(f"unknown step {step!r}")

    def ended(self):
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = status
        return self.status is not None

    def finish(self):
        while not self.ended():
            self.pump(0.05)
        while select.select([self.fd], [], [], 0)[0] and self.pump(0):
            pass
        code = os.waitstatus_to_exitcode(self.status)
        return 128 - code if code < 0 else code


def main(args):
    stdin_null = background = False
    while args and args[0] in ("--stdin-null", "--background"):
        stdin_null |= args[0] == "--stdin-null"
        background |= args[0] == "--background"
        args = args[1:]
    if "--" not in args:
        sys.exit(__doc__)
    steps, argv = args[:args.index("--")], args[args.index("--") + 1:]
    session = Session(argv, stdin_null, background)
    for step in steps:
        try:
            session.step(step)
        except Failed as e:
            sys.stderr.write(f"pty_driver: step {step!r}: {e}\noutput so far:\n"
                             f"{session.output.decode(errors='replace')}\n")
            if not session.ended():
                os.kill(session.pid, signal.SIGKILL)
                os.waitpid(session.pid, 0)
            sys.exit(99)
    status = session.finish()
    sys.stdout.write(session.output.decode(errors="replace"))
    sys.exit(status)


if __name__ == "__main__":
    main(sys.argv[1:])
