"""mounts/options.py: the user's -v and --tmpfs values, checked."""

import pytest

from core import Fail
from mounts.options import check_dest, depth, parse_volume


@pytest.mark.parametrize("spec, message", [
    ("relative:/x", "source must be an absolute path"),
    ("/:relative", "destination must be an absolute path"),
    ("/no/such/dir:/x", "does not exist"),
    ("/a:/b:c:d", "use SRC:DST"),
    ("/:/x:rx", "use SRC:DST"),
    ("/", "use SRC:DST"),
    ("/:/", "cannot mount over the root"),
])
def test_bad_volumes(spec, message):
    with pytest.raises(Fail, match=message) as e:
        parse_volume(spec)
    assert e.value.status == 125


def test_good_volumes(tmp_path):
    assert parse_volume(f"{tmp_path}:/d") == (str(tmp_path), "/d", False)
    assert parse_volume(f"{tmp_path}:/d:ro") == (str(tmp_path), "/d", True)
    assert parse_volume(f"{tmp_path}:/d:rw") == (str(tmp_path), "/d", False)


@pytest.mark.parametrize("dest", ["relative", "/", "/..", "//", "/a\0b"])
def test_bad_destinations(dest):
    with pytest.raises(Fail, match=r"invalid --tmpfs"):
        check_dest("--tmpfs", dest)


def test_good_destination():
    check_dest("--tmpfs", "/a/../b")


@pytest.mark.parametrize("path, n", [("/", 0), ("/a", 1), ("/a/b/", 2), ("/a/../b/c", 2)])
def test_depth_counts_components(path, n):
    assert depth(path) == n
