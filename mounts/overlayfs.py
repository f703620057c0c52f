"""Whether this user may mount overlayfs, for `unc check`.

Used by the mount stage's facts hook (stages/mount.py) only; a run never
imports it. overlayfs stacks a writable directory (upper) over read-only
ones (lower): the writable layer a container root needs without copying
it. Since Linux 5.11 a user may mount it inside a user namespace of their
own, with the option `userxattr` (its whiteouts and opaque marks then live
in user.overlay.* extended attributes instead of trusted.overlay.*, which
only the host's root may write). Before 5.11, or where a distribution
turned it off, the kernel answers EPERM. The probe does it for real, in a
child process: new user and mount namespaces, a tmpfs, an overlay on it.
"""

import os

OPTIONS = "lowerdir={d}/lower,upperdir={d}/upper,workdir={d}/work,userxattr"


def probe(where="/tmp"):
    """None when an unprivileged overlay mount works here, else (step,
    OSError) of the step the kernel refused."""
    import kernel
    from core.hostinfo import try_in_child
    uid, gid = os.geteuid(), os.getegid()

    def steps(say):
        say("unshare")
        kernel.unshare(kernel.CLONE_NEWUSER | kernel.CLONE_NEWNS)
        # Files are created with the fsuid and fsgid, which must be mapped:
        # both maps, and setgroups denied before gid_map (Linux 3.19+).
        say("id maps")
        for name, text in (("uid_map", f"0 {uid} 1\n"), ("setgroups", "deny"),
                           ("gid_map", f"0 {gid} 1\n")):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
        say("tmpfs")
        # Nothing mounted here reaches the host: a new mount namespace of a
        # new user namespace holds slaves of the host's shared mounts.
        kernel.mount(None, "/", None, kernel.MS_REC | kernel.MS_PRIVATE)
        kernel.mount("tmpfs", where, "tmpfs", 0, "mode=700")
        for d in ("lower", "upper", "work", "merged"):
            os.mkdir(f"{where}/{d}")
        say("overlay")
        kernel.mount("overlay", f"{where}/merged", "overlay", 0, OPTIONS.format(d=where))
    return try_in_child(steps)


def facts():
    """The overlayfs entry of `unc check` (docs/check.md)."""
    import errno
    refused = probe()
    info = {"unprivileged": refused is None, "step": None, "errno": None, "error": None}
    if refused is None:
        info["summary"] = "unprivileged overlay mounts work (userxattr)"
        return info
    step, err = refused
    info.update(step=step, errno=errno.errorcode.get(err.errno, str(err.errno)),
                error=f"{step}: {err.strerror}")
    if step == "overlay":
        info["summary"] = (f"unprivileged overlay mounts fail ({err.strerror}); "
                           "they need Linux 5.11 or later")
    else:
        info["summary"] = f"cannot tell: the probe's {step} failed ({err.strerror})"
    return info
