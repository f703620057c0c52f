"""What `unc check` reports of user namespaces and subordinate ids.

Used by stage user_pid's facts hook (stages/user_pid.py), for `unc check`
and its --json only; a run never imports it. Two entries, documented in
docs/check.md:

    userns   whether this user may create a user namespace and map itself
             in it, tried in a child process the way a container starts;
             when the kernel refuses, the stage's own sentence for it and
             the setting that sentence names (user.max_user_namespaces,
             kernel.unprivileged_userns_clone,
             kernel.apparmor_restrict_unprivileged_userns, or seccomp)
    subids   the caller's ranges in /etc/subuid and /etc/subgid, where
             newuidmap and newgidmap are, and whether --map-auto works
"""

import os

from kernel import sysctl

# What refuses user namespaces, as the stage's sentences name it.
SETTINGS = ("user.max_user_namespaces", "kernel.unprivileged_userns_clone",
            "kernel.apparmor_restrict_unprivileged_userns", "seccomp")
SYSCTLS = SETTINGS[:3]


def probe():
    """Try the first two kernel steps of a container in a child process:
    unshare(CLONE_NEWUSER), then write its own one-line uid_map. None when
    both work, else (step, OSError) of the first the kernel refused.

    Both are needed: Ubuntu's AppArmor restriction lets unshare succeed
    and takes the capabilities away, so the map is what fails."""
    import kernel
    from core.hostinfo import try_in_child
    euid = os.geteuid()                 # after unshare it reads as the overflow id

    def steps(say):
        say("unshare")
        kernel.unshare(kernel.CLONE_NEWUSER)
        say("uid_map")
        with open("/proc/self/uid_map", "w") as f:
            f.write(f"0 {euid} 1\n")
    return try_in_child(steps)


def _int(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def named_setting(sentence):
    """The setting a sentence of the stage's names first, or None."""
    found = [(sentence.find(s), s) for s in SETTINGS if s in (sentence or "")]
    return min(found)[1] if found else None


def userns(unshare_refused, maps_refused):
    """The userns entry: unshare_refused(err) and maps_refused() are the
    stage's own sentences for a refused unshare and a refused map."""
    refused = probe()
    info = {"allowed": refused is None, "step": None, "errno": None, "error": None,
            "setting": None, "sysctls": {name: _int(sysctl(name)) for name in SYSCTLS}}
    if refused is None:
        info["summary"] = (f"allowed (user.max_user_namespaces="
                           f"{info['sysctls']['user.max_user_namespaces']})")
        return info
    step, err = refused
    sentence = unshare_refused(err) if step == "unshare" else maps_refused()
    import errno
    info.update(step=step, errno=errno.errorcode.get(err.errno, str(err.errno)),
                error=sentence, setting=named_setting(sentence))
    info["summary"] = f"REFUSED ({step}: {err.strerror}): {sentence}"
    return info


def subids(attempt):
    """The subids entry: attempt("--map-auto") runs a container with it
    (its status, or Fail)."""
    import pwd

    from core import Fail
    from identity import idmap
    from identity import subids as files
    uid, gid = os.getuid(), os.getgid()
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = None
    info = {"user": user, "uid": uid, "gid": gid}
    for kind, path, own in (("uid", files.SUBID_FILES["uid"], uid),
                            ("gid", files.SUBID_FILES["gid"], gid)):
        try:
            entries = files.read_subids(path)
        except Fail:
            entries = []
        # subgid lines name the user too, not a group (subids.ranges_of).
        info[f"{kind}_ranges"] = [{"start": s, "count": n}
                                  for s, n in files.ranges_of(entries, user, uid)]
    for name in idmap.HELPERS.values():
        info[name] = idmap.find_helper(name)
    try:
        status = attempt("--map-auto")
        info["map_auto"], info["map_auto_error"] = status == 0, (
            None if status == 0 else f"true exited {status}")
    except Fail as e:
        info["map_auto"], info["map_auto_error"] = False, str(e)

    def ranges(kind):
        found = info[f"{kind}_ranges"]
        return ", ".join(f"{r['start']}-{r['start'] + r['count'] - 1}" for r in found) \
            or "none"
    helpers = [f"{name} {info[name]}" if info[name] else f"no {name}"
               for name in idmap.HELPERS.values()]
    # Whether --map-auto works is the stage's line already.
    info["summary"] = (f"{user or uid}: uids {ranges('uid')}, gids {ranges('gid')}; "
                       f"{', '.join(helpers)}")
    return info
