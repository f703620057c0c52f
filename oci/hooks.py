"""The lifecycle hooks of config.json (runtime.md, "Lifecycle"; config.md,
"POSIX-platform Hooks").

Used by container.py (createRuntime and prestart, from unc on the host
once the namespaces exist and before the container's root changes) and
cli.py (poststart after `start` released the process, poststop at
`delete`). Each hook is a program on the host: path, args, env and an
optional timeout in seconds; it gets the container's state JSON on stdin.
A failing createRuntime or prestart hook fails `create`; poststart and
poststop failures are reported and do not change the outcome, as the
specification says.
"""

import json
import os
import time

from core import Fail

DEFAULT_TIMEOUT = 60


def run_one(hook, state, kind, before=None):
    r, w = os.pipe()
    args = hook.get("args") or [hook["path"]]
    env = dict(e.split("=", 1) for e in hook.get("env") or [] if "=" in e)
    pid = os.fork()
    if pid == 0:
        try:
            if before:
                before()
            os.close(w)
            os.dup2(r, 0)
            null = os.open("/dev/null", os.O_WRONLY)
            os.dup2(null, 1)          # unc prints nothing on stdout of its own
            os.execve(hook["path"], args, env)
        except OSError as e:
            os.write(2, f"unc: {kind} hook {hook['path']}: {e.strerror}\n".encode())
        os._exit(127)
    os.close(r)
    try:
        os.write(w, json.dumps(state).encode())
    except BrokenPipeError:
        pass                          # a hook need not read its stdin
    os.close(w)
    deadline = time.monotonic() + (hook.get("timeout") or DEFAULT_TIMEOUT)
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            return f"{kind} hook {hook['path']} timed out"
        time.sleep(0.005)
    if os.waitstatus_to_exitcode(status) != 0:
        return (f"{kind} hook {hook['path']} failed with status "
                f"{os.waitstatus_to_exitcode(status)}")
    return None


def run_all(hooks, kinds, state, trace, fatal=True, before=None):
    """Run the hooks of `kinds` in order; `before`: called in each hook's
    process before it executes."""
    for kind in kinds:
        for hook in hooks.get(kind) or []:
            trace(f"{kind} hook {hook.get('path')}")
            problem = run_one(hook, state, kind, before)
            if problem and fatal:
                raise Fail(problem)
            if problem:
                os.write(2, f"unc: warning: {problem}\n".encode())
