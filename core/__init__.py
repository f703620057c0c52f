"""The core: how any container starts, whatever its stages put in it.

unc.py is the entry; these modules are the core it calls, one concern each:

    cli.py       the command line: the usage text (the core's options and
                 each stage's OPTIONS), parsing it, `unc stages`, main()
    run.py       one container run: compose the stages, unshare, fork
                 PID 1, hand over, wait, clean up (the hook protocol of
                 stages/__init__.py is called from here and nowhere else)
    signals.py   which signals reach the container and how; wait statuses
    terminal.py  the terminal's foreground and modes
    execvp.py    finding and executing COMMAND as execvp(3) would, and
                 the environment programs unc starts get
    check.py     `unc check`
    init.py      the init of --init (PID 1 of the container)
    errors.py    Fail and the one-line error contract
    docopt_fast.py  docopt-ng's reading of the usage text, done at build time

No module here knows a particular stage: stages are found by name in
stages.ORDER and reached only through their declared hooks.
"""
