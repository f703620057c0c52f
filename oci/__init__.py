"""unc as an OCI runtime: runc's command line, which Podman and conmon drive.

A bundle (a directory with config.json and a root filesystem) runs in the
lifecycle of the OCI runtime specification (runtime.md): `create` starts
the container's namespaces and PID 1 and leaves PID 1 waiting, `start`
lets it execute the process, `state` says where it is, `kill` signals it,
`delete` removes what is left. core/cli.py hands such a command line to
cli.main(). The modules, one concern each:

    cli.py       the command line: global options, the verbs, their errors
    state.py     the state root, one directory per container, the state JSON
    config.py    config.json read and checked: what unc supports, what not
    container.py a container's setup as a stage of core/run.py (namespaces
                 to join, id maps, the mount plan, sysctl) and PID 1's wait
    mounts.py    config.json's mounts, masked and read-only paths as
                 operations of the mount plan (mounts/plan.py)
    process.py   the process of config.json or of `exec --process`: user,
                 capabilities, rlimits, environment, then execve
    console.py   --console-socket: a pty whose master goes to the caller
    hooks.py     the lifecycle hooks, with the state JSON on stdin
    exec.py      `exec`: a process that joins a running container
    cgroups.py   as root, linux.resources.pids in a cgroup at cgroupsPath

Nothing here is imported by a plain `unc COMMAND` run.
"""
