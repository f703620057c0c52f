"""core/run.py: the Run a container's stages share, and how hooks are called."""

import pytest

from core import cli
from core.run import Run


def test_trace_writes_to_stderr_only_when_asked(capfd):
    Run({"--trace": True}, []).trace("unshare(CLONE_NEWUSER)")
    Run({"--trace": False}, []).trace("hidden")
    out, err = capfd.readouterr()
    assert out == ""
    assert err == "+ unshare(CLONE_NEWUSER)\n"


def test_run_starts_with_no_signal_state():
    run = Run({}, [])
    assert run.ignored == frozenset() and run.killed_by == 0 and not run.signaled
    assert not run.reaped


def test_run_reads_the_command_line():
    opts = cli.parse(["--trace", "--debug", "sh", "-c", "true"])
    run = Run(opts, cli.select_stages(None))
    assert run.opts is opts and run.argv == ["sh", "-c", "true"]
    assert run.tracing and run.debug
    assert run.pid is None and run.plan is None and run.flags == 0
    assert Run(cli.parse([]), []).argv == []


def test_each_stage_gets_a_state_of_its_own():
    stages = cli.select_stages(None)
    run = Run(cli.parse(["true"]), stages)
    assert list(run.states) == [s.NAME for s in stages]
    for stage in stages:
        assert isinstance(run.states[stage.NAME], stage.State)
    assert len({id(s) for s in run.states.values()}) == len(stages)


def test_run_declares_its_attributes():
    # A stage keeps its own in its State, not on the run.
    run = Run({}, [])
    with pytest.raises(AttributeError):
        run.net_mode = "none"


def test_hook_calls_a_stage_with_the_run_and_its_state():
    calls = []

    class Stage:
        NAME = "fake"

        class State:
            pass

        @staticmethod
        def prepare(run, me):
            calls.append((run, me))
            return "prepared"

    run = Run({}, [Stage])
    assert run.hook(Stage, "prepare") == "prepared"
    assert calls == [(run, run.states["fake"])]
    assert run.hook(Stage, "cleanup") is None        # no such hook: nothing


def test_a_stage_without_state_gets_none():
    seen = []

    class Stage:
        NAME = "plain"
        container_setup = staticmethod(lambda run, me: seen.append(me))

    run = Run({}, [Stage])
    run.hook(Stage, "container_setup")
    assert run.states == {"plain": None} and seen == [None]
