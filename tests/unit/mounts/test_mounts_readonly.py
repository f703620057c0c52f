"""mounts/readonly.py: reading /proc/self/mountinfo."""

from hypothesis import given, strategies as st

from mounts import readonly


@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40))
def test_mountinfo_paths_are_unescaped_as_the_kernel_escapes_them(path):
    # fs/proc_namespace.c: mangle() writes " \t\n\\" as \ooo.
    escaped = "".join(f"\\{ord(c):03o}" if c in " \t\n\\" else c for c in path)
    assert readonly.unescape(escaped) == path


def test_mounts_below_a_mount_point_include_it():
    below = readonly.mounts_below("/proc")
    assert "/proc" in below
    assert all(p == "/proc" or p.startswith("/proc/") for p in below)
    assert "/" in readonly.mounts_below("/")
