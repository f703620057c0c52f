"""`unc check`: start a container at each stage on this host and say how it went.

Used by core/cli.py. Nothing is guessed from settings: each line is a real
container, so a host that passes runs unc. A stage may try itself with
options of its own (CHECK_OPTIONS) and add a few words on what it chose
(its checked hook).
"""

from core import cli, run
from core.errors import FAILED, Fail, one_line


def check(closed):
    from stages import ORDER
    failed = False
    for name in ORDER:
        stages = cli.select_stages(name)
        stage = stages[-1]
        argv = [f"--stage={name}", *getattr(stage, "CHECK_OPTIONS", ()), "--", "true"]
        try:
            done, status = run.container(cli.parse(argv), stages, closed)
            verdict = "ok" if status == 0 else f"FAILED: true exited {status}"
            said = done.hook(stage, "checked")
            if said:
                verdict += f" ({said})"
        except Fail as e:
            verdict = f"FAILED: {e}"
        failed = failed or not verdict.startswith("ok")
        cli.write_out(f"{name:<10}{one_line(verdict)}\n", closed)
    return FAILED if failed else 0
