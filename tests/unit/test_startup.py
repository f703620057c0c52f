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
