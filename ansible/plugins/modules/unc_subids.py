#!/usr/bin/python
# -*- coding: utf-8 -*-
"""unc.containers.unc_subids: a user's subordinate id ranges."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: unc_subids
short_description: Give a user subordinate uids and gids, for unc --map-auto
description:
  - Makes sure a user has a range in C(/etc/subuid) and in C(/etc/subgid)
    (lines C(NAME:START:COUNT), subuid(5)), as C(usermod --add-subuids) and
    C(--add-subgids) would add them. C(newuidmap) and C(newgidmap) (Debian
    package C(uidmap)) read them for C(unc --map-auto), rootless Podman and
    C(unshare --map-auto).
  - A user who has a range in a file (by name or by uid) keeps it, and that
    file is not changed. Otherwise a range of O(count) ids is added, from
    O(start), or from the first multiple of 65536 above 100000 that no
    range of either file uses (the same start in both files).
version_added: "0.1.0"
author: unc developers (@unc)
options:
  user:
    description: The user's name.
    type: str
    required: true
  count:
    description: How many ids a new range has.
    type: int
    default: 65536
  start:
    description:
      - The first id of a new range. It must not overlap another user's
        range. Inside a container whose own map is small, choose one that
        map covers.
    type: int
notes:
  - Supports check mode.
  - Needs root (become).
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
"""

EXAMPLES = r"""
- name: alice may run unc --map-auto
  unc.containers.unc_subids:
    user: alice
  become: true
"""

RETURN = r"""
uid_ranges:
  description: The user's ranges in /etc/subuid afterwards, as {start, count}.
  returned: always
  type: list
  elements: dict
gid_ranges:
  description: The user's ranges in /etc/subgid afterwards, as {start, count}.
  returned: always
  type: list
  elements: dict
"""

import os
import pwd
import tempfile

from ansible.module_utils.basic import AnsibleModule

FILES = (("uid", "/etc/subuid"), ("gid", "/etc/subgid"))
FIRST = 100000           # login.defs SUB_UID_MIN
BLOCK = 65536            # login.defs SUB_UID_COUNT


def entries(text):
    """(owner, start, count) of each valid line, as shadow reads them."""
    found = []
    for line in text.splitlines():
        fields = line.strip().split(":")
        if len(fields) == 3 and fields[0] and not fields[0].startswith("#"):
            try:
                start, count = int(fields[1]), int(fields[2])
            except ValueError:
                continue
            if count > 0:
                found.append((fields[0], start, count))
    return found


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except IOError:
        return ""


def main():
    module = AnsibleModule(argument_spec=dict(user=dict(type="str", required=True),
                                              count=dict(type="int", default=BLOCK),
                                              start=dict(type="int")),
                           supports_check_mode=True)
    user = module.params["user"]
    count = module.params["count"]
    start = module.params["start"]
    try:
        owners = (user, str(pwd.getpwnam(user).pw_uid))
    except KeyError:
        module.fail_json(msg="no user %s on this host" % user)
    texts = {kind: read(path) for kind, path in FILES}
    parsed = {kind: entries(texts[kind]) for kind in texts}
    lacking = [kind for kind in texts if not any(e[0] in owners for e in parsed[kind])]
    if lacking:
        everyone = [e for kind in texts for e in parsed[kind]]
        if start is None:
            top = max([s + n for owner, s, n in everyone] + [FIRST])
            start = FIRST + -(-(top - FIRST) // BLOCK) * BLOCK
        for owner, s, n in everyone:
            if owner not in owners and start < s + n and s < start + count:
                module.fail_json(msg="the range %d-%d overlaps %s's %d-%d" % (
                    start, start + count - 1, owner, s, s + n - 1))
    ranges = {}
    for kind, path in FILES:
        mine = [{"start": s, "count": n} for o, s, n in parsed[kind] if o in owners]
        if kind in lacking:
            mine = [{"start": start, "count": count}]
            if not module.check_mode:
                text = texts[kind]
                if text and not text.endswith("\n"):
                    text += "\n"
                text += "%s:%d:%d\n" % (user, start, count)
                fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path))
                with os.fdopen(fd, "w") as f:
                    f.write(text)
                os.chmod(tmp, 0o644)
                module.atomic_move(tmp, path)
        ranges[kind + "_ranges"] = mine
    module.exit_json(changed=bool(lacking), **ranges)


if __name__ == "__main__":
    main()
