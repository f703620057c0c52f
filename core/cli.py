"""The command line: unc's usage text, parsing it, and main().

Used by unc.py (main) and core/check.py. The usage text is composed: the
core's part below, then each stage's OPTIONS in the order of
stages.ORDER, so a new stage documents and owns its options in its own
module. docopt-ng parses it (core/docopt_fast.py reads the text once, at
build time).
"""

import os
import sys

from core import FAILED, Fail, die

VERSION = "0.1.0"

HEAD = """\
unc - run a command in an unprivileged Linux container.

Usage:
  unc stages
  unc check [--json]
  unc [options] [-e NAME]... [--env-file=FILE]... {repeatable}[--] [COMMAND [ARG...]]
  unc -h | --help
  unc --version

Runs COMMAND (default: $SHELL, else /bin/sh) as root and as PID 1 of a new
container (PID 2 with --init), with your stdin, stdout and stderr.
`unc stages` lists the stages. `unc check` starts a container at each stage on
this host and says what works and what the host offers (exit 0 if all stages
work, 1 if one cannot, 125 if unc failed); --json says it as JSON
(docs/check.md). A command named stages, check, import, pull, images, rmi,
ps, exec, kill, stop, rm, logs, create, start, state, delete, list or features
runs after `--`.
As an OCI runtime (for Podman): `unc [--root DIR] create|start|state|kill|
delete|exec|list|features ...` with runc's options (README, "An OCI runtime
for Podman").
Images: `unc import FILE|DIR [NAME[:TAG]]` (a rootfs tarball, an OCI layout,
a docker save archive), `unc pull REF`, `unc images`, `unc rmi NAME...`;
run one with --image=NAME (README, "Images").
Containers: with -d, unc prints the container's id and leaves it running;
`unc ps [-a]` lists them, `unc exec [-t] [-u USER] [-e ...] [-w DIR] NAME
COMMAND` runs a command in one, `unc logs [-f] NAME` shows its output,
`unc kill [-s SIG] NAME`, `unc stop [-t SECONDS] NAME` and `unc rm [-f]
NAME` end and remove it (README, "Detached containers").
Signals sent to unc (HUP INT QUIT TERM USR1 USR2 ALRM WINCH CONT) are passed
to the container; on a terminal, the container gets the foreground.
On a terminal, Ctrl-C and Ctrl-\\ go to the command, not to unc: a PID 1
without handlers for SIGINT and SIGQUIT (httpd, sleep) does not stop on
them; run such a command with --init.

Options:
  --stage=NAME         How far the container goes: {stages}
                       (cumulative, in that order). Default: the last stage.
  -u USER[:GROUP], --user=USER[:GROUP]
                       Run COMMAND as USER (a name in the container's
                       /etc/passwd, or a number) and GROUP (default: the
                       user's); ids other than root need --map-auto.
  -e NAME[=VALUE], --env=NAME[=VALUE]
                       Set NAME in COMMAND's environment; NAME alone takes
                       your value, or unsets it if you have none (repeatable).
  --env-file=FILE      Read NAME=VALUE lines from FILE (repeatable).
  --clearenv           Start from an empty environment: only PATH, HOME,
                       TERM, HOSTNAME and container=unc.
  -w DIR, --workdir=DIR
                       Run COMMAND in DIR, created if missing.
  --json-status-fd=FD  Write the container's host pid, stage, network and
                       ports once COMMAND runs, then its exit status, as
                       JSON lines to file descriptor FD (for supervisors).
  -d, --detach         Run the container in the background: print its id
                       once COMMAND runs, and exit 0; its output goes
                       to `unc logs`.
  --name=NAME          Name the container (with -d), for unc exec, ps,
                       kill, stop, rm and logs.
  --rm                 With -d: remove the container (its state and log)
                       when it ends; a run without -d leaves nothing anyway.
  --init               Run a small init as PID 1 that reaps zombies and
                       forwards signals; COMMAND then runs as PID 2, and
                       signals it has no handler for end it as on the host.
  --json               unc check: the report as one JSON object.
  -q, --quiet          Print no warnings of unc's own (it has none today:
                       only errors, and --trace lines, which -q keeps).
  --trace              Print each kernel-visible step to stderr.
  --debug              Show Python tracebacks on internal errors.
  -h, --help           Show this help.
  --version            Show the version.
"""

STAGE_HEAD = "\nOptions of stage {name}:\n"

TAIL = """
Exit status: COMMAND's own; 128+N if it died from signal N; 125 if unc
failed; 126 if COMMAND cannot be executed; 127 if it was not found.
"""


# ---------------------------------------------------------------- stages

def load_stages(names):
    """The stage modules of `names`, imported in that order."""
    return [__import__("stages." + n, fromlist=["NAME"]) for n in names]


def select_stages(name):
    """The modules of every stage up to and including `name`."""
    from stages import ORDER
    if name is None:
        name = ORDER[-1]
    if name not in ORDER:
        raise Fail(f"unknown stage {name!r}; valid stages: {', '.join(ORDER)}")
    return load_stages(ORDER[:ORDER.index(name) + 1])


def all_stages():
    from stages import ORDER
    return load_stages(ORDER)


def usage():
    """The whole usage text: the core's part, then every stage's options."""
    stages = all_stages()
    repeatable = "".join(f"[{r}]... " for s in stages for r in getattr(s, "REPEATABLE", ()))
    text = HEAD.format(repeatable=repeatable, stages=", ".join(s.NAME for s in stages))
    for stage in stages:
        if getattr(stage, "OPTIONS", ""):
            text += STAGE_HEAD.format(name=stage.NAME)
            text += stage.OPTIONS.strip("\n") + "\n"
    return text + TAIL


def option_names(text):
    """The keys docopt gives the options described in `text`: the long
    name where there is one (`-v SPEC, --volume=SPEC` is --volume)."""
    names = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("-"):
            words = line.split("  ")[0].replace(",", " ").replace("=", " ").split()
            flags = [w for w in words if w.startswith("-")]
            longs = [w for w in flags if w.startswith("--")]
            names.append(longs[0] if longs else flags[0])
    return names


CORE_OPTIONS = option_names(HEAD)
CHECK_OPTIONS = ("--json",)      # the options of `unc check` (its usage line)


def check_stage_options(opts, stages):
    """An option of a stage that is not selected would silently do nothing.

    Only an option that no selected stage owns can be misplaced, so the
    other stage modules are imported (a cost on every start) only then.
    """
    owned = {name for s in stages for name in option_names(getattr(s, "OPTIONS", ""))}
    # docopt's "--" is not an option: it says that the command follows.
    if all(value in (None, False, []) for option, value in opts.items()
           if option.startswith("-") and option != "--" and option not in owned
           and option not in CORE_OPTIONS):
        return
    chosen = {s.NAME for s in stages}
    for stage in all_stages():
        for option in option_names(getattr(stage, "OPTIONS", "")):
            if opts.get(option) not in (None, False, []) and stage.NAME not in chosen:
                raise Fail(f"{option} needs --stage={stage.NAME} or a later stage")


# ---------------------------------------------------------------- parsing

def usage_text():
    """The usage text to parse with. A frozen build's was composed when it
    was built (usage_built.py), from the same sources: it need not be
    composed again, which would import every stage."""
    if getattr(sys, "frozen", False):
        from core import docopt_fast
        built = docopt_fast.built()
        if built is not None:
            return built.USAGE
    return usage()


def parse(argv):
    """Parse the command line into a dict; raise Fail on a usage error."""
    from core import docopt_fast
    from docopt import DocoptExit
    if argv[:1] == ["check"] and argv[1:]:
        # unc parses options first: after the first word that is not an
        # option, every word is COMMAND's (`unc ls -l`). `unc check`'s own
        # options follow its word, so they go in front of it; no other may.
        for arg in argv[1:]:
            if arg.split("=")[0] not in CHECK_OPTIONS:
                what = "option" if arg.startswith("-") else "argument"
                raise Fail(f"unc check takes no {what} {arg!r}; see 'unc --help'")
        argv = argv[1:] + argv[:1]
    try:
        opts = docopt_fast.parse(usage_text(), argv, options_first=True)
    except DocoptExit as e:
        if e.left:
            first = unmatched(e.left)
        else:
            first = str(e.code or "").splitlines()[0] if e.code else "bad usage"
            if first.endswith(" requires argument"):          # docopt-ng's words
                first = first.replace(" requires argument", " requires an argument")
        raise Fail(f"{first}; see 'unc --help'") from None
    opts = dict(opts)
    if opts["COMMAND"] is not None:
        opts["argv"] = [opts["COMMAND"]] + opts["ARG"]
    return opts


def unmatched(left):
    """docopt's leftover arguments (options and arguments no pattern took),
    said for people."""
    words = []
    for item in left:
        if hasattr(item, "longer"):
            words.append(f"option {item.longer or item.short}")
        else:
            words.append(f"argument {item.value!r}")
    return f"unknown, misplaced or repeated {', '.join(words) or 'arguments'}"


# ---------------------------------------------------------------- output

def write_out(text, closed=()):
    """Print what the user asked for (help, version, stages) on stdout."""
    if 1 in closed:
        die("cannot write to stdout: it is closed")
    try:
        os.write(1, text.encode())
    except BrokenPipeError:
        pass                              # `unc --help | head -1`
    except OSError as e:
        die(f"cannot write to stdout: {e.strerror}")


def keep_std_fds():
    """Hold 0, 1 and 2 open for as long as unc runs; return those that were
    closed when unc started.

    A closed standard fd would be reused by the next pipe unc makes, and
    the container's command would then write into unc's own pipe. They are
    held with /dev/null and closed again just before the command starts, so
    it sees them closed, as it would without unc.
    """
    closed = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            closed.append(fd)
    for fd in closed:
        null = os.open("/dev/null", os.O_RDWR)
        if null != fd:
            os.dup2(null, fd)
            os.close(null)
    return tuple(closed)


# ---------------------------------------------------------------- main

# Subcommands of images/cli.py and containers/cli.py, read before docopt:
# their options are theirs.
IMAGE_COMMANDS = ("import", "pull", "images", "rmi")
CONTAINER_COMMANDS = ("ps", "exec", "kill", "stop", "rm", "logs")

# The first words of the OCI runtime's command line (oci/cli.py, wants()):
# runc's global options and verbs, as Podman and conmon call unc.
OCI_WORDS = ("create", "start", "state", "delete", "list", "features", "kill", "exec",
             "--root", "--log", "--log-format", "--systemd-cgroup", "--rootless", "--debug")

def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    # First of all: any file unc opens would otherwise take a closed 0, 1 or 2.
    closed = keep_std_fds()
    debug = "--debug" in argv
    try:
        if argv and argv[0] in OCI_WORDS:
            from oci import cli as oci_cli
            if oci_cli.wants(argv):
                return oci_cli.main(argv, closed)
        if argv and argv[0] in IMAGE_COMMANDS:
            from images import cli as images_cli
            return images_cli.main(argv, closed)
        if argv and argv[0] in CONTAINER_COMMANDS:
            from containers import cli as containers_cli
            return containers_cli.main(argv, closed)
        opts = parse(argv)
        if opts["--help"]:
            write_out(usage_text(), closed)
            return 0
        if opts["--version"]:
            write_out(f"unc {VERSION}\n", closed)
            return 0
        if opts["stages"]:
            write_out("".join(f"{s.NAME:<10}{s.SUMMARY}\n" for s in all_stages()), closed)
            return 0
        if opts["check"]:
            from core import check
            return check.check(closed, as_json=opts["--json"])
        if opts["--quiet"]:
            import core
            core.quiet = True
        from core import run
        stages = select_stages(opts["--stage"])
        check_stage_options(opts, stages)
        if opts["--detach"]:
            from containers import monitor
            return monitor.detach(opts, stages)
        if opts["--name"] is not None:
            raise Fail("--name names a detached container: add -d")
        return run.container(opts, stages, closed)[1]
    except Fail as e:
        die(str(e), e.status)
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        if debug:
            import traceback
            traceback.print_exc()
        die(f"internal error: {e.__class__.__name__}: {e}; "
            + ("please report it" if debug else "rerun with --debug and report it"))
    return FAILED
