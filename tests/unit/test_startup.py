"""What a start imports: every module costs time on every container start
(bench/README.md), so the start-up path imports only what the run needs."""

import json
import os
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def imported_stages(argv, stage):
    """The stage modules loaded by parsing `argv` and checking its options
    against `stage`, in a fresh interpreter."""
    code = (
        "import json, sys, unc\n"
        f"unc.check_stage_options(unc.parse({argv!r}), unc.select_stages({stage!r}))\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('stages.'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout)


def test_an_early_stage_does_not_import_the_later_ones():
    assert imported_stages(["--stage=user_pid", "--trace", "true"], "user_pid") == \
        ["stages.user_pid"]


def test_an_option_of_an_unselected_stage_imports_them_to_name_its_stage():
    code = (
        "import unc\n"
        "from stages import Fail\n"
        "try:\n"
        "    unc.check_stage_options(unc.parse(['--stage=user_pid', '--hostname=x', 'true']),\n"
        "                            unc.select_stages('user_pid'))\n"
        "except Fail as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "--hostname needs --stage=uts or a later stage"


PARSE = (
    "import json, sys\n"
    "{setup}"
    "import unc\n"
    "from stages import Fail\n"
    "out = []\n"
    "for argv in {cases!r}:\n"
    "    try:\n"
    "        out.append(sorted(unc.parse(argv).items()))\n"
    "    except Fail as e:\n"
    "        out.append(str(e))\n"
    "print(json.dumps([out, type(sys.modules['typing']).__name__,\n"
    "                  sys.modules['typing'].__name__]))\n"
)

CASES = [
    [], ["true"], ["--stage=uts", "--hostname", "box", "sh", "-c", "exit 3"],
    ["--trace", "--debug", "--init", "--", "ls", "-l"], ["stages"], ["--version"],
    ["-h"], ["-v", "/a:/b:ro", "--volume=/c:/d", "--tmpfs=/t", "--read-only", "x"],
    ["--bogus", "true"], ["--stage"], ["--stage=mount", "--rootfs=/r", "--bind-proc", "sh"],
]


def parse_all(setup):
    code = PARSE.format(setup=setup, cases=CASES)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout)


def test_typing_lite_parses_every_command_line_as_the_real_typing_does():
    lite, _, lite_module = parse_all("import typing_lite; typing_lite.install()\n")
    real, _, real_module = parse_all("import typing\n")
    assert lite == real
    assert real_module == "typing"
    # docopt-ng took nothing from typing that typing_lite lacks: the real
    # module was never loaded, so the saving is there.
    assert lite_module == "typing_lite"


def test_typing_lite_hands_over_to_the_real_typing_for_anything_else():
    code = ("import sys, typing_lite\n"
            "typing_lite.install()\n"
            "from typing import Optional\n"
            "import typing\n"
            "print(typing.__name__, Optional is typing.Optional)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.split() == ["typing", "True"]
