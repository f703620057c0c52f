"""The container commands: `unc ps`, `unc exec`, `unc kill`, `unc stop`,
`unc rm`, `unc logs`.

Used by core/cli.py, which hands it argv when the first word is one of
COMMANDS (a command of that name runs after `--`). Each reads its few
options here. A container is named by its --name, its id, or the start of
its id. Errors follow unc's contract: one `unc: ` line on stderr, status
125; `unc ps` and `unc logs` alone write on stdout, and `unc exec` exits
with its command's status.

`unc kill` and `unc stop` send the signals that a foreground unc passes on
(core/signals.py, FORWARDED) to the monitor, which passes them on as a
foreground unc does: to PID 1, or, when PID 1 has no handler for one that
would end an ordinary process, by ending the container with SIGKILL (and
the status 128+N). Other signals (KILL, STOP, ...) go to PID 1 directly.
"""

import os

# The signal module's functions and constants as plain ints (kernel.py).
import _signal as signal

from core import FAILED, Fail
from containers import state

COMMANDS = ("ps", "exec", "kill", "stop", "rm", "logs")

USAGE = {
    "ps": "unc ps [-a] [-q] [--format=json]",
    "exec": "unc exec [-i] [-t] [-u USER[:GROUP]] [-e NAME[=VALUE]]... [--env-file=FILE]... "
            "[-w DIR] NAME COMMAND [ARG...]",
    "kill": "unc kill [-s SIGNAL] NAME...",
    "stop": "unc stop [-t SECONDS] NAME...",
    "rm": "unc rm [-f] NAME...",
    "logs": "unc logs [-f] NAME",
}
# Each command's options: flags (short, long) and options with a value.
FLAGS = {"ps": {"-a": "--all", "-q": "--quiet"}, "exec": {"-i": "--interactive", "-t": "--tty"},
         "kill": {}, "stop": {}, "rm": {"-f": "--force"}, "logs": {"-f": "--follow"}}
VALUES = {"ps": {"--format": "--format"},
          "exec": {"-u": "--user", "-e": "--env", "--env-file": "--env-file", "-w": "--workdir"},
          "kill": {"-s": "--signal"}, "stop": {"-t": "--time"}, "rm": {}, "logs": {}}
ARGS = {"ps": (0, 0), "exec": (2, None), "kill": (1, None), "stop": (1, None),
        "rm": (1, None), "logs": (1, 1)}


def parse(command, argv):
    """Options (long names as keys; -e and --env-file as lists), then the
    arguments. exec's options end at NAME: the rest is COMMAND's."""
    flags, values = FLAGS[command], VALUES[command]
    opts, args = {"--env": [], "--env-file": []}, []
    items = list(argv)

    def bad(text):
        return Fail(f"{text}; usage: {USAGE[command]}")

    while items:
        item = items.pop(0)
        if item == "--":
            args += items
            break
        if not item.startswith("-") or item == "-":
            args.append(item)
            if command == "exec":
                args += items
                break
            continue
        if item.startswith("--"):
            key, eq, value = item.partition("=")
            if key in flags.values() and not eq:
                opts[key] = True
                continue
            if key not in values.values():
                raise bad(f"unknown option {key} for `unc {command}`")
            if not eq:
                if not items:
                    raise bad(f"{key} requires an argument")
                value = items.pop(0)
            _set(opts, key, value)
            continue
        # Short options, bundled as -it or with their value: -sKILL, -s KILL.
        for i in range(1, len(item)):
            key = "-" + item[i]
            if key in flags:
                opts[flags[key]] = True
            elif key in values:
                value = item[i + 1:]
                if not value:
                    if not items:
                        raise bad(f"{key} requires an argument")
                    value = items.pop(0)
                _set(opts, values[key], value)
                break
            else:
                raise bad(f"unknown option {key} for `unc {command}`")
    low, high = ARGS[command]
    if len(args) < low or (high is not None and len(args) > high):
        raise bad("wrong number of arguments")
    return opts, args


def _set(opts, key, value):
    if key in ("--env", "--env-file"):
        opts[key].append(value)
    else:
        opts[key] = value


def main(argv, closed=()):
    command, argv = argv[0], argv[1:]
    opts, args = parse(command, argv)
    return globals()["do_" + command](opts, args, closed)


# ------------------------------------------------------------------ ps

def do_ps(opts, args, closed):
    """A table of the containers (running ones; -a: all until `unc rm`)."""
    if opts.get("--format") not in (None, "json", "table"):
        raise Fail(f"unc ps: unknown --format {opts['--format']!r}; give json or table")
    shown = [c for c in state.every() if opts.get("--all") or c.running()]
    if opts.get("--quiet"):
        text = "".join(c.id[:12] + "\n" for c in shown)
    elif opts.get("--format") == "json":
        import json
        text = json.dumps([_json(c) for c in shown], indent=1) + "\n"
    else:
        import time
        rows = [("CONTAINER ID", "NAME", "PID", "STATUS", "STARTED", "COMMAND")]
        for c in shown:
            s = c.state
            rows.append((c.id[:12], c.name or "-", str(s.get("pid") or "-") if c.running() else "-",
                         c.status(), time.strftime("%Y-%m-%d %H:%M:%S",
                                                   time.localtime(s.get("created", 0))),
                         _command_line(s.get("command") or [])))
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        text = "".join("  ".join(col.ljust(w) for col, w in zip(row, widths)) + "  " + row[5]
                       + "\n" for row in rows)
    _write(text, closed)
    return 0


def _json(c):
    s = c.state
    return {"id": c.id, "name": c.name, "pid": s.get("pid") if c.running() else None,
            "monitor": s.get("monitor") if c.monitor_alive() else None,
            "status": c.status().split()[0], "exit-status": s.get("exit-status"),
            "command": s.get("command"), "created": s.get("created"),
            "finished": s.get("finished")}


def _command_line(argv):
    from core import one_line
    text = one_line(" ".join(argv)) or "(the default shell)"
    return text if len(text) <= 40 else text[:39] + "…"


def _write(text, closed):
    from core import cli
    cli.write_out(text, closed)


# ------------------------------------------------------------------ kill, stop, rm

def do_kill(opts, args, closed):
    signum = signal_number(opts.get("--signal", "TERM"))
    for ref in args:
        container = state.find(ref)
        if not container.running():
            raise Fail(f"container {ref} is not running ({container.status()})")
        send(container, signum)
    return 0


def signal_number(text):
    """TERM, SIGTERM, term or 15."""
    if text.isdigit() and 0 < int(text) < signal.NSIG:
        return int(text)
    name = text.upper()
    name = name if name.startswith("SIG") else "SIG" + name
    value = vars(signal).get(name)
    if isinstance(value, int) and not name.startswith("SIG_") and 0 < value < signal.NSIG:
        return value
    raise Fail(f"unknown signal {text!r}: give a name (TERM, SIGKILL) or a number")


def send(container, signum):
    """`signum` to the container: through the monitor, or to PID 1 (above)."""
    from core import signals
    s = container.state
    if signum in signals.FORWARDED:
        target, started = s.get("monitor"), s.get("monitor-start")
    else:
        target, started = s.get("pid"), s.get("pid-start")
    _signal_process(target, started, signum)


def _signal_process(pid, started, signum):
    """kill(2) of the process recorded as (pid, start time), and of no
    other: through a pidfd where the kernel has them, which names one
    process for as long as it is open, so the check cannot be raced."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    except (AttributeError, OSError):
        if state.alive(pid, started):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass
        return
    try:
        if state.alive(pid, started):
            signal.pidfd_send_signal(pidfd, signum)
    except ProcessLookupError:
        pass
    finally:
        os.close(pidfd)


def wait_monitor(container, timeout=None):
    """Wait until the container's monitor has exited (it has then recorded
    the status and cleaned up); False when `timeout` seconds passed first."""
    import time
    pid, started = container.state.get("monitor"), container.state.get("monitor-start")
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    try:
        if pidfd is not None and state.alive(pid, started):
            import select
            poll = select.poll()
            poll.register(pidfd, select.POLLIN)       # readable once it exits
            return bool(poll.poll(None if deadline is None
                                  else max(0, int((deadline - time.monotonic()) * 1000))))
        # No pidfd (before Linux 5.3): look again every 20 ms.
        while state.alive(pid, started):
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True
    finally:
        if pidfd is not None:
            os.close(pidfd)


def settled(container):
    """The container once it has started or failed to: while unc -d still
    sets it up, its state names the waiting command line as its monitor."""
    import time
    while container.state.get("status") == "created" and container.monitor_alive():
        time.sleep(0.05)
        container.load()
    return container


def do_stop(opts, args, closed):
    """TERM, then KILL after -t seconds (default 10); a stopped container is
    left as it is."""
    text = opts.get("--time", "10")
    if not (text.isascii() and text.isdigit()):
        raise Fail(f"invalid -t {text!r}: give whole seconds")
    for ref in args:
        container = settled(state.find(ref))
        if container.running():
            send(container, signal.SIGTERM)
            if not wait_monitor(container, int(text)):
                _signal_process(container.state.get("pid"), container.state.get("pid-start"),
                                signal.SIGKILL)
        wait_monitor(container)
    return 0


def do_rm(opts, args, closed):
    containers = [state.find(ref) for ref in args]
    for ref, container in zip(args, containers):
        if container.monitor_alive() and not opts.get("--force"):
            raise Fail(f"container {ref} is {container.status().split()[0]}: stop it first "
                       f"('unc stop {ref}'), or remove it with 'unc rm -f {ref}'")
    for container in containers:
        if settled(container).running():
            _signal_process(container.state.get("pid"), container.state.get("pid-start"),
                            signal.SIGKILL)
        wait_monitor(container)
        if os.path.isdir(container.dir):          # not a setup that failed meanwhile
            container.remove()
    return 0


# ------------------------------------------------------------------ logs

def do_logs(opts, args, closed):
    """The log's content; -f: and what follows, until the container ends."""
    import time
    container = state.find(args[0])
    try:
        fd = os.open(container.path("log"), os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return 0
    try:
        while True:
            data = os.read(fd, 1 << 16)
            if data:
                try:
                    os.write(1, data)
                except BrokenPipeError:
                    return 0
                continue
            if not (opts.get("--follow") and container.monitor_alive()):
                return 0
            time.sleep(0.1)
    finally:
        os.close(fd)


# ------------------------------------------------------------------ exec

def do_exec(opts, args, closed):
    """Run COMMAND in a running container (containers/enter.py does the
    entering); exit with its status."""
    import json
    import socket
    import sys
    from core import execvp
    ref, argv = args[0], args[1:]
    caller = execvp.clean_environ(os.environ, getattr(sys, "frozen", False))
    changes = []
    if opts["--env"] or opts["--env-file"]:
        from identity import environ
        changes = environ.parse_settings(caller, opts["--env-file"], opts["--env"])
    if opts.get("--user") is not None:
        from identity import passwd
        passwd.split_spec(opts["--user"])
    if opts.get("--workdir") is not None:
        from identity import workdir
        workdir.parse_workdir(opts["--workdir"])
    tty = bool(opts.get("--tty"))
    if tty and caller.get("TERM"):
        changes.append(("TERM", caller["TERM"]))
    container = state.find(ref)
    if not container.running():
        raise Fail(f"container {ref} is not running ({container.status()}); "
                   f"see 'unc logs {ref}'")
    request = {"argv": argv, "env": changes, "user": opts.get("--user"),
               "workdir": opts.get("--workdir"), "tty": tty}
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    where = os.open(container.dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        # Through the directory's descriptor: a unix socket's path is at
        # most 107 bytes, and $XDG_RUNTIME_DIR may be long.
        sock.connect(f"/proc/self/fd/{where}/exec.sock")
    except OSError as e:
        raise Fail(f"cannot reach container {ref}'s monitor ({e.strerror}); "
                   f"see 'unc ps -a'") from None
    finally:
        os.close(where)
    if tty:
        from containers import ptyrelay
        return ptyrelay.relay(sock, request)
    socket.send_fds(sock, [(json.dumps(request) + "\n").encode()], [0, 1, 2])
    return answer(sock)


def answer(sock):
    """The command's status, when the monitor sends it; the signals unc
    exec gets meanwhile are passed on."""
    forward_signals(sock)
    data = b""
    while b"\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise Fail("the container's monitor went away before the command ended")
        data += chunk
    return parse_answer(data.partition(b"\n")[0].decode(errors="replace"))


def forward_signals(sock, own=()):
    """Send the monitor the signals unc would pass to a container (but
    those in `own`, which the caller handles): it passes them on to the
    command."""
    from core import signals

    def forward(signum, frame):
        try:
            sock.sendall(f"signal {signum}\n".encode())
        except OSError:
            pass

    for signum in signals.FORWARDED:
        if signum not in own:
            signal.signal(signum, forward)


def parse_answer(line):
    """ "exit N": N; "error N MESSAGE": unc's error with status N."""
    kind, _, rest = line.partition(" ")
    if kind == "exit":
        return int(rest)
    code, _, text = rest.partition(" ")
    raise Fail(text, int(code) if code.isdigit() else FAILED)
