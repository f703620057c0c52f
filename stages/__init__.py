"""The tutorial's stages, in order. Each builds on the ones before it.

A stage is a module in this package: a lesson (its docstring) and the few
calls that are its step. The machinery it needs lives beneath it, in
packages named for what they hold (mounts/, network/, identity/, images/,
security/).
The core (core/run.py)
runs the selected stages in ORDER through the protocol below and knows
nothing else of them.

What a stage module may define (all optional but NAME and SUMMARY):

    NAME          the stage's name for --stage
    SUMMARY       one line for `unc stages` and `unc --help`
    CLONE_FLAGS   the namespaces it adds (kernel.CLONE_NEW*); the core
                  unshares them all at once
    OPTIONS       its part of `unc --help`: option lines in docopt's form.
                  The core's usage text is composed of these, and unc
                  refuses a stage's option when the stage is not selected.
    REPEATABLE    usage patterns of its options that may be given more than
                  once, e.g. ("-v SPEC",)
    State         a class: what the stage keeps for one run. The core makes
                  one per run and passes it to each hook as `me`.

Hooks, each called as hook(run, me):

    prepare           in unc, before anything exists: check the options
                      (raise core.Fail for bad input) and plan the work
    host_setup        in unc on the host, once the namespaces exist and
                      run.pid is the container's PID 1 (as the host sees it)
    container_setup   in the container's PID 1, before the command starts
    command_setup     in the process about to exec the command, inside the
                      container (PID 1 after every container_setup, or a
                      process `unc exec` put into a running container),
                      before the command's own settings (-u, -e, -w:
                      core/execvp.py, start) are applied: what needs the
                      process to be root still (the capability bounding
                      set, rlimits)
    command_exec      in the same process after those settings, the last
                      step before execve(2): what must hold for the command
                      itself (capability sets, no_new_privs, closing
                      descriptors, the seccomp filter). With --init both run
                      in PID 1 before it forks the command, so init and the
                      command share them. A stage must leave unc's report
                      pipe (close-on-exec) working: exec failures still
                      reach unc as 126 and 127.
    status            in unc on the host, with --json-status-fd, once the
                      command runs: a dict of JSON values that unc merges
                      into the object it writes then (core/status.py), under
                      keys no other stage uses (net: "net" and "ports")
    cleanup           in unc on the host, after the container has ended or
                      failed; must tolerate a host_setup that got halfway
    checked           for `unc check`, after a run with its CHECK_OPTIONS (a
                      tuple of options), called as checked(run, me, attempt):
                      a few words on what works, for which the stage may try
                      more containers (attempt(OPTION...) returns one's
                      status), or Fail to fail the stage

and those that take no state:

    unshare_refused(err)   unshare(2) failed with OSError `err`: a sentence
                           on why, if the stage knows (the first one wins)
    facts(attempt)         for `unc check`, whether or not the stage's own
                           container ran: what the host offers the stage, a
                           dict of entries (JSON values, each a dict with a
                           "summary" line for the table) under top-level
                           keys that docs/check.md documents and no other
                           stage uses; attempt as for checked, which has
                           run each container once at most

What a stage reads of the run: run.opts (the parsed command line),
run.argv (COMMAND), run.pid, run.trace(message) for --trace.

What one stage may change of another's work goes through the run and
nowhere else, and only in prepare; after it, every hook only reads them:

    run.flags   the clone flags, the OR of every stage's CLONE_FLAGS. A
                stage may clear a flag it added itself (net --net=host
                drops CLONE_NEWNET); later hooks see what is unshared.
    run.plan    the mount plan (mounts/plan.py), made by the stage that
                builds the root (mount), None before. A later stage adds
                operations with run.plan.add(); they run in the order added,
                before the root changes. run.plan.user_mount_over(path)
                says whether the user's own mounts cover a path.
    run.process the command's settings (core/execvp.py, Settings). The
                stage that gives the container an image's root (mount,
                --image) sets the image's defaults with
                run.process.image_defaults(env, workdir, user, entrypoint,
                cmd); the command line wins over them.

Adding a stage means adding a module and its name to ORDER below; no other
stage and nothing in the core changes.
"""

ORDER = ["user_pid", "uts", "mount", "net", "harden"]
