"""images/unpack.py, images/store.py and images/registry.py's pure parts:
member checks, whiteouts, references (the end-to-end tests are
tests/bats/images.bats and registry.bats)."""

import io
import os
import stat
import tarfile

import pytest

from core import Fail
from images import unpack
from images.registry import parse_ref
from images.store import alive, escape, normalize, unescape
from images.run import overlay_unprivileged as _overlay_unprivileged


def archive(*entries):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, kind, value in entries:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(value)
                tar.addfile(info, io.BytesIO(value))
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.type = {"sym": tarfile.SYMTYPE, "link": tarfile.LNKTYPE}[kind]
                info.linkname = value
                tar.addfile(info)
    out.seek(0)
    return out


def unpacked(tmp_path, *entries):
    root = tmp_path / "layer"
    root.mkdir()
    unpack.unpack(archive(*entries), str(root), "test")
    return root


@pytest.mark.parametrize("entries, why", [
    ([("../x", "file", b"")], "holds '..'"),
    ([("a/../../x", "file", b"")], "holds '..'"),
    ([("/etc/x", "file", b"")], "absolute path"),
    ([("l", "sym", "/tmp"), ("l/x", "file", b"")], "parent l is a symlink"),
    ([("f", "file", b""), ("f/x", "file", b"")], "parent f is not a directory"),
    ([("h", "link", "/etc/passwd")], "link target is an absolute path"),
    ([("h", "link", "../../etc/passwd")], "link target holds '..'"),
    ([("h", "link", "missing")], "does not hold"),
])
def test_escapes_are_refused(tmp_path, entries, why):
    with pytest.raises(Fail) as e:
        unpacked(tmp_path, *entries)
    assert why in str(e.value)
    assert os.listdir(tmp_path) == ["layer"]


def test_files_symlinks_and_hardlinks_stay_inside(tmp_path):
    root = unpacked(tmp_path, ("d", "dir", None), ("d/f", "file", b"x"), ("d/s", "sym", "/etc"),
                    ("d/h", "link", "d/f"), ("./d/g", "file", b"y"))
    assert (root / "d" / "f").read_bytes() == b"x"
    assert os.readlink(root / "d" / "s") == "/etc"
    assert os.stat(root / "d" / "h").st_ino == os.stat(root / "d" / "f").st_ino
    assert (root / "d" / "g").read_bytes() == b"y"


def test_a_truncated_archive_fails(tmp_path):
    data = archive(("f", "file", b"x" * 5000)).getvalue()[:1024]
    root = tmp_path / "layer"
    root.mkdir()
    with pytest.raises(Fail) as e:
        unpack.unpack(io.BytesIO(data), str(root), "test")
    assert "not a complete tar archive" in str(e.value)


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a whiteout needs a user namespace or root")
def test_whiteouts_and_opaque_directories_in_overlay_form(tmp_path):
    root = unpacked(tmp_path, ("d", "dir", None), ("d/.wh.gone", "file", b""),
                    ("o", "dir", None), ("o/.wh..wh..opq", "file", b""))
    st = os.lstat(root / "d" / "gone")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert os.getxattr(root / "o", "user.overlay.opaque") == b"y"


def test_names_and_references():
    assert normalize("debian") == "debian:latest"
    assert normalize("127.0.0.1:5000/debian") == "127.0.0.1:5000/debian:latest"
    assert normalize("a/b:1") == "a/b:1"
    assert unescape(escape("a/b%c:1")) == "a/b%c:1"
    ref = parse_ref("127.0.0.1:5000/debian:12")
    assert (ref.registry, ref.repository, ref.tag) == ("127.0.0.1:5000", "debian", "12")
    ref = parse_ref("debian")
    assert (ref.registry, ref.repository, ref.tag) == ("registry-1.docker.io", "library/debian",
                                                       "latest")
    ref = parse_ref("docker.io/debian:12")
    assert (ref.registry, ref.repository) == ("registry-1.docker.io", "library/debian")
    with pytest.raises(Fail):
        parse_ref("a b")


def test_a_zombie_or_a_missing_process_is_not_alive():
    assert alive(os.getpid())
    assert not alive(2 ** 22 + 1)
    assert not alive("x")


def test_unprivileged_overlayfs_came_with_linux_5_11():
    assert _overlay_unprivileged("5.11.0")
    assert _overlay_unprivileged("6.1.0-13-amd64")
    assert not _overlay_unprivileged("5.10.197")
    assert not _overlay_unprivileged("4.19.0")


def test_an_images_config_gives_way_to_the_command_line():
    from core.execvp import Settings
    settings = Settings({"--workdir": "/given", "--user": None})
    settings.changes = [("A", "from -e")]
    settings.image_defaults(env=["A=image", "B=image", "bad"], workdir="/image", user="daemon",
                            entrypoint=["/entry", "x"], cmd=["default"])
    assert settings.changes == [("A", "image"), ("B", "image"), ("A", "from -e")]
    assert settings.workdir == "/given" and settings.user == "daemon"
    assert settings.command([]) == ["/entry", "x", "default"]
    assert settings.command(["mine"]) == ["/entry", "x", "mine"]
    plain = Settings({})
    plain.image_defaults(cmd=["sh"])
    assert plain.command([]) == ["sh"] and plain.command(["ls"]) == ["ls"]
    assert Settings({}).command(["ls"]) == ["ls"]
