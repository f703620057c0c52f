"""A Run as core/run.py makes one, for calling a stage's hooks directly."""

import pytest

from core import cli
from core.run import Run


def make_run(*argv):
    """(run, me) for the last stage `argv` selects: the command line parsed
    as unc parses it, every stage's clone flags set and every stage before
    the last prepared, as core.run.container() does; --trace is on."""
    opts = cli.parse(["--trace", *argv, "--", "true"])
    stages = cli.select_stages(opts["--stage"])
    cli.check_stage_options(opts, stages)
    run = Run(opts, stages)
    for stage in stages:
        run.flags |= getattr(stage, "CLONE_FLAGS", 0)
    for stage in stages[:-1]:
        run.hook(stage, "prepare")
    return run, run.states[stages[-1].NAME]


@pytest.fixture
def prepared(capfd):
    """make_run, with what it traced so far dropped."""
    def make(*argv):
        made = make_run(*argv)
        capfd.readouterr()
        return made
    return make


@pytest.fixture
def traced(capfd):
    """The --trace lines written since the last call, without '+ '."""
    def lines():
        return [line[2:] for line in capfd.readouterr().err.splitlines()
                if line.startswith("+ ")]
    return lines
