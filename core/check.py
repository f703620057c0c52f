"""`unc check`: start a container at each stage on this host and say how it went.

Used by core/cli.py. Nothing is guessed from settings: each line is a real
container, so a host that passes runs unc. A stage may try itself with
options of its own (CHECK_OPTIONS), then try more containers with other
options and say what they showed, or fail the stage (its checked hook,
given attempt(OPTION...), which runs one and returns its status).
"""

from core import cli, run
from core import FAILED, Fail, one_line


def check(closed):
    from stages import ORDER
    failed = False
    for name in ORDER:
        stages = cli.select_stages(name)
        stage = stages[-1]

        def attempt(*options):
            argv = [f"--stage={name}", *options, "--", "true"]
            return run.container(cli.parse(argv), stages, closed)
        try:
            done, status = attempt(*getattr(stage, "CHECK_OPTIONS", ()))
            verdict = "ok" if status == 0 else f"FAILED: true exited {status}"
            checked = getattr(stage, "checked", None)
            if checked and status == 0:
                said = checked(done, done.states[stage.NAME], lambda *o: attempt(*o)[1])
                if said:
                    verdict += f" ({said})"
        except Fail as e:
            verdict = f"FAILED: {e}"
        failed = failed or not verdict.startswith("ok")
        cli.write_out(f"{name:<10}{one_line(verdict)}\n", closed)
    return FAILED if failed else 0
