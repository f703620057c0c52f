"""The machinery of the mount stage (stages/mount.py), beneath its lesson.

    plan.py      the mount plan: small operations (bind, new filesystem
                 instances, /proc, /sys, symlinks, entering the new root)
                 run in order in the container, each able to describe
                 itself for --trace
    resolve.py   paths resolved inside the new root, never outside it
    readonly.py  read-only mounts: mount_setattr(2), or remounts that
                 restate the flags the kernel locked, before Linux 5.12
    options.py   the user's -v and --tmpfs values, checked
    overlayfs.py whether a user may mount overlayfs (`unc check` only)

The net stage adds an operation of its own (/etc/resolv.conf) through
run.plan, as stages/__init__.py allows.
"""
