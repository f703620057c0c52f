# -*- coding: utf-8 -*-
"""A stdout callback for the Ansible tests: every task's result on every
host, and the recap, as one JSON object at the end (what ansible.posix's
json callback gives, which ansible-core does not ship):

    {"plays": [{"play": {"name": ...},
                "tasks": [{"task": {"name": ..., "seconds": ...},
                           "hosts": {HOST: RESULT}}]}],
     "stats": {HOST: {"ok": N, "changed": N, "failures": N, ...}}}

tests/bats/ansible_helpers.bash enables it (ANSIBLE_STDOUT_CALLBACK).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: unc_results
type: stdout
short_description: Task results and the recap as one JSON object, for tests
description: Task results and the recap as one JSON object, for unc's tests.
"""

import json
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "unc_results"

    def __init__(self):
        super(CallbackModule, self).__init__()
        self.plays = []

    def v2_playbook_on_play_start(self, play):
        self.plays.append({"play": {"name": play.get_name()}, "tasks": []})

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.plays[-1]["tasks"].append({"task": {"name": task.get_name()}, "hosts": {}})
        self.started = time.monotonic()

    def _record(self, result, **extra):
        data = dict(result._result)
        data.update(extra)
        task = self.plays[-1]["tasks"][-1]
        task["hosts"][result._host.get_name()] = data
        # Until its last host's result: how long the task took.
        task["task"]["seconds"] = round(time.monotonic() - self.started, 2)

    def v2_runner_on_ok(self, result):
        self._record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, failed=True)

    def v2_runner_on_skipped(self, result):
        self._record(result, skipped=True)

    def v2_runner_on_unreachable(self, result):
        self._record(result, unreachable=True)

    def v2_playbook_on_stats(self, stats):
        hosts = sorted(stats.processed)
        self._display.display(json.dumps({
            "plays": self.plays,
            "stats": {h: stats.summarize(h) for h in hosts},
        }, indent=1, default=str))
