#!/usr/bin/python
# -*- coding: utf-8 -*-
"""unc.containers.unc_run: run a command in a container with unc."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: unc_run
short_description: Run a command in an unprivileged container with unc
description:
  - Runs a command in a new container with C(unc), as the user the task runs
    as (no root needed), and returns its exit status, stdout and stderr.
  - Every option of C(unc) for a run is an argument of this module, named
    like the option (C(--map-auto) is O(map_auto), C(-v) is O(volumes)).
  - A run changes something, as M(ansible.builtin.command) does, unless
    O(creates) or O(removes) say it has nothing to do, or the command never
    ran (unc failed, or could not execute or find it).
  - "When unc itself fails (exit status 125), or cannot execute or find the
    command (126, 127), the failure message is unc's own line, e.g.
    C(unc: cannot create the container's namespaces: user namespaces are
    disabled: sysctl user.max_user_namespaces is 0; ...)."
version_added: "0.1.0"
author: unc developers (@unc)
options:
  argv:
    description:
      - The command and its arguments, as a list. Without O(argv) and
        O(cmd), the container runs the user's C(SHELL), which makes little
        sense here.
    type: list
    elements: str
  cmd:
    description:
      - The command as one string, split as a shell splits words (no shell
        features). Use O(argv) for anything with quotes.
    type: str
  stdin:
    description: Data given to the command on its standard input.
    type: str
  creates:
    description: A path on the host; when it exists, nothing is run.
    type: path
  removes:
    description: A path on the host; when it does not exist, nothing is run.
    type: path
  unc:
    description:
      - The C(unc) binary. Default C(/usr/local/bin/unc), where the role
        P(unc.containers.install#role) puts it, else C(unc) on C(PATH).
    type: str
  stage:
    description: C(--stage), how far the container goes.
    type: str
    choices: [user_pid, uts, mount, net, harden]
  user:
    description: C(--user), USER[:GROUP] to run the command as.
    type: str
  env:
    description:
      - C(--env), variables for the command. A null value takes the
        variable from unc's own environment, or unsets it.
    type: dict
    default: {}
  env_files:
    description: C(--env-file), files of NAME=VALUE lines.
    type: list
    elements: str
    default: []
  clearenv:
    description: C(--clearenv), start from an empty environment.
    type: bool
    default: false
  workdir:
    description: C(--workdir), the directory the command runs in.
    type: str
  init:
    description: C(--init), a small init as PID 1.
    type: bool
    default: false
  quiet:
    description: C(--quiet), no warnings of unc's own.
    type: bool
    default: false
  trace:
    description: C(--trace), every kernel step on stderr.
    type: bool
    default: false
  map_root_user:
    description: C(--map-root-user), map only yourself (the default).
    type: bool
    default: false
  map_auto:
    description: C(--map-auto), also map your subordinate ids.
    type: bool
    default: false
  map_users:
    description: C(--map-users), INNER:OUTER:COUNT ranges of user ids.
    type: list
    elements: str
    default: []
  map_groups:
    description: C(--map-groups), INNER:OUTER:COUNT ranges of group ids.
    type: list
    elements: str
    default: []
  map_user:
    description: C(--map-user), the user id you are inside.
    type: str
  map_group:
    description: C(--map-group), the group id you are inside.
    type: str
  hostname:
    description: C(--hostname), the container's hostname.
    type: str
  rootfs:
    description: C(--rootfs), the root filesystem (default the host's, read-only).
    type: path
  image:
    description: C(--image), an image of the user's store (C(unc images)) as the root filesystem, with a fresh writable layer.
    type: str
  persist:
    description: C(--persist), with O(image), the directory that keeps the writable layer.
    type: path
  volumes:
    description: C(--volume), bind mounts SRC:DST[:ro|:rw].
    type: list
    elements: str
    default: []
  tmpfs:
    description: C(--tmpfs), empty tmpfs mounts.
    type: list
    elements: str
    default: []
  read_only:
    description: C(--read-only), a read-only root filesystem.
    type: bool
    default: false
  bind_proc:
    description: C(--bind-proc), bind the host's /proc when a fresh one is refused.
    type: bool
    default: false
  net:
    description: C(--net), the network mode.
    type: str
    choices: [auto, none, slirp4netns, pasta, bridge, host]
  publish:
    description: C(--publish), ports [IP:]HOSTPORT:CONTAINERPORT[/tcp|/udp].
    type: list
    elements: str
    default: []
  cap_add:
    description: C(--cap-add), capabilities added to Docker's default 14 (or ALL).
    type: list
    elements: str
    default: []
  cap_drop:
    description: C(--cap-drop), capabilities dropped from the set (or ALL).
    type: list
    elements: str
    default: []
  seccomp:
    description: C(--seccomp), V(unconfined) or a seccomp profile file in Docker's JSON format.
    type: str
  ulimits:
    description: C(--ulimit), resource limits NAME=SOFT[:HARD] (Docker's names).
    type: list
    elements: str
    default: []
  pids_limit:
    description: C(--pids-limit), at most this many processes (a delegated cgroup v2).
    type: str
  memory:
    description: C(--memory), at most this much memory, such as V(512m) (a delegated cgroup v2).
    type: str
  cpus:
    description: C(--cpus), at most this many CPUs' time, such as V(1.5) (a delegated cgroup v2).
    type: str
  preserve_fds:
    description: C(--preserve-fds), pass file descriptors 3 to N+2 to the command too.
    type: str
  privileged:
    description: C(--privileged), turn the hardening defaults off (needed to run unc inside).
    type: bool
    default: false
notes:
  - Supports check mode; it then runs nothing and reports a change unless
    O(creates) or O(removes) say there would be none.
  - unc options not listed here (C(--json-status-fd), C(--debug)) concern
    supervisors and debugging, not a task.
seealso:
  - module: unc.containers.unc_check
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
"""

EXAMPLES = r"""
- name: A container writes a file once, with subordinate ids mapped
  unc.containers.unc_run:
    argv: [sh, -c, "hostname > /out/hello && id -u >> /out/hello"]
    hostname: hello
    map_auto: true
    volumes: ["{{ ansible_env.HOME }}/out:/out"]
    creates: "{{ ansible_env.HOME }}/out/hello"

- name: Build in a Debian root, with the network, as the user builder
  unc.containers.unc_run:
    cmd: make -C /src
    rootfs: /srv/roots/debian
    map_auto: true
    user: builder
    net: auto
    volumes: ["/srv/src:/src"]
"""

RETURN = r"""
rc:
  description: unc's exit status (the command's own, 128+N for signal N, or 125-127).
  returned: when the container ran
  type: int
stdout:
  description: The command's standard output.
  returned: when the container ran
  type: str
stderr:
  description: The command's standard error, with unc's own line when it failed.
  returned: when the container ran
  type: str
stdout_lines:
  description: RV(stdout) split into lines.
  returned: when the container ran
  type: list
  elements: str
stderr_lines:
  description: RV(stderr) split into lines.
  returned: when the container ran
  type: list
  elements: str
cmd:
  description: The unc command line that was (or would be) run.
  returned: always
  type: list
  elements: str
unc_error:
  description: unc's own error line (starting C(unc:)), or null.
  returned: when the container ran
  type: str
msg:
  description: Why the task failed, or was skipped.
  returned: on failure, or when O(creates) or O(removes) said to do nothing
  type: str
"""

import os
import shlex

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.unc.containers.plugins.module_utils.unc import (
    ARGUMENT_SPEC, CANNOT_EXECUTE, FAILED, NOT_FOUND, failure_message, find_unc, option_argv,
    unc_line)


def main():
    spec = dict(
        argv=dict(type="list", elements="str"),
        cmd=dict(type="str"),
        stdin=dict(type="str"),
        creates=dict(type="path"),
        removes=dict(type="path"),
        unc=dict(type="str"),
    )
    spec.update(ARGUMENT_SPEC)
    module = AnsibleModule(argument_spec=spec, mutually_exclusive=[("argv", "cmd")],
                           supports_check_mode=True)
    p = module.params
    command = p["argv"] if p["argv"] is not None else (
        shlex.split(p["cmd"]) if p["cmd"] is not None else [])
    unc = find_unc(p["unc"]) or p["unc"] or "unc"
    argv = [unc] + option_argv(p) + ["--"] + command

    if p["creates"] and os.path.exists(p["creates"]):
        module.exit_json(changed=False, cmd=argv, rc=0, stdout="", stderr="",
                         msg="%s exists: nothing to run" % p["creates"])
    if p["removes"] and not os.path.exists(p["removes"]):
        module.exit_json(changed=False, cmd=argv, rc=0, stdout="", stderr="",
                         msg="%s does not exist: nothing to run" % p["removes"])
    if module.check_mode:
        module.exit_json(changed=True, cmd=argv, msg="check mode: the container would run")
    if find_unc(p["unc"]) is None:
        module.fail_json(cmd=argv, msg="unc is not installed here (%s); install it with the "
                         "role unc.containers.install" % (p["unc"] or "/usr/local/bin/unc"))

    rc, out, err = module.run_command(argv, data=p["stdin"], binary_data=p["stdin"] is None,
                                      check_rc=False)
    # A container that never ran its command (unc failed, or the command
    # could not be executed or found) changed nothing.
    ran = rc not in (FAILED, CANNOT_EXECUTE, NOT_FOUND) or unc_line(err) is None
    result = dict(changed=ran, cmd=argv, rc=rc, stdout=out, stderr=err,
                  stdout_lines=out.splitlines(), stderr_lines=err.splitlines(),
                  unc_error=unc_line(err))
    if rc != 0:
        module.fail_json(msg=failure_message(rc, err), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
