"""The OCI runtime's command line, as runc's, which Podman and conmon call.

Used by core/cli.py, which hands over argv when it starts with one of
runc's global options or an OCI verb (ROUTED below). Global options come
before the verb: --root DIR (the state root, state.py), --log FILE and
--log-format text|json (errors also go there, as runc's do, for conmon
to read), --debug (unc's --trace lines on stderr), --systemd-cgroup
(accepted; unc places no container in a cgroup, see README) and
--rootless (accepted: unc tells by itself). Verbs, in runc's words:

    create [--bundle DIR] [--pid-file F] [--console-socket PATH]
           [--preserve-fds N] [--no-pivot] [--no-new-keyring] ID
    start ID | state ID | kill [--all] ID [SIGNAL] | delete [--force] ID
    exec [--process FILE] [--detach] [--tty] [--pid-file F]
         [--console-socket PATH] [--preserve-fds N] ID [COMMAND...]
    list [--format table|json] [--quiet] | features

Errors are one line `unc: ...` on stderr and status 125, in runc's words
where engines look for them ("does not exist", "not running").
"""

import json
import os
import sys
import time

from core import FAILED, Fail, die

SPEC_VERSION = "1.0.2"
GLOBAL_VALUES = ("--root", "--log", "--log-format", "--rootless", "--criu")
GLOBAL_FLAGS = ("--debug", "--systemd-cgroup")
VERBS = ("create", "start", "state", "kill", "delete", "exec", "list", "features", "run",
         "pause", "resume", "update", "ps", "checkpoint", "restore", "events", "spec")
ROUTED = GLOBAL_VALUES + GLOBAL_FLAGS + ("create", "start", "state", "delete", "list",
                                        "features")


def wants(argv):
    """Whether core/cli.py should hand `argv` to main()."""
    if not argv:
        return False
    i = 0
    while i < len(argv) and argv[i].split("=")[0] in GLOBAL_FLAGS + GLOBAL_VALUES:
        # --debug is unc's own too: see what follows
        i += 2 if argv[i] in GLOBAL_VALUES else 1
    if i == len(argv):
        return False
    first = argv[i].split("=")[0]
    if any(a.split("=")[0] in GLOBAL_VALUES for a in argv[:i]):
        return True                       # --root, --log: never unc's own
    if first in ROUTED:
        return True
    # exec and kill are also unc's own commands (containers/cli.py): theirs
    # unless runc's own options are used or the id is a container of the
    # OCI root (Podman calls `kill ID SIGNUM`, and exec with --process).
    rest = argv[i + 1:]
    if first == "kill" and ("--all" in rest or "-a" in rest):
        return True
    if first == "exec" and any(a.split("=")[0] in ("--process", "--pid-file",
                                                   "--console-socket", "--detach")
                               for a in rest):
        return True
    if first in ("kill", "exec"):
        ids = [a for a in rest if not a.startswith("-")]
        return bool(ids) and _in_oci_root(argv[:i], ids[0])
    return False


def _in_oci_root(options, cid):
    """Whether `cid` is a container of the OCI root that `options` (the
    global ones before the verb) name."""
    from oci import state
    root = None
    for n, option in enumerate(options):
        if option.startswith("--root="):
            root = option.split("=", 1)[1]
        elif option == "--root" and n + 1 < len(options):
            root = options[n + 1]
    try:
        return state.Container(root or state.default_root(), cid).exists()
    except Fail:
        return False


class Args:
    """A verb's options (runc accepts -opt and --opt, =VALUE or VALUE)."""

    def __init__(self, argv, values=(), flags=(), verb=""):
        self.opts, self.rest = {}, []
        i = 0
        while i < len(argv):
            arg = argv[i]
            if self.rest or not arg.startswith("-") or arg == "-":
                self.rest.append(arg)
            elif arg == "--":
                self.rest.extend(argv[i + 1:])
                break
            else:
                name, eq, value = arg.partition("=")
                name = "--" + name.lstrip("-") if len(name.lstrip("-")) > 1 else name
                if name in values:
                    if not eq:
                        i += 1
                        if i >= len(argv):
                            raise Fail(f"{verb} {name} needs a value")
                        value = argv[i]
                    self.opts.setdefault(name, []).append(value)
                elif name in flags:
                    self.opts[name] = value not in ("false", "0") if eq else True
                else:
                    raise Fail(f"{verb}: unknown option {arg}; see README, "
                               "\"An OCI runtime for Podman\"")
            i += 1

    def get(self, name, default=None):
        value = self.opts.get(name, default)
        return value[-1] if isinstance(value, list) else value


def main(argv, closed=()):
    log = {"path": None, "format": "text"}
    try:
        glob = Args(argv, GLOBAL_VALUES, GLOBAL_FLAGS + ("--version", "--help"), "unc")
        log["path"], log["format"] = glob.get("--log"), glob.get("--log-format") or "text"
        if glob.get("--version") or glob.get("--help"):
            from core.cli import VERSION
            return write(f"unc version {VERSION}\nspec: {SPEC_VERSION}\n", closed)
        if not glob.rest:
            raise Fail("missing command: create, start, state, kill, delete, exec, list "
                       "or features")
        verb, args = glob.rest[0], glob.rest[1:]
        if verb not in VERBS:
            raise Fail(f"unknown command {verb!r}")
        from oci import state
        root = os.path.abspath(glob.get("--root") or state.default_root())
        handler = globals().get("verb_" + verb)
        if handler is None:
            raise Fail(f"{verb} is not supported by unc")
        return handler(root, args, bool(glob.get("--debug")), closed) or 0
    except Fail as e:
        log_error(log, str(e))
        die(str(e), e.status)
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        if "--debug" in argv:
            import traceback
            traceback.print_exc()
        log_error(log, f"internal error: {e.__class__.__name__}: {e}")
        die(f"internal error: {e.__class__.__name__}: {e}; rerun with --debug and report it")
    return FAILED


def log_error(log, message):
    """runc writes its errors to --log too; conmon reads them from there."""
    if not log["path"]:
        return
    if log["format"] == "json":
        line = json.dumps({"level": "error", "msg": message,
                           "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    else:
        line = f"unc: {message}"
    try:
        with open(log["path"], "a") as f:
            f.write(line + "\n")
    except OSError:
        pass


def write(text, closed=()):
    from core.cli import write_out
    write_out(text, closed)
    return 0


def one_id(args, verb):
    if len(args.rest) != 1:
        raise Fail(f"{verb} needs exactly one container id")
    return args.rest[0]


def load(root, cid):
    from oci import state
    return state.Container(root, cid).load()


def preserve_fds(args):
    """--preserve-fds N: the caller's fds 3 to 3+N-1 reach the process."""
    text = args.get("--preserve-fds") or "0"
    if not text.isdigit():
        raise Fail(f"invalid --preserve-fds {text!r}: give a number")
    return int(text)


def write_pid_file(path, pid):
    """Written to a temporary file and renamed, as runc: a reader never
    sees it empty."""
    path = os.path.abspath(path)
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.unc-tmp")
    with open(tmp, "w") as f:
        f.write(str(pid))
    os.rename(tmp, path)


# ------------------------------------------------------------ the verbs

def verb_create(root, argv, debug, closed):
    from oci import config, state
    args = Args(argv, ("--bundle", "-b", "--pid-file", "--console-socket", "--preserve-fds"),
                ("--no-pivot", "--no-new-keyring", "--no-subreaper"), "create")
    cid = one_id(args, "create")
    bundle = args.get("--bundle") or args.get("-b") or "."
    preserve = preserve_fds(args)
    spec = config.load(bundle)
    terminal = bool(spec.process.get("terminal"))
    socket_path = args.get("--console-socket")
    if terminal and not socket_path:
        raise Fail("cannot allocate tty if unc will detach without setting console socket")
    if socket_path and not terminal:
        raise Fail("cannot use console socket if unc will not detach or allocate tty")
    os.makedirs(root, 0o700, exist_ok=True)
    container = state.Container(root, cid)
    try:
        os.mkdir(container.dir, 0o700)
    except FileExistsError:
        if not container.abandoned():
            raise Fail(f"container with id exists: {cid}") from None
        import shutil
        shutil.rmtree(container.dir, ignore_errors=True)
        os.mkdir(container.dir, 0o700)
    try:
        container.lock()
        return _create(container, spec, args, socket_path, debug, preserve)
    except BaseException:
        import shutil
        shutil.rmtree(container.dir, ignore_errors=True)
        raise


def _create(container, spec, args, socket_path, debug, preserve):
    from core.run import Run, start
    from oci import state
    from oci.container import Handover, Stage
    os.mkfifo(container.fifo, 0o600)
    container.record = {"bundle": spec.bundle, "rootfs": spec.rootfs,
                        "annotations": spec.annotations, "pid": None,
                        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        "owner": "", "hooks": spec.hooks}
    console = None
    if socket_path:
        from oci import console as consoles
        console = consoles.connect(socket_path)
    stage = Stage(spec, container)
    run = Run({"--trace": debug, "--debug": debug}, [stage])
    run.handover = Handover(spec, container.fifo, console, held=(container._lock,),
                            preserve=preserve)
    run.handover.stage_state = container
    run.hook(stage, "prepare")
    start(run)
    if console is not None:
        console.close()
    seen = state.start_time(run.pid)
    container.record["pid"] = run.pid
    container.record["starttime"] = seen[0] if seen else None
    container.save()
    if spec.seccomp:
        # For exec: its processes get the container's filter too.
        with open(os.path.join(container.dir, "seccomp.bpf"), "wb") as f:
            f.write(spec.seccomp)
    if args.get("--pid-file"):
        write_pid_file(args.get("--pid-file"), run.pid)
    return 0


def verb_start(root, argv, debug, closed):
    args = Args(argv, verb="start")
    container = load(root, one_id(args, "start")).lock()
    status = container.status()
    if status == "stopped":
        raise Fail("cannot start a container that has stopped")
    if status == "running":
        raise Fail("cannot start an already running container")
    fd = os.open(container.fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        while True:
            try:
                if os.read(fd, 1):
                    break
            except BlockingIOError:
                pass                      # PID 1 opened its end, writes next
            if not container.alive():
                raise Fail("cannot start a container that has stopped")
            time.sleep(0.001)
    finally:
        os.close(fd)
    os.unlink(container.fifo)
    from oci import hooks
    hooks.run_all(container.record.get("hooks") or {}, ("poststart",),
                  container.state_of(container.record["pid"], "running"),
                  lambda m: None, fatal=False)
    return 0


def verb_state(root, argv, debug, closed):
    args = Args(argv, verb="state")
    container = load(root, one_id(args, "state"))
    return write(json.dumps(container.state(), indent=2) + "\n", closed)


def signal_number(text):
    import signal
    if text.isdigit():
        number = int(text)
    else:
        name = text.upper()
        name = name if name.startswith("SIG") else "SIG" + name
        number = getattr(signal, name, None)
        if not isinstance(number, int) or name.startswith("SIG_"):
            number = None
    if number is None or not 0 < number < 65:
        raise Fail(f"invalid signal {text!r}: give a name (TERM, SIGKILL) or a number")
    return int(number)


def namespace_pids(pid):
    """Every process in the PID namespace of `pid` (kill --all)."""
    try:
        ns = os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return [pid]
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.readlink(f"/proc/{name}/ns/pid") == ns:
                    pids.append(int(name))
            except OSError:
                pass
    return pids


def verb_kill(root, argv, debug, closed):
    args = Args(argv, flags=("--all", "-a"), verb="kill")
    if not 1 <= len(args.rest) <= 2:
        raise Fail("kill needs a container id and optionally a signal")
    container = load(root, args.rest[0])
    signum = signal_number(args.rest[1] if len(args.rest) > 1 else "TERM")
    if container.status() == "stopped":
        raise Fail("container not running")
    pid = container.record["pid"]
    targets = namespace_pids(pid) if (args.get("--all") or args.get("-a")) else [pid]
    for target in targets:
        try:
            os.kill(target, signum)
        except ProcessLookupError:
            pass
    return 0


def verb_delete(root, argv, debug, closed):
    args = Args(argv, flags=("--force", "-f"), verb="delete")
    from oci import state
    container = state.Container(root, one_id(args, "delete"))
    force = args.get("--force") or args.get("-f")
    if not container.exists():
        if force:
            return 0
        raise Fail(f"container {container.id} does not exist")
    container.load().lock()
    status = container.status()
    if status == "running" and not force:
        raise Fail(f"cannot delete container {container.id} that is not stopped: {status}")
    if status != "stopped":
        for pid in namespace_pids(container.record["pid"]):
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while container.alive() and time.monotonic() < deadline:
            time.sleep(0.002)
    from oci import hooks
    hooks.run_all(container.record.get("hooks") or {}, ("poststop",),
                  container.state_of(0, "stopped"), lambda m: None, fatal=False)
    if container.record.get("cgroup"):
        from oci import cgroups
        cgroups.remove(container.record["cgroup"])
    import shutil
    shutil.rmtree(container.dir, ignore_errors=True)
    return 0


def verb_list(root, argv, debug, closed):
    from oci import state
    args = Args(argv, ("--format", "-f"), ("--quiet", "-q"), "list")
    ids = state.all_ids(root)
    if args.get("--quiet") or args.get("-q"):
        return write("".join(i + "\n" for i in ids), closed)
    states = [state.Container(root, i).load().state() for i in ids]
    if (args.get("--format") or args.get("-f") or "table") == "json":
        return write(json.dumps(states) + "\n", closed)
    lines = [f"{'ID':<20} {'PID':<8} {'STATUS':<10} {'BUNDLE':<40} CREATED"]
    lines += [f"{s['id']:<20} {s['pid']:<8} {s['status']:<10} {s['bundle']:<40} {s['created']}"
              for s in states]
    return write("\n".join(lines) + "\n", closed)


def verb_features(root, argv, debug, closed):
    from oci import config, mounts
    from security import caps
    features = {
        "ociVersionMin": "1.0.0", "ociVersionMax": SPEC_VERSION,
        "hooks": list(config.HOOKS),
        "mountOptions": sorted(set(mounts.FLAGS) | set(mounts.PROPAGATION) | {"bind", "rbind"}),
        "linux": {"namespaces": sorted(config.NAMESPACES),
                  "capabilities": caps.names(range(len(caps.NAMES))),
                  "cgroup": {"v1": False, "v2": False, "systemd": False,
                             "systemdUser": False},
                  "seccomp": {"enabled": True},
                  "apparmor": {"enabled": False}, "selinux": {"enabled": False}},
        "annotations": {"org.opencontainers.runtime-spec.features.unc": "unc"},
    }
    return write(json.dumps(features, indent=2) + "\n", closed)


def verb_exec(root, argv, debug, closed):
    from oci import exec as execs
    args = Args(argv, ("--process", "-p", "--pid-file", "--console-socket", "--cwd",
                       "--env", "-e", "--user", "-u", "--preserve-fds", "--process-label",
                       "--apparmor", "--cap", "-c", "--additional-gids", "-g"),
                ("--detach", "-d", "--tty", "-t", "--no-new-privs", "--no-subreaper"), "exec")
    if not args.rest:
        raise Fail("exec needs a container id")
    container = load(root, args.rest[0])
    return execs.run(container, args, args.rest[1:], debug)
