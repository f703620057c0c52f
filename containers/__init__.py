"""Containers that outlive the command line: `unc -d`, `unc ps`, `unc exec`,
`unc kill`, `unc stop`, `unc rm`, `unc logs`.

Used by core/cli.py, and imported only for -d/--detach and those commands:
a foreground run imports none of it and writes no state. Its modules:

    state.py    where containers are kept: one directory per container
                under $XDG_RUNTIME_DIR/unc/containers (root: /run/unc/
                containers), named by its id, with state.json written
                atomically, a lock, the log, the exec socket; the names
                index; whether a recorded process still lives
    monitor.py  -d: the unc process that ran the container stays as its
                monitor (detached, its output in the log), records the
                exit status, and serves `unc exec` on a unix socket
    enter.py    in the monitor, for one `unc exec`: join every namespace
                of the container with setns(2) and run the command there
                with the settings (core/execvp.py) a run's command gets
    cli.py      the commands: their options, exec's client side (its
                descriptors passed with SCM_RIGHTS, signals forwarded,
                a pty relayed with -t), ps, kill, stop, rm, logs
"""
