"""mounts/resolve.py: paths inside the new root never lead outside it."""

import os

import pytest

from mounts import resolve


def _hostile_tree(tmp_path):
    """A root with an absolute symlink, a '..' symlink and a loop, and a
    directory outside the root that they all point at."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "etc").mkdir(parents=True)
    (root / "real" / "sub").mkdir(parents=True)
    outside.mkdir()
    (root / "abs").symlink_to(str(outside))
    (root / "up").symlink_to("../../../../../..")
    (root / "rel").symlink_to("real/sub")
    (root / "loop").symlink_to("loop")
    (root / str(outside).lstrip("/")).mkdir(parents=True)
    return root, outside


def _where(fd):
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


@pytest.mark.parametrize("path, inside", [
    ("/abs", "{outside}"),
    ("abs", "{outside}"),
    ("/up/etc", "/etc"),
    ("/../../etc", "/etc"),
    ("/rel/..", "/real"),
    ("/real/sub/../../etc", "/etc"),
    ("/", ""),
])
def test_walk_in_root_stays_inside_like_openat2(tmp_path, path, inside):
    root, outside = _hostile_tree(tmp_path)
    expected = str(root) + inside.format(outside=outside)
    rootfd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    try:
        assert _where(resolve.walk_in_root(rootfd, path)) == expected
        # The kernel's own RESOLVE_IN_ROOT agrees.
        assert _where(resolve.open_in_root(rootfd, path)) == expected
    finally:
        os.close(rootfd)


def test_walk_in_root_refuses_loops_and_missing_paths(tmp_path):
    root, _ = _hostile_tree(tmp_path)
    rootfd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    try:
        with pytest.raises(OSError) as e:
            resolve.walk_in_root(rootfd, "/loop/x")
        assert e.value.errno == 40
        with pytest.raises(FileNotFoundError):
            resolve.walk_in_root(rootfd, "/abs/missing/x")
    finally:
        os.close(rootfd)


def test_open_in_root_falls_back_without_openat2(tmp_path, monkeypatch):
    root, outside = _hostile_tree(tmp_path)

    def enosys(*args):
        raise OSError(38, "openat2: Function not implemented")

    monkeypatch.setattr(resolve.kernel, "openat2", enosys)
    rootfd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    try:
        assert _where(resolve.open_in_root(rootfd, "/abs")) == str(root) + str(outside)
    finally:
        os.close(rootfd)


class Ctx:
    """What resolve() needs of a plan's Context."""

    def __init__(self, root):
        self.root = os.open(root, os.O_PATH | os.O_DIRECTORY)
        self.fds = {}
        self.run = self
        self.lines = []

    def trace(self, message):
        self.lines.append(message)

    def close(self):
        for fd in [self.root, *self.fds.values()]:
            os.close(fd)


def test_resolve_creates_missing_destinations_inside_the_root(tmp_path):
    root, outside = _hostile_tree(tmp_path)
    ctx = Ctx(root)
    try:
        assert _where(resolve.resolve(ctx, "/new/dir", create=True)) == f"{root}/new/dir"
        assert (root / "new" / "dir").is_dir()
        # A dangling absolute symlink: what it names is created in the root.
        (root / "dangling").symlink_to("/made/here")
        assert _where(resolve.resolve(ctx, "/dangling", create=True, directory=False)) == \
            f"{root}/made/here"
        assert (root / "made" / "here").is_file()
        assert not os.path.exists("/made/here")
        assert ctx.lines[0] == "  created directory /new in the new root"
        mount_target = resolve.target(ctx, "/abs")
        assert os.readlink(mount_target) == str(root) + str(outside)
        with pytest.raises(FileNotFoundError):
            resolve.resolve(ctx, "/not/created")
    finally:
        ctx.close()
