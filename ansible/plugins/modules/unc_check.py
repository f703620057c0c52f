#!/usr/bin/python
# -*- coding: utf-8 -*-
"""unc.containers.unc_check: what unc can do on a host, as facts."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: unc_check
short_description: Gather what unc can do on a host, as facts
description:
  - Runs C(unc check --json) as the user the task runs as, which starts a
    container at each of unc's stages and looks at what the host offers,
    and returns its report as the fact C(unc_check).
  - The report's keys are documented in unc's C(docs/check.md) (schema 1),
    C(ok), C(stages), C(kernel), C(userns) (with the C(setting) that
    refuses user namespaces, when one does), C(subids), C(overlayfs),
    C(tun), C(pasta), C(slirp4netns), C(cgroup), C(seccomp).
  - It changes nothing. By default it does not fail when a stage cannot
    work; O(must_work=true) makes it fail then, with unc's own message.
version_added: "0.1.0"
author: unc developers (@unc)
options:
  must_work:
    description:
      - Fail when unc cannot run a container here (C(unc check) exits 1),
        with the message of the first stage that cannot work.
    type: bool
    default: false
  unc:
    description:
      - The C(unc) binary. Default C(/usr/local/bin/unc), where the role
        P(unc.containers.install#role) puts it, else C(unc) on C(PATH).
    type: str
notes:
  - Supports check mode, in which it runs as well (it changes nothing);
    where unc is not installed yet, check mode skips it.
  - It takes about half a second.
seealso:
  - module: unc.containers.unc_run
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  facts:
    description: Action returns an C(ansible_facts) dictionary that will update existing host facts.
    support: full
"""

EXAMPLES = r"""
- name: What unc can do here
  unc.containers.unc_check:

- name: Say why containers cannot run here
  ansible.builtin.debug:
    msg: "{{ ansible_facts.unc_check.userns.error }}"
  when: not ansible_facts.unc_check.userns.allowed

- name: Stop here unless containers run
  unc.containers.unc_check:
    must_work: true
"""

RETURN = r"""
ansible_facts:
  description: Facts added.
  returned: when unc check ran
  type: dict
  contains:
    unc_check:
      description: The report of C(unc check --json), as documented in docs/check.md.
      type: dict
      sample: {"schema": 1, "ok": true, "default_stage": "net",
               "userns": {"allowed": true, "setting": null}}
ok:
  description: Whether unc can run a container here (C(unc check) exited 0).
  returned: when unc check ran
  type: bool
rc:
  description: The exit status of C(unc check) (0, 1, or 125 when unc failed).
  returned: when unc check ran
  type: int
summary:
  description: The human table of C(unc check), one line a stage or fact.
  returned: when unc check ran
  type: list
  elements: str
msg:
  description: Why it failed, or was skipped.
  returned: on failure or skip
  type: str
"""

import json

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.unc.containers.plugins.module_utils.unc import find_unc, unc_line


def table(report):
    """The lines of unc check's human table, from its JSON."""
    lines = []
    for stage in report.get("stages", []):
        verdict = ("ok" + (" (%s)" % stage["summary"] if stage.get("summary") else "")
                   if stage.get("ok") else "FAILED: %s" % stage.get("error"))
        lines.append("%-10s%s" % (stage["name"], verdict))
    for key, value in report.items():
        if isinstance(value, dict) and "summary" in value:
            lines.append("%-9s %s" % (key, value["summary"]))
    return lines


def main():
    module = AnsibleModule(argument_spec=dict(must_work=dict(type="bool", default=False),
                                              unc=dict(type="str")),
                           supports_check_mode=True)
    unc = find_unc(module.params["unc"])
    if unc is None:
        where = module.params["unc"] or "/usr/local/bin/unc"
        msg = ("unc is not installed here (%s); install it with the role "
               "unc.containers.install" % where)
        if module.check_mode:
            module.exit_json(changed=False, skipped=True, msg=msg)
        module.fail_json(msg=msg)
    rc, out, err = module.run_command([unc, "check", "--json"], check_rc=False)
    if rc not in (0, 1):
        module.fail_json(rc=rc, stdout=out, stderr=err,
                         msg=unc_line(err) or "unc check failed with status %d" % rc)
    try:
        report = json.loads(out)
    except ValueError as e:
        module.fail_json(rc=rc, stdout=out, stderr=err,
                         msg="unc check --json printed no JSON: %s" % e)
    # failed=False: Ansible takes a result with a non-zero rc for a failure.
    result = dict(changed=False, failed=False, rc=rc, ok=rc == 0, summary=table(report),
                  ansible_facts=dict(unc_check=report))
    if rc != 0 and module.params["must_work"]:
        failed = [s for s in report.get("stages", []) if not s.get("ok")]
        first = failed[0] if failed else {"name": "?", "error": "unc check exited 1"}
        result["failed"] = True
        module.fail_json(msg="unc: %s: %s" % (first["name"], first["error"]), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
