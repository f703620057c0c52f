"""The Ansible collection (ansible/) against unc itself: unc_run has an
argument for every option of a run, of the right kind, and says unc's own
line when unc fails. (The modules run for real in tests/bats/ansible*.bats.)"""

import importlib.util
import os

from core import cli
from stages import ORDER, net

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def load(path):
    spec = importlib.util.spec_from_file_location("unc_module_utils", os.path.join(ROOT, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


unc = load("ansible/plugins/module_utils/unc.py")


def usage_options():
    """{long option: takes an argument} of every option line of the usage."""
    found = {}
    for line in cli.usage().splitlines():
        if line.startswith("  -"):
            spec = line.strip().split("  ")[0]
            parts = [p.replace("=", " ").partition(" ") for p in spec.split(", ")]
            longs = [p for p in parts if p[0].startswith("--")]
            flag, _, arg = (longs or parts)[0]
            found[flag] = bool(arg or parts[0][2])
    return found


def test_every_option_of_a_run_is_an_argument_of_unc_run():
    options = usage_options()
    covered = {option for option, _ in unc.OPTIONS.values()}
    assert covered | set(unc.NOT_ARGUMENTS) == set(options), \
        set(options) ^ (covered | set(unc.NOT_ARGUMENTS))
    assert not covered & set(unc.NOT_ARGUMENTS)
    for name, (option, kind) in unc.OPTIONS.items():
        assert (kind != "flag") == options[option], (name, option)
        assert name == option.lstrip("-").replace("-", "_") or kind in ("list", "env"), name


def test_repeatable_options_are_lists():
    usage = cli.usage()
    for name, (option, kind) in unc.OPTIONS.items():
        if kind in ("list", "env"):
            short = {"--volume": "-v SPEC", "--publish": "-p SPEC", "--env": "-e NAME"}
            pattern = short.get(option, option)
            assert f"[{pattern}" in usage, option


def test_choices_are_unc_s():
    assert unc.ARGUMENT_SPEC["stage"]["choices"] == ORDER
    assert sorted(unc.ARGUMENT_SPEC["net"]["choices"]) == sorted(net.MODES)


def test_option_argv():
    params = {name: None for name in unc.OPTIONS}
    params.update(map_auto=True, volumes=["/a:/b", "/c:/d:ro"], env={"B": "2", "A": None},
                  hostname="box", net="none", init=False)
    assert unc.option_argv(params) == ["--env=A", "--env=B=2", "--map-auto", "--hostname=box",
                                       "--volume=/a:/b", "--volume=/c:/d:ro", "--net=none"]
    # What it makes, unc parses.
    argv = unc.option_argv(params)
    opts = cli.parse(argv + ["--", "true"])
    assert opts["--map-auto"] and opts["--volume"] == ["/a:/b", "/c:/d:ro"]
    assert opts["--env"] == ["A", "B=2"] and opts["--hostname"] == "box"


def test_failure_messages():
    err = "some output\nunc: cannot create the container's namespaces: why\n"
    assert unc.unc_line(err) == "unc: cannot create the container's namespaces: why"
    assert unc.failure_message(125, err) == unc.unc_line(err)
    assert unc.failure_message(127, "unc: x: command not found\n") == "unc: x: command not found"
    # A command's own status, even with a line that looks like unc's.
    assert unc.failure_message(1, "unc: said by the command\n") == \
        "the command exited with status 1"
    assert unc.failure_message(143, "") == "the command died from signal 15 (exit status 143)"
    assert unc.unc_line("") is None and unc.unc_line(None) is None


def test_find_unc(tmp_path):
    program = tmp_path / "unc"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    assert unc.find_unc(str(program)) == str(program)
    assert unc.find_unc(str(tmp_path / "none")) is None
    found = unc.find_unc(None, {"PATH": str(tmp_path)})
    assert found in (unc.DEFAULT_PATH, str(program))
