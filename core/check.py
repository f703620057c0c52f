"""`unc check`: start a container at each stage on this host and say how it went.

Used by core/cli.py. Nothing is guessed from settings: each stage line is a
real container, so a host that passes runs unc. A stage may try itself with
options of its own (CHECK_OPTIONS), then try more containers with other
options and say what they showed, or fail the stage (its checked hook,
given attempt(OPTION...), which runs one and returns its status). Then each
stage says what the host offers it (its facts hook: user namespaces and the
setting that refuses them, subordinate ids, overlayfs, the network helpers)
and the core adds what belongs to no stage (core/hostinfo.py: the kernel,
cgroups, seccomp). A container tried once is not tried again: attempt
remembers each outcome, so facts can ask for what checked tried already.

The same report is printed as a table (a line a stage, then a line a fact)
or, with --json, as one JSON object whose keys docs/check.md documents
(SCHEMA is its version). Exit status: 0 when every stage works (the
default stage, the last, runs with all of them), 1 when one cannot
(CANNOT), 125 only when unc itself fails.
"""

from core import cli, run
from core import Fail, one_line

SCHEMA = 1          # docs/check.md: raised when a key changes meaning or goes
CANNOT = 1          # the exit status when a stage cannot work here


def check(closed, as_json=False):
    from core import hostinfo
    from stages import ORDER
    report = {"schema": SCHEMA, "unc": cli.VERSION, "ok": True,
              "default_stage": ORDER[-1], "stages": []}
    facts = {"kernel": hostinfo.kernel()}
    for name in ORDER:
        stages = cli.select_stages(name)
        stage = stages[-1]
        entry = {"name": name, "ok": False, "runs": False, "summary": None, "error": None}
        attempt = _attempts(name, stages, closed)
        try:
            done, status = attempt(*getattr(stage, "CHECK_OPTIONS", ()))
            entry["runs"] = status == 0
            if status != 0:
                entry["error"] = f"true exited {status}"
            else:
                checked = getattr(stage, "checked", None)
                if checked:
                    entry["summary"] = checked(done, done.states[stage.NAME],
                                               lambda *o: attempt(*o)[1])
                entry["ok"] = True
        except Fail as e:
            entry["error"] = str(e)
        report["stages"].append(entry)
        report["ok"] = report["ok"] and entry["ok"]
        hook = getattr(stage, "facts", None)
        if hook:
            for key, value in hook(lambda *o: attempt(*o)[1]).items():
                if key in facts or key in report:
                    raise RuntimeError(f"stage {name} reports {key!r} again")
                facts[key] = value
    facts["cgroup"] = hostinfo.cgroup()
    facts["seccomp"] = hostinfo.seccomp()
    report.update(facts)
    if as_json:
        import json
        cli.write_out(json.dumps(report, indent=2) + "\n", closed)
    else:
        cli.write_out(table(report, list(facts)), closed)
    return 0 if report["ok"] else CANNOT


def _attempts(name, stages, closed):
    """attempt(OPTION...): a container of these stages with the options,
    running `true`: (its Run, unc's status), or Fail; each outcome kept."""
    outcomes = {}

    def attempt(*options):
        if options not in outcomes:
            argv = [f"--stage={name}", *options, "--", "true"]
            try:
                outcomes[options] = run.container(cli.parse(argv), stages, closed)
            except Fail as e:
                outcomes[options] = e
        outcome = outcomes[options]
        if isinstance(outcome, Fail):
            raise outcome
        return outcome
    return attempt


def table(report, keys):
    """The human form: a line a stage (`ok`, with what it said, or
    `FAILED: why`), then a line a fact with its summary."""
    lines, before = [], None
    for entry in report["stages"]:
        if entry["ok"]:
            verdict = "ok" + (f" ({entry['summary']})" if entry["summary"] else "")
        elif entry["error"] == before:
            verdict = "FAILED: as above"
        else:
            verdict = f"FAILED: {entry['error']}"
        before = entry["error"]
        lines.append(f"{entry['name']:<10}{one_line(verdict)}")
    for key in keys:
        lines.append(f"{key:<9} {one_line(report[key]['summary'])}")
    return "\n".join(lines) + "\n"
