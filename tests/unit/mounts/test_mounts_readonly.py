"""mounts/readonly.py: reading /proc/self/mountinfo."""

import re

import pytest
from hypothesis import given, strategies as st

from kernel import MS_NOSUID
from mounts import readonly
from mounts.plan import ReadOnly


@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40))
def test_mountinfo_paths_are_unescaped_as_the_kernel_escapes_them(path):
    # fs/proc_namespace.c: mangle() writes " \t\n\\" as \ooo.
    escaped = "".join(f"\\{ord(c):03o}" if c in " \t\n\\" else c for c in path)
    assert readonly.unescape(escaped) == path


def test_mounts_below_a_mount_point_include_it():
    below = [path for _, path in readonly.mounts_below("/proc")]
    assert "/proc" in below
    assert all(p == "/proc" or p.startswith("/proc/") for p in below)
    assert "/" in [path for _, path in readonly.mounts_below("/")]


def test_without_mount_setattr_a_refused_remount_is_named_not_mount_setattr(monkeypatch):
    # Linux before 5.12: the fallback remounts each mount; when one of those
    # remounts is refused, the error names it, in container paths.
    def enosys(*args):
        raise OSError(38, "mount_setattr: Function not implemented")

    def refused(source, target, fstype, flags, data=None):
        raise OSError(1, "mount: Operation not permitted", target)

    monkeypatch.setattr(readonly.kernel, "mount_setattr", enosys)
    monkeypatch.setattr(readonly.kernel, "mount", refused)
    monkeypatch.setattr(readonly.kernel, "locked_flags", lambda path: MS_NOSUID)
    with pytest.raises(OSError) as e:
        readonly.make_readonly("/", recursive=True)
    message = ReadOnly("/", recursive=True).explain(e.value)
    assert "mount_setattr" not in message
    # The first mount of /proc/self/mountinfo, whichever it is.
    assert re.match(r'mount\("none", "/[^"]*", NULL, MS_RDONLY\|MS_NOSUID\|MS_REMOUNT\|MS_BIND\)'
                    r' failed: Operation not permitted; .*--rootfs', message)
