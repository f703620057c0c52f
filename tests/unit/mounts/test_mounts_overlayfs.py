"""mounts/overlayfs.py: whether a user may mount overlayfs, for `unc check`."""

import errno

from mounts import overlayfs


def test_refused_overlay(monkeypatch):
    monkeypatch.setattr(overlayfs, "probe",
                        lambda: ("overlay", OSError(errno.EPERM, "Operation not permitted")))
    info = overlayfs.facts()
    assert (info["unprivileged"], info["step"], info["errno"]) == (False, "overlay", "EPERM")
    assert "Linux 5.11" in info["summary"]


def test_a_probe_that_could_not_run_says_so(monkeypatch):
    monkeypatch.setattr(overlayfs, "probe",
                        lambda: ("unshare", OSError(errno.ENOSPC, "No space left on device")))
    info = overlayfs.facts()
    assert info["unprivileged"] is False
    assert info["summary"] == "cannot tell: the probe's unshare failed (No space left on device)"


def test_works_on_this_kernel():
    # Linux 5.11 or later, as on the suite's hosts.
    import os
    major, minor = (int(n) for n in os.uname().release.split(".")[:2])
    info = overlayfs.facts()
    assert info["unprivileged"] is ((major, minor) >= (5, 11)), info
