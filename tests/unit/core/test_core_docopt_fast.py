"""core/docopt_fast.py: parse() must read every command line exactly as
docopt() does, while a start loads neither `re`, `typing`, `enum` nor
`collections`."""

import json
import os
import subprocess
import sys

import docopt
import pytest
from hypothesis import given, settings, strategies as st

from core import cli, docopt_fast
from core import Fail

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
USAGE = cli.usage()


def built_module(usage):
    """usage_built.py as build.sh writes it for `usage`, as a module."""
    module = type(sys)("usage_built")
    exec(compile(docopt_fast.source(usage), "usage_built.py", "exec"), vars(module))
    return module


@pytest.fixture
def built(monkeypatch):
    monkeypatch.setitem(sys.modules, "usage_built", built_module(USAGE))


UNMATCHED = "Warning: found unmatched (duplicate?) arguments"


def outcome(parse, argv, fast=False):
    try:
        return sorted(parse(argv).items())
    except docopt.DocoptExit as e:
        if fast and e.left:
            # docopt() says the leftovers' repr() in its message; parse()
            # hands over the objects themselves.
            assert str(e).startswith("unmatched arguments\n")
            return f"DocoptExit: " + f"{UNMATCHED} {e.left}\n{docopt.DocoptExit.usage}".strip()
        if fast:
            assert not str(e).startswith("unmatched")
        return f"DocoptExit: {e}"


def both(argv):
    fast = outcome(lambda a: docopt_fast.parse(USAGE, a, options_first=True), argv, fast=True)
    slow = outcome(lambda a: docopt.docopt(USAGE, a, default_help=False,
                                           options_first=True), argv)
    return fast, slow


def sharing(pattern):
    """Which leaves of the tree are one object: for each leaf in order, the
    position of its first occurrence."""
    first = {}
    return [first.setdefault(id(leaf), i) for i, leaf in enumerate(pattern.flat())]


def test_the_built_reading_is_docopts_reading():
    options, pattern, section = docopt_fast.reading(USAGE)
    options_text = repr(options)
    pattern.fix()
    module = built_module(USAGE)
    built_options, built_pattern = module.grammar()
    assert repr(built_options) == options_text
    assert repr(built_pattern) == repr(pattern)
    assert sharing(built_pattern) == sharing(pattern)
    assert len(set(sharing(pattern))) < len(pattern.flat())     # some are shared
    assert module.USAGE_SECTION == section
    assert "Usage:\n  unc stages\n" in section


def test_parse_uses_the_built_reading(built, monkeypatch):
    # Were the text read again, parse_pattern would run; were the pattern
    # not fixed already, fix() would.
    monkeypatch.setattr(docopt, "parse_pattern", None)
    monkeypatch.setattr(docopt.BranchPattern, "fix", None)
    assert docopt_fast.parse(USAGE, ["--trace", "true"])["--trace"] is True


TOKENS = [
    "--stage=mount", "--stage", "user_pid", "--st=uts", "--hostname=box", "--hostname",
    "--rootfs", "/r", "--rootfs=/r", "-v", "/a:/b:ro", "-v/c:/d", "--volume=/e:/f",
    "--vol", "--tmpfs=/t", "--tmpfs", "--read-only", "--bind-proc", "--net=none",
    "--net", "-p", "8080:80", "-p80:80/udp", "--publish=1:2", "--init", "--trace",
    "--debug", "-h", "--help", "--version", "--ver", "--", "-", "stages", "check",
    "true", "sh", "-c", "exit 3", "--bogus", "-x", "-hv", "", "--=x",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=6)), max_size=8))
def test_parse_agrees_with_docopt_on_any_command_line(argv):
    sys.modules["usage_built"] = built_module(USAGE)
    try:
        fast, slow = both(argv)
    finally:
        del sys.modules["usage_built"]
    assert fast == slow


@pytest.mark.parametrize("argv", [
    [], ["--bogus"], ["--stage"], ["-v"], ["stages", "x"], ["--version", "true"],
    ["--trace", "--trace"], ["-h", "--version"], ["--net=none", "-p", "1:2", "--", "x"],
])
def test_parse_agrees_with_docopt_on_errors_and_edges(built, argv):
    fast, slow = both(argv)
    assert fast == slow


def test_leftover_arguments_are_docopts_objects(built):
    with pytest.raises(docopt.DocoptExit) as e:
        docopt_fast.parse(USAGE, ["--bogus", "--trace", "--trace"], options_first=True)
    assert all(isinstance(item, docopt.Option) for item in e.value.left)
    assert [item.longer for item in e.value.left] == ["--bogus", "--trace"]


def test_a_usage_text_of_another_build_is_read_again(monkeypatch):
    # usage_built.py written for an older usage text: the reading in it
    # would be wrong for this one, so parse() reads the text itself.
    old = USAGE.replace("  --init ", "  --iinit")
    assert old != USAGE
    monkeypatch.setitem(sys.modules, "usage_built", built_module(old))
    assert docopt_fast.parse(USAGE, ["--init", "true"])["--init"] is True


def test_a_reading_by_another_docopt_version_is_not_used(monkeypatch):
    module = built_module(USAGE)
    module.DOCOPT_VERSION = "0.0.1"      # or none, as before it was written
    monkeypatch.setitem(sys.modules, "usage_built", module)
    monkeypatch.setattr(module, "grammar", None)          # would raise if used
    assert docopt_fast.parse(USAGE, ["--init", "true"])["--init"] is True
    assert docopt_fast.built() is None


def test_without_usage_built_parse_reads_the_text(monkeypatch):
    monkeypatch.setitem(sys.modules, "usage_built", None)     # import fails
    assert docopt_fast.built() is None
    assert docopt_fast.parse(USAGE, ["--stage=uts", "true"])["--stage"] == "uts"


def test_built_is_usage_built_when_this_docopt_wrote_it(built):
    module = docopt_fast.built()
    assert module is sys.modules["usage_built"]
    assert module.USAGE == USAGE and module.DOCOPT_VERSION == docopt.__version__


def test_write_writes_the_source_atomically(tmp_path):
    path = str(tmp_path / "usage_built.py")
    docopt_fast.write(USAGE, path)
    assert (tmp_path / "usage_built.py").read_text() == docopt_fast.source(USAGE)
    assert os.listdir(tmp_path) == ["usage_built.py"]          # no .new left
    docopt_fast.write(USAGE.replace("  --init ", "  --iinit"), path)
    assert "--iinit" in (tmp_path / "usage_built.py").read_text()


# In a fresh interpreter, as unc.py starts: the stand-ins installed, then unc.
START = (
    "import sys\n"
    "sys.path[:0] = [{built_dir!r}, {root!r}, {site!r}]\n"
    "from core import docopt_fast\n"
    "docopt_fast.install()\n"
    "import unc\n"
    "from core import cli\n"
    "from core import Fail\n"
    "out = []\n"
    "for argv in {cases!r}:\n"
    "    try:\n"
    "        out.append(sorted(cli.parse(argv).items()))\n"
    "    except Fail as e:\n"
    "        out.append(str(e))\n"
    "real = [m for m in ('re', 'typing', 'enum', 'collections', 'functools')\n"
    "        if m in sys.modules and '__file__' in vars(sys.modules[m])]\n"
    "import json\n"
    "print(json.dumps([out, real]))\n"
)

CASES = [
    [], ["true"], ["--stage=uts", "--hostname", "box", "sh", "-c", "exit 3"],
    ["--trace", "--debug", "--init", "--", "ls", "-l"], ["stages"], ["--version"],
    ["-h"], ["-v", "/a:/b:ro", "--volume=/c:/d", "--tmpfs=/t", "--read-only", "x"],
    ["--bogus", "true"], ["--stage"], ["--stage=mount", "--rootfs=/r", "--bind-proc", "sh"],
    ["-h", "x"], ["-p", "8080:80", "--net=pasta", "true"],
]


def unc_outcome(argv):
    try:
        return [list(item) for item in sorted(cli.parse(argv).items())]
    except Fail as e:
        return str(e)


def start(tmp_path, usage):
    (tmp_path / "usage_built.py").write_text(docopt_fast.source(usage))
    code = START.format(built_dir=str(tmp_path), root=ROOT, cases=CASES,
                        site=os.path.dirname(os.path.dirname(docopt.__file__)))
    # -S: no site module, which imports re itself in a virtualenv; -I, as
    # dist/unc runs.
    out = subprocess.run([sys.executable, "-S", "-I", "-c", code], cwd=tmp_path,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_a_start_parses_without_loading_re_typing_or_enum(tmp_path):
    fast, loaded = start(tmp_path, USAGE)
    assert loaded == []
    assert fast == [unc_outcome(argv) for argv in CASES]
    # ... and reads every command line as docopt-ng with the real modules does:
    # the stand-ins load the real ones when the text must be read again.
    stale, loaded = start(tmp_path, USAGE.replace("  --init ", "  --iinit"))
    assert stale == fast
    assert "re" in loaded


def with_stand_ins(code):
    """The words `code` prints, run in a fresh interpreter after install()."""
    code = "import sys\nfrom core import docopt_fast\ndocopt_fast.install()\n" + code
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    return out.stdout.split()


def test_the_typing_stand_in_hands_over_to_the_real_typing_for_anything_else():
    code = ("from typing import Optional\n"
            "import typing\n"
            "print(typing.__name__, Optional is typing.Optional, type(typing) is type(sys))\n")
    assert with_stand_ins(code) == ["typing", "True", "True"]


def test_the_re_stand_in_becomes_the_real_re_on_first_use():
    code = ("import re\n"
            "stand_in = re\n"
            "print(re.sub('a+', 'b', 'caat'), 'enum' in sys.modules,\n"
            "      type(sys.modules['re']) is type(sys), stand_in.compile is re.compile)\n"
            "import re._parser\n")
    assert with_stand_ins(code) == ["cbt", "True", "True", "True"]
