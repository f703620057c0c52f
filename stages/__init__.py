"""The tutorial's stages, in order. Each builds on the ones before it.

A stage is a module in this package. It says what it adds to the container
and nothing else; the core in unc.py runs the selected stages in order. The
module may define:

    NAME          the stage's name for --stage
    SUMMARY       one line for `unc stages`
    CLONE_FLAGS   the namespaces it adds (kernel.CLONE_NEW*), unshared at once
    OPTIONS       the command-line options it owns; unc refuses them when
                  the stage is not selected
    prepare(run)          in unc, before anything exists: check the options
                          (raise Fail for bad input) and plan the work
    host_setup(run)       in unc on the host, once the namespaces exist and
                          run.pid is the container's PID 1 (as the host sees it)
    container_setup(run)  in the container's PID 1, before the command starts
    cleanup(run)          in unc on the host, after the container has ended
                          or failed; must tolerate a half-done host_setup
    CHECK_OPTIONS, checked(run)
                          for `unc check`: options to try the stage with,
                          and a few words on what it chose

Adding a stage means adding a module and its name to ORDER below; no other
stage changes.
"""

ORDER = ["user_pid", "uts", "mount", "net"]


class Fail(Exception):
    """An error of unc itself: one line for the user, and an exit status.

    The message says what failed and what to do; the core prints it after
    'unc: ' and exits with `status` (125 unless a stage says otherwise).
    """

    def __init__(self, message, status=125):
        super().__init__(message)
        self.status = status
